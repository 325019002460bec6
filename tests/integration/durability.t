#!/usr/bin/env python3
"""Durability observed: the fsync, link and rename calls themselves, in
the order sq-queue(8), sq-edh(5) and atomicfile promise, read by strace
(sqtest.syscalls). A kill -9 cannot show a missing fsync (the page cache
survives it); a missing or late call here fails the check.
- sq-queue: the message (its file and mess/'s directory) and its
  envelope (intd/N) are on disk before todo/ names the message, and
  todo/ is synced before sq-queue exits 0 (what sq-smtpd's 250 waits on).
- edhd: a message's file is synced, linked into new/, and new/ synced,
  all before the LMTP 250 reaches the client.
- ses-adduser: every file it puts in place under the instance (users/
  assign, users/cdb, the .qmail file, its journal) is synced under its
  temporary name before the rename, and its directory after."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import syscalls, tap  # noqa: E402
from sqtest.edh import EDH, sealed_message, transaction, wire  # noqa: E402
from sqtest.pks import PKS  # noqa: E402

SYNC = ("fsync", "fdatasync")
LINK = ("link", "linkat", "rename", "renameat", "renameat2")
BOX = "1a2b3c4d-7"


def under(path, *parts):
    """e's first path is below home/parts..."""
    prefix = os.path.join(*parts) + "/"
    return lambda e: e.paths and e.paths[0].startswith(prefix)


def is_dir(path):
    return lambda e: e.paths and e.paths[0] == path


def order(names, events):
    """Diagnostics: the events, one a line."""
    return "\n".join(f"{e.call} {e.paths} ok={e.ok}" for e in events) + \
        "\n(" + ", ".join(names) + ")"


def sq_queue(work):
    home = os.path.join(work, "queue-home")
    os.makedirs(home)
    binary = os.path.join(tap.build_dir(), "bin", "sq-queue")
    env = dict(os.environ, SQ_HOME=home)
    subprocess.run([binary, "--init"], env=env, check=True, timeout=60)
    msg, envl = os.path.join(work, "msg"), os.path.join(work, "env")
    with open(msg, "wb") as f:
        f.write(b"Subject: durable\r\n\r\nbody\r\n")
    with open(envl, "wb") as f:
        f.write(b"Fa@example.org\0Tb@example.org\0\0")
    t = syscalls.Trace([binary])
    with open(msg, "rb") as fin, open(envl, "rb") as fenv:
        p = t.run(stdin=fin, stdout=fenv, env=env, timeout=60)
    ev = t.events()
    q = os.path.join(home, "queue")
    tap.ok(p.returncode == 0, "sq-queue queues the message under strace",
           t.text())
    mess = syscalls.first(ev, LINK, lambda e: e.paths[1].startswith(
        os.path.join(q, "mess") + "/"))
    todo = syscalls.first(ev, LINK, lambda e: e.paths[1].startswith(
        os.path.join(q, "todo") + "/"))
    tap.ok(mess is not None and todo is not None and mess < todo,
           "sq-queue links the message into mess/, later its envelope "
           "into todo/", order(["mess link", "todo link"], ev))
    if mess is None or todo is None:
        return
    # the message is written through the descriptor of its pid/ file
    body = syscalls.first(ev, SYNC, lambda e: e.paths[0] in (
        ev[mess].paths[0], ev[mess].paths[1]), after=mess)
    messdir = syscalls.first(ev, SYNC, is_dir(
        os.path.dirname(ev[mess].paths[1])), after=mess)
    intd = syscalls.first(ev, SYNC, is_dir(ev[todo].paths[0]))
    todosync = syscalls.first(ev, SYNC, is_dir(
        os.path.dirname(ev[todo].paths[1])), after=todo)
    tap.ok(body is not None and body < todo,
           "the message's file is fsynced before todo/ names it",
           order(["body"], ev))
    tap.ok(messdir is not None and messdir < todo,
           "mess/'s directory is fsynced before todo/ names the message",
           order(["mess dir"], ev))
    tap.ok(intd is not None and intd < todo,
           "the envelope (intd/N) is fsynced before its link into todo/",
           order(["intd"], ev))
    tap.ok(todosync is not None,
           "todo/ is fsynced after the link, before sq-queue exits 0",
           order(["todo dir"], ev))


