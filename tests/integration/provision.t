#!/usr/bin/env python3
"""Account provisioning end to end: ses-adduser, ses-passwd and
ses-deluser against the real pksd and MariaDB (tests/integration/sqtest).
Inspection with suggestions, the qmail files, password change and reset,
deletion, concurrent adds (one host and two hosts), kill -9 at every step
with recovery, and the interactive dialogue on a pseudo-terminal."""
import hashlib
import json
import os
import pty
import select
import struct
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402
from sqtest.pks import PKS  # noqa: E402

BIN = os.path.join(tap.build_dir(), "bin")
HELPERS = os.path.join(tap.build_dir(), "tests", "helpers")
PW = "correct horse battery"


def h(address):
    return hashlib.sha256(address.encode()).hexdigest()[:8]


def prepare(home, pks):
    """An application host's instance dir using pks: credentials, CA."""
    ctl = os.path.join(home, "control")
    os.makedirs(ctl, exist_ok=True)
    if home != pks.home:
        for name in ("ca.pem", "pksurl"):
            shutil.copy(os.path.join(pks.home, "control", name), ctl)
        shutil.copytree(os.path.join(pks.home, "ca"), os.path.join(home, "ca"))
    for role in ("login", "provision"):
        if home == pks.home:
            continue    # the PKS fixture's own (tools/setup-instance)
        with open(os.path.join(ctl, "pks" + role), "w") as f:
            f.write(pks.cred[role] + "\n")
        os.chmod(os.path.join(ctl, "pks" + role), 0o400)
    with open(os.path.join(ctl, "deliveryuser"), "w") as f:
        f.write("nobody\n")


def tool(home, prog, *args, pw=None, crash=None, binary=None):
    env = dict(os.environ, SQ_HOME=home)
    if crash:
        env["SQ_CRASH_AT"] = crash
    argv = [binary or os.path.join(BIN, prog)] + list(args)
    r = subprocess.run(["sh", "-c", 'exec "$@" 3<&0', "sh"] + argv,
                       input=pw, capture_output=True, text=True, env=env,
                       timeout=120)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = None
    return r.returncode, doc, r.stdout + r.stderr


def add(home, address, pw=PW + "\n", **kw):
    return tool(home, "ses-adduser", "--yes", "--json", "--new-domain",
                "--password-fd", "3", address, pw=pw, **kw)


def cdb_get(path, key):
    """The first value of key in the cdb at path, or None (D. J.
    Bernstein's constant database format, read directly)."""
    data = open(path, "rb").read()
    h = 5381
    for c in key:
        h = (((h << 5) + h) & 0xffffffff) ^ c
    pos, slots = struct.unpack_from("<II", data, (h & 255) * 8)
    if slots == 0:
        return None
    slot = (h >> 8) % slots
    for i in range(slots):
        hh, rec = struct.unpack_from("<II", data, pos + ((slot + i) % slots) * 8)
        if rec == 0:
            return None
        if hh == h:
            klen, vlen = struct.unpack_from("<II", data, rec)
            if data[rec + 8:rec + 8 + klen] == key:
                return data[rec + 8 + klen:rec + 8 + klen + vlen]
    return None


def live(home, address):
    """Whether users/cdb holds address (what makes it accept mail)."""
    local, domain = address.rsplit("@", 1)
    key = f"!{domain}-{local}".lower().encode() + b"\0"
    if not os.path.exists(os.path.join(home, "users", "cdb")):
        return False
    return cdb_get(os.path.join(home, "users", "cdb"), key) is not None


def state(pks, home, address):
    """What exists of address: (PKS rows, .qmail file, assign entry)."""
    st, doc = pks.call("GET", f"/v1/keys/{h(address)}", "provision")
    rows = len(doc["keys"]) if st == 200 else 0
    local, domain = address.rsplit("@", 1)
    dq = os.path.join(home, "domains", domain,
                      ".qmail-" + local.replace(".", ":"))
    try:
        assign = open(os.path.join(home, "users", "assign")).read()
    except OSError:
        assign = ""
    return rows, os.path.exists(dq), f"={domain}-{local}:" in assign


