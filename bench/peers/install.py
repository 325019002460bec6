"""The peers from Debian's packages, installed without their packaged
default instances ever being configured or started."""
import os
import shutil
import subprocess

PACKAGES = ("postfix", "dovecot-core", "dovecot-lmtpd", "dovecot-pop3d")
POLICY = "/usr/sbin/policy-rc.d"


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       capture_output=True, text=True)
    return r.stdout.endswith(" installed")


def apt(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(["apt-get", *args], env=env, capture_output=True,
                          text=True)


def ensure():
    """Installs what is missing. While it installs, a policy-rc.d that
    forbids every service start (unless the host has one already, which
    is then left as it is), and Postfix preseeded to "No configuration",
    so that no main.cf for a default instance is written; on a host run
    by systemd, the packaged units are then disabled and stopped, once,
    when this installed them."""
    missing = [p for p in PACKAGES if not installed(p)]
    if not missing:
        return
    print(f"bench-peers: installing {' '.join(missing)}", flush=True)
    subprocess.run(["debconf-set-selections"], text=True, check=True,
                   input="postfix postfix/main_mailer_type select "
                         "No configuration\n")
    ours = not os.path.exists(POLICY)
    if ours:
        with open(POLICY, "w") as f:
            f.write("#!/bin/sh\n# bench-peers: no service starts while "
                    "it installs\nexit 101\n")
        os.chmod(POLICY, 0o755)
    try:
        r = apt("install", "-y", "--no-install-recommends", *missing)
        if r.returncode != 0:
            apt("update")
            r = apt("install", "-y", "--no-install-recommends", *missing)
        if r.returncode != 0:
            raise SystemExit("bench-peers: apt-get install failed:\n" +
                             r.stdout[-2000:] + r.stderr[-2000:])
    finally:
        if ours:
            os.unlink(POLICY)
    if os.path.isdir("/run/systemd/system") and shutil.which("systemctl"):
        for unit in ("postfix.service", "dovecot.service", "dovecot.socket"):
            subprocess.run(["systemctl", "disable", "--now", unit],
                           capture_output=True)