def edhd_commit(work):
    msg = sealed_message(work)
    with EDH() as edh:
        # traced from before the connection: edhd forks a child for it
        with syscalls.Trace(pid=edh.proc.pid) as t:
            s = edh.lmtp()
            _, final = transaction(s, BOX, wire(msg))
            answered = time.time()
        ev = t.events()
        tap.ok(final and final.startswith("250"),
               "edhd answers 250 to a sealed message under strace", final)
        box = edh.path(f"maildirs/{BOX}")
        link = syscalls.first(ev, LINK, lambda e: e.paths[1].startswith(
            os.path.join(box, "new") + "/"))
        tap.ok(link is not None and ev[link].paths[0].startswith(
               os.path.join(box, "tmp") + "/"),
               "edhd links the message from tmp/ into new/", order([], ev))
        if link is None:
            return
        body = syscalls.first(ev, SYNC, lambda e: e.paths[0] in (
            ev[link].paths[0], ev[link].paths[1]))
        newdir = syscalls.first(ev, SYNC, is_dir(
            os.path.join(box, "new")), after=link)
        tap.ok(body is not None and body < link,
               "the message's file is fsynced before new/ names it",
               order(["file"], ev))
        tap.ok(newdir is not None and ev[newdir].end <= answered,
               "new/ is fsynced after the link and before the 250 reaches "
               "the client", order(["new/"], ev))


def provisioning():
    with PKS() as pks:
        home = pks.home
        with open(os.path.join(home, "control", "deliveryuser"), "w") as f:
            f.write("nobody\n")
        argv = ["sh", "-c", 'exec "$@" 3<&0', "sh",
                os.path.join(tap.build_dir(), "bin", "ses-adduser"), "--yes",
                "--new-domain", "--password-fd", "3", "durable@example.org"]
        t = syscalls.Trace(argv)
        p = t.run(input=b"correct horse battery staple 42\n",
                  capture_output=True, timeout=120,
                  env=dict(os.environ, SQ_HOME=home))
        ev = t.events()
        tap.ok(p.returncode == 0, "ses-adduser adds an account under strace",
               p.stdout.decode() + p.stderr.decode())
        placed = [i for i, e in enumerate(ev) if e.call in LINK and e.ok
                  and e.paths[1].startswith(home + "/")]
        names = [os.path.relpath(ev[i].paths[1], home) for i in placed]
        want = ("users/assign", "users/cdb")
        tap.ok(all(w in names for w in want)
               and any(".qmail" in n for n in names),
               "it puts users/assign, users/cdb and a .qmail file in place",
               order(names, ev))
        late = []
        for i in placed:
            src, dst = ev[i].paths
            synced = syscalls.first(ev, SYNC, lambda e: e.paths[0] == src)
            dirsync = syscalls.first(ev, SYNC, is_dir(os.path.dirname(dst)),
                                     after=i)
            if synced is None or synced > i or dirsync is None:
                late.append(os.path.relpath(dst, home))
        tap.ok(placed and not late, f"each of the {len(placed)} files is "
               "fsynced before its rename and its directory after",
               "not so: " + ", ".join(late) + "\n" + order([], ev))


why = syscalls.available()
if why:
    tap.skip_all(why)
work = tempfile.mkdtemp(prefix="sqdurable.")
try:
    tap.scenario("sq-queue's fsync order", lambda: sq_queue(work))
    tap.scenario("edhd's maildir commit before its 250",
                 lambda: edhd_commit(work))
    tap.scenario("provisioning files", provisioning)
finally:
    subprocess.run(["rm", "-rf", work])
tap.done()
