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
from sqtest import proc, tap  # noqa: E402
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


# --- the encryption queue stage's own cases (sealer_cases, run last) -------

SEALER_CHECKS = 16


def addr_hash(address):
    return hashlib.sha256(address.encode()).hexdigest()[:8]


def env_rcpt(env):
    return env.split(b"\0T")[1].split(b"\0")[0]


def queue_files(m):
    """Every file under queue/ with its octets: what a test compares."""
    top = os.path.join(m.home, "queue")
    return {os.path.join(r, f): open(os.path.join(r, f), "rb").read()
            for r, _, fs in os.walk(top) for f in fs
            if os.path.isfile(os.path.join(r, f))}


def restart_sealer(m):
    proc.stop(m.sealer)
    m.procs.remove(m.sealer)
    sock = os.path.join(m.home, "run", "sealer")
    if os.path.exists(sock):
        os.unlink(sock)
    m.start_sealer()


def new_in_queue(m, before):
    return [x for x in m.queued() if x[0] not in before]


def keyless_recipient_fails_alone(m):
    """A key gone between RCPT and DATA: 250, the others' copies queued,
    a sealed failure notice to the local sender naming the lost one."""
    a, b, c = "ka@example.org", "kb@example.org", "kc@example.org"
    for x in (a, b, c):
        m.add_user(x)
    before = {n for n, _, _ in m.queued()}
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.ehlo()
    s.mail(c)
    ra, rb = s.rcpt(a)[0], s.rcpt(b)[0]
    st, _ = m.pks.call("DELETE", "/v1/addresses/" + b, "provision")
    code, text = s.data(message("partial delivery"))
    s.quit()
    tap.ok(ra == 250 and rb == 250 and st == 200 and code == 250,
           "a key gone between RCPT and DATA: the message is still "
           "accepted (250)", (ra, rb, st, code, text))
    new = new_in_queue(m, before)
    to = sorted((env_rcpt(e), b"\0F\0T" in e) for _, _, e in new)
    tap.is_(to, sorted([(a.encode(), False), (c.encode(), True)]),
            "one sealed copy for A, none for B, and a notice to the sender "
            "with the null sender")
    mine = [x for x in new if env_rcpt(x[2]) == a.encode()]
    rc, plain = m.open_for(a, mine[0][1]) if mine else (1, b"")
    tap.ok(rc == 0 and CANARY.encode() in plain,
           "A's copy opens for A, body and all")
    notice = [x for x in new if env_rcpt(x[2]) == c.encode()]
    rc, text = m.open_for(c, notice[0][1]) if notice else (1, b"")
    tap.ok(rc == 0 and b"Final-Recipient: rfc822; " + b.encode() in text and
           b"Status: 5.7.1" in text and b"no encryption key" in text and
           b"report-type=delivery-status" in text and
           b"Content-Type: text/rfc822-headers" in text and
           b"Subject: partial delivery" in text and
           CANARY.encode() not in text and a.encode() not in text,
           "the sender's sealed notice names B (5.7.1) and holds the "
           "headers, never the body", text[:1500])
    tap.ok(grep_queue(m, CANARY) == 0 and
           grep_queue(m, "Subject: partial delivery") == 0,
           "neither the body nor the headers rest in the queue tree")
    log = m.log("sealer.log")
    tap.ok(f"recipient hash {addr_hash(b)} has no key" in log and
           b not in log, "the sealer logs B by its hash, never its address",
           log[-1500:])
    # a remote sender's notice is plaintext: it names the recipient only
    e = "ke@example.org"
    m.add_user(e)
    before = {n for n, _, _ in m.queued()}
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.ehlo()
    s.mail("alice@remote.example")
    ra, re_ = s.rcpt(a)[0], s.rcpt(e)[0]
    m.pks.call("DELETE", "/v1/addresses/" + e, "provision")
    code, _ = s.data(message("remote sender"))
    s.quit()
    new = new_in_queue(m, before)
    notice = [x for x in new if env_rcpt(x[2]) == b"alice@remote.example"]
    tap.ok(code == 250 and len(new) == 2 and len(notice) == 1 and
           b"\0F\0T" in notice[0][2] and
           b"Final-Recipient: rfc822; " + e.encode() in notice[0][1] and
           b"rfc822-headers" not in notice[0][1] and
           grep_queue(m, "Subject: remote sender") == 0 and
           grep_queue(m, CANARY) == 0,
           "a remote sender's notice, queued as it is, names the recipient "
           "but holds neither headers nor body",
           [x[1][:800] for x in notice])


def pks_stopped_before_data(m):
    """RCPT succeeds, then the PKS goes away (cold caches): 451 at the end
    of DATA and nothing at all in the queue tree."""
    d = "kd@example.org"
    m.add_user(d)
    files = queue_files(m)
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.ehlo()
    s.mail("alice@remote.example")
    rc = s.rcpt(d)[0]
    m.pks.stop_pksd()
    try:
        code, text = s.data(message("outage at DATA"))
        s.quit()
    finally:
        m.pks.start_pksd()
    tap.ok(rc == 250 and code == 451 and b"4.3.0" in text,
           "the PKS stopped between RCPT and DATA: 451 at the end of DATA",
           (rc, code, text))
    after = queue_files(m)
    tap.ok(after == files and grep_queue(m, CANARY) == 0,
           "and no file anywhere in the queue tree (pid/, mess/, intd/, "
           "todo/) changed or appeared",
           sorted(set(after) ^ set(files)))


