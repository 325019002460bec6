#!/usr/bin/env python3
"""The whole loop in combined mode with real clients: a message sent over
SMTP is sealed, delivered into the maildir, and read back over POP3
(sq-popup, sq-checkpw against the real pksd, sq-pop3d) with Python's
poplib, in the clear from loopback and inside STLS, and with mpop over
STLS. It comes back exact apart from the Received: line. A wrong
password unlocks nothing; wrong passwords from one network do not lock
the owner out from another, and a throttled login is told to try later,
not that its password was wrong; with the key store down the answer is
temporary; a damaged message fails alone. No secret in any process's
argv or environment, or in the logs; the canary in no file at rest."""
import os
import poplib
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import cms, tap  # noqa: E402
from sqtest.mail import (MailHost, PASSWORD, files_holding,  # noqa: E402
                         pop_error, retr)

A = "john.smith@example.org"
CANARY = "CANARY-7f3d-pop3-plaintext-must-not-rest-on-disk"
BODY = (b"From: Alice <alice@remote.example>\r\n"
        b"To: John <john.smith@example.org>\r\n"
        b"Subject: the whole loop\r\n"
        b"Message-ID: <loop-1@remote.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"First line.\r\n"
        b".a line that starts with a dot\r\n"
        b"..and one with two\r\n"
        b".\tdot and tab\r\n"
        b"trailing spaces   \r\n"
        b"\r\n"
        b"caf\xc3\xa9 \xe2\x82\xac 8-bit text\r\n" +
        CANARY.encode() + b"\r\n" +
        b"x" * 900 + b"\r\n"
        b"last line\r\n")


def send(m, body=BODY):
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.sendmail("alice@remote.example", [A], body)
    s.quit()


def without_trace(msg):
    """msg without the Received: fields the path added in front."""
    lines = msg.split(b"\r\n")
    while lines and (lines[0].startswith(b"Received:") or
                     lines[0][:1] in (b" ", b"\t")):
        lines.pop(0)
    return b"\r\n".join(lines)


class Raw:
    """A POP3 connection by hand, for what poplib will not send."""

    def __init__(self, m, source="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", m.pop3_port), 30,
                                             source_address=(source, 0))
        self.f = self.sock.makefile("rb")

    def line(self):
        return self.f.readline().decode("latin-1").rstrip("\r\n")

    def say(self, data):
        self.sock.sendall(data)
        return self.line()

    def tls(self, m):
        self.sock = m.tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.sock.close()


def secrets_in_proc():
    """Processes whose argv or environment hold the password or a PEM
    private key; and how many of ours could be read at all."""
    hits, read = [], 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for what in ("cmdline", "environ"):
            try:
                data = open(f"/proc/{pid}/{what}", "rb").read()
            except OSError:
                continue
            read += 1
            if PASSWORD.encode() in data or b"PRIVATE KEY" in data:
                hits.append(f"{pid}/{what}")
    return hits, read


