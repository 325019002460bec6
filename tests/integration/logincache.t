#!/usr/bin/env python3
"""The POP3 login cache (sq-pdkcache) with the real pksd, sq-checkpw and
sq-pop3d: a subscriber's second login takes the PDK from the cache
instead of unwrapping it with scrypt, and reads the same mail; the key
store is still asked every time, so a wrong password, a new password, a
throttled network and a deleted subscriber are answered as without the
cache; the cache's memory holds neither a password nor a PDK; and with
no cache running, logins work as before. Login times cold and warm are
printed (bench-peers measures them under load)."""
import hashlib
import hmac
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402
from sqtest.mail import MailHost, PASSWORD, pop_error, retr  # noqa: E402

A = "ann.cache@example.org"
B = "bob.cache@example.org"
NEW = "a new password for ann 7"
BODY = b"Subject: cached\r\n\r\nread with a cached key\r\n"


def login(m, user, password=PASSWORD):
    """Seconds for USER/PASS/STAT/QUIT, and the message count."""
    t0 = time.monotonic()
    p = m.pop3(user, password)
    n = p.stat()[0]
    p.quit()
    return time.monotonic() - t0, n


def last_login(m):
    lines = [ln for ln in m.log("pop3.log").splitlines()
             if ln.startswith("sq-checkpw[") and ": login " in ln]
    return lines[-1] if lines else ""


def raw_pass(m, user, password, source):
    """PASS's answer on a connection from source."""
    s = socket.create_connection(("127.0.0.1", m.pop3_port), 30,
                                 source_address=(source, 0))
    f = s.makefile("rb")
    f.readline()
    s.sendall(f"USER {user}\r\n".encode())
    f.readline()
    s.sendall(f"PASS {password}\r\n".encode())
    answer = f.readline().decode("latin-1").strip()
    s.close()
    return answer


def memory_holds(pid, needles):
    """Which of needles ({name: octets}) pid's readable memory holds (root
    reads a non-dumpable process), and the octets read. Mappings past
    256 MiB (a sanitizer's shadow) are skipped; the rest is read in
    pieces that overlap by the longest needle."""
    found, total = set(), 0
    overlap = max(len(n) for n in needles.values())
    with open(f"/proc/{pid}/maps") as maps, \
            open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in span.split("-"))
            if not perms.startswith("r") or hi - lo > 256 << 20:
                continue
            tail = b""
            for at in range(lo, hi, 16 << 20):
                try:
                    mem.seek(at)
                    piece = mem.read(min(16 << 20, hi - at))
                except (OSError, ValueError, OverflowError):
                    break
                total += len(piece)
                window = tail + piece
                found |= {k for k, n in needles.items() if n in window}
                tail = window[-overlap:]
    return found, total


