#!/usr/bin/env python3
"""The receive path end to end: sq-smtpd under tcpserver, sq-seal,
sq-sealerd, sq-queue, the real pksd and MariaDB. Real clients (Python's
smtplib, swaks, openssl s_client). Only sealed data reaches the queue;
relay, unknown users, size, STARTTLS injection, bare LF, a PKS outage and
Bcc each behave; the limits of RFC 5321 (512-octet commands, 1000-octet
text lines), the hop count, the control files and every command answer as
sq-smtpd(8) says."""
import base64
import hashlib
import json
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import proc, tap  # noqa: E402
from sqtest.mail import MailHost, PASSWORD, is_sealed  # noqa: E402
from sqtest.pks import free_port  # noqa: E402

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


def wait_log(m, needle, name="smtpd.log"):
    """Whether needle shows in the log within 5 s (a line is written as
    the reply goes out, or as the process exits)."""
    for _ in range(50):
        if needle in m.log(name):
            return True
        time.sleep(0.1)
    return False


def greeting(m):
    sock = socket.create_connection(("127.0.0.1", m.smtp_port), 10)
    sock.settimeout(10)
    got = sock.recv(4096)
    sock.close()
    return got


def transaction(m, sender="alice@remote.example", rcpts=(A,)):
    """An SMTP session after EHLO, MAIL and RCPT."""
    s = smtplib.SMTP("127.0.0.1", m.smtp_port)
    s.ehlo("client.example")
    s.mail(sender)
    for r in rcpts:
        s.rcpt(r)
    return s


def ctl_path(m, name):
    return os.path.join(m.home, "control", name)


# --- the encryption queue stage's own cases (the "sealer:" scenarios) -----

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
    # sq-smtpd reads databytes per session, the sealer's workers at their
    # start: a raised databytes they have not seen yet makes the sealer
    # the one to refuse, and the client is told 552, not 554
    m.control("databytes", "1000000\n")
    s = transaction(m)
    code, text = s.data(message("huge", size=200000))
    s.quit()
    m.control("databytes", "100000\n")
    tap.ok(code == 552 and b"5.3.4" in text and queue_files(m) == files,
           "sq-smtpd answers the sealer's 33 with 552 5.3.4", (code, text))


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


def cold_sealer(m):
    """m, its sealer restarted once with pekcachetime 0: no worker may
    answer from its cache, every key question goes to the PKS, as on a
    cold worker."""
    if not getattr(m, "cold_sealer", False):
        m.control("pekcachetime", "0\n")
        restart_sealer(m)
        m.cold_sealer = True
    return m


# --- who may hold the sealer, and for how long (issue 14) -----------------

def sealer_sock(m):
    return os.path.join(m.home, "run", "sealer")