def key_rows(address):
    """The PKS rows of address: [(row, SHA-256 of the PEK, hex)]."""
    st, doc = pks.call("GET", f"/v1/keys/{h(address)}", "provision")
    if st != 200:
        return []
    return [(k["row"], hashlib.sha256(k["pek"].encode()).hexdigest())
            for k in doc["keys"]]


def inject(home, text, name="1.000000001.1"):
    """A journal record, as a killed tool would have left it."""
    with open(os.path.join(home, "users", "pending", name), "w") as f:
        f.write(text)


def pending_empty(home):
    d = os.path.join(home, "users", "pending")
    return not os.path.isdir(d) or not os.listdir(d)


def recover(home):
    return tool(home, "ses-adduser", "--recover")[0]


def add_paused(home, address):
    """ses-adduser --yes --json started, waiting where it reads the
    password (fd 3, after the inspection): (process, found waiting)."""
    env = dict(os.environ, SQ_HOME=home)
    proc = subprocess.Popen(
        ["sh", "-c", 'exec "$@" 3<&0', "sh", os.path.join(BIN, "ses-adduser"),
         "--yes", "--json", "--new-domain", "--password-fd", "3", address],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        try:
            sc = open(f"/proc/{proc.pid}/syscall").read().split()
        except OSError:
            sc = []
        # waiting for the password: poll() on fd 3 with rbuf's 30 s (curl
        # polls its sockets with other timeouts)
        if len(sc) > 3 and sc[0] == "7" and sc[2:4] == ["0x1", "0x7530"]:
            return proc, True
        time.sleep(0.05)
    return proc, False


pks = PKS()
try:
    pks.start()
    home = pks.home
    prepare(home, pks)
    A = "john.smith@example.org"
    Y = "stays.live@example.org"
    # a second application host on the same PKS
    other = os.path.join(pks.home, "ah2")
    os.makedirs(other)
    os.chmod(other, 0o755)
    prepare(other, pks)

    # --- add and inspection -----------------------------------------------
    @tap.scenario("add and inspection")
    def _():
        rc, doc, out = tool(home, "ses-adduser", "--yes", "--json",
                            "--password-fd", "3", "--name", "John Smith",
                            "--domain", "Example.ORG", pw=PW + "\n")
        tap.ok(rc == 100 and "new-domain" in doc.get("reason", ""),
               "a domain new to the host is refused without --new-domain", out)
        rc, doc, out = tool(home, "ses-adduser", "--yes", "--json", "--new-domain",
                            "--password-fd", "3", "--name", "John Smith",
                            "--domain", "Example.ORG", pw=PW + "\n")
        tap.ok(rc == 0 and doc["result"] == "created" and doc["address"] == A
               and doc["version"] == 1, "a name and a domain make an account",
               out)
        st, av = pks.call("GET", f"/v1/addresses/{A}/availability", "provision")
        tap.ok(av["available"] is False, "the PKS shows the address as taken")
        tap.is_(state(pks, home, A), (1, True, True),
                "the PKS row, the .qmail file and the assign entry exist")
        dq = open(os.path.join(home, "domains", "example.org",
                               ".qmail-john:smith")).read()
        tap.ok(f"\n%sealed {A}\n" in dq, "the .qmail line routes through the "
               "encryption stage", dq)
        ctl = os.path.join(home, "control")
        tap.ok("example.org:example.org" in open(f"{ctl}/virtualdomains").read()
               and "example.org" in open(f"{ctl}/rcpthosts").read(),
               "the new domain is in virtualdomains and rcpthosts")
        tap.ok(live(home, A), "users/cdb holds the address: it is live")
        rc, doc, out = add(home, "John.Smith@example.org")
        sugg = doc.get("suggestions", []) if doc else []
        tap.ok(rc == 100 and doc["result"] == "taken" and len(sugg) >= 3 and
               sugg[:3] == ["johnsmith@example.org", "john.smith01@example.org",
                            "johnsmith123@example.org"],
               "a second add is refused with suggestions", out)
        free = all(pks.call("GET", "/v1/addresses/" + urllib.parse.quote(s) +
                            "/availability", "provision")[1]["available"]
                   for s in sugg)
        tap.ok(free, "every suggestion is free in the PKS")
        pick = sugg[0] if sugg else "johnsmith@example.org"
        rc, doc, out = add(home, pick)
        tap.ok(rc == 0 and doc["address"] == pick, "a suggestion can be taken")
        rc, doc, out = add(home, "postmaster@example.org")
        tap.ok(rc == 100 and doc["result"] == "invalid" and "reserved" in
               doc.get("reason", ""), "a reserved name is refused", out)
        rc, doc, out = add(home, "jane@example.org", pw="short\n")
        tap.ok(rc == 100 and doc["result"] == "weak_password",
               "a short password is refused", out)
        rc, doc, out = add(home, "jane.doe.long@example.org",
                           pw="jane.doe.long@example.org\n")
        tap.ok(rc == 100 and "address" in doc.get("reason", ""),
               "the address as its own password is refused", out)
        tap.is_(state(pks, home, "jane@example.org"), (0, False, False),
                "a refused add leaves nothing")
        rc, doc, out = add(home, "jane@example.org", pw="")
        tap.ok(rc == 100 and doc["result"] == "weak_password",
               "no password on the descriptor is refused, with output", out)
        longest = "l" * 64 + "@example.org"
        rc, doc, out = add(home, longest)
        tap.ok(rc == 0 and doc["address"] == longest,
               "a 64-octet local part (a 76-octet address) gets its keys", out)
        rc, doc, out = add(home, "l" * 65 + "@example.org")
        tap.ok(rc == 100 and "long" in doc.get("reason", ""),
               "a 65-octet local part is refused as too long", out)
        rc, _, out = tool(home, "ses-adduser", "--yes", "--json",
                          "--password-fd", "3", "--name", "Иван Петров",
                          "--domain", "example.org", pw=PW + "\n")
        tap.ok(rc == 100 and "Latin" in out, "a Cyrillic name is refused with a "
               "clear message", out)
        rc, doc, out = tool(home, "ses-adduser", "--yes", "--json",
                            "--password-fd", "3", "--name", "Zoë O'Brien-Smyth",
                            "--domain", "example.org", pw=PW + "\n")
        tap.ok(rc == 0 and doc["address"] == "zoe.obrien-smyth@example.org",
               "a name with accents and an apostrophe is transliterated", out)

    # --- password change and reset ---------------------------------------
    @tap.scenario("password change and reset")
    def _():
        _, before = pks.call("GET", f"/v1/keys/{h(A)}/pdk", "login")
        rc, _, out = tool(home, "ses-passwd", "--password-fd", "3", A,
                          pw=PW + "\nan entirely new one\n")
        _, after = pks.call("GET", f"/v1/keys/{h(A)}/pdk", "login")
        tap.ok(rc == 0 and after["keys"][0]["pek"] == before["keys"][0]["pek"]
               and after["keys"][0]["pdk"] != before["keys"][0]["pdk"],
               "a password change keeps the key: same PEK, new wrapping", out)
        pdk_file = os.path.join(home, "pdk.pem")
        with open(pdk_file, "w") as f:
            f.write(after["keys"][0]["pdk"])
        with open(pdk_file + ".pw", "w") as f:
            f.write("an entirely new one")
        r = subprocess.run(["openssl", "pkcs8", "-in", pdk_file, "-passin",
                            "file:" + pdk_file + ".pw", "-out", "/dev/null"])
        tap.is_(r.returncode, 0, "the new password opens the re-wrapped PDK")
        rc, _, out = tool(home, "ses-passwd", "--password-fd", "3", A,
                          pw="not the password\nanother new one1\n")
        tap.ok(rc == 100 and "wrong password" in out,
               "a wrong old password is refused", out)
        rc, _, out = tool(home, "ses-passwd", "--reset", "--password-fd", "3", A,
                          pw="after the reset!\n")
        _, doc = pks.call("GET", f"/v1/keys/{h(A)}", "deliver")
        tap.ok(rc == 0 and sorted(k["version"] for k in doc["keys"]) == [1, 2],
               "a reset adds key version 2 and keeps version 1", out)
        rc, _, out = tool(home, "ses-passwd", "--password-fd", "3", A,
                          pw="after the reset!\nand changed again\n")
        tap.ok(rc == 0 and "1 key version re-wrapped" in out,
               "after a reset a change re-wraps the versions the password opens",
               out)

    # --- delete -------------------------------------------------------------
    @tap.scenario("delete")
    def _():
        rc, _, out = tool(home, "ses-deluser", "--yes", A)
        tap.ok(rc == 0 and "2 key versions" in out, "delete removes the keys",
               out)
        tap.is_(state(pks, home, A), (0, False, False),
                "after delete nothing of the account is left")
        rc, _, out = tool(home, "ses-deluser", "--yes", A)
        tap.is_(rc, 100, "deleting it again: no such subscriber")
        rc, doc, out = add(home, A)
        tap.is_(rc, 0, "the address can be provisioned again")

    # --- concurrency ------------------------------------------------------------
    @tap.scenario("concurrency")
    def _():
        results = []
        docs = []

        def racer(where, address):
            rc, doc, out = add(where, address)
            results.append(rc)
            docs.append((rc, doc, out))

        def losers_told():
            """Every loser: refused as taken, with a reason and suggestions."""
            lost = [(d, o) for rc, d, o in docs if rc != 0]
            return all(d and d["result"] == "taken" and "taken" in d["reason"]
                       and d.get("suggestions") for d, _ in lost), lost
        threads = [threading.Thread(target=racer, args=(home, "racer@example.org"))
                   for _ in range(3)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        tap.is_(sorted(results), [0, 100, 100],
                "three adds of one address on one host: exactly one succeeds")
        told, lost = losers_told()
        tap.ok(state(pks, home, "racer@example.org") == (1, True, True) and
               live(home, "racer@example.org") and pending_empty(home) and told,
               "one host: exactly one account (keys, files, live), no record "
               "left, each loser told 'taken' with suggestions", lost)
        results.clear()
        docs.clear()
        threads = [threading.Thread(target=racer, args=(w, "racer2@example.org"))
                   for w in (home, other, home, other)]
        results_race = results
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        tap.is_(sorted(results_race), [0, 100, 100, 100],
                "four adds from two application hosts: exactly one succeeds")
        told, lost = losers_told()
        st2 = [state(pks, w, "racer2@example.org") for w in (home, other)]
        tap.ok(sorted(st2) == [(1, False, False), (1, True, True)] and
               [live(w, "racer2@example.org") for w in (home, other)] ==
               [s_[1] for s_ in st2] and pending_empty(home) and
               pending_empty(other) and told,
               "two hosts: one key row, the files and users/cdb entry on the "
               "winner only, no record left, the losers told", (st2, lost))

        # a loser at creation (PKS 409 after a free inspection) gets fresh
        # suggestions, not a bare refusal
        proc, paused = add_paused(home, "late@example.org")
        won = add(other, "late@example.org")[0]
        out, err = proc.communicate(PW + "\n", timeout=120)
        try:
            doc = json.loads(out)
        except ValueError:
            doc = {}
        tap.ok(paused and won == 0 and proc.returncode == 100 and
               doc.get("result") == "taken" and
               "meanwhile" in doc.get("reason", "") and doc.get("suggestions")
               and state(pks, home, "late@example.org")[1:] == (False, False)
               and pending_empty(home),
               "a run that loses at creation reports 'taken' with suggestions "
               "and leaves nothing", (paused, won, out, err))

    # --- kill -9 at every step, then recovery ------------------------------
    @tap.scenario("kill -9 at every step, then recovery")
    def _():
        crash = os.path.join(HELPERS, "ses-adduser-crash")
        for point, expect in (("journal", (0, False, False)),
                              ("pks", (1, True, True)),
                              ("dotqmail", (1, True, True)),
                              ("domain", (1, True, True)),
                              ("assign", (1, True, True))):
            addr = f"crash.{point}@example.org"
            rc, _, out = add(home, addr, crash=point, binary=crash)
            rows, dq_, assigned = state(pks, home, addr)
            live_safe = not live(home, addr) or rows > 0
            rc2, _, out2 = tool(home, "ses-adduser", "--recover")
            tap.ok(rc == -9 and live_safe and rc2 == 0 and
                   state(pks, home, addr) == expect and
                   not os.listdir(os.path.join(home, "users", "pending")),
                   f"kill -9 after step '{point}': never live without keys; "
                   f"recovery leaves {'all' if expect[0] else 'nothing'}",
                   (rc, rows, dq_, assigned, out, out2,
                    state(pks, home, addr)))
        # a crash between users/assign and users/cdb: recovery mends the cdb
        addr = "mend@example.org"
        cdb = os.path.join(home, "users", "cdb")
        before = open(cdb, "rb").read()
        add(home, addr)
        was_live = live(home, addr)
        with open(cdb, "wb") as f:
            f.write(before)     # as if the rebuild never happened
        _, doc = pks.call("GET", f"/v1/keys/{h(addr)}", "deliver")
        digest = hashlib.sha256(doc["keys"][0]["pek"].encode()).hexdigest()
        pending = os.path.join(home, "users", "pending")
        with open(os.path.join(pending, "1.000000001.1"), "w") as f:
            f.write(f"add\n{addr}\n{digest}\n")
        stale = live(home, addr)
        rc, _, out = tool(home, "ses-adduser", "--recover")
        tap.ok(was_live and not stale and rc == 0 and live(home, addr),
               "recovery rebuilds users/cdb when users/assign already had the "
               "entry", out)
        dcrash = os.path.join(HELPERS, "ses-deluser-crash")
        for point in ("unassign", "delete"):
            addr = f"del.{point}@example.org"
            add(home, addr)
            rc, _, out = tool(home, "ses-deluser", "--yes", addr, crash=point,
                              binary=dcrash)
            rc2, _, _ = tool(home, "ses-adduser", "--recover")
            tap.ok(rc == -9 and rc2 == 0 and not live(home, addr) and
                   state(pks, home, addr) == (0, False, False),
                   f"kill -9 in delete after '{point}': recovery finishes it",
                   (rc, out, state(pks, home, addr)))

        for point in ("unassign", "delete"):
            addr = f"keep.{point}@example.org"
            add(home, addr)
            rc, _, out = tool(home, "ses-deluser", "--yes", "--keep-keys", addr,
                              crash=point, binary=dcrash)
            rc2 = recover(home)
            tap.ok(rc == -9 and rc2 == 0 and not live(home, addr) and
                   state(pks, home, addr) == (1, False, False) and
                   pending_empty(home),
                   f"kill -9 in delete --keep-keys after '{point}': recovery "
                   "removes the files and keeps the keys",
                   (rc, out, state(pks, home, addr)))

    # --- recovery never touches what is not its own -----------------------
    @tap.scenario("recovery leaves others' alone")
    def _():
        X = "readded@example.org"
        add(home, X)
        old_rows = key_rows(X)
        tool(home, "ses-deluser", "--yes", X)
        rc_b = add(other, X)[0]    # host B provisions it again meanwhile
        inject(home, f"delete\n{X}\n\nrows {len(old_rows)}\n" +
               "".join(f"{r} {d}\n" for r, d in old_rows))
        rc = recover(home)
        tap.ok(rc_b == 0 and rc == 0 and len(old_rows) == 1 and
               state(pks, other, X) == (1, True, True) and live(other, X) and
               key_rows(X) != old_rows and pending_empty(home),
               "recovering a delete whose address was provisioned again on "
               "another host keeps the new subscriber's keys", (rc, key_rows(X)))
        inject(home, f"delete\n{X}\n\n")
        rc = recover(home)
        tap.ok(rc == 0 and state(pks, other, X) == (1, True, True) and
               pending_empty(home),
               "a delete record that names no rows (an older version's) "
               "deletes no keys")
        add(home, Y)
        inject(home, f"add\n{Y}\n{'ab' * 32}\n")
        rc = recover(home)
        tap.ok(rc == 0 and state(pks, home, Y) == (1, True, True) and
               live(home, Y) and pending_empty(home),
               "recovering an add whose PEK is not in the PKS leaves a live "
               "account with another PEK (its files and keys) alone",
               state(pks, home, Y))

    # --- ses-deluser and another host's account ---------------------------
    @tap.scenario("ses-deluser and another host's account")
    def _():
        Z = "elsewhere@example.org"
        add(other, Z)
        rc, _, out = tool(home, "ses-deluser", "--yes", Z)
        tap.ok(rc == 100 and "--keys-only" in out and
               state(pks, other, Z) == (1, True, True),
               "without files here ses-deluser refuses to delete the keys", out)
        rc, _, out = tool(home, "ses-deluser", "--yes", "--keys-only", Y)
        tap.ok(rc == 100 and state(pks, home, Y) == (1, True, True),
               "--keys-only refuses an account that is on this host", out)
        rc, _, out = tool(home, "ses-deluser", "--yes", "--keys-only", Z)
        tap.ok(rc == 0 and key_rows(Z) == [] and
               state(pks, other, Z)[1:] == (True, True),
               "--keys-only deletes the keys and nothing here or there", out)

    # --- uniqueness on this host: users/assign as it is, .qmail files ----
    @tap.scenario("uniqueness on this host")
    def _():
        assign = os.path.join(home, "users", "assign")
        text = open(assign).read()
        W = "assigned.only@example.org"
        with open(assign, "w") as f:   # newer than users/cdb
            f.write(text.replace("\n.\n", "\n=example.org-assigned.only:nobody:"
                                 "65534:65534:/nonexistent:-:x:\n.\n"))
        rc, doc, out = add(home, W)
        tap.ok(rc == 100 and doc["result"] == "taken" and key_rows(W) == [],
               "an entry in users/assign not yet in users/cdb makes the address "
               "taken", out)
        with open(assign, "w") as f:
            f.write(text)
        V = "handmade@example.org"
        dqv = os.path.join(home, "domains", "example.org", ".qmail-handmade")
        with open(dqv, "w") as f:
            f.write("./Maildir/\n")
        rc, doc, out = add(home, V)
        tap.ok(rc == 100 and doc["result"] == "taken" and key_rows(V) == [] and
               open(dqv).read() == "./Maildir/\n",
               "an existing .qmail file makes the address taken and stays as it "
               "was", out)

        # the check again under the lock: a .qmail file that appears after the
        # inspection (another run here) is not overwritten, and no key is made
        U = "appeared@example.org"
        proc, paused = add_paused(home, U)
        dqu = os.path.join(home, "domains", "example.org", ".qmail-appeared")
        with open(dqu, "w") as f:
            f.write("./Maildir/\n")
        out, err = proc.communicate(PW + "\n", timeout=120)
        tap.ok(paused and proc.returncode == 100 and '"taken"' in out and
               key_rows(U) == [] and open(dqu).read() == "./Maildir/\n" and
               pending_empty(home),
               "under the lock the add checks the host again: a .qmail file made "
               "after the inspection stays, and no key is made", (out, err))

    # --- stored mail outlives the account ------------------------------
    @tap.scenario("stored mail outlives the account")
    def _():
        def mailbox(address):
            rc, doc, _ = add(home, address)
            md = os.path.join(home, "maildirs", f"{doc['hash']}-{doc['row']}")
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(md, sub))
            with open(os.path.join(md, "new", "1.2.host,S=3,W=3"), "w") as f:
                f.write("abc")
            return md
        md = mailbox("mail.kept@example.org")
        rc, _, out = tool(home, "ses-deluser", "--yes", "mail.kept@example.org")
        tap.ok(rc == 0 and os.path.basename(md) in out and
               os.path.exists(os.path.join(md, "new", "1.2.host,S=3,W=3")),
               "deletion leaves the stored mail and names its mailbox", out)
        md = mailbox("mail.gone@example.org")
        rc, _, out = tool(home, "ses-deluser", "--yes", "--remove-mail",
                          "mail.gone@example.org")
        tap.ok(rc == 0 and not os.path.exists(md) and "removed its mail" in out,
               "--remove-mail removes the mailbox on this host", out)

    # --- the interactive dialogue on a terminal -------------------------
    @tap.scenario("interactive dialogue")
    def _():
        def dialogue(*args):
            pid, fd = pty.fork()
            if pid == 0:
                os.environ["SQ_HOME"] = home
                os.execv(os.path.join(BIN, "ses-adduser"), ["ses-adduser"] +
                         list(args))
            return pid, fd

        def expect(text, answer, timeout=60):
            """Waits for text after what was matched before; answers it."""
            nonlocal transcript, seen
            deadline = time.time() + timeout
            while text.encode() not in transcript[seen:] and \
                    time.time() < deadline:
                r, _, _ = select.select([fd], [], [], 1)
                if r:
                    try:
                        transcript += os.read(fd, 4096)
                    except OSError:
                        break
            at = transcript.find(text.encode(), seen)
            if at < 0:
                return False
            seen = at + len(text)
            if answer is not None:
                os.write(fd, answer.encode() + b"\r")
            return True

        def ended(pid, timeout=60):
            """The exit status, or None (killed) if it does not end."""
            deadline = time.time() + timeout
            while time.time() < deadline:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return os.WEXITSTATUS(status)
                time.sleep(0.1)
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return None
        pid, fd = dialogue()
        transcript, seen = b"", 0
        steps = [expect("address: ", "Jane Doe"), expect("Domain: ", "example.org")]
        # jane.doe is free: straight to the password
        steps += [expect("Password: ", "a fine password"),
                  expect("Password again: ", "a fine password"),
                  expect("[y/N]", "y")]
        steps.append(expect("created jane.doe@example.org", None))
        tap.ok(all(steps) and ended(pid) == 0,
               "the interactive dialogue creates an account", transcript)
        tap.ok(b"a fine password" not in transcript,
               "the password is not echoed")
        pid, fd = dialogue("jane.doe@example.org")
        transcript, seen = b"", 0
        steps = [expect("Choose a number", "2"),
                 expect("Password: ", "another fine one"),
                 expect("Password again: ", "another fine one"),
                 expect("[y/N]", "y"),
                 expect("created jane.doe01@example.org", None)]
        tap.ok(all(steps) and ended(pid) == 0,
               "a taken address offers suggestions; choosing one creates it",
               transcript)
        pid, fd = dialogue("jane.doe@example.org")
        transcript, seen = b"", 0
        steps = [expect("Choose a number", "jane.other@example.org"),
                 expect("Password: ", "another fine one"),
                 expect("Password again: ", "another fine one"),
                 expect("Create jane.other@example.org? [y/N]", "y"),
                 expect("created jane.other@example.org", None)]
        tap.ok(all(steps) and ended(pid) == 0,
               "another address typed at the suggestion prompt is created",
               transcript)
        pid, fd = dialogue()
        transcript, seen = b"", 0
        steps = [expect("address: ", "Mary Ann"),
                 expect("Domain: ", "example.org"),
                 expect("Password: ", "another fine one"),
                 expect("Password again: ", "another fine one"),
                 expect("Create mary.ann@example.org? [y/N]", None)]
        # another host takes the address while the operator confirms
        won = add(other, "mary.ann@example.org")[0]
        steps += [won == 0 and os.write(fd, b"y\r") > 0,
                  expect("taken meanwhile", None),
                  expect("Choose a number", "1"),
                  expect("[y/N]", "y"),
                  expect("created maryann@example.org", None)]
        tap.ok(all(steps) and ended(pid) == 0,
               "a dialogue that loses the race at creation goes back to the "
               "choice with fresh suggestions, keeping the password", transcript)
finally:
    pks.stop()
tap.done()
