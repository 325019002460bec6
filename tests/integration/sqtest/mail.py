"""A receiving mail host for integration tests and benchmarks: a PKS
(sqtest.pks), provisioned subscribers, the queue, sq-sealerd and sq-smtpd
under tcpserver on a free loopback port. The instance is laid out, and the
services are started, by tools/setup-instance, as make run does.

    with MailHost(users=["john.smith@example.org"]) as m:
        smtplib.SMTP("127.0.0.1", m.smtp_port) ...

As root the daemons run as "nobody", like production ones under their own
uids; the instance's queue is then given to nobody too.
"""
import hashlib
import os
import poplib
import pwd
import shutil
import socket
import ssl
import subprocess
import time

from . import instance, proc, tap
from .pks import PKS, free_port

PASSWORD = "correct horse battery"


def listening(port):
    """Waits until something accepts on 127.0.0.1:port; returns port."""
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def retr(p, n):
    """Message n of a poplib session: its octets as sent, unstuffed, with
    CRLF line ends."""
    return b"\r\n".join(p.retr(n)[1]) + b"\r\n"


def pop_error(fn):
    """The -ERR line fn() met from poplib, or "" if none."""
    try:
        fn()
    except poplib.error_proto as e:
        return e.args[0].decode("latin-1")
    return ""


def sealed_entity(mess):
    """(the entity, its form for openssl's -inform) of a sealed message:
    binary (DER) after a queue file's size line or alone, as stored, or
    S/MIME as older versions stored it (sq-sealed(5))."""
    if mess.startswith(b"X-SQ-Plaintext-Size:"):
        rest = mess[mess.index(b"\n") + 1:]
        if rest[:1] == b"\x30":
            return rest, "DER"
    return mess, "DER" if mess[:1] == b"\x30" else "SMIME"


# id-ct-authEnvelopedData (1.2.840.113549.1.9.16.1.23), as the binary
# entity's ContentInfo begins with it
AUTH_ENVELOPED_OID = bytes.fromhex("060b2a864886f70d0109100117")


def is_sealed(mess):
    """Whether mess (a queue or maildir file) is a binary authEnveloped-
    data entity, with or without its size line."""
    entity, form = sealed_entity(mess)
    return form == "DER" and AUTH_ENVELOPED_OID in entity[:16]


def files_holding(top, needle):
    """The regular files under top whose octets hold needle."""
    if isinstance(needle, str):
        needle = needle.encode()
    paths = [os.path.join(r, f) for r, _, fs in os.walk(top) for f in fs]
    return [p for p in paths if os.path.isfile(p) and not os.path.islink(p)
            and needle in open(p, "rb").read()]


