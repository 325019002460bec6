"""A throwaway MariaDB server for integration tests, via tools/sq-mariadb.

    from sqtest.mariadb import MariaDB

    with MariaDB() as db:
        db.sql("CREATE DATABASE mail")
        print(db.sql("SELECT 1"))       # "1\\n"
        run_daemon(socket=db.socket)

The server lives in a fresh directory under /tmp, listens on its unix socket
only, and lets the current system user in through unix_socket authentication
(as "root" when run as root, otherwise as the login name). It is stopped and
its directory removed when the with block ends, at interpreter exit, and on
SIGTERM or SIGHUP.
"""
import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading

from . import tap

TOOL = os.path.join(tap.repo_root(), "tools", "sq-mariadb")

_live = set()           # instances not yet stopped
_lock = threading.Lock()
_handlers_installed = False
_previous = {}          # signal number -> handler before ours


class MariaDBError(RuntimeError):
    pass


def _db_user():
    if os.getuid() == 0:
        return "root"
    return pwd.getpwuid(os.getuid()).pw_name


def _stop_all():
    with _lock:
        live = list(_live)
    for db in live:
        db.stop()


def _on_signal(signum, frame):
    _stop_all()
    prev = _previous.get(signum, signal.SIG_DFL)
    if callable(prev):
        prev(signum, frame)
        return
    if prev == signal.SIG_IGN:
        return
    # Default action: die of the same signal, so the exit status says so.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    if threading.current_thread() is not threading.main_thread():
        return      # signal handlers can only be set from the main thread
    for signum in (signal.SIGTERM, signal.SIGHUP):
        prev = signal.getsignal(signum)
        if prev is _on_signal:
            continue
        _previous[signum] = prev
        signal.signal(signum, _on_signal)
    atexit.register(_stop_all)
    _handlers_installed = True


class MariaDB:
    """A private MariaDB server; start() or use it as a context manager.

    Attributes (set once started): dir, socket, pid, user.
    """

    def __init__(self, timeout=60):
        self.timeout = timeout
        self.dir = None
        self.socket = None
        self.pid = None
        self.user = _db_user()
        self._starting = None

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        if self.dir is not None:
            raise MariaDBError("already started")
        _install_handlers()
        # Short path: the socket path must stay below 100 bytes.
        self.dir = tempfile.mkdtemp(prefix="sqdb.", dir="/tmp")
        with _lock:
            _live.add(self)
        env = dict(os.environ, SQ_DB_TIMEOUT=str(self.timeout))
        try:
            self._starting = subprocess.Popen(
                [TOOL, "start", self.dir], stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=env)
            out, err = self._starting.communicate(timeout=self.timeout + 30)
            rc = self._starting.returncode
        except BaseException:
            self.stop()
            raise
        finally:
            self._starting = None
        if rc != 0:
            self.stop()
            raise MariaDBError(f"sq-mariadb start failed (exit {rc}):\n{err}")
        self.socket = out.strip()
        self.pid = int(self._env().get("SQ_DB_PID", "0")) or None
        return self

    def stop(self):
        """Stop the server and remove its directory; safe to call twice."""
        with _lock:
            if self not in _live:
                return
            _live.discard(self)
        starting = self._starting
        if starting is not None and starting.poll() is None:
            # Interrupted mid-start: let the script's own trap clean up.
            starting.terminate()
            try:
                starting.wait(timeout=60)
            except subprocess.TimeoutExpired:
                starting.kill()
        if self.dir is not None and os.path.isdir(self.dir):
            subprocess.run([TOOL, "stop", self.dir], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, timeout=90)
            shutil.rmtree(self.dir, ignore_errors=True)
        self.socket = None
        self.pid = None

    def pause(self):
        """Stop the server but keep its data, as for an outage."""
        subprocess.run([TOOL, "stop", self.dir], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, check=True, timeout=90)

    def resume(self):
        """Start the paused server again on the same socket and data (the
        directory's mode kept: a client may have been let in)."""
        mode = os.stat(self.dir).st_mode & 0o777
        env = dict(os.environ, SQ_DB_TIMEOUT=str(self.timeout))
        r = subprocess.run([TOOL, "start", self.dir], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, env=env,
                           timeout=self.timeout + 30)
        if r.returncode != 0:
            raise MariaDBError(f"sq-mariadb start failed: {r.stderr}")
        os.chmod(self.dir, mode)
        self.pid = int(self._env().get("SQ_DB_PID", "0")) or None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- use ---------------------------------------------------------------

    def client_args(self, database=None):
        """argv for the mariadb client connected to this server."""
        if self.socket is None:
            raise MariaDBError("not started")
        args = ["mariadb", "--no-defaults", "-S", self.socket,
                "-u", self.user, "--batch", "--skip-column-names"]
        if database is not None:
            args += ["-D", database]
        return args

    def sql(self, statement, database=None):
        """Run SQL (one or more statements); return the client's stdout.

        Output is in batch form: no column names, tab-separated columns, one
        row a line. Raises MariaDBError if the client fails.
        """
        r = subprocess.run(self.client_args(database), input=statement,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise MariaDBError(f"mariadb failed (exit {r.returncode}): "
                               f"{r.stderr.strip()}\nstatement: {statement}")
        return r.stdout

    def _env(self):
        env = {}
        try:
            with open(os.path.join(self.dir, "env")) as f:
                for line in f:
                    key, sep, value = line.rstrip("\n").partition("=")
                    if sep:
                        env[key] = value
        except OSError:
            pass
        return env
