#!/usr/bin/env python3
"""The preferred three-host embodiment on a real network: network
namespaces and veth pairs (tools/three-hosts) for a public client host,
the Application Host (public and private addresses), and the EDH and the
PKS (private only), with the real programs running in each. Mail from the
public client reaches the EDH sealed and is read back over POP3; the
public host reaches neither the PKS nor the EDH; the PKS and the EDH admit
the AH's address alone; taking the PKS or the EDH off the network makes
delivery defer and logins fail temporarily, and both recover. Then the
two-host combined mode: the AH holding the maildirs, the PKS apart.
Skipped where network namespaces cannot be made (not root, no ip)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import proc, tap  # noqa: E402
from sqtest.edh import EDH  # noqa: E402
from sqtest.mail import (MailHost, PASSWORD, files_holding,  # noqa: E402
                         is_sealed)

A = "john.smith@example.org"
CANARY = "CANARY-9d51-three-hosts-plaintext-must-not-rest-on-disk"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOPO = os.path.join(ROOT, "tools", "three-hosts")
P = f"sq{os.getpid()}"
AH_PUB, AH_PRIV, AH_OTHER = "192.0.2.25", "10.77.0.2", "10.77.0.9"
PKS_IP, EDH_IP = "10.77.0.5", "10.77.0.6"

# A TCP probe run inside a namespace: what a connection meets. With
# "hello" it sends the first octets of a TLS ClientHello: pksd judges the
# address when the handshake starts, and closes before any TLS octet.
PROBE = r"""
import socket, sys
host, port, hello = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "hello"
s = socket.socket()
s.settimeout(3)
if len(sys.argv) > 4:
    s.bind((sys.argv[4], 0))
try:
    s.connect((host, port))
except socket.timeout:
    sys.exit(print("unreachable (no answer)"))
except OSError as e:
    sys.exit(print({101: "unreachable", 113: "unreachable",
                    111: "refused"}.get(e.errno, f"error {e}")))
try:
    if hello:
        s.sendall(b"\x16\x03\x01\x00\x05hello")
    data = s.recv(200)
    print("banner " + data.decode("latin-1").strip() if data else "closed")
except ConnectionResetError:
    print("closed")
except socket.timeout:
    print("open")
"""

# A POP3 client (poplib over STLS, the instance CA verified) run on the
# public host; the password comes on stdin.
POP = r"""
import json, poplib, ssl, sys
host, user, ca = sys.argv[1:4]
out = {}
try:
    p = poplib.POP3(host, 110, timeout=60)
    p.stls(ssl.create_default_context(cafile=ca))
    p.user(user)
    p.pass_(sys.stdin.readline().strip())
    out["count"] = p.stat()[0]
    out["msgs"] = [b"\r\n".join(p.retr(i)[1]).decode("latin-1")
                   for i in range(1, out["count"] + 1)]
    p.quit()
except poplib.error_proto as e:
    out["err"] = e.args[0].decode("latin-1")
except OSError as e:
    out["err"] = repr(e)