def idle_caller(m):
    """A connection to the sealer that sends nothing, as any local user
    could open one."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sealer_sock(m))
    return c


def answer_within(c, secs):
    """What the sealer says on c within secs seconds ("" at EOF), or None
    when it keeps silent."""
    c.settimeout(secs)
    try:
        return c.recv(600).decode(errors="replace")
    except socket.timeout:
        return None


def sealed_one(m, subject):
    """An SMTP message to A; its reply code and whether a new copy of it
    was queued."""
    before = {n for n, _, _ in m.queued()}
    s = smtplib.SMTP("127.0.0.1", m.smtp_port, timeout=30)
    s.ehlo("client.example")
    s.mail("alice@remote.example")
    s.rcpt(A)
    code, _ = s.data(message(subject))
    s.quit()
    return code, len(new_in_queue(m, before)) == 1


def with_sealer_control(m, files, case):
    """case(m) with the sealer restarted on the control files given, then
    both put back."""
    for name, text in files.items():
        m.control(name, text)
    restart_sealer(m)
    try:
        case(m)
    finally:
        for name in files:
            os.unlink(ctl_path(m, name))
        restart_sealer(m)


def idle_caller_dropped(m):
    """control/sealtimeout bounds every wait on a caller: one that sends
    nothing, and one that passes descriptors it never closes, are each
    answered 71 and let go; mail flows meanwhile."""
    idle = idle_caller(m)
    r, w = os.pipe()
    slow = idle_caller(m)
    socket.send_fds(slow, [b"QUEUE\n"], [r, r])
    code, queued = sealed_one(m, "while a caller idles")
    tap.ok(code == 250 and queued,
           "a message is sealed while two callers hold a worker", code)
    said = answer_within(idle, 8)
    tap.ok(said is not None and said.startswith("71"),
           "a caller that sends no request is answered 71 after "
           "control/sealtimeout", said)
    said = answer_within(slow, 8)
    tap.ok(said is not None and said.startswith("71") and
           "timed out" in said,
           "a caller whose message never ends is answered 71 after "
           "control/sealtimeout", said)
    for x in (idle, slow):
        x.close()
    os.close(r)
    os.close(w)


def one_uid_bounded(m):
    """A uid holds at most control/sealperuser workers: its next
    connection is answered 71 at once, and another uid's mail is still
    sealed."""
    held = [idle_caller(m) for _ in range(2)]
    time.sleep(0.5)
    extra = idle_caller(m)
    said = answer_within(extra, 3)
    tap.ok(said is not None and said.startswith("71"),
           "a third idle connection of one uid is refused with 71 at once "
           "(sealperuser 2)", said)
    if os.geteuid() == 0:  # the daemons run as nobody: another uid
        code, queued = sealed_one(m, "while one uid holds its share")
        tap.ok(code == 250 and queued,
               "sq-smtpd's message is sealed while that uid holds two "
               "workers", code)
    for x in held + [extra]:
        x.close()
    code, queued = sealed_one(m, "after the idle callers")
    tap.ok(code == 250 and queued, "mail flows once they are gone", code)


def socket_mode(m):
    st, run = os.stat(sealer_sock(m)), os.stat(os.path.dirname(sealer_sock(m)))
    tap.ok(st.st_mode & 0o7777 == 0o660,
           "run/sealer is mode 0660, not open to every local user",
           oct(st.st_mode))
    tap.ok(st.st_gid == run.st_gid,
           "its group is run/'s (set-group-id: the callers' group)",
           (st.st_gid, run.st_gid))


def silent_sealer(m):
    """A sealer that accepts and never answers: sq-smtpd answers 451
    4.3.0 within control/sealwait, at RCPT and at DATA, never hangs."""
    sock = sealer_sock(m)
    real = sock + ".real"
    m.control("sealwait", "2\n")
    fake = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def swap_in():
        os.rename(sock, real)
        fake.bind(sock)
        os.chmod(sock, 0o666)
        fake.listen(16)

    try:
        s = smtplib.SMTP("127.0.0.1", m.smtp_port, timeout=40)
        s.ehlo("client.example")
        s.mail("alice@remote.example")
        ok_rcpt = s.rcpt(A)[0]
        swap_in()
        t0 = time.time()
        rcode, rtext = s.rcpt(B)
        tap.ok(ok_rcpt == 250 and rcode == 451 and b"4.3.0" in rtext and
               time.time() - t0 < 20,
               "RCPT: a sealer that never answers gets 451 4.3.0 after "
               "control/sealwait", (ok_rcpt, rcode, rtext))
        t0 = time.time()
        rc, err = sq_seal(m, message("sq-seal to a silent sealer"),
                          b"Falice@remote.example\0T" + A.encode() + b"\0\0")
        tap.ok(rc == 71 and time.time() - t0 < 20,
               "sq-seal exits 71 after control/sealwait", (rc, err))
        t0 = time.time()
        code, text = s.data(message("to a silent sealer"))
        tap.ok(code == 451 and b"4.3.0" in text and time.time() - t0 < 20,
               "DATA: sq-smtpd gives up on the sealer after control/sealwait, 451 4.3.0",
               (code, text))
        s.quit()
        s = smtplib.SMTP("127.0.0.1", m.smtp_port, timeout=40)
        s.ehlo("client.example")
        s.mail("alice@remote.example")
        aside = sock + ".fake"
        os.rename(sock, aside)      # the real one for RCPT
        os.rename(real, sock)
        s.rcpt(A)
        os.rename(sock, real)       # the silent one for DATA
        os.rename(aside, sock)
        t0 = time.time()
        code, text = s.data(message("big, to a silent sealer", size=90000))
        tap.ok(code == 451 and b"4.3.0" in text and time.time() - t0 < 30,
               "DATA: a message larger than a pipe's buffer gets 451 4.3.0 "
               "too (sq-smtpd's own bound)", (code, text))
        s.quit()
    finally:
        fake.close()
        if os.path.exists(real):
            os.replace(real, sock)
        os.unlink(ctl_path(m, "sealwait"))


def queue_server_killed(m):
    """Each sealer worker keeps an sq-queue --serve; one killed between
    messages is started again, and the next message is queued, not
    refused."""
    smtplib.SMTP("127.0.0.1", m.smtp_port).sendmail(
        "alice@remote.example", [A], message("warms a queue server"))
    def ours(pid):  # an sq-queue --serve of this instance's build
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")[:-1]
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return False
        # (an older build's, replaced since, is "... (deleted)")
        return argv == [b"sq-queue", b"--serve"] and \
            os.path.exists(exe) and \
            os.path.samefile(exe, os.path.join(m.bin, "sq-queue"))
    servers = [int(p) for p in os.listdir("/proc") if p.isdigit() and
               ours(p)]
    for pid in servers:
        os.kill(pid, signal.SIGKILL)
    before = len(m.queued())
    refused = []
    for i in range(4):
        try:
            smtplib.SMTP("127.0.0.1", m.smtp_port).sendmail(
                "alice@remote.example", [A], message(f"after the kill {i}"))
        except smtplib.SMTPException as e:
            refused.append(e)
    tap.ok(servers and not refused and len(m.queued()) == before + 4,
           "the sealer starts its sq-queue --serve again after a kill: "
           "every message queued", (servers, refused))


def own_listener(m):
    """sq-smtpd -l as tcpserver was: control/tcp.smtp.cdb denies or gives
    RELAYCLIENT by address, control/concurrencyincoming bounds the
    sessions, and a session that crashes makes the listener exit 111 (for
    its supervisor to start one with a fresh address space)."""
    main_port, main_smtpd = m.smtp_port, m.smtpd
    ctl = os.path.join(m.home, "control")
    cdb = os.path.join(ctl, "tcp.smtp.cdb")
    subprocess.run(["tcprules", cdb, cdb + ".tmp"], check=True,
                   input=b'127.0.0.2:deny\n127.0.0.3:allow,RELAYCLIENT=""\n'
                         b':allow\n')
    m.control("concurrencyincoming", "1\n")
    try:
        port = m.start_smtpd(port=free_port())
        listener = m.smtpd

        def connect(source="127.0.0.1"):
            s = smtplib.SMTP(timeout=10, source_address=(source, 0))
            s.connect("127.0.0.1", port)
            return s
        try:
            connect("127.0.0.2")
            denied = "greeted"
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            denied = type(e).__name__
        tap.ok(denied != "greeted" and
               wait_log(m, "127.0.0.2: denied by"),
               "a client a rule denies is dropped before the greeting, "
               "logged", denied)
        s = connect("127.0.0.3")
        s.ehlo("relay.example")
        s.mail("a@relay.example")
        relayed = s.rcpt("someone@elsewhere.example")[0]
        s.quit()
        s = connect()
        s.ehlo("client.example")
        s.mail("a@remote.example")
        stranger = s.rcpt("someone@elsewhere.example")[0]
        tap.ok(relayed == 250 and stranger == 553,
               "RELAYCLIENT comes from the client's rule alone",
               (relayed, stranger))
        second = socket.create_connection(("127.0.0.1", port), 10)
        second.settimeout(1.5)
        try:
            early = second.recv(100)
        except socket.timeout:
            early = b""
        s.quit()
        second.settimeout(10)
        later = second.recv(100)
        second.close()
        tap.ok(early == b"" and later.startswith(b"220 "),
               "control/concurrencyincoming 1: a second client waits for "
               "the first session to end", (early, later))
        s = connect()
        kids = open(f"/proc/{listener.pid}/task/{listener.pid}/children"
                    ).read().split()
        if len(kids) == 1:
            os.kill(int(kids[0]), signal.SIGABRT)  # ASan takes SEGV
        try:
            code = listener.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        tap.ok(len(kids) == 1 and code == 111 and
               wait_log(m, "crashed (signal 6)"),
               "a session that crashes ends the listener (111), logged",
               (kids, code))
    finally:
        if m.smtpd.poll() is None:
            m.smtpd.kill()
        m.smtp_port, m.smtpd = main_port, main_smtpd
        os.unlink(os.path.join(ctl, "concurrencyincoming"))
        subprocess.run(["tcprules", cdb, cdb + ".tmp"], check=True,
                       input=b":allow\n")


m = MailHost(users=[A, B], control={"databytes": "100000\n"})
try:
    m.start()

    # --- delivery, and nothing but ciphertext in the queue -------------
    @tap.scenario("delivery, ciphertext only")
    def _():
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
        head = q[0][1].split(b"\n", 1) if q else [b"", b""]
        tap.ok(head[0].startswith(b"X-SQ-Plaintext-Size: ") and
               is_sealed(q[0][1]) and head[1][:1] == b"\x30",
               "the queued message is a binary authEnveloped-data entity, "
               "right after its size line", q[0][1][:80] if q else None)
        tap.is_(grep_queue(m, CANARY), 0, "the canary has no hit in the queue")
        tap.is_(grep_queue(m, "Subject: smtplib"), 0,
                "nor do the headers")
        rc, plain = m.open_for(A, q[0][1])
        tap.ok(rc == 0 and CANARY.encode() in plain and b"Received: from "
               b"client.example" in plain and
               b"by mx.example.org ([127.0.0.1])" in plain,
               "the subscriber's key opens it: the body and a Received: line "
               "naming TCPLOCALHOST and TCPLOCALIP", plain[:300])
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
    @tap.scenario("bcc, one copy per recipient")
    def _():
        before = len(m.queued())
        s = smtplib.SMTP("127.0.0.1", m.smtp_port)
        s.sendmail("alice@remote.example", [A, B], message("two"))
        s.quit()
        new = m.queued()[before:]
        envs = sorted(e.split(b"\0T")[1].split(b"\0")[0] for _, _, e in new)
        tap.ok(len(new) == 2 and envs == sorted([A.encode(), B.encode()]),
               "two recipients get two sealed copies, each envelope one recipient")
        copy_a = [x for x in new if A.encode() in x[2]][0][1]
        copy_b = [x for x in new if B.encode() in x[2]][0][1]
        rc_a, _ = m.open_for(A, copy_a)
        rc_ba, _ = m.open_for(A, copy_b)
        rc_bb, text_b = m.open_for(B, copy_b)
        tap.ok(rc_a == 0 and rc_ba != 0 and rc_bb == 0
               and b"Subject: two" in text_b,
               "each copy opens only for its own recipient (a Bcc stays blind)")
        tap.ok(is_sealed(copy_b) and b"Subject: two" not in copy_b,
               "B's copy rests sealed, not in the clear", copy_b[:300])

    # --- refusals -------------------------------------------------------------
    @tap.scenario("refusals")
    def _():
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
    @tap.scenario("bare LF smuggling")
    def _():
        before = len(m.queued())
        sock, got = raw_session(m, b"EHLO x\r\nMAIL FROM:<a@remote.example>\r\n" +
                                f"RCPT TO:<{A}>\r\nDATA\r\n".encode() +
                                b"Subject: smuggle\r\n\r\nhello\n.\nMAIL FROM:<e@x>"
                                b"\r\n", read_until=b"451")
        # the close itself: end of file (or a reset), not a silent timeout
        tail, closed = b"", False
        try:
            sock.settimeout(5)
            tail = sock.recv(4096)
            closed = tail == b""
        except socket.timeout:
            tail = b"(still open after 5 s)"
        except ConnectionError:
            closed = True
        tap.ok(b"451 4.6.0" in got and closed and
               len(m.queued()) == before,
               "a bare LF in DATA gets 451, the connection closes, nothing queued",
               got + tail)

    # --- pipelining -------------------------------------------------------------
    @tap.scenario("pipelining")
    def _():
        before = len(m.queued())
        sock, got = raw_session(m, b"EHLO x\r\nMAIL FROM:<a@remote.example>\r\n" +
                                f"RCPT TO:<{A}>\r\nDATA\r\n".encode() +
                                b"Subject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n",
                                read_until=b"221")
        tap.ok(got.count(b"250 2.0.0 ok") == 1 and b"221" in got and
               len(m.queued()) == before + 1,
               "a pipelined transaction is accepted in one write", got)

    # --- STARTTLS -----------------------------------------------------------------
    @tap.scenario("starttls")
    def _():
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
    @tap.scenario("pks outage at rcpt")
    def _():
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
    @tap.scenario("keyless recipient refused")
    def _():
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
    @tap.scenario("broken control file")
    def _():
        m.control("maxrcpt", "ten\n")
        got = greeting(m)
        logged = wait_log(m, "control/maxrcpt: Invalid argument")
        tap.ok(got.startswith(b"421 4.3.0") and logged,
               "an invalid control/maxrcpt gets 421 and a log line", got)
        m.control("maxrcpt", "100\n")
        out = []
        for name, value, good, why in (
                ("maxrcpt", "0", "100", "1 to 100000"),
                ("timeoutsmtpd", "0", "1200", "1 to 86400"),
                ("databytes", "1099511627777", "100000", "0 to 1099511627776")):
            m.control(name, value + "\n")
            got = greeting(m)
            out.append((got[:9], wait_log(m, f"control/{name}: {value} is out of "
                                             f"range ({why})")))
            m.control(name, good + "\n")
        tap.ok(out == [(b"421 4.3.0", True)] * 3,
               "maxrcpt 0, timeoutsmtpd 0 and databytes over 2^40 are out of "
               "range: 421 and a log line, not a refusal of every recipient or "
               "an instant timeout", out)

    # --- a message too big for memory: 451, not silence --------------------
    @tap.scenario("too big for memory")
    def _():
        if os.environ.get("SQ_SANITIZE") == "1":
            tap.skip("ASan cannot run in a bounded address space")
        else:
            port = m.smtp_port
            # 1 GiB, for memory to be the limit
            m.control("databytes", "1073741824\n")
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

    # --- RFC 5321 4.5.3.1.6: a text line has at most 1000 octets ----------
    @tap.scenario("1000-octet text lines")
    def _():
        before = len(m.queued())
        s = transaction(m)
        long_last = s.data(message("long line", body="y" * 999))
        s.mail("alice@remote.example")
        s.rcpt(A)
        long_mid = s.data(message("long line", body="z" * 999 + "\r\nend"))
        tap.ok(long_last[0] == 554 and b"5.6.0" in long_last[1] and
               long_mid[0] == 554 and len(m.queued()) == before and
               wait_log(m, "line over 1000 octets refused"),
               "a line of 1001 octets (the last, or any) gets 554 5.6.0 after "
               "the final dot and a log line; nothing is queued",
               [long_last, long_mid])
        s.mail("alice@remote.example")
        s.rcpt(A)
        fits = s.data(message("line of 1000", body="w" * 998))
        s.quit()
        tap.ok(fits[0] == 250 and len(m.queued()) == before + 1,
               "the session goes on: a line of 998 octets and its CRLF is "
               "accepted", fits)

    # --- RFC 5321 4.2.4, 4.5.3.1.4: unknown and over-long commands -----------
    # --- VRFY, HELP, NOOP, RSET (in the same session) -----------------------
    @tap.scenario("commands: unknown, over-long, vrfy help noop rset")
    def _():
        s = smtplib.SMTP("127.0.0.1", m.smtp_port)
        s.ehlo("client.example")
        unknown = s.docmd("FROB", "x")
        toolong = s.docmd("NOOP", "x" * 506)        # 513 octets with the CRLF
        longest = s.docmd("NOOP", "x" * 505)        # 512
        tap.ok(unknown[0] == 500 and b"5.5.1" in unknown[1],
               "an unknown verb gets 500 5.5.1, not 502", unknown)
        tap.ok(toolong == (500, b"5.5.2 line too long") and longest[0] == 250,
               "a command line over 512 octets gets 500 line too long, the "
               "session goes on, and 512 octets are taken", [toolong, longest])
        vrfy, helped, noop = s.verify(A), s.docmd("HELP"), s.noop()
        tap.ok(vrfy[0] == 252 and helped[0] == 214 and noop[0] == 250,
               "VRFY gets 252, HELP 214, NOOP 250", [vrfy, helped, noop])
        s.mail("alice@remote.example")
        s.rcpt(A)
        rset = s.rset()
        after = s.rcpt(B)
        data = s.docmd("DATA")
        s.quit()
        tap.ok(rset[0] == 250 and after[0] == 503 and data[0] == 503,
               "RSET gets 250 and ends the transaction: RCPT and DATA then want "
               "MAIL", [rset, after, data])

    # --- the hop count: more than 100 Received: lines is a loop ---------------
    @tap.scenario("hop count")
    def _():
        before = len(m.queued())
        hops = "".join(f"Received: from hop{i}.example by x; "
                       f"Thu, 1 Jan 2026 00:00:00 +0000\r\n" for i in range(101))
        s = transaction(m)
        looped = s.data(hops + message("loop"))
        s.mail("alice@remote.example")
        s.rcpt(A)
        hundred = s.data(hops.split("\r\n", 1)[1] + message("100 hops"))
        s.quit()
        tap.ok(looped[0] == 554 and b"5.4.6" in looped[1] and
               hundred[0] == 250 and len(m.queued()) == before + 1 and
               wait_log(m, "over 100 hops refused"),
               "101 Received: lines get 554 5.4.6 and nothing is queued; 100 "
               "pass", [looped, hundred])

    # --- badmailfrom ----------------------------------------------------------
    @tap.scenario("badmailfrom")
    def _():
        m.control("badmailfrom", "spam@bad.example\n@worse.example\n")
        s = smtplib.SMTP("127.0.0.1", m.smtp_port)
        s.ehlo("client.example")
        one = s.mail("SPAM@bad.example")
        dom = s.mail("anyone@worse.example")
        good = s.mail("alice@remote.example")
        s.quit()
        os.unlink(ctl_path(m, "badmailfrom"))
        tap.ok(one[0] == 553 and dom[0] == 553 and b"5.7.1" in dom[1] and
               good[0] == 250,
               "a sender in control/badmailfrom (address or @domain) gets 553",
               [one, dom, good])

    # --- maxrcpt --------------------------------------------------------------
    @tap.scenario("maxrcpt")
    def _():
        m.control("maxrcpt", "2\n")
        s = smtplib.SMTP("127.0.0.1", m.smtp_port)
        s.ehlo("client.example")
        s.mail("alice@remote.example")
        got = [s.rcpt(A)[0], s.rcpt(B)[0], s.rcpt(A)]
        s.quit()
        m.control("maxrcpt", "100\n")
        tap.ok(got[:2] == [250, 250] and got[2][0] == 452 and
               b"4.5.3" in got[2][1],
               "past control/maxrcpt a recipient gets 452 4.5.3", got)

    # --- smtpgreeting ----------------------------------------------------------
    @tap.scenario("smtpgreeting")
    def _():
        m.control("smtpgreeting", "greeting.example welcomes you\n")
        custom = greeting(m)
        os.unlink(ctl_path(m, "smtpgreeting"))
        default = greeting(m)
        tap.ok(custom == b"220 greeting.example welcomes you ESMTP\r\n" and
               default == b"220 mx.example.org ESMTP\r\n",
               "the 220 line says control/smtpgreeting, else control/me",
               [custom, default])

    # --- no control/rcpthosts: no domain is ours --------------------------------
    @tap.scenario("no rcpthosts")
    def _():
        os.rename(ctl_path(m, "rcpthosts"), ctl_path(m, "rcpthosts.away"))
        s = smtplib.SMTP("127.0.0.1", m.smtp_port)
        s.ehlo("client.example")
        s.mail("alice@remote.example")
        remote, ours = s.rcpt("someone@elsewhere.example"), s.rcpt(A)
        s.quit()
        os.rename(ctl_path(m, "rcpthosts.away"), ctl_path(m, "rcpthosts"))
        tap.ok(remote[0] == 553 and b"5.7.1" in remote[1] and ours[0] == 553,
               "without control/rcpthosts every domain is refused with 553",
               [remote, ours])

    # --- a domain only in rcpthosts: relay clients only -------------------------
    @tap.scenario("rcpthosts only")
    def _():
        # backup.example is in rcpthosts but in neither locals nor
        # virtualdomains: taking its mail from anyone would queue it in
        # the clear, as remote mail, with no remote delivery to take it
        hosts = open(ctl_path(m, "rcpthosts")).read()
        m.control("rcpthosts", hosts + "backup.example\n.sub.backup.example\n")
        before = len(m.queued())

        def session(**env):
            script = (b"EHLO client.example\r\nMAIL FROM:<a@remote.example>\r\n"
                      b"RCPT TO:<someone@backup.example>\r\n"
                      b"RCPT TO:<someone@a.sub.backup.example>\r\n" +
                      f"RCPT TO:<{A}>\r\nQUIT\r\n".encode())
            r = subprocess.run(m.as_user([os.path.join(m.bin, "sq-smtpd")]),
                               input=script, capture_output=True, timeout=60,
                               env=dict(os.environ, SQ_HOME=m.home,
                                        QMAILQUEUE=os.path.join(m.bin,
                                                                "sq-seal"),
                                        TCPREMOTEIP="192.0.2.1", **env))
            return [ln for ln in r.stdout.split(b"\r\n")
                    if ln[:3] in (b"250", b"553", b"550", b"451")][-3:]
        stranger = session()
        relay = session(RELAYCLIENT="")
        m.control("rcpthosts", hosts)
        tap.ok([x[:9] for x in stranger] == [b"553 5.7.1"] * 2 + [b"250 2.1.5"],
               "RCPT to a domain only in rcpthosts (or a .domain pattern) "
               "from a client that may not relay: 553 5.7.1; a subscriber: 250",
               stranger)
        tap.ok([x[:9] for x in relay] == [b"250 2.1.5"] * 3,
               "a RELAYCLIENT client may still send to that domain", relay)
        tap.is_(len(m.queued()), before, "nothing was queued")

    # --- SIGHUP, passed on by prefork, leaves the sealer's workers running -----
    @tap.scenario("sealer: sighup")
    def _():
        def workers():
            pid = m.sealer.pid
            return sorted(open(f"/proc/{pid}/task/{pid}/children").read()
                          .split())
        before, log = workers(), len(m.log("sealer.log"))
        m.sealer.send_signal(signal.SIGHUP)
        time.sleep(2)
        after = workers()
        s = transaction(m)
        code, _ = s.data(message("after a hangup"))
        s.quit()
        tap.ok(before and after == before and
               "ended (status" not in m.log("sealer.log")[log:] and
               m.sealer.poll() is None and code == 250,
               "SIGHUP to sq-sealerd: every worker survives it and mail "
               "is still sealed", [before, after, code,
                                   m.log("sealer.log")[log:]])

    # --- databytes: 0 or missing is 64 MiB, offered as SIZE ---------------------
    @tap.scenario("databytes default size")
    def _():
        sizes = []
        for text in ("0\n", None):
            if text:
                m.control("databytes", text)
            else:
                os.unlink(ctl_path(m, "databytes"))
            s = smtplib.SMTP("127.0.0.1", m.smtp_port)
            code, caps = s.ehlo("client.example")
            over = s.mail("alice@remote.example", ["SIZE=67108865"])
            s.rset()
            at = s.mail("alice@remote.example", ["SIZE=67108864"])
            s.quit()
            sizes.append((b"SIZE 67108864" in caps.split(b"\n"), over[0],
                          at[0]))
        m.control("databytes", "100000\n")
        tap.ok(sizes == [(True, 552, 250)] * 2,
               "with databytes 0 or missing, EHLO offers SIZE 67108864 and MAIL "
               "refuses a larger SIZE with 552", sizes)

    # --- TCPLOCALHOST and TCPLOCALIP name this end in the Received: line -------
    @tap.scenario("received line tcplocalhost")
    def _():
        before = len(m.queued())
        script = (b"EHLO client.example\r\nMAIL FROM:<a@remote.example>\r\n" +
                  f"RCPT TO:<{A}>\r\nDATA\r\n".encode() +
                  b"Subject: local\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        r = subprocess.run(m.as_user([os.path.join(m.bin, "sq-smtpd")]),
                           input=script, capture_output=True, timeout=60,
                           env=dict(os.environ, SQ_HOME=m.home,
                                    QMAILQUEUE=os.path.join(m.bin, "sq-seal"),
                                    TCPREMOTEIP="192.0.2.1",
                                    TCPLOCALIP="2001:db8::25",
                                    TCPLOCALHOST="relay.example.net"))
        rc, plain = m.open_for(A, m.queued()[-1][1]) if len(m.queued()) > \
            before else (1, b"")
        tap.ok(b"250 2.0.0 ok" in r.stdout and rc == 0 and
               b"(unknown [192.0.2.1])\n\tby relay.example.net "
               b"([IPv6:2001:db8::25]) (secure-qmail)" in plain,
               "the Received: line's by part is TCPLOCALHOST, with TCPLOCALIP "
               "as an address literal", r.stdout + r.stderr + plain[:300])

    # --- no core dump may hold a message ----------------------------------------
    @tap.scenario("no core dumps")
    def _():
        def exe(pid):
            try:    # an ended session not yet collected has none
                return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
            except OSError:
                return None

        def sessions():
            return {k for p in m.procs if p.poll() is None
                    for k in open(f"/proc/{p.pid}/task/{p.pid}/children").read()
                    .split() if exe(k) == "sq-smtpd"}
        others = sessions()
        s = smtplib.SMTP("127.0.0.1", m.smtp_port)
        s.ehlo("client.example")
        kids = list(sessions() - others)
        limits, owner = "", -1
        if len(kids) == 1:
            limits = open(f"/proc/{kids[0]}/limits").read()
            owner = os.stat(f"/proc/{kids[0]}/status").st_uid
        s.quit()
        core = [x.split() for x in limits.splitlines()
                if x.startswith("Max core file size")]
        tap.ok(core and core[0][4:6] == ["0", "0"] and
               (owner == 0 or os.geteuid() != 0),
               "sq-smtpd runs with core dumps off and not dumpable (its /proc "
               "files are root's)", [kids, limits, owner])
    # --- the encryption queue stage's own cases, on cold workers ---------
    for name, case in (
            ("sealer: key gone between rcpt and data",
             keyless_recipient_fails_alone),
            ("sealer: pks stopped before data", pks_stopped_before_data),
            ("sealer: key from a foreign CA", foreign_ca_key),
            ("sealer: too big for the sealer", too_big_for_the_sealer),
            ("sealer: postmaster", postmaster_cases)):
        tap.scenario(name, lambda case=case: case(cold_sealer(m)))

    # --- who may hold the sealer, and for how long ------------------------
    tap.scenario("sealer: its sq-queue --serve killed",
                 lambda: queue_server_killed(m))
    tap.scenario("listener: rules, concurrency, a crashed session",
                 lambda: own_listener(m))
    tap.scenario("sealer socket: mode and group", lambda: socket_mode(m))
    tap.scenario("sealer timeout: idle caller dropped, mail flows",
                 lambda: with_sealer_control(
                     m, {"sealtimeout": "3\n"}, idle_caller_dropped))
    tap.scenario("sealer bound per uid: extra idle connections refused",
                 lambda: with_sealer_control(
                     m, {"sealtimeout": "30\n", "sealperuser": "2\n"},
                     one_uid_bounded))
    tap.scenario("sealer silent: sq-smtpd answers 451, never hangs",
                 lambda: silent_sealer(m))

    # --- the logs hold no message text -----------------------------------
    @tap.scenario("no message text in the logs")
    def _():
        logs = m.log("smtpd.log") + m.log("sealer.log")
        tap.ok(CANARY not in logs and "smuggle" not in logs,
               "the daemons' logs hold no message text")

    # --- stopped cleanly, without a sanitizer report ----------------------
    @tap.scenario("clean stop")
    def _():
        m.stop_daemons()
        logs = m.log("smtpd.log") + m.log("sealer.log")
        tap.ok("Sanitizer" not in logs and "runtime error" not in logs,
               "sq-smtpd, sq-seal, sq-sealerd and sq-queue ran clean",
               logs[-3000:])
finally:
    m.stop()
tap.done()
