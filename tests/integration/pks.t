#!/usr/bin/env python3
"""The Paired Key Store end to end: the real pksd and pks-ctl over HTTPS
(curl), against a throwaway MariaDB. Every endpoint's success and failure
paths, every role, 401/403, the login lockout, the allow-list, what the
database holds, tampered and moved rows, a forced 32-bit collision, hostile
input, a MariaDB restart under a running pksd, and a key rotation."""
import base64
import calendar
import hashlib
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import instance, tap  # noqa: E402
from sqtest.pks import PKS  # noqa: E402

# Found by a birthday search over userN@example.org: one 32-bit hash.
COLLIDE = ("user108784@example.org", "user133508@example.org")


def h(address):
    return hashlib.sha256(address.encode()).hexdigest()[:8]


def q(address):
    return urllib.parse.quote(address, safe="")


pks = PKS(control={"pksloginbackoff": "2\n", "pksloginlock": "4\n",
                   "timeoutpksd": "3\n"})
try:
    pks.start()
    made = []   # every (address, wrapped PDK) this test makes
    make_key = pks.make_key

    def recording_make_key(address, *args):
        pair = make_key(address, *args)
        made.append((address, pair[1]))
        return pair
    pks.make_key = recording_make_key
    A = "john.smith@example.org"
    B = "moved@example.org"
    pek, pdk = pks.make_key(A)
    pdk_b64 = "".join(pdk.splitlines()[1:-1]).encode()
    ctx = ssl.create_default_context(cafile=os.path.join(pks.home, "control",
                                                         "ca.pem"))
    argv = instance.argv("daemon", "pksd")     # pksd, as the fixture runs it
    # set by the scenarios that make them, for those after them
    row = pdk_new = None

    # --- health and authentication ------------------------------------
    @tap.scenario("health and authentication")
    def _():
        for role in ("deliver", "login", "provision"):
            st, doc = pks.call("GET", "/v1/health", role)
            tap.ok(st == 200 and doc == {"status": "ok"},
                   f"health answers 200 to the {role} client")
        ident = pks.cred["deliver"].split(":")[0]
        st, _ = pks.call("GET", "/v1/health", cred=ident + ":wrong-secret")
        tap.is_(st, 401, "a wrong secret gets 401")
        st, _ = pks.call("GET", "/v1/health", cred="12345:" + "x" * 43)
        tap.is_(st, 401, "an unknown client id gets 401")
        st, _ = pks.curl("GET", "/v1/health")
        tap.is_(st, 401, "no credentials get 401")
        st, _ = pks.curl("GET", "/v1/health",
                         extra=["-H", "Authorization: Basic !!notbase64!!"])
        tap.is_(st, 401, "a malformed Authorization header gets 401")
        log = pks.log_text()
        tap.ok("bad credentials" in log and "wrong-secret" not in log and
               pks.cred["deliver"].split(":")[1] not in log,
               "failed logins are logged with the client id, never the secret")

    # --- pks-ctl client list and remove ---------------------------------
    @tap.scenario("pks-ctl client list and remove")
    def _():
        ids = {role: pks.cred[role].split(":")[0] for role in pks.cred}
        listing = pks.ctl("client", "list")
        rows_seen = {tuple(line.split()[:2]) for line in listing.splitlines()}
        tap.ok(all((ids[r], r) in rows_seen for r in ids) and
               not any(pks.cred[r].split(":")[1] in listing for r in ids),
               "pks-ctl client list shows every client's id and role, never a "
               "secret", listing)
        doomed = pks.ctl("client", "add", "deliver", "to be removed").strip()
        doomed_id = doomed.split(":")[0]
        oks = [pks.call("GET", "/v1/health", cred=doomed)[0] for _ in range(4)]
        tap.ok(oks == [200] * 4, "a new client is let in (and cached)", oks)
        out = pks.ctl("client", "remove", doomed_id)
        removed = time.time()
        st = 200
        while st != 401 and time.time() - removed < 7:
            st = pks.call("GET", "/v1/health", cred=doomed)[0]
            time.sleep(0.2)
        time.sleep(max(0, removed + 5.5 - time.time()))   # every worker's cache
        after = [pks.call("GET", "/v1/health", cred=doomed)[0] for _ in range(4)]
        tap.ok(f"removed client {doomed_id}" in out and st == 401 and
               after == [401] * 4,
               "a removed client gets 401 once the 5 s client cache has passed",
               (out, st, after))
        tap.ok(doomed_id not in [line.split()[0] for line in
                                 pks.ctl("client", "list").splitlines()],
               "and is gone from pks-ctl client list")
        r = subprocess.run([os.path.join(pks.bin, "pks-ctl"), "client", "remove",
                            doomed_id], env=dict(os.environ, SQ_HOME=pks.home),
                           capture_output=True, text=True)
        tap.ok(r.returncode == 100 and f"no client {doomed_id}" in r.stderr,
               "removing it again: exit 100, no such client", r.stderr)

    # --- create, read, roles ------------------------------------------
    @tap.scenario("create, read, roles")
    def _():
        global row
        st, doc = pks.call("POST", "/v1/keys", "provision",
                           {"address": A, "pek": pek, "pdk": pdk})
        tap.ok(st == 201 and doc["hash"] == h(A) and doc["version"] == 1,
               "provision creates the key pair of an address (201)", doc)
        row = doc["row"] if st == 201 else 0
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}", "deliver")
        tap.ok(st == 200 and len(doc["keys"]) == 1 and doc["keys"][0]["pek"] == pek
               and "pdk" not in doc["keys"][0],
               "deliver reads the PEK by hash, and no PDK")
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}/pdk", "login")
        tap.ok(st == 200 and doc["keys"][0]["pdk"] == pdk and
               doc["keys"][0]["row"] == row,
               "login reads the wrapped PDK by hash")
        for role, method, path, body in (
                ("deliver", "GET", f"/v1/keys/{h(A)}/pdk", None),
                ("provision", "GET", f"/v1/keys/{h(A)}/pdk", None),
                ("deliver", "POST", "/v1/keys", {"address": A, "pek": pek,
                                                 "pdk": pdk}),
                ("login", "POST", "/v1/keys", {"address": A, "pek": pek,
                                               "pdk": pdk}),
                ("login", "DELETE", f"/v1/addresses/{q(A)}", None),
                ("deliver", "GET", f"/v1/addresses/{q(A)}/availability", None),
                ("deliver", "POST", f"/v1/keys/{h(A)}/rows/{row}/login-failure",
                 None)):
            st, _ = pks.call(method, path, role, body)
            tap.is_(st, 403, f"the {role} role may not {method} "
                    f"{path.split('/')[2]}{'/pdk' if path.endswith('pdk') else ''}"
                    f"{'/login-failure' if 'failure' in path else ''}")
        tap.ok("may not" in pks.log_text(), "403s are logged with the role")
        st, doc = pks.call("GET", "/v1/keys/00000000", "deliver")
        tap.ok(st == 404 and doc["error"] == "no_such_key",
               "an unknown hash is 404 no_such_key")

    # --- create failures ------------------------------------------------
    @tap.scenario("create failures")
    def _():
        st, doc = pks.call("POST", "/v1/keys", "provision",
                           {"address": A, "pek": pek, "pdk": pdk})
        tap.ok(st == 409 and doc["error"] == "address_taken",
               "a second create for an address is 409")
        other_pek, other_pdk = pks.make_key("eve@example.org")
        st, _ = pks.call("POST", "/v1/keys", "provision",
                         {"address": "mallory@example.org", "pek": other_pek,
                          "pdk": other_pdk})
        tap.is_(st, 422, "a PEK issued for another address is refused (422)")
        work = os.path.join(pks.home, "rogue")
        os.mkdir(work)
        helper = pks.helper
        subprocess.run([helper, "ca", f"{work}/ca.key", f"{work}/ca.pem", "Rogue"],
                       check=True)
        subprocess.run([helper, "keygen", f"{work}/k"], check=True)
        subprocess.run([helper, "issue", f"{work}/ca.key", f"{work}/ca.pem",
                        f"{work}/k", "rogue@example.org", f"{work}/pek"],
                       check=True)
        st, _ = pks.call("POST", "/v1/keys", "provision",
                         {"address": "rogue@example.org",
                          "pek": open(f"{work}/pek").read(), "pdk": other_pdk})
        tap.is_(st, 422, "a PEK from a foreign CA is refused (422)")
        st, _ = pks.call("POST", "/v1/keys", "provision",
                         {"address": "eve@example.org", "pek": other_pek,
                          "pdk": "not a wrapped key"})
        tap.is_(st, 422, "a PDK that is not a wrapped key is refused (422)")
        st, doc = pks.call("POST", "/v1/keys", "provision",
                           {"address": "eve@example.org", "pek": other_pek})
        tap.ok(st == 400 and doc["error"] == "invalid_body",
               "a body without pdk is 400")
        st, _ = pks.call("POST", "/v1/keys", "provision",
                         {"address": "eve@example.org", "pek": other_pek,
                          "pdk": other_pdk, "extra": 1})
        tap.is_(st, 400, "a body with an unknown field is 400")

    # --- versions, password change, availability, delete --------------
    @tap.scenario("versions, password change, availability, delete")
    def _():
        global pdk_new
        pek2, pdk2 = pks.make_key(A, "a new password")
        st, doc = pks.call("POST", f"/v1/keys/{h(A)}/versions", "provision",
                           {"address": A, "pek": pek2, "pdk": pdk2})
        tap.ok(st == 201 and doc["version"] == 2, "a new key version is 2 (201)")
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}/pdk", "login")
        tap.ok(st == 200 and sorted(k["version"] for k in doc["keys"]) == [1, 2],
               "old key versions stay readable")
        st, _ = pks.call("POST", "/v1/keys/00000000/versions", "provision",
                         {"address": A, "pek": pek2, "pdk": pdk2})
        tap.is_(st, 422, "a new version under the wrong hash is refused")
        st, _ = pks.call("POST", "/v1/keys/NOTAHASH/versions", "provision",
                         {"address": A, "pek": pek2, "pdk": pdk2})
        tap.is_(st, 400, "a new version under a malformed hash is 400")
        npek, npdk = pks.make_key("nobody@example.org")
        st, doc = pks.call("POST", f"/v1/keys/{h('nobody@example.org')}/versions",
                           "provision", {"address": "nobody@example.org",
                                         "pek": npek, "pdk": npdk})
        tap.ok(st == 404 and doc["error"] == "no_such_address",
               "a new version for an address without keys is 404")
        _, pdk_new = pks.make_key(A, "changed password")
        st, doc = pks.call("PUT", f"/v1/keys/{h(A)}/rows/{row}/pdk", "provision",
                           {"pdk": pdk_new})
        tap.ok(st == 200 and doc["version"] == 1, "the PDK's wrapping is replaced")
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}/pdk", "login")
        got = {k["row"]: k["pdk"] for k in doc["keys"]}
        tap.ok(got.get(row) == pdk_new, "the replaced wrapping is served")
        st, _ = pks.call("PUT", f"/v1/keys/00000000/rows/{row}/pdk", "provision",
                         {"pdk": pdk_new})
        tap.is_(st, 404, "a row under another hash is 404")
        st, doc = pks.call("GET", f"/v1/addresses/{q('John.Smith@Example.org')}"
                           "/availability", "provision")
        tap.ok(st == 200 and doc == {"address": A, "available": False},
               "a taken address is not available (case-insensitive)")
        st, doc = pks.call("GET", f"/v1/addresses/{q('johnsmith@example.org')}"
                           "/availability", "provision")
        tap.ok(st == 200 and doc["available"] is True, "a free address is")
        st, _ = pks.call("GET", f"/v1/addresses/{q('no at sign')}/availability",
                         "provision")
        tap.is_(st, 400, "an invalid address is 400")

    # --- login failures: backoff, then lockout ---------------------------
    @tap.scenario("login failures, backoff, lockout")
    def _():
        fails = []
        for _ in range(4):
            sent = time.time()
            st, doc = pks.call("POST", f"/v1/keys/{h(A)}/rows/{row}/login-failure",
                               "login")
            fails.append((st, doc["failures"], doc["locked_until"], sent))
        tap.ok([f[1] for f in fails] == [1, 2, 3, 4] and fails[0][2] is None
               and fails[2][2] is not None, "failures are counted, delays begin",
               fails)
        # pksloginbackoff 2, pksloginlock 4, pksloginlocktime 3600: no delay,
        # then 2^0 and 2^1 s, then the lock; the reply's times are whole seconds
        def epoch(text):
            return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
        waits = [f[2] and epoch(f[2]) - f[3] for f in fails]
        tap.ok(waits[0] is None and
               all(-1 <= w - want <= 2.5 for w, want in
                   zip(waits[1:], (1, 2, 3600))),
               "locked_until is now + 2^(n - pksloginbackoff) s before the lock, "
               "now + pksloginlocktime at it", waits)
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}/pdk", "login")
        tap.ok(len(doc["keys"]) == 2 and
               all("pdk" not in k and k.get("locked_until") == fails[3][2]
                   for k in doc["keys"]),
               "the lock holds for every key version of the address: PDKs "
               "withheld, with the lock's locked_until")
        p3, d3 = pks.make_key(A, "reset during the lock")
        st, doc = pks.call("POST", f"/v1/keys/{h(A)}/versions", "provision",
                           {"address": A, "pek": p3, "pdk": d3})
        row3 = doc.get("row")
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}/pdk", "login")
        k3 = {k["row"]: k for k in doc["keys"]}.get(row3, {})
        tap.ok(row3 and "pdk" not in k3 and "locked_until" in k3,
               "a key version made during the lock is locked too")
        st, _ = pks.call("POST", f"/v1/keys/{h(A)}/rows/{row}/login-success",
                         "login")
        st2, doc = pks.call("GET", f"/v1/keys/{h(A)}/pdk", "login")
        tap.ok(st == 200 and all("pdk" in k for k in doc["keys"]),
               "a successful login clears the lock on every version")

    # --- the other failures of each endpoint ---------------------------
    @tap.scenario("other failures of each endpoint")
    def _():
        keyrow = f"/v1/keys/{h(A)}/rows/{row}"
        for method, path, role, body, want, code in (
                ("PUT", keyrow + "/pdk", "provision", {"pdk": "not wrapped"},
                 422, "invalid_key"),
                ("PUT", keyrow + "/pdk", "provision", {"pdk": pdk_new, "x": 1},
                 400, "invalid_body"),
                ("PUT", keyrow + "/pdk", "provision", {}, 400, "invalid_body"),
                ("PUT", f"/v1/keys/{h(A)}/rows/0/pdk", "provision",
                 {"pdk": pdk_new}, 400, "invalid_path"),
                ("PUT", keyrow + "/pdk", "login", {"pdk": pdk_new}, 403,
                 "forbidden"),
                ("PUT", keyrow + "/pdk", "deliver", {"pdk": pdk_new}, 403,
                 "forbidden"),
                ("POST", f"/v1/keys/00000000/rows/{row}/login-failure", "login",
                 None, 404, "no_such_row"),
                ("POST", f"/v1/keys/{h(A)}/rows/x1/login-failure", "login",
                 None, 400, "invalid_path"),
                ("POST", keyrow + "/login-failure", "provision", None, 403,
                 "forbidden"),
                ("POST", f"/v1/keys/00000000/rows/{row}/login-success", "login",
                 None, 404, "no_such_row"),
                ("POST", f"/v1/keys/NOTAHASH/rows/{row}/login-success", "login",
                 None, 400, "invalid_path"),
                ("POST", keyrow + "/login-success", "deliver", None, 403,
                 "forbidden"),
                ("POST", keyrow + "/login-success", "provision", None, 403,
                 "forbidden"),
                ("GET", "/v1/keys/00000000/pdk", "login", None, 404,
                 "no_such_key"),
                ("GET", "/v1/keys/NOTAHASH/pdk", "login", None, 400,
                 "invalid_hash"),
                ("DELETE", f"/v1/addresses/{q('no at sign')}", "provision", None,
                 400, "invalid_address")):
            st, doc = pks.call(method, path, role, body)
            tap.ok(st == want and doc and doc.get("error") == code,
                   f"{method} {path.replace(str(row), '{row}')} as {role}: "
                   f"{want} {code}", (st, doc))
        st, doc = pks.call("POST", keyrow + "/login-failure", "login")
        tap.ok(st == 200 and doc["failures"] == 1,
               "the refused login reports counted nothing", doc)
        pks.call("POST", keyrow + "/login-success", "login")

    # --- the allow-list -------------------------------------------------------
    @tap.scenario("allow-list")
    def _():
        st, _ = pks.call("GET", "/v1/health", "deliver", interface="127.0.0.2")
        tap.is_(st, 0, "credentials that work from 127.0.0.1 fail from 127.0.0.2")

        def refused_peer(payload):
            """Connects from 127.0.0.2, sends payload and reads to the end:
            (bytes received, how it ended, seconds waited)."""
            raw = socket.socket()
            raw.bind(("127.0.0.2", 0))
            raw.settimeout(5)   # beyond timeoutpksd (3 s)
            raw.connect(("127.0.0.1", pks.port))
            started, got, how = time.time(), b"", "eof"
            try:
                if payload:
                    raw.sendall(payload)
                while True:
                    chunk = raw.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except socket.timeout:
                how = "timeout"
            except OSError as e:
                how = f"error {e}"
            raw.close()
            return got, how, time.time() - started

        refusal = "127.0.0.2: address not allowed; connection closed"
        before = pks.log_text().count(refusal)
        got, how, waited = refused_peer(b"")
        tap.ok(got == b"" and how == "eof" and waited < 1,
               f"a silent refused peer sees EOF at once ({how}, {waited:.2f} s)")
        # a real ClientHello, made by Python's TLS client into a memory BIO
        into, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tlsobj = ctx.wrap_bio(into, out, server_hostname="127.0.0.1")
        try:
            tlsobj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = out.read()
        got, how, waited = refused_peer(hello)
        tap.ok(hello[:1] == b"\x16" and got == b"" and how == "eof" and waited < 1,
               f"a refused peer's ClientHello gets no byte back, then EOF "
               f"({len(got)} octets, {how}, {waited:.2f} s)")
        tap.is_(pks.log_text().count(refusal) - before, 2,
                "each refusal is logged with the address")

    # --- moved and tampered rows ----------------------------------------
    @tap.scenario("moved and tampered rows")
    def _():
        pekb, pdkb = pks.make_key(B)
        st, doc = pks.call("POST", "/v1/keys", "provision",
                           {"address": B, "pek": pekb, "pdk": pdkb})
        rowb = doc["row"]
        for _ in range(4):  # every worker has served, and cached, the PEK
            pks.call("GET", f"/v1/keys/{h(B)}", "deliver")
        pks.db.sql(f"UPDATE keyrow SET addr_hash = {int(h(A), 16)} "
                   f"WHERE row_id = {rowb}", "pks")
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}", "deliver")
        tap.ok(st == 503 and doc and doc["error"] == "row_unreadable",
               "a row copied to another hash does not open: that hash's PEK "
               "lookup is 503 row_unreadable, nothing served", (st, doc))
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}/pdk", "login")
        tap.ok(st == 503 and doc and doc["error"] == "row_unreadable",
               "and so is its PDK lookup", (st, doc))
        tap.ok(f"row {rowb} (hash {h(A)}): seal does not open" in pks.log_text(),
               "the row is reported in the log with its id and hash")
        # a newer version of B, tampered with: no fall-back to version 1
        pks.db.sql(f"UPDATE keyrow SET addr_hash = {int(h(B), 16)} "
                   f"WHERE row_id = {rowb}", "pks")
        pekb2, pdkb2 = pks.make_key(B, "second password")
        st, doc = pks.call("POST", f"/v1/keys/{h(B)}/versions", "provision",
                           {"address": B, "pek": pekb2, "pdk": pdkb2})
        rowb2 = doc["row"]
        pks.db.sql(f"UPDATE keyrow SET "
                   f"sealed_blob = CONCAT(LEFT(sealed_blob, 40), "
                   f"CHAR(ASCII(SUBSTR(sealed_blob, 41, 1)) ^ 1), "
                   f"SUBSTR(sealed_blob, 42)) WHERE row_id = {rowb2}", "pks")
        st, doc = pks.call("GET", f"/v1/keys/{h(B)}", "deliver")
        tap.ok(st == 503 and doc and doc["error"] == "row_unreadable",
               "a tampered newest version is reported (503), not replaced by "
               "the older version", (st, doc))
        st, doc = pks.call("GET", f"/v1/keys/{h(B)}/pdk", "login")
        tap.ok(st == 503 and doc and doc["error"] == "row_unreadable" and
               pdkb.splitlines()[3] not in str(doc),
               "the PDK lookup too, without any PDK", (st, doc))
        out = pks.ctl("keys", h(B))
        tap.ok("seal BROKEN" in out, "pks-ctl keys reports the broken row")
        r = subprocess.run([os.path.join(pks.bin, "pks-ctl"), "rotate"],
                           env=dict(os.environ, SQ_HOME=pks.home),
                           capture_output=True, text=True)
        tap.ok(r.returncode == 111 and "row remove" in r.stderr,
               "a rotation stops at the broken row and says how to go on",
               r.stderr)
        pks.ctl("row", "remove", str(rowb2))
        st, doc = pks.call("GET", f"/v1/keys/{h(B)}", "deliver")
        tap.ok("BROKEN" not in pks.ctl("keys", h(B)) and st == 200 and
               [k["row"] for k in doc["keys"]] == [rowb],
               "pks-ctl row remove takes the broken row out; the rest is served")

    # --- concurrent creates of one address: exactly one wins ----------------
    @tap.scenario("concurrent creates")
    def _():
        import threading
        racer = "racer@example.org"
        rpek, rpdk = pks.make_key(racer)
        statuses = []
        def race():
            statuses.append(pks.call("POST", "/v1/keys", "provision",
                                     {"address": racer, "pek": rpek,
                                      "pdk": rpdk})[0])
        threads = [threading.Thread(target=race) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        tap.ok(sorted(statuses) == [201] + [409] * 7,
               "8 concurrent creates of one address: one 201, seven 409",
               statuses)

    # --- a forced 32-bit collision ------------------------------------
    @tap.scenario("forced 32-bit collision")
    def _():
        tap.is_(h(COLLIDE[0]), h(COLLIDE[1]), "the crafted pair shares a hash")
        rows = {}
        for addr in COLLIDE:
            p, d = pks.make_key(addr)
            st, doc = pks.call("POST", "/v1/keys", "provision",
                               {"address": addr, "pek": p, "pdk": d})
            rows[addr] = (st, doc.get("row"), p)
        tap.ok(all(v[0] == 201 for v in rows.values()),
               "both addresses of the collision get keys")
        st, doc = pks.call("GET", f"/v1/keys/{h(COLLIDE[0])}", "deliver")
        tap.ok(st == 200 and sorted(k["row"] for k in doc["keys"]) ==
               sorted(v[1] for v in rows.values()),
               "a lookup of the shared hash returns both rows")
        st, doc = pks.call("GET", f"/v1/addresses/{q(COLLIDE[1])}/availability",
                           "provision")
        tap.ok(doc["available"] is False, "availability tells the two apart")
        st, doc = pks.call("DELETE", f"/v1/addresses/{q(COLLIDE[0])}",
                           "provision")
        st2, doc2 = pks.call("GET", f"/v1/keys/{h(COLLIDE[0])}", "deliver")
        tap.ok(st == 200 and doc["deleted"] == 1 and st2 == 200 and
               [k["row"] for k in doc2["keys"]] == [rows[COLLIDE[1]][1]],
               "deleting one address of the collision leaves the other")
        st, _ = pks.call("DELETE", f"/v1/addresses/{q(COLLIDE[0])}", "provision")
        tap.is_(st, 404, "deleting it again is 404")

    # --- hostile input: each answered, pksd still serving -------------
    @tap.scenario("hostile input")
    def _():
        def still_up():
            return pks.call("GET", "/v1/health", "deliver")[0] == 200

        st, doc = pks.curl("POST", "/v1/keys", pks.cred["provision"],
                           body='{"address": "leak.me@example.org", oops}')
        tap.ok(st == 400 and still_up(), "malformed JSON is 400")
        tap.ok("bad JSON" in pks.log_text() and "leak.me" not in pks.log_text(),
               "and logged by position, without quoting the body")
        st, _ = pks.curl("POST", "/v1/keys", pks.cred["provision"],
                         body=b"{\"a\":\"" + b"x" * (10 << 20) + b"\"}")
        tap.ok(st == 413 and still_up(), "a 10 MB body is 413")
        flood = []
        for i in range(400):
            flood += ["-H", f"X-Flood-{i}: {'y' * 40}"]
        st, _ = pks.curl("GET", "/v1/health", pks.cred["deliver"], extra=flood)
        tap.ok(st in (400, 413, 431) and still_up(), "a flood of headers is 4xx",
               st)
        for path in ("/v1/keys/../../etc/passwd", "/v1/keys/%2e%2e%2f%2e%2e",
                     "/v1/addresses/..%2f..%2fetc%2fpasswd/availability",
                     "/../v1/health", "/v1/keys/93e896f4/../../health",
                     "/v1/keys/93e896f4%00/pdk"):
            st, _ = pks.curl("GET", path, pks.cred["provision"],
                             extra=["--path-as-is"])
            tap.ok(st in (400, 403, 404) and still_up(),
                   f"path traversal {path} is {st}")
        sqlmeta = "x' OR '1'='1'; DROP TABLE keyrow; --"
        for field in ("address", "pek", "pdk"):
            body = {"address": "sql@example.org", "pek": pek, "pdk": pdk}
            body[field] = sqlmeta
            st, _ = pks.call("POST", "/v1/keys", "provision", body)
            tap.ok(st in (400, 422) and still_up(),
                   f"SQL metacharacters in {field} are refused ({st})")
        for path in (f"/v1/keys/{q(sqlmeta)}", f"/v1/keys/{h(A)}/rows/"
                     f"{q(sqlmeta)}/pdk", f"/v1/addresses/{q(sqlmeta)}/availability"):
            st, _ = pks.call("GET" if "pdk" not in path else "PUT", path,
                             "provision", {"pdk": pdk} if "pdk" in path else None)
            tap.ok(st in (400, 403, 404) and still_up(),
                   f"SQL metacharacters in a path are refused ({st})")
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}", "deliver")
        tap.ok(st == 200 and len(doc["keys"]) == 3, "the rows are intact after all")
        st, doc = pks.call("PATCH", "/v1/health", "deliver")
        tap.ok(st == 405 and doc and doc["error"] == "method_not_allowed" and
               still_up(), "an unsupported method is 405, in JSON")
        st, _ = pks.call("DELETE", "/v1/health", "deliver")
        tap.is_(st, 405, "a known path with the wrong method is 405")
        st, text = pks.curl("HEAD", "/v1/health", pks.cred["deliver"],
                            extra=["-I"])
        tap.ok(st == 405 and "{" not in text and still_up(),
               "HEAD is 405 without a body")
        st, _ = pks.call("GET", "/v2/nothing", "deliver")
        tap.is_(st, 404, "an unknown path is 404")
        slow = socket.create_connection(("127.0.0.1", pks.port), 5)
        tls = ctx.wrap_socket(slow, server_hostname="127.0.0.1")
        tls.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")   # and stop
        tls.settimeout(15)
        started = time.time()
        try:
            answer = tls.recv(4096)
        except OSError:
            answer = b""
        waited = time.time() - started
        tls.close()
        tap.ok(waited < 10 and (answer == b"" or answer.startswith(b"HTTP/1.1 4")),
               f"a slow client is cut off after the timeout ({waited:.1f} s)")
        tap.ok(still_up(), "and pksd serves the next request")
        tap.ok("no complete request within 3 s" in pks.log_text(),
               "the cut-off is logged")

    # --- MariaDB restarted under a running pksd -------------------------
    @tap.scenario("MariaDB restarted")
    def _():
        pks.db.pause()
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}", "deliver")
        st_h, _ = pks.call("GET", "/v1/health", "deliver")
        tap.ok(st == 503 and st_h == 503, "with MariaDB down, requests get 503",
               (st, st_h))
        pks.db.resume()
        os.chmod(pks.db.dir, 0o711)   # sq-mariadb start makes it private again
        ok = False
        for _ in range(10):
            st, doc = pks.call("GET", f"/v1/keys/{h(A)}", "deliver")
            if st == 200:
                ok = True
                break
            time.sleep(0.5)
        tap.ok(ok, "after MariaDB restarts, requests succeed without "
               "restarting pksd")
        st, doc = pks.call("POST", "/v1/keys", "provision",
                           {"address": B.replace("moved", "after"),
                            "pek": pks.make_key("after@example.org")[0],
                            "pdk": pdk})
        tap.is_(st, 201, "and writes too")

    # --- a second pksd cannot share the address --------------------------
    @tap.scenario("second pksd on the address")
    def _():
        r = subprocess.run(argv, env=instance.env(pks.home),
                           capture_output=True, text=True, timeout=30)
        tap.ok(r.returncode == 111 and "cannot listen" in r.stderr,
               "a second pksd on the same address stops with 111", r.stderr)

    # --- a configuration error ends pksd at once ------------------------
    @tap.scenario("configuration error")
    def _():
        pks.stop_pksd()
        pks.control("pksallow", "127.0.0.1\n10.0.0.1/8\n")
        r = subprocess.run(argv, env=instance.env(pks.home),
                           capture_output=True, text=True, timeout=30)
        tap.ok(r.returncode == 111 and "pksallow line 2" in r.stderr,
               "a bad control/pksallow stops pksd with 111 and the line", r.stderr)
        pks.control("pksallow", "127.0.0.1\n")
        keyfile = os.path.join(pks.home, "pks", "pks.key")
        os.chmod(keyfile, 0o600)
        r = subprocess.run(argv, env=instance.env(pks.home),
                           capture_output=True, text=True, timeout=30)
        os.chmod(keyfile, 0o400)
        tap.ok(r.returncode == 111 and "pks.key: mode must be exactly 0400" in
               r.stderr, "a PKS key of mode 0600 stops pksd with 111", r.stderr)
        if pks.as_root:
            owner = os.stat(keyfile)
            os.chown(keyfile, 0, 0)
            r = subprocess.run(argv, env=instance.env(pks.home),
                               capture_output=True, text=True, timeout=30)
            os.chown(keyfile, owner.st_uid, owner.st_gid)
            tap.ok(r.returncode == 111 and "pks.key: must be owned by uid "
                   f"{owner.st_uid}" in r.stderr,
                   "a PKS key owned by another user stops pksd with 111",
                   r.stderr)
        else:
            tap.skip("chown needs root")
        pks.start_pksd()

    # --- the key table must be encrypted by MariaDB itself ---------------
    @tap.scenario("keyrow encrypted at rest")
    def _():
        status = pks.ctl("status")
        tables = [line for line in status.splitlines()
                  if line.startswith("table ")]
        tap.ok("table keyrow encrypted, key id 1" in tables and
               "table client encrypted, key id 1" in tables and
               all(" encrypted, key id 1" in t for t in tables),
               "pks-ctl status: every table encrypted, as the server "
               "reports it", status)
        pks.stop_pksd()
        # FORCE refuses ENCRYPTED=NO; ON allows it, as a careless server would
        pks.db.sql("SET GLOBAL innodb_encrypt_tables = 'ON'; "
                   "ALTER TABLE keyrow ENCRYPTED=NO", "pks")
        try:
            status = pks.ctl("status")
            tap.ok("table keyrow NOT encrypted; `ENCRYPTED`='NO'" in status
                   and "table client encrypted, key id 1" in status,
                   "pks-ctl status: an unencrypted keyrow table shows, with "
                   "its create options", status)
            r = subprocess.run(argv, env=instance.env(pks.home),
                               capture_output=True, text=True, timeout=30)
            tap.ok(r.returncode == 111 and "table keyrow is not encrypted "
                   "by the database" in r.stderr,
                   "pksd refuses to start (111) when keyrow is not "
                   "encrypted, and says so", f"exit {r.returncode}\n"
                   f"{r.stderr}")
        finally:
            pks.db.sql("ALTER TABLE keyrow ENCRYPTED=DEFAULT; "
                       "SET GLOBAL innodb_encrypt_tables = 'FORCE'", "pks")
        if pks.as_root:
            # pksd runs as nobody; reading the encryption state needs PROCESS
            pks.db.sql("REVOKE PROCESS ON *.* FROM 'nobody'@'localhost'")
            try:
                r = subprocess.run(argv, env=instance.env(pks.home),
                                   capture_output=True, text=True, timeout=30)
            finally:
                pks.db.sql("GRANT PROCESS ON *.* TO 'nobody'@'localhost'")
            tap.ok(r.returncode == 111 and "needs PROCESS" in r.stderr,
                   "without PROCESS pksd cannot check and refuses (111)",
                   f"exit {r.returncode}\n{r.stderr}")
        else:
            tap.skip("pksd runs as its own database user only as root")
        status = pks.ctl("status")
        tap.ok("table keyrow encrypted, key id 1" in status,
               "keyrow rebuilt encrypted again", status)
        pks.start_pksd()

    # --- rotation -------------------------------------------------------
    @tap.scenario("rotation")
    def _():
        out = pks.ctl("rotate")
        st, doc = pks.call("GET", f"/v1/keys/{h(A)}/pdk", "login")
        status = pks.ctl("status")
        tap.ok("rotated" in out and st == 200 and len(doc["keys"]) == 3 and
               "not under pks.key: 0" in status,
               "after pks-ctl rotate every row is under the new key and opens",
               out + status)
        out = pks.ctl("keys", h(A))
        tap.ok(out.count("seal ok") == 3, "pks-ctl keys shows the re-sealed rows")
        st, _ = pks.call("POST", "/v1/keys", "provision",
                         {"address": "post.rotation@example.org",
                          "pek": pks.make_key("post.rotation@example.org")[0],
                          "pdk": pdk})
        tap.is_(st, 201, "pksd seals new rows under the new key")

    # --- what the database holds ----------------------------------------
    @tap.scenario("what the database holds")
    def _():
        def dumps():
            base = ["mariadb-dump", "--no-defaults", "-S", pks.db.socket, "-u",
                    pks.db.user]
            return tuple(subprocess.run(base + extra + ["pks"], check=True,
                                        capture_output=True).stdout
                         for extra in ([], ["--hex-blob"]))

        def unescape(dump):   # mysqldump's backslash escapes in a plain dump
            plain = {b"0": b"\0", b"n": b"\n", b"r": b"\r", b"Z": b"\x1a"}
            return re.sub(rb"\\(.)", lambda m: plain.get(m.group(1),
                                                          m.group(1)),
                          dump, flags=re.S)

        def pdk_needles(pem):
            """32-octet slices of the PDK's DER (binary, and hex either case)
            and 32-character slices of its base64."""
            b64 = "".join(line for line in pem.splitlines()
                          if line and not line.startswith("-----")).encode()
            der = base64.b64decode(b64)
            out = []
            for i in range(0, len(der) - 31, 8):
                piece = der[i:i + 32]
                out += [piece, piece.hex().encode(), piece.hex().upper().encode()]
            return out + [b64[i:i + 32] for i in range(0, len(b64) - 31, 8)]

        def addr_needles(address):
            return [address.encode(), address.encode().hex().encode()]

        def found(needles, plain, hexed):
            hay = (plain, unescape(plain), hexed, plain.lower(), hexed.lower())
            return [n for n in needles if any(n in x for x in hay)]

        addresses = sorted(set(re.findall(r"[\w.+-]+@example\.org",
                                          open(__file__).read())))
        # the search finds what is there: a canary table holding a PDK's DER
        # and an address, in a plain and a hex dump
        canary = base64.b64decode("".join(pdk.splitlines()[1:-1]))
        pks.db.sql("CREATE TABLE canary (b BLOB); INSERT INTO canary VALUES "
                   f"(X'{canary.hex()}'), (X'{A.encode().hex()}')", "pks")
        plain, hexed = dumps()
        pks.db.sql("DROP TABLE canary", "pks")
        tap.ok(found(pdk_needles(pdk)[:1], unescape(plain), b"") and
               found(pdk_needles(pdk)[1:3], b"", hexed) and
               found(addr_needles(A)[:1], plain, b"") and
               found(addr_needles(A)[1:], b"", hexed),
               "the dump search finds a PDK and an address stored in the clear")
        plain, hexed = dumps()
        leaks = [(a, "PDK") for a, p in made if found(pdk_needles(p), plain,
                                                       hexed)]
        leaks += [(a, "address") for a in addresses
                  if found(addr_needles(a.lower()), plain, hexed)]
        tap.ok(len(hexed) > 1000 and len(made) >= 12 and not leaks and
               b"example.org" not in plain.lower() and
               b"example.org" not in hexed.lower() and b"BEGIN" not in plain,
               f"mysqldump (plain and --hex-blob) holds no slice of any of the "
               f"{len(made)} PDKs and none of the {len(addresses)} addresses",
               leaks)

        tap.ok(not any(s in pks.log_text() for s in
                       ("john.smith", "BEGIN", pdk_b64[10:40].decode())),
               "pksd's log holds no address, key or PDK")
        pks.stop_pksd()
        log = pks.log_text()
        tap.ok("Sanitizer" not in log and "runtime error" not in log and
               "stopped" in log, "pksd stops cleanly on SIGTERM, with no "
               "sanitizer report", log[-2000:])

        # a supervisor's kill -9 of the parent takes the workers with it
        pks.start_pksd()
        parent = pks.proc.pid
        workers = [int(x) for x in open(
            f"/proc/{parent}/task/{parent}/children").read().split()]
        os.kill(parent, 9)
        pks.proc.wait()
        def running(pid):   # a zombie has ended, even if nobody reaped it
            try:
                return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1] \
                    .split()[0] != "Z"
            except OSError:
                return False
        deadline = time.time() + 10
        while time.time() < deadline and any(map(running, workers)):
            time.sleep(0.1)
        alive = [w for w in workers if running(w)]
        tap.ok(workers and not alive,
               "pksd's workers end when their parent is killed with -9",
               f"workers {workers}, alive {alive}")
        pks.proc = None
finally:
    log = pks.log_text() if pks.home else ""
    pks.stop()
    if os.environ.get("SQ_TEST_VERBOSE"):
        tap.diag(log)
tap.done()
