#!/usr/bin/env python3
"""Supervision: the daemontools services and systemd units that make
install renders (tools/render-service), run for real. pksd and edhd under
svscan with their multilog services: they answer, log time-stamped lines,
stop with svc -d, start with svc -u, and come back after kill -9. Then a
receiving host's sq-sealerd, sq-smtpd, sq-pop3d and sq-pop3ds services:
the SMTP greeting and a sealed delivery through the rendered run script,
tcpserver's rules from control/tcp.smtp (tcprules): no relaying, not even
for loopback, and a :deny rule that refuses; the POP3 greetings. Every rendered run
script is shellcheck-clean and every unit passes systemd-analyze verify.
Needs root (the services drop to their users) and daemontools."""
import os
import poplib
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402
from sqtest.edh import EDH  # noqa: E402
from sqtest.mail import MailHost, PASSWORD  # noqa: E402
from sqtest.pks import PKS, free_port  # noqa: E402

ROOT = tap.repo_root()
BIN = os.path.abspath(os.path.join(tap.build_dir(), "bin"))
TOOLS = ("svscan", "supervise", "svc", "svstat", "svok", "multilog",
         "setuidgid", "tcpserver", "tcprules", "shellcheck")
SERVICES = sorted(n for n in os.listdir(os.path.join(ROOT, "service"))
                  if os.path.isdir(os.path.join(ROOT, "service", n)))
A = "john.smith@example.org"
USER = "nobody"


