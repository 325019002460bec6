#!/usr/bin/env python3
"""Every fuzz target runs cleanly over its whole corpus (tests/fuzz/corpus):
the seeds and every crash ever found stay fixed, in both builds."""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402

root = tap.repo_root()
targets = sorted(os.path.basename(p)[len("fuzz_"):-2]
                 for p in glob.glob(os.path.join(root, "tests", "fuzz",
                                                 "fuzz_*.c")))


def replay(t):
    corpus = sorted(glob.glob(os.path.join(root, "tests", "fuzz", "corpus",
                                           t, "*")))
    binary = os.path.join(tap.build_dir(), "tests", "fuzz", "replay_" + t)
    p = subprocess.run([binary] + corpus, capture_output=True, text=True)
    tap.ok(p.returncode == 0 and corpus
           and f"replay: {len(corpus)} inputs" in p.stdout,
           f"fuzz target {t} handles its {len(corpus)} corpus inputs",
           p.stdout + p.stderr)


# one scenario per fuzz target, called by its name
for t in targets:
    tap.scenario(t, lambda t=t: replay(t))
tap.done()
