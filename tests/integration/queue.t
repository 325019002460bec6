#!/usr/bin/env python3
"""sq-queue: the qmail-queue interface into the queue of sq-queue(8).
The layout made by --init; a message and its envelope stored byte for byte
with no header added; the trigger; every envelope format error, overlong
addresses and unreadable input refused with qmail-queue's codes and
nothing committed; missing directories; kill -9 at every step (the
crash-point build) leaves a message either fully queued or absent from
todo/, with the leftovers a cleaner must remove; 200 concurrent runs; a
20 MB message."""
import hashlib
import os
import shutil
import socket
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402

BIN = os.path.join(tap.build_dir(), "bin", "sq-queue")
CRASH = os.path.join(tap.build_dir(), "tests", "helpers", "sq-queue-crash")
tmp = tempfile.mkdtemp(prefix="sqqueue.")

# The steps of sq-queue(8) in order, each with what a kill -9 right after
# it leaves: files in (pid, mess, intd, todo), and whether it is queued.
POINTS = [
    ("pid-created", (1, 0, 0, 0)),
    ("mess-linked", (1, 1, 0, 0)),
    ("mess-written", (1, 1, 0, 0)),
    ("intd-written", (1, 1, 1, 0)),
    ("todo-linked", (1, 1, 1, 1)),
    ("pid-unlinked", (0, 1, 1, 1)),
]
BAD_ENVELOPES = [
    (b"", "an empty envelope"),
    (b"Ta@example.org\0\0", "no F sender"),
    (b"Fa@example.org\0\0", "no T recipient"),
    (b"Fa@example.org\0Tb@example.org\0", "no final NUL"),
    (b"Fa@example.org", "a sender without its NUL"),
    (b"hello, world\r\n", "garbage"),
    (b"Fa@example.org\0Tb@example.org\0Xc@example.org\0\0",
     "an unknown field"),
    (b"Fa@example.org\0T\0\0", "an empty recipient"),
]
LONG = b"x" * 989 + b"@example.org"        # 1001 octets
LONG_ENVELOPES = [
    (b"F" + LONG + b"\0Tb@example.org\0\0", "a sender of 1001 octets"),
    (b"Fa@example.org\0Tb@example.org\0T" + LONG + b"\0\0",
     "a recipient of 1001 octets"),
    (b"Fa@example.org\0T" + b"y" * 100000, "a 100 kB recipient without end"),
]
MISSING = [("pid", 63), ("mess", 64), ("intd", 65), ("todo", 66)]
CONCURRENT, BATCH = 200, 25


def envelope(sender, *rcpt):
    return (b"F" + sender + b"\0" + b"".join(b"T" + r + b"\0" for r in rcpt)
            + b"\0")


ENV = envelope(b"sender@example.net", b"rcpt@example.org",
               b"other@example.org")
MSG = (b"From: sender@example.net\r\nSubject: test\r\n\r\n"
       b"binary \0\xff\x80 and a line without end")


