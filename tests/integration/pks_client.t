#!/usr/bin/env python3
"""The PKS client library (lib/pksclient, driven by tests/helpers/pkscli)
against the real pksd: every call, the right row out of a forced 32-bit
collision, locked rows, and temporary failures (pksd down, wrong CA, a
refused address, MariaDB down, a row that does not open)
told apart from "no such key"."""
import hashlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402
from sqtest.pks import PKS  # noqa: E402

COLLIDE = ("user108784@example.org", "user133508@example.org")
CLI = os.path.join(tap.build_dir(), "tests", "helpers", "pkscli")


def h(address):
    return hashlib.sha256(address.encode()).hexdigest()[:8]


pks = PKS(control={"pksloginbackoff": "1\n", "pksloginlock": "2\n"})
try:
    pks.start()
    ctl = os.path.join(pks.home, "control")     # pks{role}: the fixture's
    files = os.path.join(pks.home, "files")
    os.mkdir(files)

    def cli(role, *args, url=None, ca=None):
        argv = [CLI, "-u", url or pks.url(""), "-a",
                ca or os.path.join(ctl, "ca.pem"), "-t", "3000"]
        if role:
            argv += ["-c", os.path.join(ctl, "pks" + role)]
        r = subprocess.run(argv + list(args), capture_output=True, text=True,
                           env=dict(os.environ, SQ_HOME=pks.home), timeout=30)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = {"raw": r.stdout, "stderr": r.stderr}
        return r.returncode, doc

    def keyfiles(address, name):
        pek, pdk = pks.make_key(address)
        paths = (os.path.join(files, name + ".pek"),
                 os.path.join(files, name + ".pdk"))
        for p, text in zip(paths, (pek, pdk)):
            with open(p, "w") as f:
                f.write(text)
        return paths

    A = "client.test@example.org"
    T = "tampered@example.org"

    @tap.scenario("every call through the client")
    def _():
        pa = keyfiles(A, "a")
        rc, doc = cli("provision", "health")
        tap.ok(rc == 0 and doc["result"] == "ok", "health through the client")
        rc, doc = cli("provision", "create", A, *pa)
        tap.ok(rc == 0 and doc["version"] == 1, "create through the client", doc)
        row = doc.get("row")
        rc, doc = cli("provision", "create", A, *pa)
        tap.ok(rc == 2 and doc["result"] == "conflict", "a second create is a "
               "conflict")
        rc, doc = cli("deliver", "peks", h(A))
        tap.ok(rc == 0 and len(doc.get("keys", [])) == 1,
               "PEKs by hash through the client", doc)
        rc, doc = cli("deliver", "peks", "00000000")
        tap.ok(rc == 1 and doc["result"] == "not_found",
               "an unknown hash is not_found, a definite answer")
        rc, doc = cli("deliver", "pdks", h(A))
        tap.ok(rc == 3 and doc["result"] == "refused",
               "the deliver role is refused the PDKs (403)")
        rc, doc = cli("login", "pdks", h(A))
        tap.ok(rc == 0 and "ENCRYPTED PRIVATE KEY" in json.dumps(doc),
               "PDKs through the login client")
        pb = keyfiles(A, "b")
        rc, doc = cli("provision", "version", A, *pb)
        tap.ok(rc == 0 and doc["version"] == 2, "a new version through the client")
        rc, doc = cli("provision", "replace-pdk", h(A), str(row), pb[1])
        tap.is_(rc, 0, "a PDK's wrapping replaced through the client")
        rc, doc = cli("provision", "available", A.upper())
        tap.ok(rc == 0 and doc["available"] is False,
               "availability through the client (normalised)")
        rc, doc = cli("login", "login-failure", h(A), str(row))
        rc2, doc2 = cli("login", "login-failure", h(A), str(row))
        tap.ok(rc == 0 and doc2.get("failures") == 2 and doc2.get("locked_until"),
               "login failures counted through the client", doc2)
        rc, doc = cli("login", "pdks", h(A))
        locked = [k for k in doc.get("keys", []) if k.get("row") == row]
        tap.ok(locked and locked[0].get("locked_until") and
               not locked[0].get("pdk"), "a locked row comes without its PDK")
        rc, doc = cli("login", "login-success", h(A), str(row))
        tap.is_(rc, 0, "login success through the client")

    # the forced collision: the client keeps the right row
    @tap.scenario("forced collision")
    def _():
        rows = {}
        for i, addr in enumerate(COLLIDE):
            rc, doc = cli("provision", "create", addr, *keyfiles(addr, f"c{i}"))
            rows[addr] = doc.get("row")
        for addr in COLLIDE:
            rc, doc = cli("deliver", "select", os.path.join(ctl, "ca.pem"), addr)
            tap.ok(rc == 0 and doc.get("candidates") == 2 and
                   doc.get("row") == rows[addr],
                   f"of 2 rows under {h(addr)}, select keeps {addr}'s", doc)
        rc, doc = cli("deliver", "select", os.path.join(ctl, "ca.pem"),
                      "user1@example.org")
        tap.ok(rc == 1, "no row is selected for an address without keys")

    @tap.scenario("delete through the client")
    def _():
        rc, doc = cli("provision", "delete", A)
        tap.ok(rc == 0 and doc.get("deleted") == 2, "delete through the client")

    # temporary failures are not "no such key"
    @tap.scenario("temporary failures: a tampered row, MariaDB down")
    def _():
        rc, doc = cli("provision", "create", T, *keyfiles(T, "t"))
        trow = doc.get("row")
        pks.db.sql(f"UPDATE keyrow SET sealed_blob = CONCAT(LEFT(sealed_blob, "
                   f"40), CHAR(ASCII(SUBSTR(sealed_blob, 41, 1)) ^ 1), "
                   f"SUBSTR(sealed_blob, 42)) WHERE row_id = {trow}", "pks")
        for role, call in (("deliver", "peks"), ("login", "pdks")):
            rc, doc = cli(role, call, h(T))
            tap.ok(rc == 111 and doc["result"] == "temporary" and
                   "row_unreadable" in doc.get("error", ""),
                   f"a row that does not open ({call}): temporary, never "
                   "not_found", doc)
        pks.db.pause()
        try:
            for role, call in (("deliver", "peks"), ("login", "pdks")):
                rc, doc = cli(role, call, h(COLLIDE[0]))
                tap.ok(rc == 111 and doc["result"] == "temporary" and
                       "503" in doc.get("error", ""),
                       f"MariaDB down ({call}): temporary, never not_found", doc)
        finally:
            pks.db.resume()
            os.chmod(pks.db.dir, 0o711)   # sq-mariadb start makes it private

    # a client whose address pksd does not allow; no credentials; ...
    @tap.scenario("refused peer, no credentials, foreign CA, pksd down")
    def _():
        pks.stop_pksd()
        pks.control("pksallow", "127.0.0.2\n")
        pks.start_pksd()
        rc, doc = cli("deliver", "peks", h(COLLIDE[0]))
        tap.ok(rc == 111 and doc["result"] == "temporary",
               "a refused address: temporary, never not_found", doc)
        pks.stop_pksd()
        pks.control("pksallow", "127.0.0.1\n")
        pks.start_pksd()
        rc, doc = cli(None, "peks", h(A))
        tap.ok(rc == 3, "no credentials: refused (401)")
        rogue = os.path.join(pks.home, "rogue")
        os.mkdir(rogue)
        subprocess.run([pks.helper, "ca", rogue + "/k", rogue + "/ca.pem", "X"],
                       check=True)
        rc, doc = cli("deliver", "peks", h(A), ca=rogue + "/ca.pem")
        tap.ok(rc == 111, "a server the instance CA did not certify: temporary",
               doc)
        pks.stop_pksd()
        rc, doc = cli("deliver", "peks", h(A))
        tap.ok(rc == 111 and doc["result"] == "temporary",
               "pksd down: temporary, never not_found", doc)
        pks.start_pksd()
        rc, doc = cli("deliver", "peks", h(COLLIDE[0]))
        tap.is_(rc, 0, "pksd back: the client works again")
finally:
    pks.stop()
tap.done()
