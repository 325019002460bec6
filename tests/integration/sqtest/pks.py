"""A complete, throwaway Paired Key Store for integration tests.

    from sqtest.pks import PKS
    with PKS() as pks:
        status, doc = pks.call("GET", "/v1/health", "deliver")

It builds an instance directory (SQ_HOME) with its own MariaDB, and by
tools/setup-instance (as make run does) the instance CA, pksd's TLS
certificate, allow-list, PKS key and schema (pks-ctl init), one API client
per role (control/pks{deliver,login,provision}, kept in cred too), and runs
the real pksd on a free loopback port. As root, pksd runs as "nobody", like
a production pksd under its own uid. Keys for addresses are made with the
test helper sqcrypt (CA-issued PEK, wrapped PDK).
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from . import instance, proc, tap
from .mariadb import MariaDB

ROLES = ("deliver", "login", "provision")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PKS:
    def __init__(self, control=None, workers=2):
        self.bin = instance.bin_dir()
        self.helper = os.path.join(tap.build_dir(), "tests", "helpers",
                                   "sqcrypt")
        self.extra_control = control or {}
        self.workers = workers
        self.home = None
        self.db = None
        self.proc = None
        self.port = None
        self.cred = {}
        self.as_root = os.geteuid() == 0

    # -- set-up ---------------------------------------------------------------

    def _run(self, *args, **kw):
        env = dict(os.environ, SQ_HOME=self.home)
        r = subprocess.run(list(args), env=env, capture_output=True,
                           text=True, timeout=120, **kw)
        if r.returncode != 0:
            raise RuntimeError(f"{args}: exit {r.returncode}: {r.stderr}")
        return r.stdout

    def ctl(self, *args):
        return self._run(os.path.join(self.bin, "pks-ctl"), *args)

    def control(self, name, text):
        with open(os.path.join(self.home, "control", name), "w") as f:
            f.write(text)

    def start(self):
        self.home = tempfile.mkdtemp(prefix="sqpks.", dir="/tmp")
        os.chmod(self.home, 0o755)
        os.mkdir(os.path.join(self.home, "control"))
        self.db = MariaDB().start()
        os.chmod(self.db.dir, 0o711)   # pksd (nobody) reaches the socket
        self.port = free_port()
        instance.setup(self.home, "ca", "Test CA")
        instance.setup(self.home, "pks", self.db.socket,
                       f"127.0.0.1:{self.port}", "test", "127.0.0.1")
        self.control("pksworkers", f"{self.workers}\n")
        for name, value in self.extra_control.items():
            self.control(name, value)
        for role in ROLES:
            self.cred[role] = instance.read_control(self.home, "pks" + role)
        self.start_pksd()
        return self

    def start_pksd(self):
        self.log = open(os.path.join(self.home, "pksd.log"), "ab")
        self.proc = subprocess.Popen(
            instance.argv("daemon", "pksd"), env=instance.env(self.home),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("pksd exited: " + self.log_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("pksd did not listen")

    def stop_pksd(self):
        proc.stop(self.proc)
        self.proc = None

    def stop(self):
        self.stop_pksd()
        if self.db:
            self.db.stop()
            self.db = None
        if self.home:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def log_text(self):
        return proc.read_text(os.path.join(self.home, "pksd.log"))

    # -- keys -------------------------------------------------------------------

    def make_key(self, address, password="correct horse battery"):
        """A PEK certificate for address (from the instance CA) and the PDK
        wrapped with password: (pek_pem, pdk_pem)."""
        work = tempfile.mkdtemp(dir=self.home)
        h = self.helper
        ca = os.path.join(self.home, "ca")
        key, pek, pdk = (os.path.join(work, n) for n in ("k", "pek", "pdk"))
        pw = os.path.join(work, "pw")
        with open(pw, "w") as f:
            f.write(password)
        self._run(h, "keygen", key)
        self._run(h, "issue", os.path.join(ca, "ca.key"),
                  os.path.join(ca, "ca.pem"), key, address, pek)
        self._run("sh", "-c", 'exec "$0" wrap "$1" "$2" 3<"$3"', h, key, pdk,
                  pw)
        out = (open(pek).read(), open(pdk).read())
        shutil.rmtree(work)
        return out

    # -- HTTP -------------------------------------------------------------------

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def curl(self, method, path, cred=None, body=None, extra=(),
             interface=None, timeout=20):
        """Runs curl; returns (http status, body text). Status 0: no reply."""
        args = ["curl", "-sS", "--max-time", str(timeout), "-X", method,
                "--cacert", os.path.join(self.home, "control", "ca.pem"),
                "-o", "-", "-w", "\n%{http_code}"]
        if cred:
            args += ["-u", cred]
        if interface:
            args += ["--interface", interface]
        if body is not None:
            args += ["-H", "Content-Type: application/json",
                      "--data-binary", "@-"]
        args += list(extra) + [self.url(path)]
        r = subprocess.run(args, input=body if isinstance(body, bytes)
                           else (body or "").encode(), capture_output=True,
                           timeout=timeout + 10)
        text, _, code = r.stdout.decode(errors="replace").rpartition("\n")
        return int(code or 0), text

    def call(self, method, path, role=None, doc=None, cred=None, **kw):
        """A JSON call as one of the role clients: (status, parsed or None)."""
        body = json.dumps(doc) if doc is not None else None
        status, text = self.curl(method, path, cred or self.cred.get(role),
                                 body, **kw)
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, None
