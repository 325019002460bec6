#!/usr/bin/env python3
"""Outages under load and full disks, on one instance with its own PKS
and EDH (the crash and outage suite, issue 14).

Under load: SMTP clients send numbered messages without pause while the
PKS (pksd), the PKS's MariaDB or the EDH (edhd) is stopped for 30 s. A
client treats a 4xx as a real MTA does, and sends the message again a
few seconds later. Whatever was answered 250 must be delivered at least
once and open for its recipient; a PKS that cannot answer must give a
4xx, never a 5xx, a bounce or a 250 (the sealer has no cached PEK:
control/pekcachetime is 0); an EDH that cannot store must only defer.

Full disks (as root: the queue and the maildirs are tmpfs mounts made
here): a queue that cannot hold a message answers 451 at the end of
DATA, and every 250 given is on disk and delivered; a maildir
filesystem that is full defers delivery (edhd's 452 4.3.1, or 4.3.1 in
combined mode), and the message waits sealed in the queue, without a
bounce, until there is room.

Each scenario prints its counts on stderr (sent, 250, 4xx, 5xx,
delivered, duplicates, seconds)."""
import collections
import contextlib
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402
from sqtest.edh import EDH  # noqa: E402
from sqtest.mail import MailHost, files_holding  # noqa: E402

USERS = ["john.smith@example.org", "jane.doe@example.org", "bob@example.org"]
SENDER = "carol@example.org"        # local: a bounce would reach her box
REMOTE = "alice@remote.example"     # remote: a bounce would stay queued
CANARY = "CANARY-7d3e-outage-plaintext-must-not-rest-on-disk"
OUTAGE = 30         # seconds, as the issue asks
CALM = 3            # seconds of load before and after each outage
CLIENTS = 6
RATE = 3.5          # new messages a second, across the clients
BACKOFF = 8         # at most, seconds before a deferred message goes again
AS_ROOT = os.geteuid() == 0


# --- the load ----------------------------------------------------------------