def foreign_ca_key(m):
    """A PEK from another CA in the PKS (as a tampered store, or one
    with another CA, serves it): 451 and an ALERT, never 550/554."""
    t = "kt@example.org"
    m.add_user(t)
    work = os.path.join(m.home, "rogue")
    os.makedirs(work, exist_ok=True)
    helper = m.pks.helper
    for argv in (["ca", f"{work}/ca.key", f"{work}/ca.pem", "Rogue CA"],
                 ["keygen", f"{work}/k"],
                 ["issue", f"{work}/ca.key", f"{work}/ca.pem", f"{work}/k",
                  t, f"{work}/pek"]):
        subprocess.run([helper] + argv, check=True)
    _, pdk = m.pks.make_key(t)
    m.pks.call("DELETE", "/v1/addresses/" + t, "provision")
    # pksd admits a PEK its own ca.pem issued: run it on the rogue CA for
    # one request (its clients still trust the real CA for TLS)
    real = os.path.join(m.home, "control", "ca.pem")
    saved = os.path.join(work, "real-ca.pem")
    subprocess.run(["cp", "-p", real, saved], check=True)
    m.pks.stop_pksd()
    subprocess.run(["cp", f"{work}/ca.pem", real], check=True)
    try:
        m.pks.start_pksd()
        st, _ = m.pks.call("POST", "/v1/keys", "provision",
                           {"address": t, "pek": open(f"{work}/pek").read(),
                            "pdk": pdk}, extra=("--cacert", saved))
        m.pks.stop_pksd()
    finally:
        subprocess.run(["cp", "-p", saved, real], check=True)
        m.pks.start_pksd()
    tap.is_(st, 201, "a PEK from a foreign CA is in the PKS")
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.ehlo()
    s.mail("alice@remote.example")
    code, text = s.rcpt(t)
    s.quit()
    log = m.log("sealer.log")
    tap.ok(code == 451 and f"alert: address hash {addr_hash(t)}: the PKS "
           "served 1 key that fails the CA and address check" in log and
           t not in log,
           "RCPT of its subscriber gets 451 and the sealer an ALERT naming "
           "the address hash", (code, text, log[-1500:]))
    files = queue_files(m)
    rc, err = sq_seal(m, message("to a tampered key"),
                      b"Falice@remote.example\0T" + t.encode() + b"\0\0")
    tap.ok(rc == 71 and queue_files(m) == files,
           "the sealer defers a message for it (exit 71), queues nothing",
           (rc, err))


def sq_seal(m, text, envelope):
    """Runs sq-seal as an injector does; its exit code and stderr."""
    work = os.path.join(m.home, "inject")
    os.makedirs(work, exist_ok=True)
    mpath, epath = os.path.join(work, "msg"), os.path.join(work, "env")
    open(mpath, "w").write(text)
    open(epath, "wb").write(envelope)
    r = subprocess.run([os.path.join(m.bin, "sq-seal")],
                       stdin=open(mpath, "rb"), stdout=open(epath, "rb"),
                       stderr=subprocess.PIPE,
                       env=dict(os.environ, SQ_HOME=m.home), timeout=60)
    os.unlink(mpath)
    return r.returncode, r.stderr


def too_big_for_the_sealer(m):
    """Past databytes (and 64 KiB for Received:) the sealer's own code,
    33, not the 31 of "no key": a caller can tell the client 552 5.3.4."""
    files = queue_files(m)
    rc, err = sq_seal(m, message("huge", size=200000),
                      b"Falice@remote.example\0T" + A.encode() + b"\0\0")
    tap.ok(rc == 33 and queue_files(m) == files,
           "a message over the sealer's bound exits 33 and queues nothing",
           (rc, err))


def postmaster_cases(m):
    """RFC 5321 4.5.1: <postmaster> and postmaster@ our domains reach the
    subscriber in control/postmaster; 550 5.1.1 while there is none."""
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.ehlo()
    s.mail("alice@remote.example")
    code, text = s.rcpt("postmaster")
    s.quit()
    tap.ok(code == 550 and b"5.1.1" in text and
           "control/postmaster is missing" in m.log("smtpd.log"),
           "without control/postmaster, postmaster gets 550 5.1.1 and a log "
           "line", (code, text))
    m.control("postmaster", A + "\n")
    before = {n for n, _, _ in m.queued()}
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.ehlo()
    s.mail("alice@remote.example")
    r1, r2 = s.rcpt("Postmaster")[0], s.rcpt("postmaster@EXAMPLE.org")[0]
    code, text = s.data(message("to the postmaster"))
    s.quit()
    tap.ok(r1 == 250 and r2 == 250 and code == 250,
           "<Postmaster> and postmaster@ our domain are accepted",
           (r1, r2, code, text))
    new = new_in_queue(m, before)
    opened = [m.open_for(A, x[1]) for x in new]
    tap.ok(len(new) == 2 and all(env_rcpt(x[2]) == A.encode() for x in new)
           and all(rc == 0 and b"Subject: to the postmaster" in p
                   for rc, p in opened),
           "each is sealed for and queued to the control/postmaster "
           "subscriber", [x[2] for x in new])


def sealer_cases(m):
    # no worker may answer from its cache: every key question goes to
    # the PKS, as on a cold worker
    m.control("pekcachetime", "0\n")
    restart_sealer(m)
    keyless_recipient_fails_alone(m)
    pks_stopped_before_data(m)
    foreign_ca_key(m)
    too_big_for_the_sealer(m)
    postmaster_cases(m)


tap.plan(28 + SEALER_CHECKS)
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

    sealer_cases(m)

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
