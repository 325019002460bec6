"""Every parameter of bench-peers, from the environment, with the values
issue 15 fixes as defaults; BENCH_PEERS_QUICK=1 changes only the defaults
of the message count and the rounds, for a try in a few minutes."""
import os

QUICK = os.environ.get("BENCH_PEERS_QUICK", "0") == "1"


def env_int(name, default):
    return int(os.environ.get(name, default))


MESSAGES = env_int("BENCH_PEERS_MESSAGES", 200 if QUICK else 2000)
ROUNDS = env_int("BENCH_PEERS_ROUNDS", 1 if QUICK else 3)
CLIENTS = env_int("BENCH_PEERS_CLIENTS", 8)
USERS = env_int("BENCH_PEERS_USERS", 100)
SEED = env_int("BENCH_PEERS_SEED", 15)
# SIZE:PERCENT,...: the message sizes (octets of the DATA sent) and their
# shares of the workload
SIZES = tuple((int(s), float(p)) for s, p in (
    x.split(":") for x in os.environ.get(
        "BENCH_PEERS_SIZES", "2048:50,20480:35,204800:15").split(",")))
POP3_USERS = env_int("BENCH_PEERS_POP3_USERS", 20)
POP3_PASSES = env_int("BENCH_PEERS_POP3_PASSES", 2)
# POP3 sessions at once (default: every subscriber of the pass at once)
POP3_CONC = env_int("BENCH_PEERS_POP3_CONC", POP3_USERS)
# seconds a round may take to deliver everything before it is failed
TIMEOUT = env_int("BENCH_PEERS_TIMEOUT", 1800)
# the systems, by name, in the order each round runs them
SYSTEMS = tuple(os.environ.get(
    "BENCH_PEERS_SYSTEMS",
    "ours,postfix-dovecot-crypt,postfix-virtual,postfix-dovecot").split(","))
# where the instances live: reachable by nobody, postfix and dovecot
DIR = os.environ.get("BENCH_PEERS_DIR", "/var/tmp/sq-bench-peers")
# 1: leave DIR and nothing running, but the files, for a look afterwards
KEEP = os.environ.get("BENCH_PEERS_KEEP", "0") == "1"
DOMAIN = "example.org"
PASSWORD = "correct horse battery"   # every subscriber's, on every system