class Load:
    """CLIENTS SMTP clients sending numbered messages, RATE a second,
    until stopped; as an MTA would, each is sent again after a 4xx or a
    lost connection, 2, 4, then every BACKOFF s, until it is accepted.
    Every attempt is kept: (number, start, end, reply code)."""

    def __init__(self, port, tag, size=0):
        self.port, self.tag, self.size = port, tag, size
        self.lock = threading.Lock()
        self.next = 0
        self.pending = []           # (due, number) to send again
        self.tries = collections.Counter()
        self.inflight = 0
        self.accepted = {}          # number -> recipients, once 250
        self.refused = {}           # number -> 5xx code
        self.attempts = []
        self.answers = collections.Counter()
        self.stop_new = threading.Event()
        self.give_up = threading.Event()
        self.threads = [threading.Thread(target=self.client, daemon=True)
                        for _ in range(CLIENTS)]

    def rcpts(self, n):
        extra = [USERS[(n + 1) % len(USERS)]] if n % 5 == 0 else []
        return [USERS[n % len(USERS)]] + extra

    def message(self, n):
        pad = "".join(f"{self.tag} line {i} of padding to make it "
                      f"larger\r\n" for i in range(self.size // 48))
        return (f"From: <{self.sender(n)}>\r\nSubject: {self.tag} {n}\r\n"
                f"X-Load: {self.tag}-{n}\r\n\r\n{CANARY} {self.tag}-{n}\r\n"
                + pad)

    def sender(self, n):
        return SENDER if n % 2 else REMOTE

    def start(self):
        self.t0 = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    def take(self):
        """The next message to send: one due again, else a new one until
        stop_new; None when nothing is left (or give_up)."""
        while not self.give_up.is_set():
            with self.lock:
                now = time.monotonic()
                due = [p for p in self.pending if p[0] <= now]
                if due:
                    self.pending.remove(min(due))
                    self.inflight += 1
                    return min(due)[1]
                born = (now - self.t0) * RATE >= self.next
                if born and not self.stop_new.is_set():
                    self.next += 1
                    self.inflight += 1
                    return self.next
                if (self.stop_new.is_set() and not self.pending and
                        not self.inflight):
                    return None
            time.sleep(0.05)
        return None

    def client(self):
        while True:
            n = self.take()
            if n is None:
                return
            self.attempt(n)
            with self.lock:
                self.inflight -= 1

    def attempt(self, n):
        """Sends message n once and records the answer; its code."""
        t0 = time.monotonic()
        code = send_one(self.port, self.sender(n), self.rcpts(n),
                        self.message(n))
        t1 = time.monotonic()
        with self.lock:
            self.attempts.append((n, t0, t1, code))
            self.record(n, code, t1)
        return code

    def record(self, n, code, now):
        if code == 250:
            self.answers["250"] += 1
            self.accepted[n] = self.rcpts(n)
        elif 500 <= code < 600:
            self.answers["5xx"] += 1
            self.refused[n] = code
        else:   # 4xx, or 0: the connection failed
            self.answers["4xx" if code else "lost"] += 1
            self.tries[n] += 1
            self.pending.append((now + min(2 ** self.tries[n], BACKOFF), n))

    def finish(self, timeout=60):
        """No new messages; the deferred ones are sent until accepted, for
        at most timeout s."""
        self.stop_new.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self.give_up.set()
        for t in self.threads:
            t.join()
        self.seconds = time.monotonic() - self.t0
        return self

    def unanswered(self):
        """Numbers never accepted nor refused (the drain gave up)."""
        return sorted(set(range(1, self.next + 1)) - set(self.accepted)
                      - set(self.refused))


def send_one(port, sender, rcpts, msg):
    """One SMTP transaction: the first reply that is not a success (any
    recipient's refusal ends it before DATA), the end of DATA's, or 0 if
    the connection failed."""
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=120)
    except (OSError, smtplib.SMTPException):
        return 0
    try:
        s.ehlo()
        code, _ = s.mail(sender)
        for r in rcpts if code == 250 else []:
            code, _ = s.rcpt(r)
            if code not in (250, 251):
                break
        if code in (250, 251):
            code, _ = s.data(msg.encode())
        try:
            s.quit()
        except (OSError, smtplib.SMTPException):
            pass
        return code
    except smtplib.SMTPResponseException as e:     # DATA refused, say
        return e.smtp_code
    except (OSError, smtplib.SMTPException):
        return 0
    finally:
        s.close()


# --- the instance ------------------------------------------------------------

mounts = []


def tmpfs(path, size="64m"):
    """Puts path's files on a tmpfs of its own, with its owner and mode."""
    st = os.stat(path)
    keep = path + ".disk"
    os.rename(path, keep)
    os.mkdir(path)
    opts = (f"size={size},mode={st.st_mode & 0o7777:o},uid={st.st_uid},"
            f"gid={st.st_gid}")
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path],
                   check=True)
    mounts.append(path)
    subprocess.run(["cp", "-a", keep + "/.", path], check=True)
    subprocess.run(["rm", "-rf", keep], check=True)


FILLERS = iter(range(1, 1000))


@contextlib.contextmanager
def filled(path, leave):
    """Within: a file leaves about leave octets free on path's
    filesystem; removed after, whatever happened."""
    filler = os.path.join(path, f"filler{next(FILLERS)}")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            if free_space(path) > leave:
                os.posix_fallocate(fd, 0, free_space(path) - leave)
        finally:
            os.close(fd)
        yield
    finally:
        os.remove(filler)


