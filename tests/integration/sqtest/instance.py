"""The fixtures' way to tools/setup-instance, which lays out an instance
and gives each service's command line for them and for `make run`
(tools/run-instance) alike: one implementation of the directory layout,
control files, certificates, credentials and service start.

    instance.setup(home, "pks", socket, "127.0.0.1:7443", "test",
                   "127.0.0.1", as_user=DAEMONS)
    subprocess.Popen(instance.argv("daemon", "pksd"),
                     env=instance.env(home, as_user=DAEMONS))

DAEMONS is the user the daemons run as: "nobody" as root, like production
ones under their own uids, the caller ("") otherwise.
"""
import os
import subprocess

from . import tap

TOOL = os.path.join(tap.repo_root(), "tools", "setup-instance")
DAEMONS = "nobody" if os.geteuid() == 0 else ""


def bin_dir():
    """The programs under test (absolute: services change directory)."""
    return os.path.abspath(os.path.join(tap.build_dir(), "bin"))


def env(home, as_user=DAEMONS, ca_home=None, **more):
    """The environment of setup-instance (and of the programs) for home."""
    e = dict(os.environ, SQ_HOME=home, SQ_BIN=bin_dir(), SQ_AS_USER=as_user,
             **more)
    e.pop("SQ_CA_HOME", None)
    if ca_home:
        e["SQ_CA_HOME"] = ca_home
    return e


def argv(step, *args):
    """The command line of setup-instance STEP ARGS (a service's, for
    the steps daemon, smtpd and pop3, which exec it)."""
    return ["sh", TOOL, step] + [str(a) for a in args]


def setup(home, step, *args, as_user=DAEMONS, ca_home=None):
    """Runs a setting-up step of setup-instance on home; raises on
    failure. Returns its output."""
    r = subprocess.run(argv(step, *args), env=env(home, as_user, ca_home),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"setup-instance {step} {args}: exit "
                           f"{r.returncode}: {r.stdout}{r.stderr}")
    return r.stdout


def read_control(home, name):
    """The first line of control/NAME."""
    with open(os.path.join(home, "control", name)) as f:
        return f.readline().strip()
