#!/usr/bin/env python3
"""Every manual page is clean under mandoc -Tlint, every built program has
a page, the formats defined by lib/ are documented, and so is every control
file the sources and the run scripts name."""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402

root = tap.repo_root()
pages = sorted(glob.glob(os.path.join(root, "man", "*.[1-8]")))
programs = sorted(glob.glob(os.path.join(tap.build_dir(), "bin", "*")))
formats = ["pks-backup.5", "sq-addrhash.5", "sq-control.5", "sq-pdk.5",
           "sq-sealed.5"]

# control files: named in a call that reads one, in a #define of a file
# name, or as $ctl/NAME in a run script; sq-ca's PREFIX-cert.pem and
# PREFIX-key.pem (sq-ca(8)) and the PREFIX itself are its arguments
CALL = re.compile(r"\b(?:control_readline|control_rldef|control_readulong|"
                  r"control_readfile|ipallow_load|pks_config_load|"
                  r"edhc_config_load)\s*\([^;]*?\"([a-z][a-z0-9.-]*)\"", re.S)
DEFINE = re.compile(r'#define\s+\w*(?:FILE|CONTROL)\w*\s+"([a-z][a-z0-9.-]*)"')
controls = set()
for f in [p for d in ("lib", "secure-qmail", "pks", "edh", "pop3d", "admin")
          for p in glob.glob(os.path.join(root, d, "**", "*.[ch]"),
                             recursive=True)]:
    text = open(f).read()
    controls |= set(CALL.findall(text)) | set(DEFINE.findall(text))
for f in glob.glob(os.path.join(root, "service", "*", "run")) + [
        os.path.join(root, "tools", "run-instance"),
        os.path.join(root, "tools", "setup-instance")]:
    controls |= set(re.findall(r"\$ctl/([a-z][a-z0-9.-]*)", open(f).read()))
controls = {c for c in controls if not re.search(r"-(cert|key)\.pem$", c)
            and c not in ("pksd", "edhd", "smtpd")}
manual = "".join(open(p).read() for p in pages)



@tap.scenario("mandoc lint")
def _():
    for page in pages:
        p = subprocess.run(["mandoc", "-Tlint", "-Wwarning", page],
                           capture_output=True, text=True)
        tap.ok(p.returncode == 0 and p.stdout == "" and p.stderr == "",
               f"{os.path.basename(page)} is clean under mandoc -Tlint",
               p.stdout + p.stderr)


@tap.scenario("a page for each program")
def _():
    for prog in programs:
        name = os.path.basename(prog)
        tap.ok(glob.glob(os.path.join(root, "man", name + ".[18]")),
               f"program {name} has a manual page")


@tap.scenario("format pages")
def _():
    for name in formats:
        tap.ok(os.path.exists(os.path.join(root, "man", name)),
               f"format page {name} exists")


@tap.scenario("control files documented")
def _():
    missing = sorted(c for c in controls if not re.search(
        r"(?<![\w-])" + re.escape(c) + r"(?![\w-])", manual))
    tap.ok(len(controls) > 40 and not missing,
           f"each of the {len(controls)} control files the sources and run "
           "scripts name is in a manual page", repr(missing))


tap.done()