def wait(what, timeout=20, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = what()
        if got:
            return got
        time.sleep(step)
    return what()


def render(home, work):
    """tools/render-service for home, every role user "nobody", into home
    (service/, systemd/, control/tcp.*); home/bin is the build's."""
    users = os.path.join(work, "users")
    with open(users, "w") as f:
        f.write(f"{USER}\n" * 9)
    if not os.path.exists(os.path.join(home, "bin")):
        os.symlink(BIN, os.path.join(home, "bin"))
    return subprocess.run(["sh", os.path.join(ROOT, "tools", "render-service"),
                           "-u", users, home, home], capture_output=True,
                          text=True, timeout=60)


def descendants(pid):
    """The pids whose parent chain leads to pid, now."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def uid_of(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))
    except (OSError, AttributeError):
        return None


class Scan:
    """svscan over a directory of links to some of home's services, with
    SQ_HOME=home (the rendered scripts name home's programs; the programs
    find the instance by SQ_HOME, as a test instance)."""

    def __init__(self, home, names):
        self.home, self.names = home, names
        self.dir = tempfile.mkdtemp(prefix="sqsvscan.")
        for n in names:
            os.symlink(os.path.join(home, "service", n),
                       os.path.join(self.dir, n))
        self.log = open(os.path.join(self.dir, ".svscan.log"), "ab")
        self.proc = subprocess.Popen(
            ["svscan", self.dir], env=dict(os.environ, SQ_HOME=home),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

    def path(self, name, *rest):
        return os.path.join(self.home, "service", name, *rest)

    def svc(self, flag, name):
        subprocess.run(["svc", flag, self.path(name)], timeout=10)

    def pid(self, name):
        """The pid of the service's daemon while svstat says up, else 0."""
        r = subprocess.run(["svstat", self.path(name)], capture_output=True,
                           text=True, timeout=10)
        m = re.search(r": up \(pid (\d+)\)", r.stdout)
        return int(m.group(1)) if m else 0

    def down(self, name):
        r = subprocess.run(["svstat", self.path(name)], capture_output=True,
                           text=True, timeout=10)
        return ": down " in r.stdout

    def stop(self):
        """svscan first, then each service and its log (svc -dx), then
        waits until no supervise runs there any more."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        for n in self.names:
            for d in (self.path(n), self.path(n, "log")):
                if os.path.isdir(os.path.join(d, "supervise")):
                    subprocess.run(["svc", "-dx", d], timeout=10)
        for n in self.names:
            for d in (self.path(n), self.path(n, "log")):
                if not wait(lambda d=d: subprocess.run(
                        ["svok", d]).returncode != 0, 20):
                    tap.diag(f"supervise {d} did not exit")
        shutil.rmtree(self.dir, ignore_errors=True)


def timestamped(path):
    """True when the multilog file holds a line with a TAI64N stamp."""
    try:
        text = open(path, errors="replace").read()
    except OSError:
        return False
    return re.search(r"^@[0-9a-f]{24} \S", text, re.M) is not None


def supervised(scan, name, answers, nobody):
    """The six checks of a supervised daemon: up and answering, as the
    rendered user, logging through multilog, svc -d, svc -u, kill -9."""
    pid = wait(lambda: scan.pid(name))
    tap.ok(pid and wait(answers), f"{name}: svscan starts it and it answers",
           f"pid {pid}; svscan log: " +
           open(os.path.join(scan.dir, ".svscan.log"), errors="replace")
           .read())
    tap.ok(pid and uid_of(pid) == nobody,
           f"{name}: the daemon runs as the rendered user (setuidgid)",
           f"uid {uid_of(pid) if pid else None}")
    current = scan.path(name, "log", "main", "current")
    tap.ok(wait(lambda: timestamped(current)) and
           os.stat(current).st_uid == nobody,
           f"{name}: multilog writes time-stamped lines to log/main/current, "
           "as the log user", open(current, errors="replace").read()
           if os.path.exists(current) else "no log/main/current")
    scan.svc("-d", name)
    gone = wait(lambda: scan.down(name)) and \
        wait(lambda: not answers(), 10)
    tap.ok(gone, f"{name}: svc -d stops it: down, and it no longer answers")
    scan.svc("-u", name)
    pid2 = wait(lambda: scan.pid(name))
    tap.ok(pid2 and pid2 != pid and wait(answers),
           f"{name}: svc -u starts it again and it answers",
           f"pids {pid} {pid2}")
    # A crash: the daemon and whatever it forked (pksd's workers would
    # otherwise go on serving on their own sockets), each by its pid.
    kids = descendants(pid2)
    for p in [pid2] + kids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pid3 = wait(lambda: (lambda p: p if p and p != pid2 else 0)(
        scan.pid(name)))
    tap.ok(pid3 and wait(answers),
           f"{name}: after kill -9 supervise starts it again and the new "
           "daemon answers", f"pids {pid2} {pid3}, killed children {kids}")


def pks_edh(work, nobody):
    with PKS() as pks, EDH() as edh:
        pks.stop_pksd()
        edh.stop_edhd()
        r = render(pks.home, work)
        r2 = render(edh.home, work)

        @tap.scenario("render-service for pksd and edhd")
        def _():
            tap.ok(r.returncode == 0 and r2.returncode == 0,
                   "tools/render-service renders the services and units",
                   r.stderr + r2.stderr)
        # edhd as nobody: its instance, certificate, clients and maildirs
        os.chmod(edh.home, 0o755)
        for rel in ("control/edhcert.pem", "control/edhclients", "maildirs"):
            for top, dirs, files in os.walk(edh.path(rel)):
                for n in dirs + files:
                    os.chown(os.path.join(top, n), nobody, -1)
            os.chown(edh.path(rel), nobody, -1)
        scans = []
        try:
            @tap.scenario("pksd supervised")
            def _():
                scans.append(Scan(pks.home, ["pksd"]))
                supervised(scans[-1], "pksd", lambda: pks.curl(
                    "GET", "/v1/health", pks.cred["deliver"], timeout=3)[0] ==
                    200, nobody)

            @tap.scenario("edhd supervised")
            def _():
                scans.append(Scan(edh.home, ["edhd"]))

                def lmtp_answers():
                    try:
                        s = edh.session("lmtp", timeout=3)
                        ok = s.greeting.startswith("220")
                        s.close()
                        return ok
                    except (OSError, EOFError):
                        return False
                supervised(scans[-1], "edhd", lmtp_answers, nobody)
        finally:
            for s in scans:
                s.stop()


def smtp_greeting(port):
    """The code of the SMTP greeting, or 0 if the server hangs up."""
    try:
        s = smtplib.SMTP(timeout=5)
        code, _ = s.connect("127.0.0.1", port)
        s.quit()
        return code
    except (OSError, smtplib.SMTPException):
        return 0


def pop3_greeting(port, tls=False):
    try:
        raw = socket.create_connection(("127.0.0.1", port), 5)
        s = raw
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(raw)
        line = s.recv(512).decode(errors="replace")
        s.close()
        return line
    except (OSError, ssl.SSLError):
        return ""


def tcprules(ctl, name, text=None):
    if text is not None:
        with open(os.path.join(ctl, name), "w") as f:
            f.write(text)
    with open(os.path.join(ctl, name)) as f:
        return subprocess.run(["tcprules", name + ".cdb", name + ".tmp"],
                              stdin=f, cwd=ctl, capture_output=True,
                              text=True, timeout=10)


def mail_host(work, nobody):
    m = MailHost(users=[A])
    scan = None
    try:
        m.start()
        m.stop_daemons()          # its sq-sealerd and sq-smtpd: ours now
        ctl = os.path.join(m.home, "control")
        smtp, pop3, pop3s = free_port(), free_port(), free_port()
        m.control("smtp-listen", f"# sq-smtpd -l's address\n127.0.0.1:{smtp}\n")
        m.control("pop3-listen", f"127.0.0.1:{pop3}\n")
        m.control("pop3s-listen", f"127.0.0.1:{pop3s}\n")
        m.control("concurrencyincoming", "5\n")
        # supervise runs the services in their directories: no relative
        # program path (SQ_BUILD may be relative)
        m.control("sealqueue", os.path.join(BIN, "sq-queue") + "\n")
        os.chown(os.path.join(ctl, "pkslogin"), nobody, -1)
        r = render(m.home, work)
        assert r.returncode == 0, r.stderr

        @tap.scenario("rendered run scripts shellcheck-clean")
        def _():
            for name in SERVICES:
                scripts = [os.path.join(m.home, "service", name, "run"),
                           os.path.join(m.home, "service", name, "log", "run")]
                c = subprocess.run(["shellcheck", "-s", "sh"] + scripts,
                                   capture_output=True, text=True, timeout=60)
                tap.ok(c.returncode == 0 and c.stdout == "",
                       f"{name}: the rendered run and log/run are "
                       "shellcheck-clean", c.stdout + c.stderr)

        @tap.scenario("systemd units verify")
        def _():
            units = sorted(os.listdir(os.path.join(m.home, "systemd")))
            for unit in units:
                if not shutil.which("systemd-analyze"):
                    tap.diag("no systemd-analyze: the units are not verified")
                    tap.skip(f"{unit}: systemd-analyze is not installed")
                    continue
                v = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                    os.path.join(m.home, "systemd", unit)],
                                   capture_output=True, text=True, timeout=120)
                errors = [line for line in v.stderr.splitlines()
                          if "Special user nobody" not in line]
                tap.ok(v.returncode == 0 and not errors,
                       f"{unit}: systemd-analyze verify passes", v.stderr)
        compiled = [tcprules(ctl, n) for n in ("tcp.smtp", "tcp.pop3")]
        assert all(c.returncode == 0 for c in compiled), compiled

        # a provisioning tool killed midway: sq-smtpd's start recovers it
        pending = os.path.join(m.home, "users", "pending")
        os.makedirs(pending, mode=0o700, exist_ok=True)
        with open(os.path.join(pending, "1.000000001.1"), "w") as f:
            f.write("add\nghost@example.org\n" + "ab" * 32 + "\n")
        sock = os.path.join(m.home, "run", "sealer")
        if os.path.exists(sock):    # the fixture's sealer's, gone
            os.unlink(sock)
        scan = Scan(m.home, ["sq-sealerd", "sq-smtpd", "sq-pop3d",
                             "sq-pop3ds", "sq-pkslogin"])

        @tap.scenario("sq-sealerd supervised")
        def _():
            # up as soon as supervise started the run script: the uid is
            # the user's once setuidgid has run
            pid = wait(lambda: uid_of(scan.pid("sq-sealerd")) == nobody and
                       scan.pid("sq-sealerd"))
            tap.ok(pid and uid_of(pid) == nobody and
                   wait(lambda: os.path.exists(sock)),
                   "sq-sealerd: supervised, as the rendered user, its socket in "
                   "run/")

        @tap.scenario("sq-smtpd supervised, recovers a provisioning record")
        def _():
            tap.is_(wait(lambda: smtp_greeting(smtp)), 220,
                    "sq-smtpd: the rendered run script listens on "
                    "control/smtp-listen and greets 220")
            log = os.path.join(m.home, "service", "sq-smtpd", "log", "main",
                               "current")
            tap.ok(not os.listdir(pending) and
                   wait(lambda: "recovered an interrupted add of ghost@example.org"
                        in open(log).read() if os.path.exists(log) else None, 10),
                   "sq-smtpd's run script finishes or undoes a provisioning "
                   "record (ses-adduser --recover) before it listens",
                   open(log).read() if os.path.exists(log) else "no log")

        @tap.scenario("mail through the supervised services")
        def _():
            s = smtplib.SMTP("127.0.0.1", smtp, timeout=30)
            try:
                refused = s.sendmail("alice@remote.example", [A],
                                     "Subject: supervised\r\n\r\nhello\r\n")
            except smtplib.SMTPException as e:
                refused = e
            s.mail("alice@remote.example")
            relay = s.rcpt("someone@elsewhere.example")
            s.rset()
            s.quit()
            q = m.queued()
            sealer_log = os.path.join(m.home, "service", "sq-sealerd", "log",
                                      "main", "current")
            tap.ok(refused == {} and len(q) == 1 and
                   q[0][1].startswith(b"X-SQ-Plaintext-Size: "),
                   "a message to a subscriber is sealed and queued through "
                   "the supervised sq-sealerd",
                   f"{refused!r}, {len(q)} queued; sq-sealerd's log:\n" +
                   (open(sealer_log, errors="replace").read()
                    if os.path.exists(sealer_log) else ""))
            tap.is_(relay[0], 553,
                    "the example tcp.smtp gives no one RELAYCLIENT: even "
                    "loopback may not relay")

        @tap.scenario("sq-smtpd -l logs, tcprules")
        def _():
            log = os.path.join(m.home, "service", "sq-smtpd", "log", "main",
                               "current")
            tap.ok(wait(lambda: re.search(r"^@[0-9a-f]{24} sq-smtpd\[\d+\]: "
                                          r"info: listening on 127\.0\.0\.1:"
                                          rf"{smtp} with at most 5 sessions",
                                          open(log).read(), re.M)
                        if os.path.exists(log) else None, 10),
                   "sq-smtpd -l logs its address and control/concurrency"
                   "incoming through multilog",
                   open(log).read() if os.path.exists(log) else "no log")
            c = tcprules(ctl, "tcp.smtp", "127.:deny\n:allow\n")
            tap.ok(c.returncode == 0 and smtp_greeting(smtp) == 0 and
                   wait(lambda: "127.0.0.1: denied by" in open(log).read(),
                        10),
                   "after tcprules compiles a 127.:deny rule, sq-smtpd's "
                   "listener refuses loopback (logged: denied)", c.stderr)

        @tap.scenario("sq-pop3d and sq-pop3ds")
        def _():
            tap.ok(wait(lambda: pop3_greeting(pop3)).startswith("+OK"),
                   "sq-pop3d: greets +OK on control/pop3-listen")
            tap.ok(wait(lambda: pop3_greeting(pop3s, tls=True))
                   .startswith("+OK"),
                   "sq-pop3ds: greets +OK after the TLS handshake on "
                   "control/pop3s-listen (sq-popup -T)")

        @tap.scenario("a POP3 login through the supervised sq-pkslogin")
        def _():
            sock = os.path.join(m.home, "pkslogin", "socket")
            pid = wait(lambda: os.path.exists(sock) and
                       uid_of(scan.pid("sq-pkslogin")) == nobody and
                       scan.pid("sq-pkslogin"))
            try:
                p = poplib.POP3("127.0.0.1", pop3, timeout=30)
                p.user(A)
                p.pass_(PASSWORD)
                stat = p.stat()
                p.quit()
            except (OSError, poplib.error_proto) as e:
                stat = e
            tap.ok(pid and isinstance(stat, tuple),
                   "sq-pkslogin supervised, as the rendered user: a login "
                   "over sq-pop3d's service asks the key store through it",
                   f"{stat!r}")
    finally:
        if scan:
            scan.stop()
        m.stop()


def main():
    if os.geteuid() != 0:
        tap.skip_all("needs root: the services drop to their users with "
                     "setuidgid and tcpserver -u/-g")
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        tap.skip_all("not installed: " + " ".join(missing) +
                     " (daemontools, ucspi-tcp, shellcheck)")
    nobody = pwd.getpwnam(USER).pw_uid
    work = tempfile.mkdtemp(prefix="sqservice.")
    try:
        pks_edh(work, nobody)
        mail_host(work, nobody)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tap.done()


main()
