#!/usr/bin/env python3
"""POP3 in the preferred embodiment: the mail on the real edhd, read by
sq-pop3d over edhd's retrieval protocol and TLS. The message comes back
exact; a message damaged on the EDH fails alone; DELE and QUIT remove it
from the EDH; -s serves the sealed S/MIME as stored, which the
subscriber's own key opens; with edhd down the login answer is
temporary, and it recovers. No plaintext rests on either host."""
import os
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import cms, tap  # noqa: E402
from sqtest.edh import EDH  # noqa: E402
from sqtest.mail import (MailHost, files_holding, pop_error,  # noqa: E402
                         retr)

A = "john.smith@example.org"
CANARY = "CANARY-41c2-pop3-edh-plaintext-must-not-rest-on-disk"


def body(subject):
    return (f"From: alice@remote.example\r\nTo: {A}\r\n"
            f"Subject: {subject}\r\n\r\n.dot\r\n{CANARY}\r\n").encode()


def send(m, subject):
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.sendmail("alice@remote.example", [A], body(subject))
    s.quit()


m = MailHost(users=[A])
edh = None
try:
    m.start()
    edh = EDH(ca_home=m.home).start()
    m.use_edh(edh)
    m.start_delivery()
    m.start_pop3()
    tap.on_failure(lambda: "\npop3.log:\n" + m.log("pop3.log")[-3000:])

    @tap.scenario("three messages on the EDH")
    def _():
        for subject in ("one", "two", "three"):
            send(m, subject)
        tap.ok(m.wait_for(lambda: len(m.delivered(A)) == 3, 30),
               "three messages on the EDH", m.log("send.log")[-1500:])

    @tap.scenario("retrieval, uidl, a damaged message")
    def _():
        p = m.pop3(A)
        got = retr(p, 2)
        uids = [u.split()[1].decode() for u in p.uidl()[1]]
        names = sorted(os.listdir(os.path.join(m.mailbox(A), "new")))
        tap.ok(got.endswith(body("two")) and got.startswith(b"Received: "),
               "read over edhd's retrieval protocol: exact apart from the "
               "Received: line", repr(got[-300:]))
        tap.ok(uids == [n.split(",")[0] for n in names],
               "UIDL gives the EDH's maildir unique ids", f"{uids} {names}")

        # damage the first message where it rests: one bit of its
        # ciphertext, then of its GCM tag (not of an ASN.1 header)
        path = os.path.join(m.mailbox(A), "new", names[0])
        original = open(path, "rb").read()
        for where in ("content", "tag"):
            cms.flip(path, where)
            err = pop_error(lambda: p.retr(1))
            tap.ok(err.startswith("-ERR") and b"Subject: three" in retr(p, 3),
                   f"a message damaged on the EDH in its {where}: -ERR for "
                   "it alone", err)
            with open(path, "wb") as f:
                f.write(original)
        tap.ok(b"Received: " in retr(p, 1),
               "the same message undamaged opens")
        p.dele(1)
        p.quit()
        tap.ok(m.wait_for(lambda: len(m.delivered(A)) == 2, 5),
               "DELE and QUIT remove it from the EDH")

    @tap.scenario("sq-pop3d -s, the sealed entity")
    def _():
        # -s: the sealed entity as stored, for clients with their own key
        m.stop_pop3()
        m.start_pop3(sealed=True)
        p = m.pop3(A)
        size = int(p.list(1).split()[2])
        sealed = retr(p, 1)
        p.quit()
        rc, plain = m.open_for(A, sealed)
        tap.ok(b"authEnveloped" in sealed.lower() or b"pkcs7-mime" in sealed,
               "sq-pop3d -s serves the S/MIME entity", repr(sealed[:300]))
        lf = body("two").replace(b"\r\n", b"\n")   # the queue's line ends
        tap.ok(rc == 0 and plain.replace(b"\r\n", b"\n").endswith(lf) and
               size == len(sealed),
               "which the subscriber's own key opens; LIST gives its size as sent",
               f"{rc} {size} {len(sealed)}")
        m.stop_pop3()
        m.start_pop3()

    @tap.scenario("edhd down at login")
    def _():
        edh.stop_edhd()
        err = pop_error(lambda: m.pop3(A))
        edh.start_edhd()
        p = m.pop3(A)
        tap.ok(err.startswith("-ERR [SYS/TEMP]") and p.stat()[0] == 2,
               "edhd down: a temporary -ERR at login; back, the mailbox is there",
               err)
        p.quit()

    @tap.scenario("no plaintext at rest")
    def _():
        m.stop_daemons()
        rest = files_holding(m.home, CANARY) + files_holding(edh.home, CANARY)
        tap.ok(not rest, "no plaintext at rest on either host", repr(rest))
except Exception:    # in the set-up
    tap.diag(m.log("pop3.log")[-3000:] if m.home else "")
    raise
finally:
    m.stop()
    if edh:
        edh.stop()
tap.done()
