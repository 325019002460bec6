#!/usr/bin/env python3
"""The README's Quick start, exactly as printed: `make run`'s instance
(tools/run-instance, in a directory of its own), then the commands of the
README's quickstart block, run from a directory whose run/ is that
instance. The message comes back over POP3 with STLS; SIGTERM stops
everything the instance started; a daemon that dies is named, and stops
the rest, within seconds. Skipped when its fixed ports are taken
(a `make run` of the developer's own)."""
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import proc, tap  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PORTS = (2525, 1110, 1995, 7443, 7024, 7025)


def busy(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def quickstart_block():
    text = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"<!-- quickstart -->\n```sh\n(.*?)```\n<!-- /quickstart -->",
                  text, re.S)
    return m.group(1) if m else ""


taken = [p for p in PORTS if busy(p)]
if taken:
    tap.skip_all(f"ports {taken} are in use (a make run of your own?)")
work = tempfile.mkdtemp(prefix="sqquick.", dir="/tmp")
os.chmod(work, 0o755)
inst = os.path.join(work, "instance")
os.symlink(inst, os.path.join(work, "run"))
log = open(os.path.join(work, "run.log"), "wb")
run = subprocess.Popen(["sh", os.path.join(ROOT, "tools", "run-instance"),
                        tap.build_dir()], cwd=ROOT, stdout=log, stderr=log,
                       env=dict(os.environ, SQ_RUN_DIR=inst),
                       start_new_session=True)