print(json.dumps(out))
"""


def ns(host):
    return f"{P}-{host}"


def on(host, argv, **kw):
    return subprocess.run(["ip", "netns", "exec", ns(host)] + argv,
                          capture_output=True, text=True, timeout=120, **kw)


def probe(host, ip, port, source=None, hello=False):
    return on(host, ["python3", "-c", PROBE, ip, str(port),
                     "hello" if hello else "-"] +
              ([source] if source else [])).stdout.strip()


def pop3(m):
    r = on("pub", ["python3", "-c", POP, AH_PUB, A,
                   os.path.join(m.home, "control", "ca.pem")],
           input=PASSWORD + "\n")
    return json.loads(r.stdout) if r.stdout.strip() else {"err": r.stderr}


def swaks(subject):
    r = on("pub", ["swaks", "--server", f"{AH_PUB}:25", "--to", A,
                   "--from", "alice@remote.example", "--header",
                   f"Subject: {subject}", "--body", CANARY, "--timeout",
                   "60"])
    return r.stdout + r.stderr


def netns_of(pid):
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def can_make_namespaces():
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    r = subprocess.run(["ip", "netns", "add", f"{P}-probe"],
                       capture_output=True)
    subprocess.run(["ip", "netns", "del", f"{P}-probe"], capture_output=True)
    return r.returncode == 0


if not can_make_namespaces():
    tap.skip_all("network namespaces are unavailable here (root and "
                 "iproute2's ip netns are needed)")


class Hosts:
    """The instance dirs of the fixtures, reconfigured for the network,
    and the real daemons started in their namespaces."""

    def __init__(self, m, edh):
        self.m, self.edh, self.procs = m, edh, {}

    def sqca(self, home, out, ip, name):
        r = subprocess.run([os.path.join(self.m.bin, "sq-ca"), "server", out,
                            ip, name], capture_output=True, text=True,
                           env=dict(os.environ, SQ_HOME=home))
        assert r.returncode == 0, r.stderr

    def configure(self):
        m, edh = self.m, self.edh
        ctl = os.path.join(m.home, "control")
        # the PKS: its address, its certificate, the AH alone admitted
        m.control("pksd-listen", f"{PKS_IP}:7443\n")
        m.control("pksallow", f"# the application host\n{AH_PRIV}\n")
        m.control("pksurl", f"https://{PKS_IP}:7443\n")
        self.sqca(m.home, os.path.join(ctl, "pksd"), PKS_IP, "pks.example")
        os.chown(os.path.join(ctl, "pksd-key.pem"), 65534, 65534)
        # the EDH likewise
        edh.control("edhlmtp", f"{EDH_IP}:7024\n")
        edh.control("edhretrieve", f"{EDH_IP}:7025\n")
        edh.control("edhallow", f"# the application host\n{AH_PRIV}\n")
        self.sqca(m.home, edh.path("control/edhd"), EDH_IP, "edh.example")
        with open(edh.path("control/edhcert.pem"), "wb") as f:
            for part in ("edhd-cert.pem", "edhd-key.pem"):
                f.write(open(edh.path("control/" + part), "rb").read())
        # the AH: where the two are; its public certificate
        m.control("edhlmtp-host", f"{EDH_IP}:7024\n")
        m.control("edhretrieve-host", f"{EDH_IP}:7025\n")
        self.sqca(m.home, os.path.join(ctl, "smtpd"), AH_PUB, "mx.example.org")
        with open(os.path.join(ctl, "servercert.pem"), "wb") as f:
            for part in ("smtpd-cert.pem", "smtpd-key.pem"):
                f.write(open(os.path.join(ctl, part), "rb").read())
        for n in ("servercert.pem", "pkslogin"):
            os.chown(os.path.join(ctl, n), 65534, 65534)

    def spawn(self, name, host, argv, home, log, ready):
        """argv in host's namespace; waits until ready() is true."""
        f = open(os.path.join(home, log), "ab")
        self.procs[name] = p = subprocess.Popen(
            ["ip", "netns", "exec", ns(host)] + argv, stdin=subprocess.DEVNULL,
            stdout=f, stderr=f, env=dict(os.environ, SQ_HOME=home,
                                         QMAILQUEUE=os.path.join(
                                             self.m.bin, "sq-seal")))
        deadline = time.time() + 30
        while time.time() < deadline and p.poll() is None:
            if ready():
                return p
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not start: " +
                           proc.read_text(os.path.join(home, log))[-2000:])

    def logged(self, home, log, text):
        return lambda: text in proc.read_text(os.path.join(home, log))

    def start(self):
        m, edh, b = self.m, self.edh, self.m.bin
        self.spawn("pksd", "pks", m.as_user([os.path.join(b, "pksd")]),
                   m.home, "pksd.log",
                   self.logged(m.home, "pksd.log", f"listening on {PKS_IP}"))
        self.spawn("edhd", "edh", [os.path.join(b, "edhd")], edh.home,
                   "edhd.log", self.logged(edh.home, "edhd.log",
                                           f"listening on {EDH_IP}:7025"))
        self.start_ah()

    def start_ah(self):
        m, b = self.m, self.m.bin
        tcp = ["tcpserver", "-q", "-H", "-R", "-l", "mx.example.org", "-u",
               "65534", "-g", "65534", AH_PUB]
        if "sealer" not in self.procs:
            sock = os.path.join(m.home, "run", "sealer")
            if os.path.exists(sock):
                os.unlink(sock)     # the loopback run's
            self.spawn("sealer", "ah", m.as_user([os.path.join(b, "sq-sealerd")]),
                       m.home, "sealer.log", lambda: os.path.exists(sock))
            self.spawn("smtpd", "ah", tcp + ["25", os.path.join(b, "sq-smtpd")],
                       m.home, "smtpd.log",
                       lambda: probe("pub", AH_PUB, 25).startswith("banner 220"))
        self.spawn("send", "ah", m.as_user([os.path.join(b, "sq-start")]),
                   m.home, "send.log", lambda: True)
        if "pkslogin" not in self.procs:    # sq-checkpw's way to the PKS
            sock = os.path.join(m.home, "pkslogin", "socket")
            if os.path.exists(sock):
                os.unlink(sock)     # the loopback run's
            self.spawn("pkslogin", "ah",
                       m.as_user([os.path.join(b, "sq-pkslogin")]), m.home,
                       "pkslogin.log", lambda: os.path.exists(sock))
        self.spawn("pop3", "ah", tcp + ["110", os.path.join(b, "sq-popup"),
                                        os.path.join(b, "sq-checkpw"),
                                        os.path.join(b, "sq-pop3d")],
                   m.home, "pop3.log",
                   lambda: probe("pub", AH_PUB, 110).startswith("banner +OK"))

    def stop(self, name):
        proc.stop(self.procs.pop(name, None))

    def stop_all(self):
        for name in list(self.procs)[::-1]:
            self.stop(name)