class MailHost:
    def __init__(self, users=(), control=None, sealworkers=4):
        self.users = list(users)
        self.extra_control = control or {}
        self.sealworkers = sealworkers
        self.pks = PKS()
        self.bin = instance.bin_dir()
        self.procs = []
        self.maildirs = None    # where the maildirs are: home/maildirs
                                # unless an EDH of its own holds them

    @property
    def home(self):
        return self.pks.home

    def control(self, name, text):
        self.pks.control(name, text)

    def run(self, *args, pw=None):
        env = dict(os.environ, SQ_HOME=self.home)
        return subprocess.run(["sh", "-c", 'exec "$@" 3<&0', "sh"] + list(args),
                              input=pw, capture_output=True, text=True,
                              env=env, timeout=120)

    def as_user(self, argv):
        if os.geteuid() == 0:
            return ["setpriv", "--reuid=nobody", "--regid=nogroup",
                    "--clear-groups"] + argv
        return argv

    def start(self):
        self.pks.start()
        home = self.home
        # pkslocal: sq-lspawn's own deliver credential; the receive path:
        # me, deliveryuser, servercert.pem, the queue, run/, maildirs/
        instance.setup(home, "pkslocal", "test delivery")
        instance.setup(home, "receive", "mx.example.org", "nobody")
        self.control("sealworkers", f"{self.sealworkers}\n")
        for name, text in self.extra_control.items():
            self.control(name, text)
        for address in self.users:
            self.add_user(address)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            full = os.path.join(home, "users")
            for root, dirs, files in os.walk(full):
                for n in dirs + files:
                    os.chown(os.path.join(root, n), nobody.pw_uid,
                             nobody.pw_gid)
            os.chown(full, nobody.pw_uid, nobody.pw_gid)
        self.start_sealer()
        self.start_smtpd()
        self.start_pkslogin()
        return self

    def add_user(self, address, password=PASSWORD):
        r = self.run(os.path.join(self.bin, "ses-adduser"), "--yes",
                     "--new-domain", "--password-fd", "3", address,
                     pw=password + "\n")
        assert r.returncode == 0, r.stdout + r.stderr
        if os.geteuid() == 0:   # users/cdb readable by the daemons
            for n in ("assign", "cdb"):
                os.chmod(os.path.join(self.home, "users", n), 0o644)

    def _spawn(self, argv, log, **env):
        f = open(os.path.join(self.home, log), "ab")
        p = subprocess.Popen(argv, env=dict(instance.env(self.home), **env),
                             stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        self.procs.append(p)
        return p

    def start_sealer(self):
        sock = os.path.join(self.home, "run", "sealer")
        self.sealer = self._spawn(instance.argv("daemon", "sq-sealerd"),
                                  "sealer.log")
        for _ in range(200):
            if os.path.exists(sock):
                return
            time.sleep(0.05)
        raise RuntimeError("sq-sealerd did not start: " + self.log("sealer.log"))

    def start_smtpd(self, qmailqueue=None, memory_kib=None, port=None):
        """tcpserver sq-smtpd handing messages to sq-sealerd (or, when
        qmailqueue names one, to that program in bin/ as $QMAILQUEUE), in
        at most memory_kib of address space if given, on port (default: a
        free one); returns (and keeps in smtp_port) its port."""
        self.smtp_port = port or free_port()
        # tcpserver drops to the daemons' user (as root), as in production
        self.smtpd = self._spawn(
            instance.argv("smtpd", "127.0.0.1", self.smtp_port,
                          *(["sh", "-c", f'ulimit -v {memory_kib}; exec "$0" "$@"']
                            if memory_kib else [])), "smtpd.log",
            QMAILQUEUE=os.path.join(self.bin, qmailqueue) if qmailqueue
            else "")
        return listening(self.smtp_port)

    def use_edh(self, edh):
        """Stores on and reads from edh (sqtest.edh.EDH, started) over
        TLS, with its deliver and retrieve credentials (mode 0400, owned
        by the daemons' user): the preferred embodiment."""
        for proto, role in (("lmtp", "deliver"), ("retrieve", "retrieve")):
            port = edh.lmtp_port if proto == "lmtp" else edh.retr_port
            self.control(f"edh{proto}-host", f"127.0.0.1:{port}\n")
            self.control(f"edh{proto}-cred", edh.cred[role] + "\n")
            cred = os.path.join(self.home, "control", f"edh{proto}-cred")
            os.chmod(cred, 0o400)
            if os.geteuid() == 0:
                os.chown(cred, 65534, 65534)
        self.maildirs = os.path.join(edh.home, "maildirs")

    def start_pop3(self, sealed=False, implicit_tls=False):
        """tcpserver sq-popup sq-checkpw sq-pop3d on a free loopback port
        (kept in pop3_port); -s and -T when asked."""
        self.pop3_port = free_port()
        # as root, sq-popup and what it runs are the daemons' user, never
        # root (control/pkslogin is theirs)
        self.pop3d = self._spawn(
            instance.argv("pop3", "127.0.0.1", self.pop3_port,
                          *(["-T"] if implicit_tls else []),
                          *(["-s"] if sealed else [])), "pop3.log")
        return listening(self.pop3_port)

    def _start_local_daemon(self, name):
        """sq-NAME with its socket in home/NAME/socket (a stale one, left
        by one killed, removed first); its process once the socket is
        there."""
        sock = os.path.join(self.home, name, "socket")
        if os.path.exists(sock):
            os.unlink(sock)
        p = self._spawn(instance.argv("daemon", f"sq-{name}"), f"{name}.log")
        if not self.wait_for(lambda: os.path.exists(sock), 20):
            raise RuntimeError(f"sq-{name} did not start: " +
                               self.log(f"{name}.log"))
        return p

    def start_pkslogin(self):
        """sq-pkslogin, the relay that makes sq-checkpw's key store
        calls."""
        self.pkslogin = self._start_local_daemon("pkslogin")
        return self.pkslogin

    def start_pdkcache(self):
        """sq-pdkcache, the login cache sq-checkpw asks."""
        self.pdkcache = self._start_local_daemon("pdkcache")
        return self.pdkcache

    def tls_context(self):
        """A client context trusting the instance CA (names unchecked: the
        test servers answer on loopback)."""
        ctx = ssl.create_default_context(
            cafile=os.path.join(self.home, "control", "ca.pem"))
        ctx.check_hostname = False
        return ctx

    def pop3(self, user, password=PASSWORD, tls=False):
        """A poplib session logged in as user (after STLS if tls)."""
        p = poplib.POP3("127.0.0.1", self.pop3_port, timeout=60)
        if tls:
            p.stls(self.tls_context())
        p.user(user)
        p.pass_(password)
        return p

    def stop_pop3(self):
        proc.stop(self.pop3d)
        self.procs.remove(self.pop3d)

    def start_delivery(self, **env):
        """sq-start: sq-send, sq-lspawn and sq-clean, delivering into
        maildirs/ (combined mode); env adds to (or replaces, SQ_BIN) the
        environment."""
        self.send = self._spawn(instance.argv("daemon", "sq-start"),
                                "send.log", **env)
        return self.send

    def stop_delivery(self, sig=15):
        if self.send.poll() is None:
            self.send.send_signal(sig)
            self.send.wait(timeout=60)
        self.procs.remove(self.send)

    def mailbox(self, address):
        """The maildir of address (hash-row), or None before its first
        message."""
        h = hashlib.sha256(address.encode()).hexdigest()[:8]
        top = self.maildirs or os.path.join(self.home, "maildirs")
        names = [n for n in os.listdir(top) if n.startswith(h + "-") and
                 os.path.isdir(os.path.join(top, n, "new"))] \
            if os.path.isdir(top) else []
        return os.path.join(top, min(names, key=lambda n: int(n[9:]))) \
            if names else None

    def delivered(self, address):
        """The messages in address's maildir new/, oldest first."""
        md = self.mailbox(address)
        if not md:
            return []
        new = os.path.join(md, "new")
        if not os.path.isdir(new):     # the maildir is being made
            return []
        return [open(os.path.join(new, n), "rb").read()
                for n in sorted(os.listdir(new))]

    def wait_for(self, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = what()
            if got:
                return got
            time.sleep(0.1)
        return what()

    def opener(self, address, password=PASSWORD, version=-1):
        """A function that opens messages sealed for a key version of
        address (-1: the newest) with its PDK, unwrapped with the password
        (fetched with the login role, as sq-checkpw will), with our code
        and with openssl cms, which must agree: (exit code, plaintext)."""
        h = hashlib.sha256(address.encode()).hexdigest()[:8]
        st, doc = self.pks.call("GET", f"/v1/keys/{h}/pdk", "login")
        key = sorted(doc["keys"], key=lambda k: (k["version"], k["row"]))[
            version]
        work = os.path.join(self.home, "open")
        os.makedirs(work, exist_ok=True)
        paths = {n: os.path.join(work, n) for n in ("pdk", "pw", "key", "pek",
                                                     "sealed")}
        open(paths["pdk"], "w").write(key["pdk"])
        open(paths["pek"], "w").write(key["pek"])
        open(paths["pw"], "w").write(password)
        helper = os.path.join(tap.build_dir(), "tests", "helpers", "sqcrypt")
        subprocess.run(["sh", "-c", 'exec "$0" unwrap "$1" "$2" 3<"$3"',
                        helper, paths["pdk"], paths["key"], paths["pw"]],
                       check=True)

        def open_one(mess, with_openssl=True):
            open(paths["sealed"], "wb").write(mess)
            r = subprocess.run([helper, "open", paths["pek"], paths["key"]],
                               stdin=open(paths["sealed"], "rb"),
                               capture_output=True)
            if not with_openssl:
                return r.returncode, r.stdout
            # and the way a subscriber who leaves opens it (a queue file
            # without its size line)
            entity, form = sealed_entity(mess)
            open(paths["sealed"], "wb").write(entity)
            o = subprocess.run(["openssl", "cms", "-decrypt", "-binary",
                                "-inform", form, "-in", paths["sealed"],
                                "-recip", paths["pek"], "-inkey",
                                paths["key"]], capture_output=True)
            if o.returncode != 0 or o.stdout != r.stdout:
                return 99, b"openssl cms -decrypt disagrees: " + o.stderr
            return r.returncode, r.stdout
        return open_one

    def open_for(self, address, mess, password=PASSWORD):
        return self.opener(address, password)(mess)

    def log(self, name):
        return proc.read_text(os.path.join(self.home, name))

    def queue_count(self):
        """How many messages sq-qstat counts in the queue."""
        r = self.run(os.path.join(self.bin, "sq-qstat"))
        return int(r.stdout.split("\n")[0].rsplit(" ", 1)[1])

    def queued(self):
        """(message number, mess bytes, envelope bytes) of todo/, oldest
        first (numbers are inode numbers: their order means nothing)."""
        q = os.path.join(self.home, "queue")
        todo = os.path.join(q, "todo")
        out = []
        for n in sorted(os.listdir(todo), key=lambda n: (
                os.stat(os.path.join(todo, n)).st_mtime_ns, int(n))):
            split = len([d for d in os.listdir(os.path.join(q, "mess"))])
            mess = open(os.path.join(q, "mess", str(int(n) % split), n),
                        "rb").read()
            env = open(os.path.join(q, "todo", n), "rb").read()
            out.append((n, mess, env))
        return out

    def stop_daemons(self):
        """Stops the mail daemons (so that a sanitizer build writes its exit
        reports to their logs), leaving the PKS up."""
        for p in reversed(self.procs):
            proc.stop(p)
        self.procs = []

    def stop(self):
        self.stop_daemons()
        reports = self.sanitizer_reports()
        self.pks.stop()
        if reports:     # a leak or UB in any daemon fails the test
            raise RuntimeError("sanitizer reports in the logs:\n" + reports)

    def sanitizer_reports(self):
        """What ASan, LSan or UBSan said in the daemons' logs (the
        sanitizer build; "" when nothing)."""
        if not self.home or not os.path.isdir(self.home):
            return ""
        found = []
        for name in sorted(os.listdir(self.home)):
            text = self.log(name) if name.endswith(".log") else ""
            for mark in ("Sanitizer", "runtime error:"):
                i = text.find(mark)
                if i >= 0:
                    found.append(f"{name}: {text[max(0, i - 200):i + 1500]}")
                    break
        return "\n".join(found)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
