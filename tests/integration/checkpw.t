#!/usr/bin/env python3
"""sq-checkpw against the real pksd and MariaDB: the checkpassword
contract (descriptor 3, exit codes 0/1/2/111), the unlocked PDK on
descriptor 4 of the next program and nowhere else, failures counted by the
key store before it serves a PDK and throttled per address and client
network (the owner is not locked out from another network; concurrent
sessions do not overtake the count), unknown addresses as slow as wrong
passwords, never the next program as root."""
import hashlib
import math
import os
import pwd
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import proc, tap  # noqa: E402
from sqtest.mail import MailHost, PASSWORD  # noqa: E402

A, B = "john.smith@example.org", "jane.doe@example.org"
# the next program: who it is, what it got, and its whole environment and
# argv, for the test to search
NEXT = ('echo "uid=$(id -u) user=$USER mailbox=$SQ_MAILBOX"; '
        # descriptor 4: the certificate, then its key (the pair matches)
        'pem=$(cat <&4); '
        'k=$(printf "%s\\n" "$pem" | openssl pkey -pubout); '
        'c=$(printf "%s\\n" "$pem" | openssl x509 -noout -pubkey); '
        # (said indirectly: the script itself is in the argv dumped below)
        '[ -n "$k" ] && [ "$k" = "$c" ] && echo "key=$(echo matched)"; '
        'for f in /proc/$$/environ /proc/$$/cmdline; do '
        'tr "\\0" "\\n" <"$f"; done')


STDERR = []


NET_FREE = 5    # pksd's default pksthrottlenet: free failures per network


def checkpw(m, data, argv=None, as_user=True, ip=None):
    """Runs sq-checkpw with data on descriptor 3, for a client at ip
    (TCPREMOTEIP, as tcpserver sets it): (exit code, stdout)."""
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    cmd = [os.path.join(m.bin, "sq-checkpw")] + (
        argv if argv is not None else ["sh", "-c", NEXT])
    if as_user:
        cmd = m.as_user(cmd)
    p = subprocess.run(["sh", "-c", 'exec "$@" 3<&0', "sh"] + cmd,
                       stdin=r, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, SQ_HOME=m.home,
                                **({"TCPREMOTEIP": ip} if ip else {})))
    os.close(r)
    STDERR.append(p.stderr)
    return p.returncode, p.stdout


def failures(m, address, network="*"):
    """The key store's count of failed logins for address from network
    ("*": the address as a whole), read from its database
    (login_throttle), not from its log."""
    h = int(hashlib.sha256(address.encode()).hexdigest()[:8], 16)
    out = m.pks.db.sql("SELECT COALESCE(SUM(failures), 0) FROM login_throttle"
                       f" WHERE addr_hash = {h} AND network = '{network}'",
                       database="pks")
    return int(out.strip())


def parallel(m, data, ip, n):
    """n sq-checkpw at once from ip: their exit codes, and the seconds
    the whole took."""
    codes = [None] * n

    def one(i):
        codes[i] = checkpw(m, data, ip=ip)[0]
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes, time.monotonic() - t0


def login(user, password):
    return f"{user}\0{password}\0{int(time.time())}\0".encode()


