#!/usr/bin/env python3
"""The lib/ crypto core against the OpenSSL command line, both ways:
sealed messages, wrapped PDKs and PEK certificates; plus empty, 8-bit and
50 MB messages with the peak memory of sealing and opening."""
import base64
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402

HELPER = os.path.join(tap.build_dir(), "tests", "helpers", "sqcrypt")
ASAN = os.environ.get("SQ_SANITIZE") == "1"
# how a subscriber who leaves opens a stored message: binary, as stored
DECRYPT = ["openssl", "cms", "-decrypt", "-binary", "-inform", "DER"]
tmp = tempfile.mkdtemp(prefix="sqcrypto.")


def path(name):
    return os.path.join(tmp, name)


def run(args, stdin=None, pwfile=None, check=False):
    """Runs a command, with pwfile open on its fd 3 if given; returns
    (exit code, stdout bytes, stderr text)."""
    if pwfile:
        args = ["sh", "-c", 'exec "$0" "$@" 3<"$PWFILE"'] + args
    env = dict(os.environ, PWFILE=pwfile or "")
    with open(stdin or os.devnull, "rb") as inp:
        p = subprocess.run(args, stdin=inp, capture_output=True, env=env)
    if check and p.returncode != 0:
        tap.diag(f"{args}: {p.stderr.decode(errors='replace')}")
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def child_peak_rss_kib(args, stdin, stdout):
    """Runs args in a fresh Python child and returns the grandchild's peak
    RSS, so that the numbers of earlier commands do not mix in."""
    code = ("import resource,subprocess,sys\n"
            "r=subprocess.run(sys.argv[1:],stdin=open(%r,'rb'),"
            "stdout=open(%r,'wb'),stderr=subprocess.DEVNULL)\n"
            "print(r.returncode,"
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
            % (stdin, stdout))
    out = subprocess.run([sys.executable, "-c", code] + args,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def read(name):
    with open(path(name), "rb") as f:
        return f.read()


try:
    # the keys and the sealed message that the scenarios share
    run([HELPER, "ca", path("ca.key"), path("ca.pem"), "Interop CA"], check=True)
    run([HELPER, "keygen", path("u.key")], check=True)
    ISSUED = run([HELPER, "issue", path("ca.key"), path("ca.pem"),
                  path("u.key"), "John.Smith@Example.ORG", path("u.pem")],
                 check=True)
    msg = (b"From: a@example.org\nTo: john.smith@example.org\n"
           b"Subject: interop\n\n" + bytes(range(256)) * 40 + b"\r\nend\n")
    write("msg", msg)
    SEALED = run([HELPER, "seal", path("u.pem")], stdin=path("msg"))
    sealed = SEALED[1]
    write("msg.sealed", sealed)

    # --- keys and certificates -------------------------------------------
    @tap.scenario("keys and certificates")
    def _():
        rc, _, _ = ISSUED
        tap.is_(rc, 0, "a PEK certificate is issued by the instance CA")
        rc, out, _ = run(["openssl", "verify", "-CAfile", path("ca.pem"),
                          "-purpose", "any", path("u.pem")])
        tap.ok(rc == 0 and b": OK" in out, "openssl verify accepts the PEK chain")
        rc, out, _ = run(["openssl", "x509", "-in", path("u.pem"), "-noout",
                          "-subject", "-ext", "subjectAltName,keyUsage,extendedKeyUsage"])
        text = out.decode()
        tap.ok("email:john.smith@example.org" in text
               and "CN = john.smith@example.org" in text
               and "emailAddress = john.smith@example.org" in text
               and "Key Agreement" in text and "E-mail Protection" in text,
               "the PEK names the normalised address and is for key agreement",
               text)

    @tap.scenario("sealing, ours and openssl's")
    def _():
        # --- sealing: ours -> openssl, openssl -> ours ------------------------
        msg = (b"From: a@example.org\nTo: john.smith@example.org\n"
               b"Subject: interop\n\n" + bytes(range(256)) * 40 + b"\r\nend\n")
        write("msg", msg)
        rc, sealed, err = run([HELPER, "seal", path("u.pem")], stdin=path("msg"))
        write("msg.sealed", sealed)
        tap.ok(rc == 0 and f"octets={len(msg)}" in err,
               "an 8-bit message is sealed and its plaintext size recorded", err)
        tap.ok(msg[40:80] not in sealed and b"interop" not in sealed,
               "no plaintext shows in the sealed entity")
        rc, out, err = run(DECRYPT + ["-in", path("msg.sealed"), "-recip",
                                      path("u.pem"), "-inkey", path("u.key")])
        tap.ok(rc == 0 and out == msg,
               "openssl cms -decrypt opens our sealed message byte for byte", err)
        rc, out, _ = run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in",
                          path("msg.sealed")])
        text = out.decode()
        tap.ok("id-smime-ct-authEnvelopedData" in text
               and "aes-256-gcm" in text
               and "dhSinglePass-stdDH-sha256kdf-scheme" in text
               and "id-aes256-wrap" in text,
               "the entity is authEnveloped-data, AES-256-GCM, ECDH with the "
               "SHA-256 KDF and AES-256 key wrap")

        for label, extra in (("", []),
                             (" with the SHA-256 KDF", ["-keyopt",
                                                        "ecdh_kdf_md:sha256"])):
            rc, _, err = run(["openssl", "cms", "-encrypt", "-aes-256-gcm",
                              "-binary", "-in", path("msg"), "-out",
                              path("cli.sealed"), "-recip", path("u.pem")] + extra)
            rc2, out, err2 = run([HELPER, "open", path("u.pem"), path("u.key")],
                                 stdin=path("cli.sealed"))
            tap.ok(rc == 0 and rc2 == 0 and out == msg,
                   "a message sealed by openssl cms -encrypt -aes-256-gcm"
                   + label + " opens with our code", err + err2)

        run(["openssl", "cms", "-encrypt", "-aes-256-cbc", "-binary", "-in",
             path("msg"), "-out", path("cbc.sealed"), "-recip", path("u.pem")])
        rc, out, err = run([HELPER, "open", path("u.pem"), path("u.key")],
                           stdin=path("cbc.sealed"))
        tap.ok(rc != 0 and out == b"" and "not authEnveloped-data" in err,
               "unauthenticated enveloped-data (AES-CBC) is refused", err)

    # --- tampering and the wrong key ------------------------------------
    @tap.scenario("tampering and the wrong key")
    def _():
        tampered = bytearray(sealed)
        tampered[len(sealed) // 2] ^= 0x04    # inside the ciphertext
        write("tampered.sealed", bytes(tampered))
        rc, out, _ = run([HELPER, "open", path("u.pem"), path("u.key")],
                         stdin=path("tampered.sealed"))
        rc2, _, _ = run(DECRYPT + ["-in", path("tampered.sealed"), "-recip",
                                   path("u.pem"), "-inkey", path("u.key"),
                                   "-out", path("junk")])
        tap.ok(rc != 0 and out == b"" and rc2 != 0,
               "one changed bit makes both our code and openssl refuse the "
               "message")
        run([HELPER, "keygen", path("e.key")], check=True)
        run([HELPER, "issue", path("ca.key"), path("ca.pem"), path("e.key"),
             "eve@example.org", path("e.pem")], check=True)
        rc, out, _ = run([HELPER, "open", path("e.pem"), path("e.key")],
                         stdin=path("msg.sealed"))
        tap.ok(rc != 0 and out == b"", "another subscriber's key opens nothing")

    # --- empty message ----------------------------------------------------
    @tap.scenario("empty message")
    def _():
        write("empty", b"")
        rc, sealed_empty, err = run([HELPER, "seal", path("u.pem")],
                                    stdin=path("empty"))
        write("empty.sealed", sealed_empty)
        rc2, out, _ = run(DECRYPT + ["-in", path("empty.sealed"), "-recip",
                                     path("u.pem"), "-inkey", path("u.key")])
        tap.ok(rc == 0 and "octets=0 " in err and rc2 == 0 and out == b"",
               "an empty message seals and opens with openssl as empty", err)
        rc, out, _ = run([HELPER, "open", path("u.pem"), path("u.key")],
                         stdin=path("empty.sealed"))
        tap.ok(rc == 0 and out == b"", "our code opens the empty message too")

    # --- the wrapped PDK ----------------------------------------------------
    @tap.scenario("wrapped PDK")
    def _():
        write("pw", b"s3cret pass phrase\n")
        write("badpw", b"s3cret pass phrasE\n")
        rc, _, err = run([HELPER, "wrap", path("u.key"), path("u.p8")],
                         pwfile=path("pw"))
        tap.is_(rc, 0, "the PDK is wrapped with a password read from fd 3")
        rc, out, err = run(["openssl", "pkcs8", "-in", path("u.p8"), "-passin",
                            "file:" + path("pw")])
        write("u.back", out)
        pub1 = run(["openssl", "pkey", "-in", path("u.key"), "-pubout"])[1]
        pub2 = run(["openssl", "pkey", "-in", path("u.back"), "-pubout"])[1]
        tap.ok(rc == 0 and pub1 == pub2 and pub1,
               "openssl pkcs8 unwraps our wrapped PDK to the same key", err)
        # what a leaving subscriber does with sq-sealed(5)'s steps: the key
        # exported by openssl pkcs8 opens our sealed message with openssl cms
        rc, out, err = run(DECRYPT + ["-in", path("msg.sealed"), "-inkey",
                                      path("u.back")])
        tap.ok(rc == 0 and out == msg,
               "openssl cms opens our sealed message with the exported PDK", err)
        rc, _, _ = run(["openssl", "pkcs8", "-in", path("u.p8"), "-passin",
                        "file:" + path("badpw"), "-out", path("junk")])
        tap.ok(rc != 0, "openssl pkcs8 refuses the wrong password")
        rc, out, _ = run(["openssl", "asn1parse", "-in", path("u.p8")])
        tap.ok(b":PBES2" in out and b":scrypt" in out and b":aes-256-cbc" in out
               and b"INTEGER           :4000" in out,
               "the wrapping is PBES2 with scrypt N=16384 and AES-256-CBC")
        rc, _, err = run(["openssl", "pkcs8", "-topk8", "-scrypt", "-scrypt_N",
                          "16384", "-scrypt_r", "8", "-scrypt_p", "1", "-in",
                          path("u.key"), "-out", path("cli.p8"), "-passout",
                          "file:" + path("pw")])
        rc2, _, err2 = run([HELPER, "unwrap", path("cli.p8"), path("cli.key")],
                           pwfile=path("pw"))
        pub3 = run(["openssl", "pkey", "-in", path("cli.key"), "-pubout"])[1]
        tap.ok(rc == 0 and rc2 == 0 and pub3 == pub1,
               "a PDK wrapped by openssl pkcs8 -scrypt unwraps with our code",
               err + err2)
        rc, _, err = run([HELPER, "unwrap", path("u.p8"), path("x.key")],
                         pwfile=path("badpw"))
        tap.ok(rc == 1 and not os.path.exists(path("x.key")),
               "our unwrap refuses the wrong password", err)

    # --- the address hash ---------------------------------------------------
    @tap.scenario("address hash")
    def _():
        rc, out, _ = run([HELPER, "hash", "John.Smith@EXAMPLE.org."])
        want = hashlib.sha256(b"john.smith@example.org").hexdigest()[:8]
        tap.is_(out.decode().strip(), want + " john.smith@example.org",
                "the address hash is the first 4 octets of SHA-256 of the "
                "normalised address")

    # --- 50 MB --------------------------------------------------------------
    @tap.scenario("50 MB message")
    def _():
        big = os.urandom(37_500_000)
        write("big", base64.encodebytes(big))
        del big
        size = os.path.getsize(path("big"))
        rc, seal_kib = child_peak_rss_kib([HELPER, "seal", path("u.pem")],
                                          path("big"), path("big.sealed"))
        rc2, open_kib = child_peak_rss_kib([HELPER, "open", path("u.pem"),
                                            path("u.key")],
                                           path("big.sealed"), path("big.out"))
        same = rc == 0 and rc2 == 0 and read("big.out") == read("big")
        tap.diag(f"50 MB message ({size} octets): peak RSS seal {seal_kib} KiB, "
                 f"open {open_kib} KiB{' (ASan build)' if ASAN else ''}")
        tap.ok(same, "a 50 MB message round-trips through our seal and open")
        if ASAN:
            tap.skip("peak RSS is not meaningful under ASan")
        else:
            tap.ok(seal_kib < 32 * 1024,
                   f"sealing 50 MB streams: peak RSS {seal_kib} KiB < 32 MiB")
        rc, _, err = run(DECRYPT + ["-in", path("big.sealed"), "-recip",
                                    path("u.pem"), "-inkey", path("u.key"),
                                    "-out", path("big.cli")])
        tap.ok(rc == 0 and read("big.cli") == read("big"),
               "openssl opens the 50 MB message we sealed", err)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
tap.done()