m = MailHost(users=[A], control={"retrystep": "1\n", "pekcachetime": "0\n",
                                 "timeoutpksconnect": "2\n",
                                 "timeoutedhconnect": "2\n",
                                 # a kept LMTP connection to a host gone
                                 # silent ends by this timeout
                                 "timeoutedhclient": "5\n"})
edh = hosts = None
made = False
try:
    m.start()
    edh = EDH(ca_home=m.home).start()
    m.use_edh(edh)
    # set up on loopback by the fixtures; from here on the network's
    m.stop_daemons()
    m.pks.stop_pksd()
    edh.stop_edhd()
    subprocess.run(["sh", TOPO, "up", P], check=True, capture_output=True)
    made = True
    subprocess.run(["ip", "-n", ns("ah"), "addr", "add", f"{AH_OTHER}/24",
                    "dev", "eth1"], check=True)
    hosts = Hosts(m, edh)
    hosts.configure()
    hosts.start()
    tap.on_failure(lambda: "\nsend.log:\n" + m.log("send.log")[-2000:] +
                   "\npop3.log:\n" + m.log("pop3.log")[-1000:])

    @tap.scenario("each host in its own namespace")
    def _():
        own = {h: os.stat(f"/run/netns/{ns(h)}").st_ino
               for h in ("ah", "pks", "edh")}
        tap.ok(netns_of(hosts.procs["pksd"].pid) == own["pks"] and
               netns_of(hosts.procs["edhd"].pid) == own["edh"] and
               netns_of(hosts.procs["smtpd"].pid) == own["ah"] and
               netns_of(os.getpid()) not in own.values(),
               "pksd, edhd and the AH's daemons each run in their own host's "
               "namespace")

    # --- mail from the public client, sealed on the EDH, read over POP3 ----
    @tap.scenario("public client to the EDH, read over POP3")
    def _():
        out = swaks("across the hosts")
        got = m.wait_for(lambda: m.delivered(A), 30)
        tap.ok("250 2.0.0" in out and got and CANARY.encode() not in got[0] and
               is_sealed(got[0]),
               "a message from the public host reaches the EDH, sealed",
               out[-800:] + m.log("send.log")[-1500:])
        r = on("pub", ["curl", "-sS", "--ssl-reqd", "--cacert",
                       os.path.join(m.home, "control", "ca.pem"), "--user",
                       f"{A}:{PASSWORD}", f"pop3://{AH_PUB}/1"])
        tap.ok(r.returncode == 0 and CANARY in r.stdout and
               "Subject: across the hosts" in r.stdout,
               "and curl on the public host reads it back over POP3 with STLS",
               r.stdout[-800:] + r.stderr + m.log("pop3.log")[-1500:])

    # --- who reaches whom ----------------------------------------------------
    @tap.scenario("who reaches whom")
    def _():
        seen = {(ip, port): probe("pub", ip, port)
                for ip, port in ((PKS_IP, 7443), (EDH_IP, 7024), (EDH_IP, 7025),
                                 (AH_PRIV, 25))}
        tap.ok(all(v.startswith("unreachable") for v in seen.values()),
               "the public host has no route to the PKS, the EDH or the private "
               "network", repr(seen))
        seen = [probe("edh", PKS_IP, 7443, hello=True),
                probe("ah", PKS_IP, 7443, AH_OTHER, hello=True),
                probe("ah", PKS_IP, 7443, hello=True)]
        tap.ok(seen[:2] == ["closed", "closed"] and seen[2].startswith("banner"),
               "the PKS closes connections from the EDH and from any AH address "
               "but the listed one before any TLS octet; the AH's gets an answer",
               repr(seen))
        r = on("ah", ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                      "--cacert", os.path.join(m.home, "control", "ca.pem"),
                      "-u", m.pks.cred["deliver"], f"https://{PKS_IP}:7443/v1/health"])
        tap.ok(r.stdout == "200", "and answers the AH", r.stdout + r.stderr)
        seen = [probe("pks", EDH_IP, 7024), probe("pks", EDH_IP, 7025),
                probe("ah", EDH_IP, 7024, AH_OTHER), probe("ah", EDH_IP, 7024)]
        tap.ok(seen == ["closed", "closed", "closed", "open"],
               "the EDH closes connections from the PKS and from any address "
               "but the AH's; the AH's waits for its TLS handshake", repr(seen))

    # --- the PKS off the network ---------------------------------------------
    @tap.scenario("the PKS off the network")
    def _():
        subprocess.run(["sh", TOPO, "cut", P, "pks"], check=True)
        out = swaks("while the PKS is away")
        login = pop3(m)
        tap.ok(" 451 " in out and len(m.delivered(A)) == 1,
               "the PKS away: the SMTP client is told 451, to try later",
               out[-600:])
        tap.ok(login.get("err", "").startswith("-ERR [SYS/TEMP]"),
               "and a login fails temporarily", repr(login))
        subprocess.run(["sh", TOPO, "mend", P, "pks"], check=True)
        out = swaks("the PKS is back")
        login = m.wait_for(lambda: len(m.delivered(A)) == 2, 30) and pop3(m)
        tap.ok("250 2.0.0" in out and login and login.get("count") == 2,
               "the PKS back: mail is taken and delivered, logins work",
               out[-600:] + repr(login))

    # --- the EDH off the network ---------------------------------------------
    @tap.scenario("the EDH off the network")
    def _():
        subprocess.run(["sh", TOPO, "cut", P, "edh"], check=True)
        mark = len(m.log("send.log"))
        out = swaks("while the EDH is away")
        deferred = m.wait_for(lambda: "deferral" in m.log("send.log")[mark:], 30)
        login = pop3(m)
        tap.ok("250 2.0.0" in out and deferred and m.queue_count() == 1 and
               login.get("err", "").startswith("-ERR [SYS/TEMP]"),
               "the EDH away: mail waits in the queue, sealed; a login fails "
               "temporarily", out[-400:] + repr(login) +
               m.log("send.log")[-1200:])
        queue = os.path.join(m.home, "queue")
        mess = [os.path.join(r, f) for r, _, fs in
                os.walk(os.path.join(queue, "mess")) for f in fs
                if is_sealed(open(os.path.join(r, f), "rb").read())]
        tap.ok(len(mess) == 1 and not files_holding(queue, CANARY)
               and not files_holding(queue, "while the EDH is away"),
               "the waiting message is sealed: its file is authEnveloped-"
               "data, and no queue file holds its body or Subject",
               repr(mess))
        subprocess.run(["sh", TOPO, "mend", P, "edh"], check=True)
        hosts.procs["send"].send_signal(signal.SIGALRM)
        back = m.wait_for(lambda: len(m.delivered(A)) == 3 and
                          m.queue_count() == 0, 60)
        login = pop3(m)
        tap.ok(back and login.get("count") == 3 and
               all(CANARY in x for x in login.get("msgs", [])),
               "the EDH back: the queued message is delivered and all three "
               "read", repr(login)[:600] + m.log("send.log")[-1200:])

    # --- combined mode: the AH holds the maildirs, the PKS apart ------------
    @tap.scenario("combined mode")
    def _():
        hosts.stop("pop3")
        hosts.stop("send")
        for n in ("edhlmtp-cred", "edhretrieve-cred"):
            os.rename(os.path.join(m.home, "control", n),
                      os.path.join(m.home, n + ".off"))
        m.maildirs = os.path.join(m.home, "maildirs")
        hosts.start_ah()
        out = swaks("combined mode")
        got = m.wait_for(lambda: m.delivered(A), 30)
        login = pop3(m)
        tap.ok("250 2.0.0" in out and got and CANARY.encode() not in got[0],
               "combined mode: mail from the public host is sealed into the "
               "AH's own maildir", out[-400:] + m.log("send.log")[-1200:])
        tap.ok(login.get("count") == 1 and CANARY in login["msgs"][0] and
               "Subject: combined mode" in login["msgs"][0],
               "and read back over POP3 from it", repr(login)[:600])
        tap.ok(probe("pub", PKS_IP, 7443).startswith("unreachable") and
               probe("ah", PKS_IP, 7443, AH_OTHER, hello=True) == "closed",
               "the PKS still apart, and still the AH's alone")

    @tap.scenario("no plaintext at rest")
    def _():
        hosts.stop_all()
        rest = files_holding(m.home, CANARY) + files_holding(edh.home, CANARY)
        tap.ok(not rest, "no plaintext at rest on any host", repr(rest))
except Exception:    # in the set-up
    tap.diag(m.log("send.log")[-2000:] + m.log("pop3.log")[-1000:]
             if m.home else "")
    raise
finally:
    if hosts:
        hosts.stop_all()
    if made:
        subprocess.run(["sh", TOPO, "down", P], capture_output=True)
    m.stop()
    if edh:
        edh.stop()
tap.done()
