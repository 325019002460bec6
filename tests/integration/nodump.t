#!/usr/bin/env python3
"""Core dumps off or no run: each program that holds a password, a key,
a credential or plaintext and turns core dumps off at start (sq-popup,
sq-checkpw, sq-pop3d, sq-pdkcache, sq-pkslogin, sq-lspawn, ses-deluser, edh-ctl)
exits 111 with a log line when it cannot (prctl(PR_SET_DUMPABLE) made to
fail by tests/helpers/nodump-denied), rather than going on dumpable."""
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402

BIN = os.path.join(tap.build_dir(), "bin")
DENIED = os.path.join(tap.build_dir(), "tests", "helpers", "nodump-denied")
PROGRAMS = [("sq-popup",), ("sq-checkpw", "/bin/true"), ("sq-pop3d",),
            ("sq-pdkcache",), ("sq-pkslogin",), ("sq-lspawn",), ("ses-deluser", "--yes", "a@example.org"),
            ("edh-ctl", "list")]

home = tempfile.mkdtemp(prefix="sqnodump.")
try:
    @tap.scenario("no dump or no run")
    def _():
        for prog, *args in PROGRAMS:
            try:
                r = subprocess.run([DENIED, os.path.join(BIN, prog), *args],
                                   stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=30,
                                   env=dict(os.environ, SQ_HOME=home))
                rc, err = r.returncode, r.stderr.decode(errors="replace")
            except subprocess.TimeoutExpired:
                rc, err = None, "still running after 30 s"
            tap.ok(rc == 111 and "fatal: cannot disable core dumps" in err,
                   f"{prog}: exit 111 with a log line when core dumps "
                   "cannot be turned off", f"exit {rc}: {err}")
finally:
    os.rmdir(home)
tap.done()
