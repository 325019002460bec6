#!/usr/bin/env python3
"""tools/sq-mariadb and sqtest.mariadb: the throwaway MariaDB test fixture.

Everything here runs real mariadbd processes. Every instance lives under one
private base directory below /tmp, which is stopped and removed at the end,
also when a check fails or the script is interrupted.
"""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sqtest import tap  # noqa: E402

TOOL = os.path.join(tap.repo_root(), "tools", "sq-mariadb")
USER = "root" if os.getuid() == 0 else None   # None: the login name

for prog in ("mariadbd", "mariadb-install-db", "mariadb-admin", "mariadb"):
    if shutil.which(prog) is None and not os.path.exists("/usr/sbin/" + prog):
        tap.skip_all(f"{prog} not installed")

# ---- helpers ----------------------------------------------------------------


def tool(*args, timeout=40, env=None):
    """Run tools/sq-mariadb; a hang becomes a failed result, not a crash."""
    e = dict(os.environ)
    if env:
        e.update(env)
    try:
        return subprocess.run([TOOL, *args], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout, env=e)
    except subprocess.TimeoutExpired as x:
        return subprocess.CompletedProcess(
            x.cmd, None, "", f"timed out after {timeout}s")


def client(sock, statement, database=None):
    args = ["mariadb", "--no-defaults", "-S", sock, "-B", "-N"]
    if USER:
        args += ["-u", USER]
    if database:
        args += ["-D", database]
    return subprocess.run(args, input=statement, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0")
                    if a]
    except OSError:
        return []


def alive(pid):
    """True if pid runs (a zombie, with its empty cmdline, counts as gone)."""
    return bool(cmdline(pid))


def servers_for(datadir):
    """Pids of live mariadbd processes using datadir."""
    want = "--datadir=" + datadir
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        argv = cmdline(d[6:])
        if argv and os.path.basename(argv[0]) == "mariadbd" and want in argv:
            pids.append(int(d[6:]))
    return pids


def socket_inodes(pid):
    inodes = set()
    for fd in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def proc_net_inodes(name):
    """Inodes of the sockets in /proc/net/NAME (tcp, tcp6, unix)."""
    # tcp:  sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    # unix: Num RefCount Protocol Flags Type St Inode [Path]
    col = 6 if name == "unix" else 9
    inodes = set()
    try:
        with open(f"/proc/net/{name}") as f:
            f.readline()
            for line in f:
                fields = line.split()
                if len(fields) > col:
                    inodes.add(int(fields[col]))
    except (OSError, ValueError):
        pass
    return inodes


def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


base = tempfile.mkdtemp(prefix="sqt.", dir="/tmp")
# As root the servers run as mysql and must pass through base to their dirs.
os.chmod(base, 0o711)
dirs = []


def instance_dir(name):
    d = os.path.join(base, name)
    dirs.append(d)
    return d


def cleanup():
    for d in dirs:
        if os.path.isdir(d):
            tool("stop", d)
        for pid in servers_for(os.path.join(d, "data")):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(base, ignore_errors=True)


def on_signal(signum, frame):
    cleanup()
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGHUP, on_signal)

# ---- checks -----------------------------------------------------------------


