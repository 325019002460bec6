"""A minimal TAP producer: plan, ok/not ok, diagnostics, skip_all.

Each test script calls plan() once, then ok()/is_()/... for every check, and
done() at the end, which exits non-zero if any check failed or the count
differs from the plan. prove(1) reads the output.
"""
import os
import sys

_count = 0
_failed = 0
_planned = None


def plan(n):
    global _planned
    _planned = n
    print(f"1..{n}", flush=True)


def skip_all(reason):
    print(f"1..0 # SKIP {reason}", flush=True)
    sys.exit(0)


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        print(f"# {line}", file=sys.stderr, flush=True)


def ok(cond, name, detail=None):
    global _count, _failed
    _count += 1
    status = "ok" if cond else "not ok"
    print(f"{status} {_count} - {name}", flush=True)
    if not cond:
        _failed += 1
        if detail is not None:
            diag(detail)
    return bool(cond)


def skip(reason):
    """Counts a check that cannot be made here, with the reason."""
    global _count
    _count += 1
    print(f"ok {_count} # SKIP {reason}", flush=True)


def is_(got, want, name):
    return ok(got == want, name, f"got:  {got!r}\nwant: {want!r}")


def done():
    if _planned is not None and _count != _planned:
        diag(f"planned {_planned} checks but ran {_count}")
        sys.exit(255)
    sys.exit(1 if _failed else 0)


def build_dir():
    """The build directory under test (build/ or build-asan/)."""
    return os.environ.get("SQ_BUILD", "build")


def repo_root():
    """The top of the source tree (tests/integration/sqtest/tap.py is 3 down)."""
    here = os.path.abspath(__file__)
    for _ in range(4):
        here = os.path.dirname(here)
    return here