m = MailHost(users=[A, B])
try:
    m.start()
    m.start_delivery()
    m.start_pop3()
    sock = os.path.join(m.home, "pdkcache", "socket")
    cache = m.start_pdkcache()
    tap.on_failure(lambda: "\npop3.log:\n" + m.log("pop3.log")[-2500:] +
                   "\npdkcache.log:\n" + m.log("pdkcache.log")[-800:])
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.sendmail("alice@remote.example", [A, B], BODY)
    s.quit()
    m.wait_for(lambda: m.delivered(A) and m.delivered(B), 30)

    @tap.scenario("the second login comes from the cache")
    def _():
        cold, n = login(m, A)
        first = last_login(m)
        warm = []
        for _ in range(5):
            warm.append(login(m, A)[0])
        second = last_login(m)
        tap.ok(n == 1 and first.endswith(": unlocked") and
               second.endswith("unlocked, from the login cache"),
               "the first login unwraps with scrypt, the next ones take the "
               "PDK from the cache", (first, second))
        p = m.pop3(A)
        text = retr(p, 1)
        p.quit()
        tap.ok(b"read with a cached key" in text,
               "and the cached PDK opens the mail")
        tap.diag(f"login (USER, PASS, STAT, QUIT): cold {cold * 1000:.0f} ms,"
                 f" warm p50 {statistics.median(warm) * 1000:.0f} ms "
                 f"(max {max(warm) * 1000:.0f})")

    @tap.scenario("a wrong password is wrong, cache or not")
    def _():
        err = pop_error(lambda: m.pop3(A, "not the password"))
        tap.ok(err.startswith("-ERR [AUTH]") and
               "wrong password" in last_login(m),
               "a wrong password gets -ERR [AUTH] with the PDK in the cache",
               (err, last_login(m)))
        login(m, A)
        tap.ok(last_login(m).endswith("from the login cache"),
               "and the right one still finds it")

    @tap.scenario("a new password misses the cache")
    def _():
        r = m.run(os.path.join(m.bin, "ses-passwd"), "--password-fd", "3", A,
                  pw=f"{PASSWORD}\n{NEW}\n")
        tap.ok(r.returncode == 0, "ses-passwd changes the password",
               r.stdout + r.stderr)
        err = pop_error(lambda: m.pop3(A, PASSWORD))
        tap.ok(err.startswith("-ERR [AUTH]"),
               "the old password no longer logs in, though its PDK was "
               "cached", err)
        login(m, A, NEW)
        first = last_login(m)
        login(m, A, NEW)
        tap.ok(first.endswith(": unlocked") and
               last_login(m).endswith("from the login cache"),
               "the new one unwraps once with scrypt, then is cached",
               (first, last_login(m)))

    @tap.scenario("a throttled network is not let in by the cache")
    def _():
        login(m, A, NEW)
        answers = [raw_pass(m, A, f"guess {i}", "127.5.5.5")
                   for i in range(8)]
        right = raw_pass(m, A, NEW, "127.5.5.5")
        tap.ok(right.startswith("-ERR [SYS/TEMP]"),
               "after 8 wrong passwords from 127.5.5.5, the right one from "
               "there is told to try later", (answers, right))
        login(m, A, NEW)
        owner = last_login(m)
        login(m, A, NEW)
        tap.ok(owner.endswith(": unlocked") and
               last_login(m).endswith("from the login cache"),
               "the owner from 127.0.0.1 logs in, with scrypt: the guesses' "
               "wrong keys made the cache forget the entry, so that it is no "
               "faster oracle than the key store; then from the cache again",
               (owner, last_login(m)))

    @tap.scenario("a key planted in the cache is not taken")
    def _():
        # what the POP3 user could do: ask the key store as a login (one
        # counted attempt) for the pepper, and put another key into the
        # cache under the right entry key; the login must not take it
        h = hashlib.sha256(A.encode()).hexdigest()[:8]
        st, doc = m.pks.call("POST", f"/v1/keys/{h}/login-attempt", "login",
                             {"client": "127.0.0.1"})
        row = doc["keys"][-1] if st == 200 else {}
        key = hmac.new(bytes.fromhex(row.get("cache_pepper", "00")),
                       b"secure-qmail pdk cache v1\0" +
                       row.get("row", 0).to_bytes(8, "big") + NEW.encode(),
                       hashlib.sha256).digest()
        digest = hashlib.sha256(row.get("pdk", "").encode()).digest()
        planted = subprocess.run(
            ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256"], capture_output=True).stdout
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        c.connect(sock)
        c.send(b"P" + row.get("row", 0).to_bytes(8, "big") + digest + key +
               planted)
        stored = c.recv(16)
        c.close()
        p = m.pop3(A, NEW)
        text = retr(p, 1)
        p.quit()
        tap.ok(stored == b"+" and last_login(m).endswith(": unlocked") and
               b"read with a cached key" in text,
               "a key put in the cache under the right entry key, but not the "
               "row's PDK, is not taken: the login unwraps with scrypt and "
               "reads the mail", (stored, last_login(m)))

    @tap.scenario("a deleted subscriber is not let in by the cache")
    def _():
        login(m, B)
        login(m, B)
        cached = last_login(m).endswith("from the login cache")
        r = m.run(os.path.join(m.bin, "ses-deluser"), "--yes", B)
        err = pop_error(lambda: m.pop3(B))
        tap.ok(cached and r.returncode == 0 and err.startswith("-ERR [AUTH]"),
               "B's PDK was cached; once B is deleted the login fails",
               (cached, r.stdout + r.stderr, err))

    @tap.scenario("the cache's memory holds no password and no PDK")
    def _():
        if os.geteuid() != 0:
            tap.skip("reading another process's memory needs root")
            return
        login(m, A, NEW)
        m.open_for(A, m.delivered(A)[0], NEW)   # writes open/key: A's PDK
        key = open(os.path.join(m.home, "open", "key"), "rb").read()
        body = b"".join(key.split(b"\n")[1:-2])     # the PEM's base64
        found, total = memory_holds(cache.pid, {
            "the password": NEW.encode(),
            "the old password": PASSWORD.encode(),
            "a PEM private key": b"PRIVATE KEY-----\nMI",
            "the PDK's base64": body[16:56]})
        tap.ok(total > 100000 and body and not found,
               f"{total} octets of sq-pdkcache's memory read: none of "
               "the password, the PDK or a PEM key in it", found)

    @tap.scenario("without the cache, logins work as before")
    def _():
        m.procs.remove(cache)
        cache.terminate()
        cache.wait(timeout=10)
        _, n = login(m, A, NEW)
        tap.ok(n == 1 and last_login(m).endswith(": unlocked") and
               not os.path.exists(sock),
               "sq-pdkcache stopped (its socket gone): the login unwraps "
               "with scrypt", last_login(m))
finally:
    m.stop()
tap.done()
