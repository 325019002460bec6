#!/usr/bin/env python3
"""The receive path end to end: sq-smtpd under tcpserver, sq-seal,
sq-sealerd, sq-queue, the real pksd and MariaDB. Real clients (Python's
smtplib, swaks, openssl s_client). Only sealed data reaches the queue;
relay, unknown users, size, STARTTLS injection, bare LF, a PKS outage and
Bcc each behave."""
import base64
import hashlib
import json
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402
from sqtest.mail import MailHost, PASSWORD  # noqa: E402

A, B = "john.smith@example.org", "jane.doe@example.org"
CANARY = "CANARY-7d3f1e0c-plaintext-must-not-rest-on-disk"


def grep_queue(m, needle):
    hits = 0
    for root, _, files in os.walk(os.path.join(m.home, "queue")):
        for f in files:
            path = os.path.join(root, f)
            if os.path.isfile(path):
                hits += needle.encode() in open(path, "rb").read()
    return hits


def message(subject, body=CANARY, size=0):
    text = f"From: alice@remote.example\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    if size:
        text += ("x" * 76 + "\r\n") * (size // 78)
    return text


def raw_session(m, data, tls_after=None, read_until=b"", timeout=10):
    s = socket.create_connection(("127.0.0.1", m.smtp_port), timeout)
    got = s.recv(4096)
    s.sendall(data)
    deadline = time.time() + timeout
    while read_until not in got and time.time() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    return s, got


tap.plan(28)
m = MailHost(users=[A, B], control={"databytes": "100000\n"})
try:
    m.start()

    # --- delivery, and nothing but ciphertext in the queue -------------
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    code, ehlo = s.ehlo("client.example")
    caps = ehlo.decode()
    tap.ok(code == 250 and all(x in caps for x in ("PIPELINING", "8BITMIME",
           "ENHANCEDSTATUSCODES", "STARTTLS", "SIZE 100000")),
           "EHLO offers PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, STARTTLS, "
           "SIZE", caps)
    refused = s.sendmail("alice@remote.example", [A], message("smtplib"))
    s.quit()
    q = m.queued()
    tap.ok(refused == {} and len(q) == 1, "smtplib delivers to a subscriber")
    head = q[0][1].split(b"\n", 2) if q else [b"", b""]
    tap.ok(head[0].startswith(b"X-SQ-Plaintext-Size: ") and
           head[1] == b"MIME-Version: 1.0" and
           b"smime-type=authEnveloped-data" in q[0][1],
           "the queued message is an S/MIME authEnveloped-data entity, "
           "after its size line", head[:2])
    tap.is_(grep_queue(m, CANARY), 0, "the canary has no hit in the queue")
    tap.is_(grep_queue(m, "Subject: smtplib"), 0,
            "nor do the headers")
    rc, plain = m.open_for(A, q[0][1])
    tap.ok(rc == 0 and CANARY.encode() in plain and b"Received: from "
           b"client.example" in plain and b"by mx.example.org" in plain,
           "the subscriber's key opens it: the body and a Received: line",
           plain[:300])
    pop3_size = len(plain) + plain.count(b"\n") - plain.count(b"\r\n")
    tap.is_(int(head[0].split(b": ")[1]), pop3_size,
            "the size line gives the plaintext's size with CRLF line ends")
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{m.smtp_port}",
                        "--to", B, "--from", "bob@remote.example",
                        "--body", CANARY + " via swaks", "--silent", "2"],
                       capture_output=True, text=True, timeout=60)
    tap.ok(r.returncode == 0 and len(m.queued()) == 2,
           "swaks delivers to another subscriber", r.stdout + r.stderr)
    tap.is_(grep_queue(m, CANARY), 0, "still no canary in the queue")

    # --- Bcc: one sealed copy per recipient --------------------------------
    before = len(m.queued())
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.sendmail("alice@remote.example", [A, B], message("two"))
    s.quit()
    new = m.queued()[before:]
    envs = sorted(e.split(b"\0T")[1].split(b"\0")[0] for _, _, e in new)
    tap.ok(len(new) == 2 and envs == sorted([A.encode(), B.encode()]),
           "two recipients get two sealed copies, each envelope one recipient")
    rc_a, _ = m.open_for(A, [x for x in new if A.encode() in x[2]][0][1])
    rc_b, _ = m.open_for(A, [x for x in new if B.encode() in x[2]][0][1])
    tap.ok(rc_a == 0 and rc_b != 0,
           "each copy opens only for its own recipient (a Bcc stays blind)")

    # --- refusals -------------------------------------------------------------
    before = len(m.queued())
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.ehlo()
    s.mail("alice@remote.example")
    code, text = s.rcpt("victim@elsewhere.example")
    tap.ok(code == 553 and b"5.7.1" in text, "a relay attempt is refused", text)
    code, text = s.rcpt("nobody.here@example.org")
    tap.ok(code == 550 and b"5.1.1" in text, "an unknown user gets 550 5.1.1",
           text)
    s.rset()
    code, text = s.mail("alice@remote.example", ["SIZE=999999"])
    tap.ok(code == 552, "a SIZE over databytes is refused at MAIL", text)
    s.rset()
    s.mail("alice@remote.example")
    s.rcpt(A)
    code, text = s.data(message("big", size=150000))
    tap.ok(code == 552 and b"5.3.4" in text, "an oversized message gets 552",
           text)
    s.quit()
    tap.is_(len(m.queued()), before, "nothing was queued by the refusals")

    # --- bare LF: 451 and the connection closed ------------------------------
    sock, got = raw_session(m, b"EHLO x\r\nMAIL FROM:<a@remote.example>\r\n" +
                            f"RCPT TO:<{A}>\r\nDATA\r\n".encode() +
                            b"Subject: smuggle\r\n\r\nhello\n.\nMAIL FROM:<e@x>"
                            b"\r\n", read_until=b"451")
    tail = b""
    try:
        sock.settimeout(5)
        tail = sock.recv(4096)
    except OSError:
        pass
    tap.ok(b"451 4.6.0" in got and tail == b"" and
           len(m.queued()) == before,
           "a bare LF in DATA gets 451, the connection closes, nothing queued",
           got + tail)

    # --- pipelining -------------------------------------------------------------
    sock, got = raw_session(m, b"EHLO x\r\nMAIL FROM:<a@remote.example>\r\n" +
                            f"RCPT TO:<{A}>\r\nDATA\r\n".encode() +
                            b"Subject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n",
                            read_until=b"221")
    tap.ok(got.count(b"250 2.0.0 ok") == 1 and b"221" in got and
           len(m.queued()) == before + 1,
           "a pipelined transaction is accepted in one write", got)

    # --- STARTTLS -----------------------------------------------------------------
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                        f"127.0.0.1:{m.smtp_port}", "-CAfile",
                        os.path.join(m.home, "control", "ca.pem"), "-quiet",
                        "-verify_return_error"],
                       input="EHLO tls.example\r\nQUIT\r\n", capture_output=True,
                       text=True, timeout=30)
    tap.ok("250-mx.example.org" in r.stdout and "221" in r.stdout and
           "250-STARTTLS" not in r.stdout,
           "openssl s_client -starttls smtp: TLS, verified by the instance CA",
           r.stdout + r.stderr)
    sock, got = raw_session(m, b"EHLO x\r\nSTARTTLS\r\nHELP\r\n",
                            read_until=b"220 2.0.0")
    ctx = ssl.create_default_context(cafile=os.path.join(m.home, "control",
                                                         "ca.pem"))
    tls = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    tls.sendall(b"NOOP\r\n")
    first = tls.recv(4096)
    tap.ok(first.startswith(b"250") and b"214" not in first,
           "a command pipelined before the TLS handshake is discarded", first)
    tls.sendall(b"EHLO again\r\nMAIL FROM:<a@remote.example>\r\n" +
                f"RCPT TO:<{A}>\r\nDATA\r\n".encode())
    time.sleep(0.5)
    tls.recv(4096)
    tls.sendall(b"Subject: over tls\r\n\r\nsecret\r\n.\r\nQUIT\r\n")
    time.sleep(1)
    tls.close()
    rc, plain = m.open_for(A, m.queued()[-1][1])
    tap.ok(rc == 0 and b"Subject: over tls" in plain and
           b"with ESMTPS (TLSv1.3:" in plain,
           "the Received: line names the TLS version and cipher", plain[:400])

    # --- the PKS stopped: 451, nothing queued ---------------------------------
    # a subscriber nobody has written to yet: no cached key
    m.add_user("fresh@example.org")
    m.pks.stop_pksd()
    before = len(m.queued())
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.ehlo()
    s.mail("alice@remote.example")
    code, text = s.rcpt("fresh@example.org")
    s.quit()
    tap.ok(code == 451 and len(m.queued()) == before,
           "with the PKS stopped the client gets 451 and nothing is queued",
           text)
    m.pks.start_pksd()
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    refused = s.sendmail("alice@remote.example", ["fresh@example.org"],
                         message("after the outage"))
    s.quit()
    tap.ok(refused == {} and len(m.queued()) == before + 1,
           "with the PKS back the same mail is accepted")

    # --- a subscriber whose keys are gone: refused for that recipient -------
    # (one no sealer worker has looked up: a worker keeps a verified PEK
    # for control/pekcachetime, and ses-deluser takes the address out of
    # users/cdb first, so only this case reaches the key check)
    keyless = "keyless@example.org"
    m.add_user(keyless)
    st, _ = m.pks.call("DELETE", "/v1/addresses/" + keyless, "provision")
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.ehlo()
    s.mail("alice@remote.example")
    code_b, text_b = s.rcpt(keyless)
    code_a, _ = s.rcpt(A)
    s.quit()
    tap.ok(st == 200 and code_b == 550 and b"5.7.1" in text_b and
           code_a == 250,
           "a recipient without a key is refused alone (550 5.7.1)", text_b)

    # --- a broken control file: 421, not a guess ---------------------------
    m.control("maxrcpt", "ten\n")
    sock = socket.create_connection(("127.0.0.1", m.smtp_port), 10)
    sock.settimeout(10)
    greeting = sock.recv(4096)
    sock.close()
    for _ in range(50):     # the log line comes as the process exits
        if "control: Invalid argument" in m.log("smtpd.log"):
            break
        time.sleep(0.1)
    m.control("maxrcpt", "100\n")
    tap.ok(greeting.startswith(b"421 4.3.0") and
           "control: Invalid argument" in m.log("smtpd.log"),
           "an invalid control/maxrcpt gets 421 and a log line", greeting)

    # --- a message too big for memory: 451, not silence --------------------
    if os.environ.get("SQ_SANITIZE") == "1":
        tap.skip("ASan cannot run in a bounded address space")
    else:
        port = m.smtp_port
        m.control("databytes", "0\n")  # no limit: memory is the limit
        small = m.start_smtpd(memory_kib=120000)
        sock = socket.create_connection(("127.0.0.1", small), 10)
        sock.settimeout(60)
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"EHLO x\r\nMAIL FROM:<a@remote.example>\r\n" +
                     f"RCPT TO:<{A}>\r\nDATA\r\n".encode())
        while not f.readline().startswith(b"354"):
            pass
        line = b"x" * 998 + b"\r\n"
        chunk = line * 1024
        for _ in range(200):            # 200 MiB
            sock.sendall(chunk)
        sock.sendall(b".\r\n")
        answer = f.readline()
        sock.close()
        m.smtp_port = port
        m.control("databytes", "100000\n")
        tap.ok(answer.startswith(b"451 4.3.0") and
               "cannot hold the message" in m.log("smtpd.log"),
               "a message sq-smtpd cannot hold gets 451 and a log line",
               answer)

    # --- the logs hold no message text -----------------------------------
    logs = m.log("smtpd.log") + m.log("sealer.log")
    tap.ok(CANARY not in logs and "smuggle" not in logs,
           "the daemons' logs hold no message text")

    # --- stopped cleanly, without a sanitizer report ----------------------
    m.stop_daemons()
    logs = m.log("smtpd.log") + m.log("sealer.log")
    tap.ok("Sanitizer" not in logs and "runtime error" not in logs,
           "sq-smtpd, sq-seal, sq-sealerd and sq-queue ran clean", logs[-3000:])
finally:
    m.stop()
tap.done()
