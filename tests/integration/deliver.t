#!/usr/bin/env python3
"""The delivery chain in combined mode, real programs end to end: sq-smtpd
queues sealed mail, sq-start runs sq-send, sq-lspawn and sq-clean, and the
message lands sealed in the subscriber's maildir, where it opens with the
subscriber's key. Many recipients, an old key version, a refused .qmail
line bouncing to a local sender (sealed), the PKS down while that notice
is queued, and a kill -9 of the scheduler during 500 deliveries."""
import hashlib
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402
from sqtest.mail import (MailHost, PASSWORD, files_holding,  # noqa: E402
                         is_sealed)

A, B, C = "john.smith@example.org", "jane.doe@example.org", "bob@example.org"
MANY = [f"user{i}@example.org" for i in range(8)]
CANARY = "CANARY-5b1c-delivered-plaintext-must-not-rest-on-disk"


def message(subject, body=CANARY):
    return (f"From: alice@remote.example\r\nSubject: {subject}\r\n\r\n"
            f"{body}\r\n")


def send(m, sender, rcpts, msg):
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    refused = s.sendmail(sender, rcpts, msg)
    s.quit()
    return refused


def queue_empty(m):
    q = os.path.join(m.home, "queue")
    return not os.listdir(os.path.join(q, "todo")) and not any(
        os.listdir(os.path.join(q, "info", d))
        for d in os.listdir(os.path.join(q, "info")))


def kick(m):
    """SIGALRM: everything in the queue is due now (sq-start became
    sq-send, so the spawned pid is the scheduler's)."""
    m.send.send_signal(signal.SIGALRM)