gone = None     # ses-deluser's result, for the restart
current = log.name      # the log of the run-instance that runs now
try:
    deadline = time.time() + 180
    while time.time() < deadline and run.poll() is None and \
            b"Press Ctrl-C" not in open(log.name, "rb").read():
        time.sleep(0.2)
    started = b"Press Ctrl-C" in open(log.name, "rb").read()

    @tap.scenario("make run starts")
    def _():
        tap.ok(started, "make run's instance starts and says how to use it",
               proc.read_text(log.name)[-2000:])
        # at once, no retry: the quick start's swaks runs the moment the
        # banner appears (an ASan build's sq-smtpd once bound after it)
        closed = [p for p in (2525, 1110, 1995) if not busy(p)]
        tap.ok(started and not closed,
               "SMTP, POP3 and POP3S accept connections when it says so",
               closed)

    @tap.scenario("the README's quickstart commands")
    def _():
        block = quickstart_block()
        r = subprocess.run(["sh", "-ec", block], cwd=work, capture_output=True,
                           text=True, timeout=120)
        tap.ok(block and r.returncode == 0 and "Subject: hello" in r.stdout and
               "sealed at rest" in r.stdout,
               "the README's commands send the message and read it back",
               block + r.stdout[-1500:] + r.stderr[-1500:] +
               proc.read_text(log.name)[-2000:])
        # swaks's lines begin with arrows: a line that begins so is curl's
        tap.ok(re.search(r"^Received: from .*^Subject: hello$", r.stdout,
                         re.M | re.S),
               "curl prints it from the Received: line on", r.stdout[-600:])

    # RFC 5321 4.5.1: the instance takes mail for postmaster, sealed for
    # the demo subscriber (control/postmaster)
    @tap.scenario("postmaster")
    def _():
        code = 0
        try:
            s = smtplib.SMTP("127.0.0.1", 2525, timeout=30)
            s.ehlo()
            s.mail("someone@remote.example")
            code = s.rcpt("<Postmaster>")[0]
            s.quit()
        except (OSError, smtplib.SMTPException) as e:
            tap.diag(e)
        tap.ok(code == 250 and proc.read_text(os.path.join(
            inst, "control", "postmaster")) == "demo@example.org\n",
            "postmaster is taken, as the demo subscriber", code)

    # the demo subscriber removed: the next start makes it again
    @tap.scenario("SIGTERM stops everything")
    def _():
        global gone
        gone = subprocess.run([os.path.join(tap.build_dir(), "bin", "ses-deluser"),
                               "--yes", "demo@example.org"], capture_output=True,
                              text=True, timeout=120,
                              env=dict(os.environ, SQ_HOME=inst))
        t0 = time.time()
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=120)   # sanitizer builds stop slowly
        except subprocess.TimeoutExpired:
            pass
        # every daemon the banner names, whatever its command line
        named = [int(n) for n in re.findall(r"\bpid (\d+)",
                                             proc.read_text(log.name))]

        def alive(n):   # a zombie is gone, only not yet reaped
            try:
                stat = open(f"/proc/{n}/stat", "rb").read()
            except OSError:
                return False
            return stat.rsplit(b")", 1)[1].split()[0] != b"Z"
        left = []
        for _ in range(100):
            left = subprocess.run(["pgrep", "-af", work], capture_output=True,
                                  text=True).stdout.splitlines()
            left += [f"pid {n}" for n in named if alive(n)]
            if not left:
                break
            time.sleep(0.3)
        tap.ok(run.poll() is not None and named and not left and
               not any(busy(p) for p in PORTS),
               "SIGTERM stops everything it started",
               f"after {time.time() - t0:.1f} s, exit {run.poll()}, left: {left}"
               + proc.read_text(log.name)[-1500:])

    @tap.scenario("a restart remakes the demo subscriber")
    def _():
        global run, current
        log2 = open(os.path.join(work, "run2.log"), "wb")
        current = log2.name
        run = subprocess.Popen(["sh", os.path.join(ROOT, "tools", "run-instance"),
                                tap.build_dir()], cwd=ROOT, stdout=log2,
                               stderr=log2, env=dict(os.environ, SQ_RUN_DIR=inst),
                               start_new_session=True)
        deadline = time.time() + 180
        while time.time() < deadline and run.poll() is None and \
                b"Press Ctrl-C" not in open(log2.name, "rb").read():
            time.sleep(0.2)
        text = proc.read_text(log2.name)
        password = open(os.path.join(inst, "demo-password")).read().strip()
        assign = open(os.path.join(inst, "users", "assign")).read()
        tap.ok(gone.returncode == 0 and "Press Ctrl-C" in text and
               f"password     {password}" in text and
               "=example.org-demo:" in assign,
               "a start without the demo subscriber makes it again and shows it",
               gone.stdout + gone.stderr + text[-2000:])
        # still running: the next scenario kills one of its daemons
    # a daemon that dies: make run says which and stops, within seconds
    @tap.scenario("a dead daemon is noticed")
    def _():
        global run
        name = current
        if run.poll() is not None:
            name = os.path.join(work, "run3.log")
            with open(name, "wb") as log3:
                run = subprocess.Popen(
                    ["sh", os.path.join(ROOT, "tools", "run-instance"),
                     tap.build_dir()], cwd=ROOT, stdout=log3, stderr=log3,
                    env=dict(os.environ, SQ_RUN_DIR=inst),
                    start_new_session=True)
            deadline = time.time() + 180
            while time.time() < deadline and run.poll() is None and \
                    b"Press Ctrl-C" not in open(name, "rb").read():
                time.sleep(0.2)
        m = re.search(r"^  edhd .*\(pid (\d+)\)$", proc.read_text(name), re.M)
        if m:
            os.kill(int(m.group(1)), signal.SIGKILL)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        text = proc.read_text(name)
        tap.ok(m and run.poll() == 1 and
               f"run-instance: edhd (pid {m.group(1)}) ended" in text,
               "make run notices a daemon that died within seconds, names "
               "it and stops", text[-1500:])

finally:
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    subprocess.run(["sh", os.path.join(ROOT, "tools", "sq-mariadb"), "stop",
                    os.path.join(inst, "mariadb")], capture_output=True)
    subprocess.run(["rm", "-rf", work])
tap.done()
