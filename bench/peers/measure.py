"""What one round measures on one system: the SMTP load by smtp-source,
the end-to-end time and CPU, POP3 retrieval, octets at rest and the
at-rest scan."""
import os
import resource
import socket
import subprocess
import threading
import time

from . import workload

CLK_TCK = os.sysconf("SC_CLK_TCK")


def busy_jiffies():
    """Jiffies the whole machine spent not idle (every core): user, nice,
    system, irq, softirq and steal of /proc/stat's cpu line."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def own_cpu():
    """CPU seconds of this harness and its reaped children (smtp-source):
    taken out of the machine's, since they are the client, not the
    system measured."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def send(port, msgs, clients):
    """Every message through smtp-source, one message per connection,
    clients connections at once: each of clients lanes runs smtp-source
    for the next message not yet sent. Returns the failures' texts."""
    todo = iter(msgs)
    lock = threading.Lock()
    failures = []

    def lane():
        while True:
            with lock:
                m = next(todo, None)
            if m is None:
                return
            r = subprocess.run(
                ["smtp-source", "-s", "1", "-m", "1", "-F", m.path,
                 "-f", workload.SENDER, "-t", m.rcpt, f"127.0.0.1:{port}"],
                capture_output=True, text=True)
            if r.returncode != 0:
                with lock:
                    failures.append(f"message {m.index}: {r.stderr.strip()}")

    threads = [threading.Thread(target=lane) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def message_files(maildirs):
    """The files in new/ and cur/ of every maildir."""
    out = []
    for md in maildirs:
        for sub in ("new", "cur"):
            d = os.path.join(md, sub)
            try:
                out += [e.path for e in os.scandir(d) if e.is_file()]
            except FileNotFoundError:
                pass
    return out


def count(maildirs):
    n = 0
    for md in maildirs:
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(md, sub)))
            except FileNotFoundError:
                pass
    return n


def deliver(system, msgs, clients, timeout):
    """Sends the workload and waits until every message is in a mailbox.

    Completion: the harness counts the files in every subscriber's
    maildir new/ and cur/ every 0.2 s until there are as many as messages
    sent. Every system here makes a message visible there only by
    renaming it from tmp/ after fsync, so the rename's time, the file's
    ctime, is when it was fsynced in the mailbox: end to end is from just
    before the first connection to the newest ctime."""
    group = system.cpu
    cpu0, own0 = busy_jiffies(), own_cpu()
    grp0 = group.seconds() if group else 0.0
    start = time.time()
    failures = send(system.smtp_port, msgs, clients)
    sent_at = time.time()
    want = len(msgs) - len(failures)
    deadline = start + timeout
    while count(system.maildirs()) < want:
        if time.time() > deadline:
            raise RuntimeError(f"{system.label}: {count(system.maildirs())}"
                               f" of {want} delivered after {timeout} s")
        time.sleep(0.2)
    cpu1, own1 = busy_jiffies(), own_cpu()
    grp1 = group.seconds() if group else float("nan")
    files = message_files(system.maildirs())
    newest = max(os.stat(p).st_ctime for p in files)
    busy = (cpu1 - cpu0) / CLK_TCK - (own1 - own0)
    return {"rate": len(files) / (newest - start),
            "smtp_s": sent_at - start,
            "cpu_ms": 1000 * busy / len(files),
            "cpu_own_ms": 1000 * (grp1 - grp0) / len(files),
            "delivered": len(files), "failed": len(failures),
            "failures": failures[:3],
            "stored": sum(os.path.getsize(p) for p in files),
            "received": sum(m.octets for m in msgs)}


def drained(system, timeout=120):
    """Waits until the system's queue is empty (the queue is at rest too);
    False if it is not within timeout."""
    deadline = time.time() + timeout
    while system.queued() > 0:
        if time.time() > deadline:
            return False
        time.sleep(0.2)
    return True


class POP3Error(Exception):
    pass


class POP3:
    """The one POP3 client for every system: reads each answer to its end
    in bulk, so that the server, not this client, is measured."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), 120)
        self.buf = bytearray()
        self.ok(self.line())

    def read_until(self, end):
        while True:
            i = self.buf.find(end)
            if i >= 0:
                out = bytes(self.buf[:i + len(end)])
                del self.buf[:i + len(end)]
                return out
            data = self.sock.recv(1 << 17)
            if not data:
                raise POP3Error("connection closed")
            self.buf += data

    def line(self):
        return self.read_until(b"\r\n")

    @staticmethod
    def ok(reply):
        if not reply.startswith(b"+OK"):
            raise POP3Error(reply[:200].decode(errors="replace"))
        return reply

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.ok(self.line())

    def retr(self, n):
        self.sock.sendall(b"RETR %d\r\n" % n)
        self.ok(self.line())
        # the terminating line; the body's CRLF before it is its own
        return self.read_until(b"\r\n.\r\n")

    def close(self):
        self.sock.close()


def pop3_session(port, user, password):
    """Log in, STAT, RETR every message, QUIT: (login seconds, messages,
    octets, messages without the body canary)."""
    t0 = time.monotonic()
    c = POP3(port)
    c.cmd(f"USER {user}")
    c.cmd(f"PASS {password}")
    login = time.monotonic() - t0
    n = int(c.cmd("STAT").split()[1])
    octets, wrong = 0, 0
    canary = workload.BODY_CANARY.encode()
    for i in range(1, n + 1):
        body = c.retr(i)
        octets += len(body)
        wrong += canary not in body
    c.cmd("QUIT")
    c.close()
    return login, n, octets, wrong


def pop3(system, users, password, passes, conc):
    """passes passes over users, conc sessions at once."""
    logins, msgs, wrong, errors = [], 0, 0, []
    lock = threading.Lock()
    start = time.monotonic()
    for _ in range(passes):
        todo = iter(users)

        def lane():
            nonlocal msgs, wrong
            while True:
                with lock:
                    u = next(todo, None)
                if u is None:
                    return
                try:
                    login, n, _, bad = pop3_session(system.pop3_port, u,
                                                    password)
                except (OSError, POP3Error) as e:
                    with lock:
                        errors.append(f"{u}: {e}")
                    continue
                with lock:
                    logins.append(login)
                    msgs += n
                    wrong += bad

        threads = [threading.Thread(target=lane) for _ in range(conc)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    wall = time.monotonic() - start
    logins.sort()
    return {"pop3_rate": msgs / wall, "pop3_msgs": msgs,
            "login_p50": 1000 * logins[len(logins) // 2] if logins else 0,
            "pop3_errors": errors[:3], "pop3_failed": len(errors),
            "pop3_wrong": wrong}


def scan(roots, needles):
    """How many regular files under roots hold each needle (bytes),
    read in blocks with an overlap so that none is missed across them."""
    found = {n: 0 for n in needles}
    keep = max(len(n) for n in needles)
    for root in roots:
        for d, _, names in os.walk(root):
            for name in names:
                p = os.path.join(d, name)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                hit = set()
                tail = b""
                try:
                    with open(p, "rb") as f:
                        while True:
                            block = f.read(1 << 20)
                            if not block:
                                break
                            data = tail + block
                            hit |= {n for n in needles if n in data}
                            tail = data[-keep:]
                except OSError:
                    continue
                for n in hit:
                    found[n] += 1
    return found