m = MailHost(users=[A, B, C] + MANY, control={"retrystep": "1\n", "pekcachetime": "0\n"})
try:
    m.start()
    m.start_delivery()
    tap.on_failure(lambda: "\nsend.log:\n" + m.log("send.log")[-3000:])

    # --- one message, two subscribers -------------------------------------
    @tap.scenario("one message, two subscribers")
    def _():
        refused = send(m, "alice@remote.example", [A, B], message("first"))
        got = m.wait_for(lambda: m.delivered(A) and m.delivered(B), 30)
        tap.ok(refused == {} and got, "a message for two subscribers reaches "
               "both maildirs", m.log("send.log"))
        md = m.mailbox(A)
        tap.ok(md and os.path.basename(md).startswith(
            __import__("hashlib").sha256(A.encode()).hexdigest()[:8] + "-"),
            "the mailbox is named by the address hash and the key row", md)
        rc, plain = m.open_for(A, m.delivered(A)[0])
        tap.ok(rc == 0 and CANARY.encode() in plain and b"Subject: first" in plain,
               "the stored message opens with the subscriber's key (ours and "
               "openssl cms)", plain[:300])
        names = os.listdir(os.path.join(md, "new"))
        size = len(m.delivered(A)[0])
        crlf = len(plain) + plain.count(b"\n")
        tap.ok(len(names) == 1 and f",S={size},W={crlf}" in names[0],
               "the maildir name carries the sealed and the plaintext "
               "(CRLF) size", names)
        stored = m.delivered(A)[0]
        tap.ok(stored[:1] == b"\x30" and is_sealed(stored) and
               size <= len(plain) + 1024,
               "the file is the binary entity alone, its size line in the "
               "name: the plaintext and a few hundred octets",
               f"{stored[:40]!r}: {size} octets for {len(plain)}")
        tap.ok(not files_holding(m.home, CANARY),
               "no plaintext anywhere in the instance: queue, maildirs, logs",
               files_holding(m.home, CANARY))
        tap.ok(m.wait_for(lambda: queue_empty(m), 10),
               "the queue is empty once everything is delivered")

    # --- many recipients ------------------------------------------------------
    @tap.scenario("many recipients")
    def _():
        send(m, "alice@remote.example", MANY, message("many"))
        tap.ok(m.wait_for(lambda: all(len(m.delivered(u)) == 1 for u in MANY), 30),
               f"one message for {len(MANY)} subscribers: each gets one copy")
        tap.ok(all(m.open_for(u, m.delivered(u)[0])[0] == 0 for u in MANY[:3]),
               "each copy opens with its own subscriber's key")

    # --- an old key version --------------------------------------------------------
    @tap.scenario("old key version")
    def _():
        m.wait_for(lambda: queue_empty(m), 10)
        m.stop_delivery()
        send(m, "alice@remote.example", [C], message("sealed before the reset"))
        r = m.run(os.path.join(m.bin, "sq-qstat"))
        tap.is_(r.stdout, "messages in queue: 1\n"
                "messages in queue but not yet preprocessed: 1\n",
                "sq-qstat counts a message sq-send has not seen yet")
        r = m.run(os.path.join(m.bin, "ses-passwd"), "--reset", "--password-fd",
                  "3", C, pw="a brand new password 42\n")
        tap.ok(r.returncode == 0, "the subscriber's key is reset: a new version",
               r.stdout + r.stderr)
        m.start_delivery()
        got = m.wait_for(lambda: len(m.delivered(C)) == 1, 30)
        old = m.opener(C, PASSWORD, version=0)
        tap.ok(got and old(m.delivered(C)[0])[0] == 0,
               "mail sealed to the old version is delivered as it is, and opens "
               "with the old key", m.log("send.log")[-2000:])
        send(m, "alice@remote.example", [C], message("after the reset"))
        m.wait_for(lambda: len(m.delivered(C)) == 2, 30)
        new = m.opener(C, "a brand new password 42")
        tap.ok(len(m.delivered(C)) == 2 and new(m.delivered(C)[1])[0] == 0 and
               len(os.listdir(os.path.join(m.home, "maildirs"))) ==
               len([A, B, C] + MANY),
               "new mail is sealed to the new version, into the same mailbox")

    # --- keys cached by sq-lspawn, then a newer version ----------------------
    @tap.scenario("cached keys, then a new key version")
    def _():
        # A reset's new row may have a lower id than the address's rows
        # and so name a new mailbox (HASH-ROW, the lowest row): count the
        # messages of every mailbox of the hash.
        h = hashlib.sha256(C.encode()).hexdigest()[:8]
        top = os.path.join(m.home, "maildirs")

        def all_of_c():
            return [open(os.path.join(top, d, "new", n), "rb").read()
                    for d in sorted(os.listdir(top)) if d.startswith(h + "-")
                    for n in sorted(os.listdir(os.path.join(top, d, "new")))]
        m.wait_for(lambda: queue_empty(m), 10)
        m.stop_delivery()
        m.control("pekcachetime", "300\n")   # sq-lspawn's; the sealer's stays 0
        m.start_delivery()
        try:
            n = len(all_of_c())
            send(m, "alice@remote.example", [C], message("warms the cache"))
            warm = m.wait_for(lambda: len(all_of_c()) == n + 1, 30)
            r = m.run(os.path.join(m.bin, "ses-passwd"), "--reset",
                      "--password-fd", "3", C, pw="yet another password 43\n")
            send(m, "alice@remote.example", [C], message("to the newest key"))
            got = m.wait_for(lambda: len(all_of_c()) == n + 2, 30)
            newest = m.opener(C, "yet another password 43")
            tap.ok(warm and r.returncode == 0 and got and
                   any(newest(x)[0] == 0 for x in all_of_c()),
                   "mail sealed to a key version newer than the keys "
                   "sq-lspawn cached is delivered (it asks the PKS again), "
                   "not bounced", m.log("send.log")[-2000:])
        finally:
            m.stop_delivery()
            m.control("pekcachetime", "0\n")
            m.start_delivery()

    # --- a refused .qmail line: a sealed DSN to the local sender, the PKS
    #     down while it is queued ----------------------------------------------
    @tap.scenario("refused .qmail line, notice with the PKS down")
    def _():
        dotqmail = os.path.join(m.home, "domains", "example.org", ".qmail-jane:doe")
        keep = open(dotqmail).read()
        open(dotqmail, "w").write("./Maildir/\n")
        before = len(m.delivered(A))
        m.wait_for(lambda: queue_empty(m), 10)
        m.stop_delivery()
        send(m, A, [B], message("to a plaintext .qmail"))
        m.pks.stop_pksd()
        m.start_delivery()
        deferred = m.wait_for(lambda: "cannot queue the failure notice"
                              in m.log("send.log"), 30)
        tap.ok(deferred and len(m.delivered(A)) == before and
               not m.delivered(B)[1:],
               "the delivery fails for good; with the PKS down its notice waits",
               m.log("send.log")[-1500:])
        r = m.run(os.path.join(m.bin, "sq-qread"))
        tap.ok(r.returncode == 0 and f"<{A}>" in r.stdout and
               f"  done\tlocal\t{B}" in r.stdout,
               "sq-qread shows the message waiting for its notice, its "
               "recipient done", r.stdout + r.stderr)
        m.pks.start_pksd()
        time.sleep(1)
        kick(m)
        got = m.wait_for(lambda: len(m.delivered(A)) == before + 1, 30)
        rc, dsn = m.open_for(A, m.delivered(A)[-1]) if got else (1, b"")
        tap.ok(got and rc == 0 and b"multipart/report" in dsn and b"5.7.1" in dsn
               and B.encode() in dsn,
               "the sender gets an RFC 3464 notice, sealed for them, once the PKS "
               "is back", f"rc {rc}: " + dsn[:1500].decode(errors="replace"))
        tap.ok(m.wait_for(lambda: queue_empty(m), 10) and
               "not delivered in plaintext" not in m.log("send.log"),
               "the queue is empty again")
        open(dotqmail, "w").write(keep)

    # --- a 1000-octet address (the queue's longest) must not stop the
    #     scheduler: issue 14 ------------------------------------------------------
    @tap.scenario("a 1000-octet address in the queue")
    def _():
        dom = "@example.org"
        poison = "p" * (1000 - len(dom)) + dom          # local, no such user
        longsender = "q" * (1000 - len("@remote.example")) + "@remote.example"
        m.wait_for(lambda: queue_empty(m), 10)
        m.stop_delivery()
        before_a, before_b = len(m.delivered(A)), len(m.delivered(B))

        def sq_queue(msg, env):
            with tempfile.TemporaryFile() as fm, tempfile.TemporaryFile() as fe:
                fm.write(msg.encode())
                fe.write(env)
                fm.seek(0)
                fe.seek(0)
                return subprocess.run(
                    m.as_user([os.path.join(m.bin, "sq-queue")]), stdin=fm,
                    stdout=fe, stderr=subprocess.PIPE,
                    env=dict(os.environ, SQ_HOME=m.home), timeout=60)
        r1 = sq_queue(message("to a 1000-octet recipient"),
                      b"F" + A.encode() + b"\0T" + poison.encode() + b"\0\0")
        r2 = sq_queue(message("from a 1000-octet sender"),
                      b"F" + longsender.encode() + b"\0T" + B.encode() +
                      b"\0\0")
        tap.ok(r1.returncode == 0 and r2.returncode == 0,
               "sq-queue takes a 1000-octet recipient and a 1000-octet sender",
               (r1.stderr + r2.stderr).decode(errors="replace"))
        send(m, "alice@remote.example", [B], message("after the poison"))
        m.start_delivery()
        got = m.wait_for(lambda: len(m.delivered(B)) == before_b + 2, 30)
        tap.ok(got and m.send.poll() is None,
               "the messages after it are delivered, the 1000-octet sender's "
               "too, and the scheduler runs on", m.log("send.log")[-2000:])
        got = m.wait_for(lambda: len(m.delivered(A)) == before_a + 1, 30)
        rc, dsn = m.open_for(A, m.delivered(A)[-1]) if got else (1, b"")
        tap.ok(got and rc == 0 and b"multipart/report" in dsn and
               b"Status: 5." in dsn and poison.encode() in dsn,
               "the 1000-octet recipient fails for good: its sender gets a "
               "notice naming it", f"rc {rc}: " + dsn[:800].decode(errors="replace"))
        tap.ok(m.wait_for(lambda: queue_empty(m), 10) and
               "malformed" not in m.log("send.log") and
               "lost sq-lspawn" not in m.log("send.log"),
               "the queue drains; sq-lspawn and sq-send never stopped",
               m.log("send.log")[-1500:])

    # --- kill -9 of the scheduler during 500 deliveries ------------------------
    @tap.scenario("kill -9 of the scheduler")
    def _():
        N = 500
        before = len(m.delivered(A))

        def sender(k):
            s = smtplib.SMTP("127.0.0.1", m.smtp_port)
            for i in range(k, N, 4):
                s.sendmail("alice@remote.example", [A], message(f"bulk {i}",
                                                                f"bulk body {i}"))
            s.quit()
        threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        m.wait_for(lambda: len(m.delivered(A)) >= before + N // 5, 60)
        m.send.kill()
        m.send.wait()
        m.procs.remove(m.send)
        for t in threads:
            t.join()
        at_kill = len(m.delivered(A)) - before
        m.start_delivery()
        m.wait_for(lambda: len(m.delivered(A)) >= before + N and queue_empty(m),
                   120)
        got = m.delivered(A)[before:]
        opener = m.opener(A)
        bodies = set()
        for mess in got:
            rc, plain = opener(mess, with_openssl=False)
            for line in plain.splitlines():
                if line.startswith(b"bulk body "):
                    bodies.add(int(line[10:]))
        tap.diag(f"killed after {at_kill} of {N}; {len(got)} files, "
                 f"{len(got) - len(bodies)} duplicates")
        tap.ok(bodies == set(range(N)),
               f"kill -9 of sq-send during {N} deliveries: every message "
               "delivered at least once", sorted(set(range(N)) - bodies)[:20])
        tap.ok(len(got) - N <= 40 and queue_empty(m),
               "duplicates at most the deliveries under way at the kill, and the "
               "queue drains", f"{len(got)} files")
        m.stop_delivery()
        log = m.log("send.log")
        h = __import__("hashlib").sha256(A.encode()).hexdigest()[:8]
        tap.ok(f"to {h}: success" in log and A not in log,
           "one log line per delivery, naming the address hash, never the "
           "address")
finally:
    m.stop()
tap.done()
