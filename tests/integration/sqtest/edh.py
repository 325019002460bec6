"""A throwaway Email Database Host for integration tests.

    from sqtest.edh import EDH
    with EDH() as edh:
        s = edh.session("lmtp")          # TLS, greeting read
        s.cmd("LHLO ah")

It builds an instance directory (SQ_HOME) by tools/setup-instance, as make
run does: the instance CA, edhd's certificate (sq-ca), control/edhallow
for 127.0.0.1, a deliver and a retrieve client (edh-ctl, credentials in
the client-side control files of sq-edh(5)), and runs the real edhd (as
the caller) on free loopback ports. stop() ends edhd, whose children end
with it.
"""
import base64
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

from . import instance, proc
from .pks import free_port


class Session:
    """One TLS connection to edhd, read with a timeout."""

    def __init__(self, edh, port, timeout=10, source=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout,
                                       source_address=source)
        ctx = ssl.create_default_context(cafile=edh.path("control/ca.pem"))
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("edhd closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode(errors="replace")

    def reply(self):
        """All lines of one reply, joined with newlines."""
        lines = [self.line()]
        while lines[-1][3:4] == "-":
            lines.append(self.line())
        return "\n".join(lines)

    def octets(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("edhd closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def closed(self):
        """True when edhd has closed the connection."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (OSError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


AS = ""    # edhd runs as the caller, root or not; its files are the caller's


def accepts(port):
    """Whether something accepts on 127.0.0.1:port now."""
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


class EDH:
    def __init__(self, control=None, ca_home=None):
        """ca_home: an instance whose CA issues edhd's certificate (an
        application host's), instead of a CA of the EDH's own."""
        self.ca_home = ca_home
        self.bin = instance.bin_dir()
        self.extra = control or {}
        self.home = None
        self.proc = None
        self.cred = {}

    def path(self, rel):
        return os.path.join(self.home, rel)

    def run(self, *args, **kw):
        env = dict(os.environ, SQ_HOME=self.home)
        return subprocess.run(list(args), env=env, capture_output=True,
                              timeout=60, **kw)

    def control(self, name, text):
        with open(self.path("control/" + name), "w") as f:
            f.write(text)

    def ctl(self, *args):
        r = self.run(os.path.join(self.bin, "edh-ctl"), *args, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"edh-ctl {args}: {r.stderr}")
        return r.stdout

    def start(self):
        self.home = tempfile.mkdtemp(prefix="sqedh.", dir="/tmp")
        os.mkdir(self.path("control"))
        self.lmtp_port, self.retr_port = free_port(), free_port()
        if not self.ca_home:
            instance.setup(self.home, "ca", "Test CA", as_user=AS)
        instance.setup(self.home, "edh", f"127.0.0.1:{self.lmtp_port}",
                       f"127.0.0.1:{self.retr_port}", "test", "127.0.0.1",
                       "deliver", "retrieve", as_user=AS,
                       ca_home=self.ca_home)
        for name, value in self.extra.items():
            self.control(name, value)
        for role, credfile in (("deliver", "edhlmtp-cred"),
                               ("retrieve", "edhretrieve-cred")):
            self.cred[role] = instance.read_control(self.home, credfile)
        self.start_edhd()
        return self

    def start_edhd(self):
        self.log = open(self.path("edhd.log"), "ab")
        self.proc = subprocess.Popen(
            instance.argv("daemon", "edhd"),
            env=instance.env(self.home, as_user=AS),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("edhd exited: " + self.log_text())
            if all(accepts(port) for port in (self.lmtp_port, self.retr_port)):
                return      # not the log: a restart finds an old line
            time.sleep(0.05)
        raise RuntimeError("edhd did not listen")

    def stop_edhd(self):
        proc.stop(self.proc)
        self.proc = None

    def stop(self):
        self.stop_edhd()
        if self.home:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def log_text(self):
        return proc.read_text(self.path("edhd.log"))

    def session(self, which, **kw):
        port = self.lmtp_port if which == "lmtp" else self.retr_port
        return Session(self, port, **kw)

    @staticmethod
    def plain(cred):
        ident, _, secret = cred.partition(":")
        raw = b"\0" + ident.encode() + b"\0" + secret.encode()
        return "AUTH PLAIN " + base64.b64encode(raw).decode()

    def lmtp(self, role="deliver"):
        """An LMTP session after LHLO and AUTH."""
        s = self.session("lmtp")
        s.cmd("LHLO ah.example")
        r = s.cmd(self.plain(self.cred[role]))
        if not r.startswith("235"):
            raise RuntimeError("AUTH: " + r)
        return s

    def files(self, box):
        """The file names in box's tmp/ and new/."""
        out = {}
        for sub in ("tmp", "new"):
            d = self.path(f"maildirs/{box}/{sub}")
            out[sub] = sorted(os.listdir(d)) if os.path.isdir(d) else []
        return out


# what sealed_message seals
TEST_PLAIN = b"Subject: hello\n\nCANARY-plaintext-body\n"


def sealed_message(work):
    """An S/MIME authEnveloped-data message (openssl cms, AES-256-GCM)
    with its X-SQ-Plaintext-Size line, LF line ends."""
    key, cert = os.path.join(work, "k.pem"), os.path.join(work, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-out", cert, "-subj", "/CN=a@example.org", "-days", "1"],
                   check=True, capture_output=True)
    r = subprocess.run(["openssl", "cms", "-encrypt", "-aes-256-gcm", cert],
                       input=TEST_PLAIN, check=True, capture_output=True)
    return b"X-SQ-Plaintext-Size: %d\n" % len(TEST_PLAIN) + r.stdout


def wire(msg):
    """The message as LMTP carries it: CRLF, dots stuffed, the end mark."""
    lines = msg.split(b"\n")[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in lines) + b".\r\n"


def transaction(s, box, data, rcpt_only=False):
    """MAIL, RCPT, DATA and the message: (rcpt reply, final reply)."""
    assert s.cmd("MAIL FROM:<>").startswith("250")
    r = s.cmd(f"RCPT TO:<{box}>")
    if rcpt_only or not r.startswith("250"):
        return r, None
    assert s.cmd("DATA").startswith("354")
    s.send(data)
    return r, s.reply()
