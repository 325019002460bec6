"""Durability observed, not inferred: the fsync, link and rename calls a
process tree makes, in order, read from strace(1) (-f follows children,
-y shows each descriptor as its path, -ttt -T give each call's start and
duration on the wall clock).

    with Trace(pid=edhd.pid) as t:       # or Trace(argv=[...]) and t.run()
        ... deliver ...
    for e in t.events(): e.call, e.paths, e.start, e.end, e.ok

A kill -9 leaves the page cache, so no crash test can see a missing
fsync; these can. available() says whether strace can be used here.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

CALLS = "fsync,fdatasync,link,linkat,rename,renameat,renameat2"
LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)"
                  r"(?:\s+\w+)?.*<(\d+\.\d+)>$")
FD = re.compile(r"(?:\d+|AT_FDCWD)<([^>]*)>")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


class Event:
    def __init__(self, call, args, start, duration, ret):
        self.call = call
        self.start = start
        self.end = start + duration
        self.ok = ret == 0
        self.paths = _paths(call, args)

    def __repr__(self):
        return f"{self.call}{self.paths}"


def _paths(call, args):
    """fsync: [the file]; link and rename: [from, to], each made whole
    from its directory descriptor's path where one is given."""
    if call in ("fsync", "fdatasync"):
        return FD.findall(args)[:1]
    if call in ("link", "rename"):
        return STRING.findall(args)[:2]
    # linkat/renameat(dirfd, "name", dirfd, "name", ...)
    parts, out = args.split(", "), []
    for i in (0, 2):
        d = FD.match(parts[i])
        name = parts[i + 1].strip('"')
        out.append(name if name.startswith("/") or not d
                   else os.path.join(d.group(1), name))
    return out


def available():
    """None when strace can trace here, else why not."""
    if not shutil.which("strace"):
        return "strace is not installed"
    p = subprocess.run(["strace", "-o", "/dev/null", "true"],
                       capture_output=True, text=True)
    return None if p.returncode == 0 else "strace cannot trace: " + p.stderr


class Trace:
    """strace over a new command (argv) or a running process tree (pid)."""

    def __init__(self, argv=None, pid=None):
        self.dir = tempfile.mkdtemp(prefix="sqtrace.")
        self.out = os.path.join(self.dir, "trace")
        self.base = ["strace", "-f", "-ttt", "-T", "-y", "-e",
                     "trace=" + CALLS, "-o", self.out]
        self.argv, self.pid, self.proc = argv, pid, None

    def run(self, **kw):
        """Runs argv under strace to its end (subprocess.run's keywords);
        the CompletedProcess. LeakSanitizer cannot run under ptrace and
        would fail the sanitizer build's exit: it is off for the traced
        run (the untraced runs of the suite still look for leaks)."""
        env = dict(kw.pop("env", None) or os.environ)
        env["ASAN_OPTIONS"] = ":".join(
            filter(None, [env.get("ASAN_OPTIONS", ""), "detect_leaks=0"]))
        return subprocess.run(self.base + self.argv, env=env, **kw)

    def __enter__(self):
        if self.pid:
            self.proc = subprocess.Popen(self.base + ["-p", str(self.pid)],
                                         stderr=subprocess.PIPE, text=True)
            # strace says "Process N attached" once it is in place
            line = self.proc.stderr.readline()
            if "attached" not in line:
                raise RuntimeError("strace -p: " + line)
        return self

    def __exit__(self, *exc):
        if self.proc:
            time.sleep(0.2)     # the calls of the last reply reach the file
            self.proc.terminate()
            self.proc.wait(timeout=10)
        return False

    def events(self):
        out = []
        with open(self.out) as f:
            for line in f:
                m = LINE.match(line.strip())
                if m:
                    out.append(Event(m.group(3), m.group(4),
                                     float(m.group(2)), float(m.group(6)),
                                     int(m.group(5))))
        return out

    def text(self):
        with open(self.out) as f:
            return f.read()

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def first(events, call, test=lambda e: True, after=-1):
    """The index of the first successful event of call (a name or a tuple
    of names) after index after for which test holds, or None."""
    names = (call,) if isinstance(call, str) else call
    for i, e in enumerate(events):
        if i > after and e.call in names and e.ok and test(e):
            return i
    return None