m = MailHost(users=[A])
try:
    m.start()
    m.start_delivery()
    m.start_pop3()
    tap.on_failure(lambda: "\npop3.log:\n" + m.log("pop3.log")[-3000:])
    uid1 = None     # the first message's UIDL, for the STLS scenario

    @tap.scenario("delivered, sealed")
    def _():
        send(m)
        tap.ok(m.wait_for(lambda: m.delivered(A), 30), "delivered, sealed",
               m.log("send.log")[-1500:])

    # --- poplib in the clear, from loopback -----------------------------------
    @tap.scenario("poplib in the clear")
    def _():
        global uid1
        p = poplib.POP3("127.0.0.1", m.pop3_port, timeout=60)
        capa = p.capa()
        tap.ok(all(k in capa for k in ("USER", "STLS", "TOP", "UIDL")) and
               "APOP" not in capa,
               "CAPA: USER, STLS, TOP and UIDL; no APOP", repr(capa))
        p.user(A)
        t0 = time.time()
        p.pass_(PASSWORD)
        count, total = p.stat()
        got, octets = retr(p, 1), p.retr(1)[2]
        listed = int(p.list(1).split()[2])
        tap.ok(count == 1 and total == listed == octets == len(got),
               "STAT, LIST and RETR agree on the CRLF octets",
               f"{count} {total} {listed} {octets} {len(got)}")
        tap.ok(without_trace(got) == BODY,
               "the message comes back exact, apart from the Received: line",
               repr(got[:600]))
        tap.ok(got.startswith(b"Received: from "), "with its Received: line")
        resp, top, _ = p.top(1, 0)
        tap.ok(b"\r\n".join(top) + b"\r\n" ==
               got[:got.index(b"\r\n\r\n") + 4],
               "TOP 1 0: the header and the blank line only", repr(top[-3:]))
        resp, top2, _ = p.top(1, 2)
        tap.ok(top2[-2:] == [b"First line.", b".a line that starts with a dot"],
               "TOP 1 2: and two lines of the body, unstuffed", repr(top2[-3:]))
        uid1 = p.uidl(1).split()[2]
        p.dele(1)
        st_deleted, list_deleted = p.stat(), p.list()[1]
        err = pop_error(lambda: p.retr(1))
        p.rset()
        tap.ok(st_deleted == (0, 0) and list_deleted == [] and "deleted" in err
               and p.stat()[0] == 1,
               "DELE hides the message from STAT, LIST and RETR; RSET brings "
               "it back", f"{st_deleted} {list_deleted} {err}")
        p.quit()
        tap.ok(len(m.delivered(A)) == 1, "RSET then QUIT: nothing removed")

    # --- STLS, and UIDL across sessions ---------------------------------------
    @tap.scenario("stls, uidl across sessions")
    def _():
        send(m, BODY.replace(b"the whole loop", b"second"))
        m.wait_for(lambda: len(m.delivered(A)) == 2, 30)
        p = m.pop3(A, tls=True)
        cipher = p.sock.cipher()
        uidls = [line.split()[1] for line in p.uidl()[1]]
        got2 = retr(p, 2)
        tap.ok(cipher and uidls[0] == uid1 and len(set(uidls)) == 2 and
               b"Subject: second" in got2,
               "STLS: logged in over TLS; UIDL stable across sessions",
               f"{cipher} {uidls} {uid1}")
        # a logged-in session is open: look for secrets in every process
        hits, readable = secrets_in_proc()
        tap.ok(not hits and readable > 0,
               "no password or key in any process's argv or environment",
               f"{hits} ({readable} read)")
        p.dele(1)
        p.quit()
        tap.ok(m.wait_for(lambda: len(m.delivered(A)) == 1, 5),
               "DELE and QUIT: removed from the maildir")

    # --- mpop over STLS ----------------------------------------------------------
    @tap.scenario("mpop over stls")
    def _():
        work = tempfile.mkdtemp(dir=m.home)
        got_dir = os.path.join(work, "inbox")
        for d in ("", "/new", "/cur", "/tmp"):
            os.makedirs(got_dir + d, exist_ok=True)
        pwfile = os.path.join(work, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        conf = os.path.join(work, "mpoprc")
        with open(conf, "w") as f:
            f.write(f"account test\nhost 127.0.0.1\nport {m.pop3_port}\n"
                    f"tls on\ntls_starttls on\n"
                    f"tls_trust_file {m.home}/control/ca.pem\n"
                    "tls_host_override 127.0.0.1\n"
                    f"auth user\nuser {A}\npasswordeval cat {pwfile}\n"
                    f"delivery maildir {got_dir}\nkeep off\nuidls_file "
                    f"{work}/uidls\n")
        os.chmod(conf, 0o600)
        r = subprocess.run(["mpop", "-C", conf, "-q", "test"],
                           capture_output=True, text=True, timeout=120)
        fetched = [open(os.path.join(got_dir, "new", n), "rb").read()
                   for n in os.listdir(os.path.join(got_dir, "new"))]
        tap.ok(r.returncode == 0 and len(fetched) == 1 and
               b"Subject: second" in fetched[0] and CANARY.encode() in fetched[0],
               "mpop downloads over STLS", r.stdout + r.stderr)
        tap.ok(m.wait_for(lambda: m.delivered(A) == [], 5),
               "and the server removed what it fetched")
        os.unlink(pwfile)
        # mpop's copy holds the canary, on purpose: it is the client's
        subprocess.run(["rm", "-rf", work])

    # --- failures ----------------------------------------------------------------
    @tap.scenario("failures: wrong password, unknown address")
    def _():
        send(m)
        m.wait_for(lambda: m.delivered(A), 30)
        t0 = time.time()
        err = pop_error(lambda: m.pop3(A, password="wrong horse battery"))
        tap.ok(err.startswith("-ERR [AUTH]") and time.time() - t0 >= 2,
               "a wrong password: -ERR [AUTH], after a pause", err)
        err = pop_error(lambda: m.pop3("nobody.here@example.org"))
        tap.ok(err.startswith("-ERR [AUTH]"),
               "an unknown address: the same answer", err)

    @tap.scenario("throttled network, owner from another")
    def _():
        def guesses(n):
            """n wrong passwords at once, each on a connection of its own
            from 127.3.3.3: the answers to PASS."""
            out = [None] * n

            def one(i):
                r = Raw(m, source="127.3.3.3")
                r.line()
                r.say(f"USER {A}\r\n".encode())
                out[i] = r.say(f"PASS guess {i}\r\n".encode())
                r.close()
            ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return out

        def kinds(answers):
            return {a.split("]")[0] + "]" if a.startswith("-ERR [") else a
                    for a in answers}
        first = guesses(12)
        tap.ok(kinds(first) == {"-ERR [AUTH]", "-ERR [SYS/TEMP]"},
               "12 wrong passwords from 127.3.3.3: the first ones -ERR "
               "[AUTH], the rest throttled, -ERR [SYS/TEMP]", repr(first))
        p = m.pop3(A)
        tap.ok(p.stat()[0] >= 0,
               "then the owner's right password from 127.0.0.1 logs in")
        p.quit()
        again = guesses(2)
        tap.ok("-ERR [SYS/TEMP]" in kinds(again) and
               kinds(again) <= {"-ERR [AUTH]", "-ERR [SYS/TEMP]"},
               "and 127.3.3.3 is still told to try later, not that the "
               "password was wrong", repr(again))

    @tap.scenario("pop3cleartext")
    def _():
        m.control("pop3cleartext", "192.0.2.0/24\n")
        p = poplib.POP3("127.0.0.1", m.pop3_port, timeout=60)
        capa = p.capa()
        p.user(A)
        err = pop_error(lambda: p.pass_(PASSWORD))
        p.quit()
        p = m.pop3(A, tls=True)
        tap.ok("USER" not in capa and "STLS" in err and p.stat()[0] == 1,
               "control/pop3cleartext without loopback: PASS only after STLS",
               f"{capa} {err}")
        p.quit()
        os.unlink(os.path.join(m.home, "control", "pop3cleartext"))

    @tap.scenario("misuse by hand, stls injection")
    def _():
        # misuse by hand
        r = Raw(m)
        greeting = r.line()
        answers = [r.say(b"APOP john.smith@example.org 0123456789abcdef\r\n"),
                   r.say(b"RETR 1\r\n"), r.say(b"PASS before user\r\n"),
                   r.say(b"USER " + b"x" * 300 + b"\r\n"),
                   r.say(b"NOSUCH\r\n")]
        tap.ok(greeting.startswith("+OK") and
               all(a.startswith("-ERR ") for a in answers) and
               "APOP" in answers[0] and "USER first" in answers[2] and
               "too long" in answers[3],
               "APOP, commands out of state, a long line: each a clear -ERR",
               repr(answers))
        # input pipelined after STLS is dropped, not taken as said inside TLS
        answer = r.say(b"STLS\r\nUSER injected@example.org\r\n")
        r.tls(m)
        first = r.say(b"QUIT\r\n")
        r.close()
        tap.ok(answer.startswith("+OK") and first.startswith("+OK bye"),
               "STLS discards what was pipelined before the handshake", first)

    @tap.scenario("idle client, timeoutpop3d")
    def _():
        m.control("timeoutpop3d", "1\n")
        r = Raw(m)
        r.line()
        time.sleep(2.5)
        idle = r.line()
        r.close()
        os.unlink(os.path.join(m.home, "control", "timeoutpop3d"))
        tap.ok(idle.startswith("-ERR autologout"), "an idle client is logged out",
               idle)
        bad = []
        for text in ("soon\n", "0\n", "86401\n"):
            m.control("timeoutpop3d", text)
            r = Raw(m)
            bad.append(r.line())
            r.close()
        os.unlink(os.path.join(m.home, "control", "timeoutpop3d"))
        tap.ok(all(b.startswith("-ERR [SYS/TEMP]") for b in bad) and
               "timeoutpop3d" in m.log("pop3.log"),
               "a malformed control/timeoutpop3d: a temporary -ERR and a log line",
               repr(bad))

    @tap.scenario("its own listener")
    def _():
        ctl = os.path.join(m.home, "control")
        cdb = os.path.join(ctl, "tcp.pop3.cdb")
        subprocess.run(["tcprules", cdb, cdb + ".tmp"], check=True,
                       input=b"127.0.0.2:deny\n:allow\n")
        try:
            raw = socket.create_connection(("127.0.0.1", m.pop3_port), 10,
                                           source_address=("127.0.0.2", 0))
            raw.settimeout(10)
            denied = raw.recv(100)
            raw.close()
        except OSError as e:
            denied = repr(e).encode()
        tap.ok(not denied.startswith(b"+OK") and m.wait_for(
               lambda: "127.0.0.2: denied by" in m.log("pop3.log"), 10),
               "sq-popup -l: a client control/tcp.pop3.cdb denies is "
               "dropped before the greeting, logged", repr(denied))
        p = m.pop3(A)
        kids = open(f"/proc/{m.pop3d.pid}/task/{m.pop3d.pid}/children"
                    ).read().split()
        uids = {open(f"/proc/{k}/status").read().split("Uid:")[1].split()[0]
                for k in kids}
        p.quit()
        want = {"65534"} if os.geteuid() == 0 else {str(os.geteuid())}
        tap.ok(uids == want and m.wait_for(
               lambda: "from 127.0.0.1: unlocked" in m.log("pop3.log"), 10),
               "a session is a child of the listener, as the POP3 user, and "
               "sq-checkpw has the client's address (TCPREMOTEIP) for the "
               "key store's throttle", f"uids {uids}\n" +
               m.log("pop3.log")[-600:])
        many = [a for i in range(9) for a in ("-a", f"127.0.0.1:{i + 1}")]
        r = subprocess.run([os.path.join(m.bin, "sq-popup"), "-l", *many,
                            "sq-checkpw", "sq-pop3d"], capture_output=True,
                           text=True, timeout=30,
                           env=dict(os.environ, SQ_HOME=m.home))
        tap.ok(r.returncode == 100 and "more than 8 addresses" in r.stderr,
               "sq-popup -l refuses a ninth -a address (100), not drops it",
               f"{r.returncode} {r.stderr}")

    @tap.scenario("key store down at login")
    def _():
        m.pks.stop_pksd()
        err = pop_error(lambda: m.pop3(A))
        tap.ok(err.startswith("-ERR [SYS/TEMP]"),
               "the key store down at login: a temporary -ERR", err)
        m.pks.start_pksd()

    @tap.scenario("damaged message fails alone")
    def _():
        # a damaged message fails alone
        send(m, BODY.replace(b"the whole loop", b"third"))
        m.wait_for(lambda: len(m.delivered(A)) == 2, 30)
        new = os.path.join(m.mailbox(A), "new")
        first = sorted(os.listdir(new))[0]
        path = os.path.join(new, first)
        original = open(path, "rb").read()
        # one bit of the ciphertext, then one of the GCM tag: not an ASN.1
        # header, which any parser would refuse
        for where in ("content", "tag"):
            cms.flip(path, where)
            p = m.pop3(A)
            err = pop_error(lambda: p.retr(1))
            got3 = retr(p, 2)
            p.quit()
            tap.ok(err.startswith("-ERR") and b"Subject: third" in got3,
                   f"a message tampered in its {where}: -ERR for it alone, "
                   "the session goes on", err)
            with open(path, "wb") as f:
                f.write(original)
        p = m.pop3(A)
        got1 = retr(p, 1)
        p.quit()
        tap.ok(b"Received: " in got1, "the same message untampered opens",
               repr(got1[:200]))
        tap.ok("cannot be opened" in m.log("pop3.log"), "and a log line")

    @tap.scenario("implicit tls")
    def _():
        # implicit TLS, in the manner of port 995
        m.stop_pop3()
        m.start_pop3(implicit_tls=True)
        p = poplib.POP3_SSL("127.0.0.1", m.pop3_port, context=m.tls_context(),
                            timeout=60)
        p.user(A)
        p.pass_(PASSWORD)
        tap.ok(p.stat()[0] == 2, "sq-popup -T: TLS from the first octet")
        p.quit()

    @tap.scenario("no secrets in logs or at rest")
    def _():
        logs = "".join(m.log(n) for n in ("pop3.log", "send.log", "smtpd.log",
                                          "sealer.log")) + m.pks.log_text()
        tap.ok(PASSWORD not in logs and "PRIVATE KEY" not in logs,
               "no password or key in any log")
        m.stop_daemons()
        m.pks.stop_pksd()
        rest = files_holding(m.home, CANARY) + files_holding(m.pks.db.dir, CANARY)
        tap.ok(not rest, "the canary rests in no file: queue, maildirs, PKS, logs",
               repr(rest))
except Exception:    # in the set-up
    tap.diag(m.log("pop3.log")[-3000:])
    raise
finally:
    m.stop()
tap.done()