def free_space(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class Boxes:
    """What the mailboxes hold, each file opened once with its owner's
    test key: {path: (address, plaintext or None)}."""

    def __init__(self, m):
        self.m = m
        self.seen = {}

    def scan(self):
        for address in USERS + [SENDER]:
            md = self.m.mailbox(address)
            new = os.path.join(md, "new") if md else None
            fresh = [os.path.join(new, n) for n in sorted(os.listdir(new))
                     if os.path.join(new, n) not in self.seen] if new else []
            # an opener's key file is shared (m.home/open): one opener at
            # a time, made again for each address
            opener = self.m.opener(address) if fresh else None
            for path in fresh:
                rc, plain = opener(open(path, "rb").read(),
                                   with_openssl=False)
                self.seen[path] = (address, plain if rc == 0 else None)
        return self.seen

    def copies(self, tag):
        """{(number, address): copies} of the load tag, the files that
        did not open, and the failure notices."""
        got, unopened, notices = collections.Counter(), [], []
        mark = f"X-Load: {tag}-".encode()
        for path, (address, plain) in self.scan().items():
            if plain is None:
                unopened.append(path)
            elif b"multipart/report" in plain:
                notices.append(path)
            elif mark in plain:
                line = plain[plain.index(mark) + len(mark):].split(b"\r\n")[0]
                got[(int(line.split(b"\n")[0]), address)] += 1
        return got, unopened, notices


m = MailHost(users=USERS + [SENDER],
             control={"retrystep": "1\n", "pekcachetime": "0\n",
                      "timeoutpks": "5\n", "timeoutpksconnect": "2\n"})
edh = None
mode = {"now": "combined"}
try:
    t_start = time.monotonic()
    m.start()
    edh = EDH(ca_home=m.home).start()
    if AS_ROOT:     # the queue and both maildir trees on disks of their own
        tmpfs(os.path.join(m.home, "queue"))
        tmpfs(os.path.join(m.home, "maildirs"))
        edh.stop_edhd()
        tmpfs(os.path.join(edh.home, "maildirs"))
        edh.start_edhd()
    m.start_delivery()
    boxes = Boxes(m)
    tap.on_failure(lambda: "\nsend.log:\n" + m.log("send.log")[-3000:] +
                   "\nsealer.log:\n" + m.log("sealer.log")[-1500:])
    tap.diag(f"outage.t: set up in {time.monotonic() - t_start:.1f} s")

    def use(want):
        """Delivery into edhd ("edh") or the instance's maildirs
        ("combined"): sq-lspawn picks the store when it starts."""
        if mode["now"] == want:
            return
        m.stop_delivery()
        if want == "edh":
            m.use_edh(edh)
        else:
            os.remove(os.path.join(m.home, "control", "edhlmtp-cred"))
            m.maildirs = None
        m.start_delivery()
        mode["now"] = want

    def store():
        """The maildirs' filesystem in the current mode, and how sq-send
        logs a delivery deferred because it is full."""
        if mode["now"] == "edh":
            return (os.path.join(edh.home, "maildirs"),
                    "deferral: 4.3.1 EDH: 452 4.3.1")
        return (os.path.join(m.home, "maildirs"),
                "deferral: 4.3.1 cannot write the maildir")

    def delivering():
        """Starts the delivery chain if it is stopped."""
        if m.send not in m.procs:
            m.start_delivery()

    def kick():
        """Everything queued is due now (sq-send's SIGALRM)."""
        m.send.send_signal(signal.SIGALRM)

    def drained(timeout=90):
        """Waits, kicking the scheduler, until the queue is empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if m.queue_count() == 0:
                return True
            kick()
            time.sleep(1)
        return m.queue_count() == 0

    def no_plaintext():
        tops = [m.home] + ([edh.home] if edh else [])
        return [p for t in tops for p in files_holding(t, CANARY)]

    def notices_queued():
        return ("failure notice queued" in m.log("send.log") or
                "failure notice queued" in m.log("sealer.log"))

    def check_delivery(name, load, t_begin):
        """The checks every load ends with; prints the counts."""
        tap.ok(not load.unanswered(), f"{name}: every message was accepted "
               "in the end (deferred ones sent again)", load.unanswered())
        tap.ok(drained(), f"{name}: the queue empties: all delivered, no "
               "failure notice waiting for a remote sender",
               m.run(os.path.join(m.bin, "sq-qstat")).stdout)
        got, unopened, notices = boxes.copies(load.tag)
        want = {(n, a) for n, rcpts in load.accepted.items() for a in rcpts}
        missing = sorted(want - set(got))
        stray = sorted(set(got) - want)
        dups = sum(c - 1 for c in got.values())
        tap.ok(not missing, f"{name}: every message answered 250 is "
               "delivered to each recipient", missing[:20])
        tap.ok(not stray, f"{name}: nothing delivered that was not "
               "accepted", stray[:20])
        tap.ok(not unopened, f"{name}: every stored message opens with its "
               "recipient's key", unopened[:5])
        tap.ok(not notices and not notices_queued(),
               f"{name}: no failure notice, in a mailbox or queued", notices)
        tap.ok(not load.refused, f"{name}: no 5xx", load.refused)
        clear = no_plaintext()
        tap.ok(not clear, f"{name}: no plaintext at rest in the instance "
               "or the EDH", clear[:5])
        tap.diag(f"{name}: sent {load.next}, 250 {load.answers['250']}, "
                 f"4xx {load.answers['4xx']}, 5xx {load.answers['5xx']}, "
                 f"lost connections {load.answers['lost']}, delivered "
                 f"{len(got)} of {len(want)} copies, duplicates {dups}; "
                 f"{time.monotonic() - t_begin:.1f} s")

    def under_load(name, tag, stop, start, during=None, hold=False):
        """Load; stop() for OUTAGE s; start(); load again; then every
        deferred message sent until accepted. With hold, what is accepted
        before the outage is delivered only once it has begun. The load
        and the outage's bounds: (load, down, up)."""
        if hold:
            m.stop_delivery()
        try:
            load = Load(m.smtp_port, tag).start()
            time.sleep(CALM)
            stop()
            down = time.monotonic()
        finally:
            delivering()
        time.sleep(OUTAGE / 2)
        if during:
            during(load)
        time.sleep(OUTAGE - (time.monotonic() - down))
        up = time.monotonic()
        start()
        time.sleep(CALM)
        kick()
        return load.finish(), down, up

    def inside(load, down, up, margin=1.0):
        """The attempts made wholly inside the outage (and margin s past
        its start, for connections the stop was cutting)."""
        return [a for a in load.attempts
                if a[1] >= down + margin and a[2] <= up]

    def pks_outage(name, tag, stop, start):
        """The key store out: SMTP defers, and so does the delivery of
        what was queued before (held until the outage begins)."""
        t0 = time.monotonic()
        base = len(m.log("send.log"))
        seen = {}

        def during(load):
            seen["queued"] = m.queue_count()

        load, down, up = under_load(name, tag, stop, start, during,
                                    hold=True)
        codes = collections.Counter(a[3] for a in inside(load, down, up))
        tap.ok(codes and all(400 <= c < 500 for c in codes),
               f"{name}: every attempt while the key store could not "
               "answer got a 4xx (no 250, no 5xx)", codes)
        tap.ok(load.answers["250"] and load.answers["4xx"],
               f"{name}: accepted before and after, deferred during")
        tap.ok(seen["queued"] and "deferral: 4.4.3 key store" in
               m.log("send.log")[base:],
               f"{name}: what was queued before waits: delivery deferred "
               "(4.4.3)", seen)
        check_delivery(name, load, t0)

    # --- 1. pksd stopped for 30 s --------------------------------------------
    @tap.scenario("pksd outage")
    def _():
        use("combined")
        pks_outage("pksd down", "pksd", m.pks.stop_pksd, m.pks.start_pksd)

    # --- 2. the PKS's MariaDB stopped for 30 s -------------------------------
    @tap.scenario("mariadb outage")
    def _():
        use("combined")
        db = m.pks.db

        def resume():
            db.resume()
            os.chmod(db.dir, 0o711)     # pksd (nobody) reaches the socket

        base = len(m.pks.log_text())
        pks_outage("MariaDB down", "mariadb", db.pause, resume)
        answers = [line for line in m.pks.log_text()[base:].splitlines()
                   if "GET /v1/keys/" in line]
        tap.ok(any(line.endswith(" 503") for line in answers),
               "MariaDB down: pksd answered 503 (and the 4xx above show "
               "the AH took it as temporary)", answers[-5:])

    # --- 3. edhd stopped for 30 s (the EDH mode) -----------------------------
    @tap.scenario("edhd outage")
    def _():
        use("edh")
        t0 = time.monotonic()
        seen = {}

        def during(load):
            seen["queued"] = m.queue_count()
            seen["clear"] = files_holding(os.path.join(m.home, "queue"),
                                          CANARY)

        load, down, up = under_load("edhd down", "edhd", edh.stop_edhd,
                                    edh.start_edhd, during)
        tap.ok(not load.answers["4xx"] and not load.answers["lost"],
               "edhd down: SMTP accepts everything (250): the EDH is not "
               "needed to queue", load.answers)
        tap.ok(seen["queued"] > 0 and not seen["clear"],
               "edhd down: the messages wait in the queue, sealed",
               seen)
        tap.ok("4.4.1" in m.log("send.log"),
               "edhd down: deliveries deferred (4.4.1), not failed")
        check_delivery("edhd down", load, t0)

    # --- 4. the queue's filesystem full --------------------------------------
    def fill_queue(load):
        """Sends large messages until three in a row are refused, then
        small ones to take the last pages (the message file may fit
        where its intd/ file does not); the answers in order."""
        codes = []
        for size in (40 * 1024, 0):
            load.size = size
            for n in range(load.next + 1, load.next + 40):
                load.next = n
                codes.append(load.attempt(n))
                if len(codes) >= 3 and 250 not in codes[-3:]:
                    break
        return codes

    def partly_queued(base):
        """Copies queued for messages refused all the same: a message to
        two recipients whose second copy met the full disk keeps its first
        (sq-queue's commit point), its client is told 451 and sends it
        again, and that recipient gets it twice, never not at all
        (sq-sealerd(8)). The sealer logs how many."""
        return sum(int(k) for k in re.findall(
            r"(\d+) sealed copies already queued", m.log("sealer.log")[base:]))

    def queue_refuses(load, codes, base, base_smtpd):
        """The checks of a queue filled by fill_queue."""
        queue = os.path.join(m.home, "queue")
        tap.diag(f"full queue: the answers in order: {codes}")
        on_disk = len(os.listdir(os.path.join(queue, "todo")))
        tap.ok(load.answers["250"] >= 1 and load.answers["4xx"] >= 3,
               "a filling queue: 250 while it has room, then 4xx", codes)
        tap.ok(all(c in (250, 451, 452) for c in codes),
               "the full queue answers 451/452, never 5xx", codes)
        tap.is_(on_disk, load.answers["250"] + partly_queued(base),
                "every 250 is a message in todo/, and none more but the "
                "copies of a message refused half queued")
        tap.ok(free_space(queue) < 64 * 1024, "the queue's disk is "
               f"full ({free_space(queue)} octets free)")
        tap.ok("No space left on device" in m.log("sealer.log")[base:]
               and "queue failed (53)" in m.log("smtpd.log")[base_smtpd:],
               "the refusals are sq-queue's ENOSPC, its 53 answered 451",
               m.log("sealer.log")[base:][-1500:])

    def both_full(load, base_sealer):
        """The maildirs full, and the queue with one page free: delivery
        is deferred, and sq-send cannot write (all of) the files of a
        message that must wait. The messages must stay, unbounced, and
        go once there is room, leaving nothing behind."""
        base = len(m.log("send.log"))
        top, reason = store()
        with filled(top, 0), filled(os.path.join(m.home, "queue"), 4096):
            m.start_delivery()
            stuck = m.wait_for(lambda: reason in m.log("send.log")[base:] and
                               "cannot write its files" in
                               m.log("send.log")[base:], 30)
            tap.ok(stuck, "queue and maildirs full: delivery deferred, and "
                   "sq-send cannot write its files",
                   m.log("send.log")[base:][-1500:])
            kick()
            time.sleep(2)
            tap.ok(m.queue_count() == load.answers["250"] +
                   partly_queued(base_sealer) and not notices_queued(),
                   "queue and maildirs full: every accepted message stays "
                   "queued, no failure notice", m.queue_count())
        got = m.wait_for(lambda: (kick(), m.queue_count() == 0)[1], 30)
        left = queue_files()
        tap.ok(got and not left, "room again: the messages sq-send could "
               "not record are delivered, and no file of theirs stays",
               (left, m.log("send.log")[base:][-1500:]))
        base = len(m.log("send.log"))
        m.stop_delivery()
        m.start_delivery()
        m.wait_for(lambda: "started:" in m.log("send.log")[base:], 10)
        tap.ok("started: 0 messages" in m.log("send.log")[base:] and
               "cannot read its files" not in m.log("send.log")[base:],
               "sq-send restarts on an empty queue",
               m.log("send.log")[base:][-1500:])

    def queue_files():
        """The files in the queue's message directories."""
        queue = os.path.join(m.home, "queue")
        return sorted(os.path.relpath(os.path.join(r, f), queue)
                      for d in os.listdir(queue) if d != "lock"
                      for r, _, fs in os.walk(os.path.join(queue, d))
                      for f in fs)

    @tap.scenario("full queue-disk")
    def _():
        if not AS_ROOT:
            tap.skip("the queue's own tmpfs needs root")
            return
        t0 = time.monotonic()
        queue = os.path.join(m.home, "queue")
        drained()
        base, base_smtpd = len(m.log("sealer.log")), len(m.log("smtpd.log"))
        load = Load(m.smtp_port, "queuefull")
        # what is queued stays, as on a busy host
        m.stop_delivery()
        try:
            with filled(queue, 256 * 1024):
                codes = fill_queue(load)
                queue_refuses(load, codes, base, base_smtpd)
            both_full(load, base)
        finally:
            delivering()
        again, load.pending = sorted(n for _, n in load.pending), []
        for n in again:
            load.attempt(n)
        tap.ok(not load.unanswered(), "room again: the deferred messages "
               "are accepted", load.unanswered())
        check_delivery("full queue", load, t0)
        tap.ok(not queue_files(), "nothing half queued is left behind in "
               "the queue", queue_files())

    # --- 5. the maildirs' filesystem full ------------------------------------
    def full_store(name, tag, top, reason):
        if not AS_ROOT:
            tap.skip("the maildirs' own tmpfs needs root")
            return
        t0 = time.monotonic()
        drained()
        base = len(m.log("send.log"))
        load = Load(m.smtp_port, tag, size=32 * 1024)
        with filled(top, 8 * 1024):
            for n in range(1, 4):
                load.next = n
                load.attempt(n)
            tap.is_(load.answers["250"], 3, f"{name}: SMTP accepts (the "
                    "queue has room)")
            full = m.wait_for(lambda: reason in m.log("send.log")[base:], 30)
            tap.ok(full, f"{name}: delivery deferred: {reason}",
                   m.log("send.log")[base:][-1500:])
            time.sleep(2)
            kick()
            time.sleep(2)
            tap.ok(m.queue_count() == 3 and not files_holding(
                os.path.join(m.home, "queue"), CANARY),
                f"{name}: the messages wait in the queue, sealed",
                m.queue_count())
            tap.ok(not notices_queued(), f"{name}: no failure notice")
        kick()
        check_delivery(name, load, t0)

    @tap.scenario("full edh-disk")
    def _():
        use("edh")
        full_store("EDH disk full", "edhfull", *store())

    @tap.scenario("full maildir-disk (combined mode)")
    def _():
        use("combined")
        full_store("maildir disk full", "mdfull", *store())

    tap.diag(f"outage.t: {time.monotonic() - t_start:.1f} s in all")
finally:
    # the mounts go before the instances' directories do
    m.stop_daemons()
    if edh:
        edh.stop_edhd()
    for path in reversed(mounts):
        subprocess.run(["umount", "-l", path])
    try:
        m.stop()
    finally:
        if edh:
            edh.stop()
tap.done()
