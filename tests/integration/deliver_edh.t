#!/usr/bin/env python3
"""Delivery in the preferred embodiment: sq-lspawn hands sealed mail to
the real edhd over LMTP and TLS (the EDH's certificate from the instance
CA, a deliver credential from edh-ctl). The message lands in the EDH's
maildir and opens with the subscriber's key; with edhd down it waits in
the queue, sealed, and goes when edhd is back; over quota it waits too,
and once expired bounces to the local sender, sealed for them."""
import os
import signal
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402
from sqtest.edh import EDH  # noqa: E402
from sqtest.mail import MailHost, files_holding  # noqa: E402

A, B = "john.smith@example.org", "jane.doe@example.org"
CANARY = "CANARY-e0a9-edh-plaintext-must-not-rest-on-disk"


def send(m, sender, rcpts, subject):
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.sendmail(sender, rcpts, f"Subject: {subject}\r\n\r\n{CANARY}\r\n")
    s.quit()


m = MailHost(users=[A, B], control={"retrystep": "1\n"})
edh = None
try:
    m.start()
    edh = EDH(ca_home=m.home).start()
    m.use_edh(edh)
    m.start_delivery()

    @tap.scenario("delivery over lmtp")
    def _():
        send(m, "alice@remote.example", [A], "over lmtp")
        got = m.wait_for(lambda: m.delivered(A), 30)
        rc, plain = m.open_for(A, got[0]) if got else (1, b"")
        tap.ok(rc == 0 and CANARY.encode() in plain,
               "delivered over LMTP/TLS into the EDH's maildir; opens with the "
               "subscriber's key", m.log("send.log")[-1500:] + edh.log_text())
        tap.ok(not os.path.exists(os.path.join(m.home, "maildirs")) or
               not os.listdir(os.path.join(m.home, "maildirs")),
               "nothing stored on the application host")
        tap.ok(" ok, " in edh.log_text() and "client" in edh.log_text(),
               "edhd logs the delivery with the client's id")

    # --- edhd down -------------------------------------------------------------
    @tap.scenario("edhd down")
    def _():
        edh.stop_edhd()
        send(m, "alice@remote.example", [A], "while the EDH is down")
        deferred = m.wait_for(lambda: "deferral: 4.4.1 EDH" in m.log("send.log"),
                              30)
        tap.ok(deferred and m.wait_for(lambda: m.queue_count() == 1, 10) and
               len(m.delivered(A)) == 1,
               "edhd down: the delivery is deferred, the message stays queued",
               m.log("send.log")[-1500:])
        tap.ok(not files_holding(os.path.join(m.home, "queue"), CANARY),
               "and it waits sealed")
        edh.start_edhd()
        m.send.send_signal(signal.SIGALRM)
        tap.ok(m.wait_for(lambda: len(m.delivered(A)) == 2 and
                          m.queue_count() == 0, 30),
               "edhd back: delivered, the queue empty", m.log("send.log")[-1500:])

    # --- quota -------------------------------------------------------------------
    @tap.scenario("quota, then a bounce")
    def _():
        box = os.path.basename(m.mailbox(A))
        edh.control("quota", f"{box} 100\n")
        send(m, B, [A], "over quota")
        full = m.wait_for(lambda: "4.2.2" in m.log("send.log"), 30)
        tap.ok(full and m.wait_for(lambda: m.queue_count() == 1, 10) and
               len(m.delivered(A)) == 2,
               "over quota: 452 4.2.2 from edhd, and the message waits in the "
               "queue", m.log("send.log")[-1500:])
        m.control("queuelifetime", "1\n")
        m.send.send_signal(signal.SIGHUP)
        m.send.send_signal(signal.SIGALRM)
        got = m.wait_for(lambda: m.delivered(B), 30)
        rc, dsn = m.open_for(B, got[0]) if got else (1, b"")
        tap.ok(rc == 0 and b"multipart/report" in dsn and b"4.2.2" in dsn,
               "expired, it bounces: the local sender's notice is sealed for "
               "them and stored on the EDH", m.log("send.log")[-1500:])
        tap.ok(not files_holding(edh.home, CANARY) and not files_holding(m.home, CANARY),
               "no plaintext on either host")
finally:
    m.stop()
    if edh:
        edh.stop()
tap.done()