m = MailHost(users=[A, B])
try:
    m.start()       # control/pkslogin is the daemons' user's (as root)

    @tap.scenario("right password")
    def _():
        rc, out = checkpw(m, login(A, PASSWORD))
        h = __import__("hashlib").sha256(A.encode()).hexdigest()[:8]
        tap.ok(rc == 0 and f"user={A}" in out and f"mailbox={h}-" in out,
               "the right password: the next program runs, USER and SQ_MAILBOX "
               "set", out + m.log("checkpw.log"))
        tap.ok("key=matched" in out,
               "the unlocked PDK and its certificate are on descriptor 4", out)
        tap.ok("SQ_HOME=" in out and PASSWORD not in out,
               "the password is in neither its environment nor its argv", out)

    @tap.scenario("wrong password, unknown address")
    def _():
        before = failures(m, A)
        rc, out = checkpw(m, login(A, "not the password"))
        tap.is_(rc, 1, "a wrong password: exit 1, nothing run")
        tap.is_(failures(m, A), before + 1,
                "and the key store counts the failure (login_throttle)")
        rc, _ = checkpw(m, login("nobody.here@example.org", PASSWORD))
        tap.is_(rc, 1, "an unknown address: exit 1")

    @tap.scenario("unknown address as slow as a wrong password")
    def _():
        def timed(user):
            t = time.monotonic()
            checkpw(m, login(user, "wrong wrong wrong"))
            return time.monotonic() - t
        known = statistics.median(timed(B) for _ in range(3))
        unknown = statistics.median(timed("x.y.z@example.org") for _ in range(3))
        tap.ok(0.6 < unknown / known < 1.6,
               "an unknown address costs what a wrong password does "
               "(one scrypt unwrap)", f"known {known:.3f} s, unknown "
               f"{unknown:.3f} s")

    @tap.scenario("misuse exits 2")
    def _():
        codes = [checkpw(m, d)[0] for d in (b"", b"a@b.example", b"x" * 600,
                                            b"a@b.example\0pw")]
        codes.append(checkpw(m, login(A, PASSWORD), argv=[])[0])
        tap.is_(codes, [2] * 5, "misuse (no NULs, over 512 octets, no program) "
                "exits 2")

    @tap.scenario("run as root")
    def _():
        if os.geteuid() == 0:
            rc, out = checkpw(m, login(A, PASSWORD), as_user=False)
            try:    # conf-users' POP3 user: on a host set up by INSTALL
                pop = pwd.getpwnam("sqmailp").pw_uid
                tap.ok(rc == 0 and f"uid={pop} " in out,
                       "run as root it runs the next program as sqmailp", out)
            except KeyError:
                tap.ok(rc == 111 and "uid=0" not in out,
                       "run as root without its user (sqmailp) it refuses to "
                       "run the next program (111)", out)
        else:
            tap.skip("not root: the drop from root cannot be tried")

    # --- throttling (pksd(8), LOGIN THROTTLING) ---------------------------
    @tap.scenario("throttled network, owner from another")
    def _():
        attacker, owner = "127.3.3.3", "127.0.0.1"
        codes = [checkpw(m, login(A, f"guess {i}"), ip=attacker)[0]
                 for i in range(12)]
        tap.ok(set(codes) <= {1, 111} and 111 in codes and
               codes[:NET_FREE] == [1] * NET_FREE,
               "12 wrong passwords from one network: the free ones exit 1, "
               "then the key store throttles (111, try later)", codes)
        tap.is_(failures(m, A, "127.3.3.0/24"), codes.count(1),
                "every PDK served was counted against that network, and "
                "nothing else")
        rc, out = checkpw(m, login(A, PASSWORD), ip=owner)
        tap.ok(rc == 0 and f"user={A}" in out,
               "the owner's right password from another network logs in",
               f"exit {rc}\n{out}" + m.pks.log_text()[-1500:])
        again, _ = parallel(m, login(A, "guess again"), attacker, 2)
        tap.ok(111 in again and 0 not in again and set(again) <= {1, 111},
               "the attacker's network is still throttled (111), not "
               "answered as a wrong password", again)

    @tap.scenario("throttled by the network of any TCPREMOTEIP")
    def _():
        codes = [checkpw(m, login(B, PASSWORD), ip=ip)[0]
                 for ip in ("fe80::1%lo", "2001:db8:5:6::7", "not an address")]
        tap.is_(codes, [0, 0, 0], "a link-local zone, IPv6 and an unparsable "
                "TCPREMOTEIP (counted as unknown) do not fail the login")
        checkpw(m, login(B, "wrong"), ip="2001:db8:5:6:ffff::1")
        tap.is_(failures(m, B, "2001:db8:5:6::/64"), 1,
                "an IPv6 client counts against its /64")

    @tap.scenario("race: 40 parallel wrong passwords")
    def _():
        net = "127.4.4.0/24"
        codes, took = parallel(m, login(B, "wrong in parallel"), "127.4.4.4",
                               40)
        served = failures(m, B, net)
        # free failures, the one that starts the waits, and one more for
        # each wait of 1, 2, 4 ... seconds that ended while the 40 ran
        # (pksd's times are whole seconds: the kth ends after 2^k - 2 s)
        bound = NET_FREE + 1 + int(math.log2(took + 2))
        tap.ok(served <= bound and codes.count(1) == served and
               codes.count(111) == 40 - served,
               f"40 concurrent wrong passwords from one network: {served} "
               f"PDKs served and counted (at most {bound} in {took:.1f} s), "
               "the rest throttled", f"codes {codes}, counted {served}")

    @tap.scenario("key store down")
    def _():
        m.pks.stop_pksd()
        try:
            rc, _ = checkpw(m, login(A, PASSWORD))
        finally:
            m.pks.start_pksd()
        tap.is_(rc, 111, "the key store down: 111, a temporary failure, not 1")

    @tap.scenario("the login relay")
    def _():
        def relay_ports():
            """The local ports of the relay's established connections
            (to pksd: it makes no other)."""
            out = subprocess.run(["ss", "-tnpH", "state", "established"],
                                 capture_output=True, text=True).stdout
            return {ln.split()[2].rsplit(":", 1)[1]
                    for ln in out.splitlines() if '"sq-pkslogin"' in ln}
        seen, codes = set(), []
        for _ in range(6):
            codes.append(checkpw(m, login(A, PASSWORD))[0])
            seen |= relay_ports()
        tap.ok(codes == [0] * 6 and 1 <= len(seen) <= 4,
               "six logins: the relay's four workers keep their connections "
               "to the key store open (at most four ever seen)",
               f"codes {codes}, ports {sorted(seen)}")
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        raw.settimeout(10)
        raw.connect(os.path.join(m.home, "pkslogin", "socket"))
        raw.send(b"A\x93\xe8\x96\xf4127.0.0.1; DROP TABLE")
        answer = raw.recv(1000)
        raw.close()
        tap.ok(answer[:1] == bytes([4]) and m.wait_for(
               lambda: "malformed request" in m.log("pkslogin.log"), 10),
               "a malformed request is refused (PKS_REFUSED) and logged",
               f"{answer!r}\n" + m.log("pkslogin.log"))
        proc.stop(m.pkslogin)
        m.procs.remove(m.pkslogin)
        rc, _ = checkpw(m, login(A, PASSWORD))
        tap.ok(rc == 111 and "login relay" in STDERR[-1],
               "without the relay a login is a temporary failure (111), "
               "logged", STDERR[-1])
        m.start_pkslogin()
        rc, _ = checkpw(m, login(A, PASSWORD))
        tap.is_(rc, 0, "the relay restarted: logins work again")

    @tap.scenario("password in no log")
    def _():
        logs = "".join(m.log(n) for n in os.listdir(m.home) if n.endswith(".log"))
        errs = "".join(STDERR)
        tap.ok(PASSWORD not in logs + m.pks.log_text() + errs,
               "the password is in no log")
        tap.ok("Sanitizer" not in errs and "login" in errs,
               "sq-checkpw logged each login, with no sanitizer report",
               errs[-2000:])
finally:
    m.stop()
tap.done()