def check_start_query_stop():
    d = instance_dir("a")
    data = os.path.join(d, "data")
    sock = os.path.join(d, "mysql.sock")

    r = tool("start", d)
    if not tap.ok(r.returncode == 0 and r.stdout == sock + "\n",
                  "start: exits 0 and prints the socket path",
                  f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"):
        return False

    with open(os.path.join(d, "mariadbd.pid")) as f:
        pid = int(f.read())
    tap.ok(servers_for(data) == [pid],
           "start: mariadbd.pid names the one mariadbd running on DIR/data",
           f"pid file {pid}, servers {servers_for(data)}")

    with open(os.path.join(d, "env")) as f:
        env = f.read()
    tap.is_(env, f"SQ_DB_SOCKET={sock}\nSQ_DB_PID={pid}\nSQ_DB_DIR={d}\n",
            "start: DIR/env holds SQ_DB_SOCKET, SQ_DB_PID and SQ_DB_DIR")
    sourced = subprocess.run(
        ["sh", "-c", '. "$1" && printf "%s|%s" "$SQ_DB_SOCKET" "$SQ_DB_DIR"',
         "sh", os.path.join(d, "env")],
        stdout=subprocess.PIPE, text=True)
    tap.is_(sourced.stdout, f"{sock}|{d}", "start: DIR/env is sourceable by sh")

    r = client(sock, "SELECT 1")
    tap.is_((r.returncode, r.stdout), (0, "1\n"),
            "server ready: SELECT 1 answers over the socket")

    r = client(sock, textwrap.dedent("""\
        CREATE DATABASE sqt;
        CREATE TABLE sqt.kv (k VARCHAR(32) PRIMARY KEY, v TEXT);
        INSERT INTO sqt.kv VALUES ('alice', 'x\\'y'), ('bob', 'z');
        """))
    r2 = client(sock, "SELECT k, v FROM kv ORDER BY k", database="sqt")
    tap.is_((r.returncode, r2.returncode, r2.stdout),
            (0, 0, "alice\tx'y\nbob\tz\n"),
            "server ready: CREATE DATABASE/TABLE, INSERT and SELECT round-trip")

    r = client(sock, "SELECT @@skip_networking, @@socket")
    tap.is_(r.stdout, f"1\t{sock}\n",
            "server reports skip_networking on and DIR/mysql.sock as socket")

    inodes = socket_inodes(pid)
    tap.ok(inodes & proc_net_inodes("unix"),
           "no-TCP check is live: the server's fds map to its unix socket "
           "in /proc/net/unix", f"fds {inodes}")
    tcp = inodes & (proc_net_inodes("tcp") | proc_net_inodes("tcp6"))
    tap.ok(not tcp, "no TCP socket (listening or not) belongs to mariadbd "
           "(/proc/net/tcp, tcp6)", f"tcp inodes {tcp}")

    r = tool("start", d)
    tap.ok(r.returncode == 1 and "already running" in r.stderr
           and servers_for(data) == [pid],
           "start on a running DIR fails clearly and leaves the server alone",
           f"exit {r.returncode}\nstderr: {r.stderr}")

    t0 = time.monotonic()
    r = tool("stop", d)
    tap.ok(r.returncode == 0 and r.stdout == "" and r.stderr == "",
           "stop: exits 0 quietly", f"exit {r.returncode}\n{r.stderr}")
    tap.ok(not alive(pid) and not servers_for(data),
           "stop: the mariadbd process is gone")
    tap.ok(not os.path.exists(sock) and
           not os.path.exists(os.path.join(d, "mariadbd.pid")) and
           not os.path.exists(os.path.join(d, "env")),
           "stop: socket, mariadbd.pid and env are removed")
    tap.ok(time.monotonic() - t0 < 20, "stop: a TERM was enough (no 30 s KILL)")

    r = tool("stop", d)
    tap.ok(r.returncode == 0 and r.stdout == "" and r.stderr == "",
           "stop on a stopped instance succeeds quietly",
           f"exit {r.returncode}\n{r.stderr}")

    install_log = os.path.join(d, "install.log")
    before = os.stat(install_log).st_mtime_ns
    r = tool("start", d)
    r2 = client(sock, "SELECT v FROM sqt.kv WHERE k = 'bob'") \
        if r.returncode == 0 else r
    tap.ok(r.returncode == 0 and r2.stdout == "z\n" and
           os.stat(install_log).st_mtime_ns == before,
           "restart of an existing DIR skips install and keeps the data",
           f"exit {r.returncode}\n{r.stderr}\n{r2.stdout}")
    tool("stop", d)
    tap.ok(not servers_for(data), "stop after the restart leaves no server")
    return True


# Options that turn every part of sq-mariadb's data-at-rest encryption off;
# given to start they override its own, for the control half of the test.
ENCRYPTION_OFF = ["--innodb-encrypt-tables=OFF", "--innodb-encrypt-log=OFF",
                  "--innodb-encrypt-temporary-tables=OFF",
                  "--innodb-encryption-threads=0", "--encrypt-tmp-files=OFF",
                  "--encrypt-tmp-disk-tables=OFF", "--aria-encrypt-tables=OFF",
                  "--encrypt-binlog=OFF"]


def files_holding(datadir, needle):
    """Paths of the files under datadir whose bytes contain needle."""
    found = []
    for top, _, names in os.walk(datadir):
        for name in names:
            path = os.path.join(top, name)
            try:
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append(os.path.relpath(path, datadir))
            except OSError:
                pass
    return sorted(found)


def marker_run(name, *options):
    """Start an instance with options, write a marker into an InnoDB table
    (and an update, so the old value passes through undo and redo), stop it
    after a slow shutdown (every page flushed, the undo purged), and return
    (instance dir, files of the datadir holding the marker, encryption rows,
    error text or None)."""
    d = instance_dir(name)
    marker = "sqmark" + os.urandom(12).hex()
    r = tool("start", d, *options)
    if r.returncode != 0:
        return d, [], "", f"start: exit {r.returncode}\n{r.stderr}"
    sock = os.path.join(d, "mysql.sock")
    r = client(sock, textwrap.dedent(f"""\
        CREATE DATABASE pksenc;
        CREATE TABLE pksenc.keyrow (id INT PRIMARY KEY, v VARCHAR(64),
            w TEXT) ENGINE=InnoDB;
        INSERT INTO pksenc.keyrow VALUES (1, '{marker}', '{marker}');
        UPDATE pksenc.keyrow SET v = 'x' WHERE id = 1;
        SELECT NAME, ENCRYPTION_SCHEME, CURRENT_KEY_ID
            FROM information_schema.INNODB_TABLESPACES_ENCRYPTION
            ORDER BY NAME;
        SET GLOBAL innodb_fast_shutdown = 0;
        """))
    stop = tool("stop", d)
    err = None
    if r.returncode != 0 or stop.returncode != 0:
        err = f"sql: {r.stderr}\nstop: {stop.stderr}"
    return (d, files_holding(os.path.join(d, "data"), marker.encode()),
            r.stdout, err)


def check_encryption():
    # Control: with the encryption turned off, the byte search works.
    d, found, _, err = marker_run("plain", *ENCRYPTION_OFF)
    tap.ok(err is None and "pksenc/keyrow.ibd" in found,
           "encryption off: the marker is found in the table's file, so a "
           "byte search of the datadir sees stored rows",
           f"{err}\nfound in {found}")

    # The default: the same row leaves no trace in any file.
    d, found, rows, err = marker_run("enc")
    tap.ok(err is None and found == [],
           "encryption on (the default): no datadir file holds the marker "
           "after a slow shutdown (tables, ibdata1, redo log, Aria log)",
           f"{err}\nfound in {found}")
    spaces = dict((line.split("\t")[0], line.split("\t")[1:])
                  for line in rows.splitlines() if line)
    tap.ok(spaces.get("pksenc/keyrow") == ["1", "1"]
           and spaces.get("innodb_system") == ["1", "1"]
           and all(v[0] == "1" for v in spaces.values()),
           "INNODB_TABLESPACES_ENCRYPTION: the table, the system tablespace "
           "and every other tablespace are encrypted with key id 1",
           rows)

    key = os.path.join(d, "db.key")
    st = os.stat(key)
    owner = "mysql" if os.getuid() == 0 else None
    want_uid = (pwd.getpwnam(owner).pw_uid if owner
                else os.getuid())
    with open(key) as f:
        text = f.read()
    tap.ok(st.st_mode & 0o777 == 0o400 and st.st_uid == want_uid
           and len(text) == 67 and text.startswith("1;")
           and all(c in "0123456789abcdef" for c in text[2:66])
           and text.endswith("\n"),
           "DIR/db.key: mode 0400, owned by the server's user, one line "
           "1;<64 hex digits>", f"mode {oct(st.st_mode)} uid {st.st_uid}")

    # A restart keeps the key and reads the encrypted data back.
    r = tool("start", d)
    r2 = client(os.path.join(d, "mysql.sock"),
                "SELECT id, v FROM pksenc.keyrow") if r.returncode == 0 else r
    with open(key) as f:
        same = f.read() == text
    tool("stop", d)
    tap.ok(r.returncode == 0 and r2.stdout == "1\tx\n" and same,
           "restart keeps DIR/db.key and reads the encrypted rows back",
           f"exit {r.returncode}\n{r.stderr}\n{r2.stdout}")

    # Without its key an installed datadir is not started at all.
    os.rename(key, key + ".away")
    r = tool("start", d)
    tap.ok(r.returncode == 1 and "db.key is missing" in r.stderr
           and not servers_for(os.path.join(d, "data")),
           "start refuses an installed datadir whose db.key is gone",
           f"exit {r.returncode}\n{r.stderr}")


def check_run():
    # CMD's exit status comes back, SQ_DB_* are exported, the temp dir goes.
    out = os.path.join(base, "run.out")
    r = tool("run", "--", "sh", "-c",
             'printf "%s\\n%s\\n" "$SQ_DB_SOCKET" "$SQ_DB_DIR" >"$1"; '
             'mariadb --no-defaults -S "$SQ_DB_SOCKET" -N -e "SELECT 7" '
             '>>"$1"; exit 3', "sh", out)
    try:
        with open(out) as f:
            sock, d, seven = f.read().split("\n")[:3]
    except (OSError, ValueError):
        sock = d = seven = ""
    tap.ok(r.returncode == 3 and sock == os.path.join(d, "mysql.sock")
           and seven == "7",
           "run without DIR: CMD sees SQ_DB_SOCKET/SQ_DB_DIR, reaches the "
           "server, and its exit status (3) is returned",
           f"exit {r.returncode}\nstderr: {r.stderr}\nsock {sock!r} dir {d!r}")
    tap.ok(d.startswith("/tmp/") and not os.path.exists(d)
           and not servers_for(os.path.join(d, "data")),
           "run without DIR: the mktemp directory is removed, no server left",
           f"dir {d!r}")

    d = instance_dir("f")
    r = tool("run", d, "--", "false")
    tap.ok(r.returncode != 0 and not servers_for(os.path.join(d, "data"))
           and not os.path.exists(os.path.join(d, "mysql.sock")),
           "run DIR -- false: exits non-zero and no mariadbd is left on DIR",
           f"exit {r.returncode}\nstderr: {r.stderr}")

    # CMD signals its parent, the run script, then keeps sleeping.
    d = instance_dir("s")
    t0 = time.monotonic()
    r = tool("run", d, "--", "sh", "-c", "kill -TERM $PPID; sleep 30")
    took = time.monotonic() - t0
    tap.ok(r.returncode == 143 and took < 15
           and not servers_for(os.path.join(d, "data")),
           "run: TERM from CMD stops the server and run exits 143 promptly",
           f"exit {r.returncode} after {took:.1f}s\nstderr: {r.stderr}")

    # The test sends TERM to the run process while CMD is running.
    d = instance_dir("t")
    ready = os.path.join(base, "t.ready")
    with open(os.path.join(base, "t.log"), "w") as log:
        p = subprocess.Popen([TOOL, "run", d, "--", "sh", "-c",
                              'echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && '
                              'exec sleep 30', "sh", ready],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            up = wait_for(lambda: os.path.exists(ready), 60)
            serving = bool(servers_for(os.path.join(d, "data")))
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=40)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    took = time.monotonic() - t0
    child = int(open(ready).read()) if up else 0
    gone = wait_for(lambda: not alive(child), 5) if child else False
    tap.ok(up and serving and rc == 143 and took < 15
           and not servers_for(os.path.join(d, "data"))
           and not os.path.exists(os.path.join(d, "mysql.sock")) and gone,
           "run: TERM to the run process stops CMD and the server, exit 143",
           f"up {up} serving {serving} exit {rc} after {took:.1f}s, "
           f"CMD gone {gone}")


def check_failures():
    d = instance_dir("bad")
    t0 = time.monotonic()
    r = tool("start", d, "--innodb-buffer-pool-size=1")
    took = time.monotonic() - t0
    tap.ok(r.returncode == 1 and "exited during startup" in r.stderr
           and "[ERROR]" in r.stderr and took < 30,
           "start with an option mariadbd rejects fails fast, showing "
           "error.log", f"exit {r.returncode} after {took:.1f}s\n{r.stderr}")
    tap.ok(not servers_for(os.path.join(d, "data"))
           and not os.path.exists(os.path.join(d, "mariadbd.pid"))
           and not os.path.exists(os.path.join(d, "env")),
           "failed start leaves no process, pid file or env behind")

    long_dir = os.path.join(base, "l" * (100 - len(base)))
    r = tool("start", long_dir)
    tap.ok(r.returncode == 1 and "shorter than 100" in r.stderr
           and not os.path.exists(long_dir),
           "start with a socket path of 100+ bytes fails clearly and "
           "creates nothing", f"exit {r.returncode}\n{r.stderr}")

    r = tool("start", d, "--socket=/tmp/elsewhere.sock")
    tap.ok(r.returncode == 2 and "cannot be given" in r.stderr,
           "start refuses options that would move the socket or datadir",
           f"exit {r.returncode}\n{r.stderr}")

    bad = [tool(), tool("frob"), tool("start"), tool("stop"),
           tool("stop", "a", "b"), tool("run"), tool("run", "x"),
           tool("run", "--"), tool("run", "x", "y")]
    tap.ok(all(r.returncode == 2 and r.stderr.startswith("usage: sq-mariadb")
               for r in bad),
           "usage errors exit 2 with a usage line",
           "\n".join(f"exit {r.returncode}: {r.stderr}" for r in bad))


def check_python_class():
    from sqtest.mariadb import MariaDB

    with MariaDB() as db:
        d, sock, pid = db.dir, db.socket, db.pid
        tap.ok(os.path.exists(sock) and alive(pid)
               and db.sql("SELECT 1") == "1\n"
               and db.sql("CREATE DATABASE p; CREATE TABLE p.t (n INT);"
                          "INSERT INTO p.t VALUES (5);") == ""
               and db.sql("SELECT n + 1 FROM t", database="p") == "6\n",
               "MariaDB(): with-block gives a working server and sql()")
    tap.ok(not alive(pid) and not os.path.exists(d)
           and not servers_for(os.path.join(d, "data")),
           "MariaDB(): leaving the with-block stops it and removes its dir")

    # A helper process that never stops its server: atexit must, and a
    # SIGTERM handler must too.
    prog = textwrap.dedent("""\
        import sys, time
        sys.dont_write_bytecode = True
        sys.path.insert(0, sys.argv[1])
        from sqtest.mariadb import MariaDB
        db = MariaDB().start()
        print(db.dir, db.pid, flush=True)
        if sys.argv[2] == "wait":
            time.sleep(60)
        """)
    here = os.path.dirname(os.path.abspath(__file__))
    for how in ("exit", "wait"):
        p = subprocess.Popen([sys.executable, "-c", prog, here, how],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             text=True)
        try:
            line = p.stdout.readline().split()
            if how == "wait" and line:
                p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
        if len(line) == 2:
            d, pid = line[0], int(line[1])
            dirs.append(d)
            clean = (not alive(pid) and not os.path.exists(d)
                     and not servers_for(os.path.join(d, "data")))
        else:
            clean = False
        want = 0 if how == "exit" else -signal.SIGTERM
        tap.ok(clean and rc == want,
               "MariaDB(): cleaned up by atexit when the program just exits"
               if how == "exit" else
               "MariaDB(): cleaned up by its SIGTERM handler, which then "
               "dies of SIGTERM", f"line {line} exit {rc}")


try:
    @tap.scenario("sq-mariadb start, query, stop")
    def _():
        if not check_start_query_stop():
            tap.diag("start failed; skipping the rest of that group")
    tap.scenario("sq-mariadb run", check_run)
    tap.scenario("sq-mariadb failures", check_failures)
    tap.scenario("sq-mariadb encrypts data at rest", check_encryption)
    tap.scenario("sqtest.mariadb class", check_python_class)
finally:
    cleanup()
tap.done()
