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


tap.plan(41)
pks = PKS()
try:
    pks.start()
    home = pks.home
    prepare(home, pks)
    A = "john.smith@example.org"

    # --- add and inspection -----------------------------------------------
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
    results = []

    def racer(where, address):
        results.append(add(where, address)[0])
    threads = [threading.Thread(target=racer, args=(home, "racer@example.org"))
               for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    tap.is_(sorted(results), [0, 100, 100],
            "three adds of one address on one host: exactly one succeeds")
    other = os.path.join(pks.home, "ah2")
    os.makedirs(other)
    os.chmod(other, 0o755)
    prepare(other, pks)
    results.clear()
    threads = [threading.Thread(target=racer, args=(w, "racer2@example.org"))
               for w in (home, other, home, other)]
    results_race = results
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tap.is_(sorted(results_race), [0, 100, 100, 100],
            "four adds from two application hosts: exactly one succeeds")

    # --- kill -9 at every step, then recovery ------------------------------
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

    # --- the interactive dialogue on a terminal -------------------------
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["SQ_HOME"] = home
        os.execv(os.path.join(BIN, "ses-adduser"), ["ses-adduser"])
    transcript = b""

    def expect(text, answer, timeout=60):
        global transcript
        deadline = time.time() + timeout
        while text.encode() not in transcript and time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 1)
            if r:
                try:
                    transcript += os.read(fd, 4096)
                except OSError:
                    break
        found = text.encode() in transcript
        if found and answer is not None:
            os.write(fd, answer.encode() + b"\r")
            transcript += b"|"  # do not match the same prompt twice
        return found
    steps = [expect("address: ", "Jane Doe"), expect("Domain: ", "example.org")]
    # jane.doe is free: straight to the password
    steps += [expect("Password: ", "a fine password"),
              expect("Password again: ", "a fine password"),
              expect("[y/N]", "y")]
    steps.append(expect("created jane.doe@example.org", None))
    _, status = os.waitpid(pid, 0)
    tap.ok(all(steps) and os.WEXITSTATUS(status) == 0,
           "the interactive dialogue creates an account", transcript)
    tap.ok(b"a fine password" not in transcript,
           "the password is not echoed")
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["SQ_HOME"] = home
        os.execv(os.path.join(BIN, "ses-adduser"), ["ses-adduser",
                                                    "jane.doe@example.org"])
    transcript = b""
    steps = [expect("Choose a number", "2"),
             expect("Password: ", "another fine one"),
             expect("Password again: ", "another fine one"),
             expect("[y/N]", "y"),
             expect("created jane.doe01@example.org", None)]
    _, status = os.waitpid(pid, 0)
    tap.ok(all(steps) and os.WEXITSTATUS(status) == 0,
           "a taken address offers suggestions; choosing one creates it",
           transcript)
finally:
    pks.stop()
tap.done()