def write(name, data):
    p = os.path.join(tmp, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def new_home(name, init=True):
    home = os.path.join(tmp, name)
    os.makedirs(home)
    if init:
        subprocess.run([BIN, "--init"], env=dict(os.environ, SQ_HOME=home),
                       check=True, timeout=60)
    return home


def start(home, msg, env, binary=BIN, crash=None):
    """Starts sq-queue with the bytes msg on fd 0 and env on fd 1 (both
    files); returns the Popen."""
    e = dict(os.environ, SQ_HOME=home)
    e.pop("SQ_CRASH_AT", None)
    if crash:
        e["SQ_CRASH_AT"] = crash
    m = write(f"msg.{threading.get_ident()}.{time.monotonic_ns()}", msg)
    n = write(f"env.{threading.get_ident()}.{time.monotonic_ns()}", env)
    with open(m, "rb") as fin, open(n, "rb") as fenv:
        p = subprocess.Popen([binary], stdin=fin, stdout=fenv,
                             stderr=subprocess.PIPE, env=e)
    os.unlink(m)
    os.unlink(n)
    return p


def run(home, msg, env, **kw):
    """(exit code, pid, stderr) of one sq-queue run; a kill is -signal."""
    p = start(home, msg, env, **kw)
    _, err = p.communicate(timeout=120)
    return p.returncode, p.pid, err.decode(errors="replace")


def q(home, *parts):
    return os.path.join(home, "queue", *parts)


def split_of(home):
    return len(os.listdir(q(home, "mess")))


def files(home, d):
    """Names of the files in queue/d (all split subdirectories of mess)."""
    if d == "mess":
        return sorted(n for s in os.listdir(q(home, "mess"))
                      for n in os.listdir(q(home, "mess", s)))
    return sorted(os.listdir(q(home, d)))


def counts(home):
    return tuple(len(files(home, d)) for d in ("pid", "mess", "intd", "todo"))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def mess_path(home, num):
    return q(home, "mess", str(int(num) % split_of(home)), num)


def queued_intact(home, num, msg, env, pid=None):
    """todo/num is a complete message: mess/ holds exactly msg, intd/ and
    todo/ (one inode) hold u<uid> p<pid> and exactly env."""
    intd, todo = q(home, "intd", num), q(home, "todo", num)
    head = b"u%d\0p" % os.getuid()
    data = read(todo)
    if pid is not None:
        head += b"%d\0" % pid
    else:
        data = data[:len(head)] + data[data.index(b"\0", len(head)) + 1:]
    return (os.path.exists(intd) and os.stat(intd).st_ino ==
            os.stat(todo).st_ino and os.stat(mess_path(home, num)).st_ino ==
            int(num) and read(mess_path(home, num)) == msg
            and data == head + env)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


try:
    # the queue of the scenarios; some make queues of their own
    home = new_home("main")
    split = split_of(home)
    trig = q(home, "lock", "trigger")

    # --- --init ----------------------------------------------------------
    @tap.scenario("--init")
    def _():
        want = {"pid", "mess", "intd", "todo", "info", "local", "remote",
                "bounce", "lock"}
        tap.ok(set(os.listdir(q(home))) == want and split > 1 and all(
            sorted(os.listdir(q(home, d)), key=int) == [str(i) for i in
                                                        range(split)]
            for d in ("mess", "info", "local", "remote")),
            f"--init makes qmail's layout, mess/ info/ local/ remote/ split "
            f"in {split}", sorted(os.listdir(q(home))))
        modes = {d: mode(q(home, d)) for d in want}
        tap.is_(modes, {"pid": 0o700, "mess": 0o750, "intd": 0o700,
                        "todo": 0o750, "info": 0o700, "local": 0o700,
                        "remote": 0o700, "bounce": 0o700, "lock": 0o750},
                "queue directories: only mess/ and todo/ open to the group")
        tap.ok(stat.S_ISFIFO(os.lstat(trig).st_mode) and mode(trig) == 0o622,
               "lock/trigger is a FIFO of mode 0622")
        r = subprocess.run([BIN, "--init"], env=dict(os.environ, SQ_HOME=home),
                           capture_output=True, timeout=60)
        tap.ok(r.returncode == 0 and counts(home) == (0, 0, 0, 0),
               "--init may be run again", r.stderr)

    # --- one message -----------------------------------------------------
    @tap.scenario("one message")
    def _():
        rc, pid, err = run(home, MSG, ENV)
        tap.ok(rc == 0 and err == "", "a message and its envelope are queued "
               "(exit 0, nothing on stderr)", f"exit {rc}: {err}")
        todo = files(home, "todo")
        num = todo[0] if todo else "0"
        tap.ok(len(todo) == 1 and files(home, "intd") == todo
               and os.path.exists(mess_path(home, num)),
               "todo/N, intd/N and mess/(N % split)/N exist", todo)
        tap.ok(read(mess_path(home, num)) == MSG if todo else False,
               "mess/ holds exactly the bytes sent: no Received line added")
        tap.ok(todo and queued_intact(home, num, MSG, ENV, pid),
               "intd/N = todo/N: u<uid> NUL p<pid> NUL and the envelope as sent",
               read(q(home, "todo", num)) if todo else None)
        tap.is_(files(home, "pid"), [], "pid/ is empty after a success")
        tap.ok(todo and mode(mess_path(home, num)) == 0o640
               and mode(q(home, "todo", num)) == 0o640,
               "message and envelope files are mode 0640")

    # --- the trigger -----------------------------------------------------
    @tap.scenario("trigger")
    def _():
        rfd = os.open(trig, os.O_RDONLY | os.O_NONBLOCK)
        try:
            rc, _, err = run(home, MSG, ENV)
            try:
                got = os.read(rfd, 16)
            except BlockingIOError:
                got = b""
        finally:
            os.close(rfd)
        tap.ok(rc == 0 and len(got) == 1,
               "a scheduler holding lock/trigger open gets one byte",
               f"exit {rc}, read {got!r}: {err}")

    # --- envelopes refused -----------------------------------------------
    @tap.scenario("envelopes refused")
    def _():
        before = counts(home)
        for env, what in BAD_ENVELOPES:
            rc, _, err = run(home, MSG, env)
            tap.ok(rc == 91 and counts(home) == before,
                   f"{what}: exit 91, nothing left in the queue",
                   f"exit {rc}, {counts(home)}: {err}")
        for env, what in LONG_ENVELOPES:
            rc, _, err = run(home, MSG, env)
            tap.ok(rc == 11 and counts(home) == before,
                   f"{what}: exit 11, nothing left in the queue",
                   f"exit {rc}, {counts(home)}: {err}")
        edge = envelope(LONG[1:], LONG[1:])
        rc, _, err = run(home, MSG, edge)
        tap.ok(rc == 0 and len(files(home, "todo")) == before[3] + 1,
               "addresses of exactly 1000 octets are accepted", err)
        nul = envelope(b"", b"postmaster@example.org")
        rc, _, err = run(home, MSG, nul)
        tap.ok(rc == 0, "the null sender (a bounce) is accepted", err)

    # --- unreadable input and missing directories ------------------------
    @tap.scenario("unreadable input, missing directories")
    def _():
        before = counts(home)
        dfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        try:
            envf = write("env.dir", ENV)
            with open(envf, "rb") as fenv:
                p = subprocess.run([BIN], stdin=dfd, stdout=fenv,
                                   capture_output=False, stderr=subprocess.PIPE,
                                   env=dict(os.environ, SQ_HOME=home), timeout=60)
            tap.ok(p.returncode == 54 and counts(home) == before,
                   "a message that cannot be read: exit 54, nothing left",
                   p.stderr)
            msgf = write("msg.dir", MSG)
            with open(msgf, "rb") as fin:
                p = subprocess.run([BIN], stdin=fin, stdout=dfd,
                                   stderr=subprocess.PIPE,
                                   env=dict(os.environ, SQ_HOME=home), timeout=60)
            tap.ok(p.returncode == 54 and counts(home) == before,
                   "an envelope that cannot be read: exit 54, nothing left",
                   p.stderr)
        finally:
            os.close(dfd)
        rc, _, err = run(os.path.join(tmp, "no-such-home"), MSG, ENV)
        tap.is_(rc, 61, "a missing home directory: exit 61")
        rc, _, err = run(new_home("noqueue", init=False), MSG, ENV)
        tap.is_(rc, 62, "a missing queue directory: exit 62")
        for d, code in MISSING:
            h = new_home("no" + d)
            shutil.rmtree(q(h, d))
            rc, _, err = run(h, MSG, ENV)
            left = [x for x in ("pid", "intd", "todo")
                    if os.path.isdir(q(h, x)) and files(h, x)]
            tap.ok(rc == code and not left,
                   f"a missing queue/{d}: exit {code}, nothing left",
                   f"exit {rc}, files in {left}: {err}")

    # --- privileges and usage --------------------------------------------
    @tap.scenario("privileges and usage")
    def _():
        if os.getuid() == 0:
            e = {k: v for k, v in os.environ.items() if k != "SQ_HOME"}
            p = subprocess.run([BIN], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=e, timeout=60)
            tap.ok(p.returncode == 81 and b"root" in p.stderr,
                   "root without SQ_HOME is refused (exit 81)", p.stderr)
        else:
            tap.skip("not root: the root check cannot be made")
        p = subprocess.run([BIN, "--bogus"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env=dict(os.environ, SQ_HOME=home), timeout=60)
        tap.ok(p.returncode == 81 and b"usage" in p.stderr,
               "an unknown argument is refused (exit 81)", p.stderr)

    # --- a stuck writer: the alarm (sent early here) ---------------------
    @tap.scenario("stuck writer, the alarm")
    def _():
        h = new_home("stuck")
        envf = write("env.stuck", ENV)
        rpipe, wpipe = os.pipe()
        with open(envf, "rb") as fenv:
            p = subprocess.Popen([BIN], stdin=rpipe, stdout=fenv,
                                 stderr=subprocess.PIPE,
                                 env=dict(os.environ, SQ_HOME=h))
        os.close(rpipe)
        os.write(wpipe, b"Subject: half a message\r\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and counts(h)[1] == 0:
            time.sleep(0.02)
        time.sleep(0.1)
        p.send_signal(signal.SIGALRM)
        _, err = p.communicate(timeout=60)
        os.close(wpipe)
        tap.ok(p.returncode == 52 and b"timeout" in err,
               "a writer that stops: the alarm gives exit 52", err)
        tap.is_(counts(h), (1, 1, 0, 0), "after a timeout nothing is in todo/; "
                "pid/ and mess/ are left for the cleaner")

    # --- kill -9 at every step -------------------------------------------
    @tap.scenario("kill -9 at every step")
    def _():
        big = os.urandom(1 << 20)
        h = new_home("crash-none")
        rc, pid, err = run(h, big, ENV, binary=CRASH)
        tap.ok(rc == 0 and queued_intact(h, files(h, "todo")[0], big, ENV, pid),
               "the crash-point build without SQ_CRASH_AT queues normally", err)
        for point, left in POINTS:
            h = new_home("crash-" + point)
            rc, pid, err = run(h, big, ENV, binary=CRASH, crash=point)
            tap.is_(rc, -signal.SIGKILL, f"{point}: killed by SIGKILL")
            todo = files(h, "todo")
            whole = all(queued_intact(h, n, big, ENV, pid) for n in todo)
            tap.ok(whole and len(todo) == left[3],
                   f"{point}: the message is "
                   + ("queued whole" if left[3] else "absent from todo/"),
                   counts(h))
            # Not queued: everything there is the cleaner's; queued: only a
            # pid/ name can be stale.
            stale = [d for d, c in zip(("pid/", "mess/", "intd/"), left)
                     if c and (not left[3] or d == "pid/")]
            tap.is_(counts(h), left,
                    f"{point}: left for the cleaner: "
                    + (", ".join(stale) if stale else "nothing"))

    # --- concurrency -----------------------------------------------------
    @tap.scenario("concurrency")
    def _():
        h = new_home("concurrent")
        results = {}
        for first in range(0, CONCURRENT, BATCH):
            procs = []
            for i in range(first, min(first + BATCH, CONCURRENT)):
                body = b"Subject: message %d\r\n\r\n" % i + os.urandom(i * 37)
                rcpt = b"r%d@example.org" % i
                procs.append((i, body, start(h, body, envelope(b"s@x.org", rcpt))))
            for i, body, p in procs:
                _, err = p.communicate(timeout=300)
                results[i] = (p.returncode, body, err)
        bad = {i: (r[0], r[2]) for i, r in results.items() if r[0] != 0}
        tap.ok(not bad, f"{CONCURRENT} concurrent runs all exit 0", bad)
        todo = files(h, "todo")
        tap.ok(len(todo) == CONCURRENT and len(set(todo)) == CONCURRENT,
               f"{CONCURRENT} distinct message numbers in todo/", len(todo))
        matched = 0
        for n in todo:
            env = read(q(h, "todo", n))
            i = int(env[env.index(b"Tr") + 2:env.index(b"@example.org")])
            matched += queued_intact(h, n, results[i][1],
                                     envelope(b"s@x.org", b"r%d@example.org" % i))
        tap.is_(matched, CONCURRENT, "each number holds its own message and "
                "envelope, whole")
        tap.is_(counts(h)[0], 0, "pid/ is empty after them")

    # --- a large message through a pipe ----------------------------------
    # --- control/databytes bounds what sq-queue copies ----------------------
    @tap.scenario("databytes bound")
    def _():
        # The bound is the sealer's (databytes and the Received: line's
        # room, DATABYTES_RECEIVED) as a sealed copy of it may be:
        # SEALED_MAX of lib/mail/limits.h, sq-queue(8).
        h = new_home("databytes")
        os.makedirs(os.path.join(h, "control"))
        write_ctl = os.path.join(h, "control", "databytes")
        with open(write_ctl, "w") as f:
            f.write("1000\n")
        plain = 1000 + 65536
        der = plain + plain // 256 + 16384
        bound = (der + 2) // 3 * 4 // 64 * 65 + 65 + 16384
        rc, _, err = run(h, b"x" * (bound + 1), ENV)
        tap.ok(rc == 33 and counts(h) == (0, 0, 0, 0) and "5.3.4" in err,
               "a message over the bound of control/databytes: exit 33 "
               "(5.3.4), nothing left in pid/, mess/, intd/ or todo/",
               f"exit {rc}, {counts(h)}: {err}")
        rc, _, err = run(h, b"x" * bound, ENV)
        tap.ok(rc == 0 and counts(h) == (0, 1, 1, 1),
               "a message of exactly the bound is queued",
               f"exit {rc}, {counts(h)}: {err}")
        with open(write_ctl, "w") as f:
            f.write("many\n")
        rc, _, err = run(h, MSG, ENV)
        tap.ok(rc == 55 and counts(h) == (0, 1, 1, 1),
               "an invalid control/databytes: exit 55, nothing queued",
               f"exit {rc}, {counts(h)}: {err}")

    # --- --serve: many messages for one caller, a fork each ---------------
    @tap.scenario("--serve")
    def _():
        h = new_home("serve")
        mine, theirs = socket.socketpair()
        p = subprocess.Popen([BIN, "--serve"], stdin=theirs, stdout=theirs,
                             stderr=subprocess.PIPE,
                             env=dict(os.environ, SQ_HOME=h))
        theirs.close()

        def ask(msg, env, req=b"QUEUE\n", nfds=2):
            m, n = write("serve.msg", msg), write("serve.env", env)
            with open(m, "rb") as fm, open(n, "rb") as fe:
                socket.send_fds(mine, [req], [fm.fileno(), fe.fileno()][:nfds])
            mine.settimeout(60)
            return mine.recv(16)
        answers = [ask(MSG, ENV), ask(MSG, b"garbage"),
                   ask(MSG, ENV, nfds=1), ask(MSG, ENV)]
        todo = files(h, "todo")
        tap.ok(answers == [b"0\n", b"91\n", b"81\n", b"0\n"] and
               len(todo) == 2 and counts(h) == (0, 2, 2, 2) and
               all(queued_intact(h, n, MSG, ENV) for n in todo),
               "sq-queue --serve answers each request with the exit code a "
               "run of its own would give (0, 91 for a bad envelope, 81 for "
               "a request without both descriptors) and queues each good "
               "one whole", (answers, counts(h)))
        pids = {read(q(h, "todo", n)).split(b"\0")[1] for n in todo}
        tap.ok(len(pids) == 2 and b"p%d" % p.pid not in pids,
               "each message is queued by a child of its own", pids)
        mine.close()
        _, err = p.communicate(timeout=60)
        tap.ok(p.returncode == 0, "end of file on its socket ends it, 0",
               err)

    @tap.scenario("large message through a pipe")
    def _():
        h = new_home("large")
        data = os.urandom(20 * 1024 * 1024)
        envf = write("env.large", ENV)
        rpipe, wpipe = os.pipe()
        with open(envf, "rb") as fenv:
            p = subprocess.Popen([BIN], stdin=rpipe, stdout=fenv,
                                 stderr=subprocess.PIPE,
                                 env=dict(os.environ, SQ_HOME=h))
        os.close(rpipe)

        def feed():
            with os.fdopen(wpipe, "wb") as w:
                w.write(data)
        t = threading.Thread(target=feed)
        t.start()
        _, err = p.communicate(timeout=300)
        t.join()
        todo = files(h, "todo")
        tap.ok(p.returncode == 0 and len(todo) == 1 and hashlib.sha256(
            read(mess_path(h, todo[0]))).digest() == hashlib.sha256(data).digest(),
            "a 20 MB message from a pipe is queued intact", err)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
tap.done()
