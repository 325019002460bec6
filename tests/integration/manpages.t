#!/usr/bin/env python3
"""Every manual page is clean under mandoc -Tlint, every built program has
a page, and the formats defined by lib/ are documented."""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402

root = tap.repo_root()
pages = sorted(glob.glob(os.path.join(root, "man", "*.[1-8]")))
programs = sorted(glob.glob(os.path.join(tap.build_dir(), "bin", "*")))
formats = ["sq-addrhash.5", "sq-control.5", "sq-pdk.5", "sq-sealed.5"]

tap.plan(len(pages) + len(programs) + len(formats))
for page in pages:
    p = subprocess.run(["mandoc", "-Tlint", "-Wwarning", page],
                       capture_output=True, text=True)
    tap.ok(p.returncode == 0 and p.stdout == "" and p.stderr == "",
           f"{os.path.basename(page)} is clean under mandoc -Tlint",
           p.stdout + p.stderr)
for prog in programs:
    name = os.path.basename(prog)
    tap.ok(glob.glob(os.path.join(root, "man", name + ".[18]")),
           f"program {name} has a manual page")
for name in formats:
    tap.ok(os.path.exists(os.path.join(root, "man", name)),
           f"format page {name} exists")
tap.done()
