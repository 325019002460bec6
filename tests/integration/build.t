#!/usr/bin/env python3
"""What the build promises about the tree (doc/HACKING.md, Layout): each
component compiles with the include paths of lib/ and of itself only, so a
component that includes another component's header does not build; no
source reaches around that with a relative include; each program links
exactly the system libraries it calls (none unused, without the linker's
--as-needed); make install puts the manual pages where man(1) finds them."""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import tap  # noqa: E402

root = tap.repo_root()
COMPONENTS = ["secure-qmail", "pks", "edh", "pop3d", "admin"]
# one header of each component, and one of lib/
HEADER = {"secure-qmail": "queue/queue.h", "pks": "db.h",
          "edh": "session.h", "pop3d": "popcmd.h", "admin": "provision.h"}
SOURCE = {"secure-qmail": "secure-qmail/receive/sq-smtpd.c",
          "pks": "pks/pksd.c", "edh": "edh/edhd.c",
          "pop3d": "pop3d/sq-pop3d.c", "admin": "admin/sq-ca.c",
          "lib": "lib/util/sbuf.c"}
# libraries of the toolchain, not chosen by the Makefile
TOOLCHAIN = re.compile(r"lib(c|m|asan|ubsan|gcc_s|stdc\+\+|pthread)\.so")


def compile_command(source, scratch):
    """The Makefile's own compile command for source (make -n), as argv
    without its -c SOURCE -o OBJECT and dependency-file options."""
    obj = os.path.join(scratch, source[:-2] + ".o")
    p = subprocess.run(["make", "-n", "-B", "BUILD=" + scratch, obj],
                       cwd=root, capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if f"-c {source} " in line:
            argv = shlex.split(line)
            i = argv.index("-c")
            return [a for a in argv[:i] if a not in ("-MMD", "-MP")]
    raise RuntimeError(f"no compile command for {source}: {p.stderr}")


def probe(argv, scratch, header):
    """Compile a file that includes header with argv; the compiler's
    result."""
    src = os.path.join(scratch, "probe.c")
    with open(src, "w") as f:
        f.write(f'#include "{header}"\nint probe(void);\n'
                'int probe(void) { return 0; }\n')
    return subprocess.run(argv + ["-c", src, "-o", src + ".o"], cwd=root,
                          capture_output=True, text=True)


def include_boundaries(scratch):
    # the generated headers (auto_*.h) the compile commands point at
    subprocess.run(["make", "BUILD=" + scratch, scratch + "/gen/auto_home.h",
                    scratch + "/gen/auto_users.h",
                    scratch + "/gen/auto_split.h"],
                   cwd=root, capture_output=True)
    for comp in COMPONENTS + ["lib"]:
        argv = compile_command(SOURCE[comp], scratch)
        p = probe(argv, scratch, "util/sbuf.h")
        tap.ok(p.returncode == 0, f"{comp} includes lib/'s util/sbuf.h",
               p.stderr)
        if comp != "lib":
            p = probe(argv, scratch, HEADER[comp])
            tap.ok(p.returncode == 0, f"{comp} includes its own "
                   f"{HEADER[comp]}", p.stderr)
        for other in COMPONENTS:
            if other == comp:
                continue
            p = probe(argv, scratch, HEADER[other])
            tap.ok(p.returncode != 0 and "No such file" in p.stderr,
                   f"{comp} cannot include {other}'s {HEADER[other]}",
                   p.stderr)


def no_relative_includes():
    sources = [p for d in COMPONENTS + ["lib"]
               for p in glob.glob(os.path.join(root, d, "**", "*.[ch]"),
                                  recursive=True)]
    around = [f"{os.path.relpath(p, root)}: {m}" for p in sources
              for m in re.findall(r'#\s*include\s*"[^"]*\.\./[^"]*"',
                                  open(p).read())]
    tap.ok(sources and not around,
           f"none of {len(sources)} sources includes through ../",
           "\n".join(around))


def linkage():
    programs = sorted(glob.glob(os.path.join(tap.build_dir(), "bin", "*")))
    tap.ok(len(programs) >= 20, f"{len(programs)} programs to look at")
    for prog in programs:
        p = subprocess.run(["ldd", "-u", "-r", prog], capture_output=True,
                           text=True)
        unused = [line.strip() for line in p.stdout.splitlines()[1:]
                  if line.strip() and not TOOLCHAIN.search(line)]
        tap.ok(not unused, f"{os.path.basename(prog)} links no library it "
               "does not call", "\n".join(unused))


def manual_pages(scratch):
    # make install's own script (make install itself would first bring the
    # build under test up to date)
    dest = os.path.join(scratch, "stage")
    mandir = open(os.path.join(root, "conf-man")).readline().strip()
    home = open(os.path.join(root, "conf-home")).readline().strip()
    p = subprocess.run(["sh", "tools/install.sh", dest, home,
                        tap.build_dir(), mandir], cwd=root,
                       capture_output=True, text=True)
    page = os.path.join(dest + mandir, "man8", "sq-smtpd.8")
    tap.ok(p.returncode == 0 and os.path.isfile(page),
           f"make install puts sq-smtpd(8) under conf-man ({mandir})",
           p.stdout + p.stderr)
    if shutil.which("manpath"):
        searched = subprocess.run(["manpath", "-g"], capture_output=True,
                                  text=True).stdout.strip().split(":")
        tap.ok(mandir in searched, f"man(1) searches {mandir} by default",
               " ".join(searched))
    else:
        tap.skip("man-db's manpath is not installed")


scratch = tempfile.mkdtemp(prefix="sq-build-t-")
try:
    tap.scenario("include boundaries", lambda: include_boundaries(scratch))
    tap.scenario("no relative includes", no_relative_includes)
    tap.scenario("linkage", linkage)
    tap.scenario("manual pages installed", lambda: manual_pages(scratch))
finally:
    shutil.rmtree(scratch, ignore_errors=True)
tap.done()
