"""A minimal TAP producer: named scenarios, ok/not ok, diagnostics,
skip_all, and a plan counted here, not written by hand.

A test script groups its checks into named scenarios and calls done() at
the end:

    m = MailHost(users=[A])             # the shared set-up (a fixture),
    try:                                # made once per script
        m.start()

        @tap.scenario("bare LF smuggling")
        def _():
            ...
            tap.ok(cond, "what is checked", detail)

        @tap.scenario("starttls")
        def _():
            ...
    finally:
        m.stop()
    tap.done()

scenario() runs the block at once. A block that raises is reported as a
"not ok" naming the scenario and the exception (the traceback as
diagnostics), and the script goes on with the next scenario: one failure
does not hide the others. done() prints the plan "1..N" with the number of
checks made (a trailing plan, which TAP allows) and exits non-zero if any
check failed. A script that dies before done() prints no plan, and prove
counts it as failed. skip_all() still skips a whole script.

Running one scenario by name: the environment variable SQ_TAP_FILTER holds
words; a scenario runs only if its name contains one of them (case does
not matter). The set-up outside the scenarios still runs. With a filter,
done() says on stderr which scenarios ran, and appends them (one
"script: scenario" line each) to the file named by SQ_TAP_RAN if set; a
script in which none matches is skipped ("1..0 # SKIP"). Through make:

    make integration T='smtp.t smuggling'    # smtp.t, scenarios "*smuggling*"
    make integration T='pop3.t pop3_edh.t'   # two scripts, every scenario
    make integration T='starttls'            # every script, scenarios "*starttls*"
    make check T='smtp.t smuggling'          # the same, plain and ASan builds

tests/run-integration.sh turns T into the scripts and SQ_TAP_FILTER, and
fails when a filter matches no scenario in any selected script.

Scenarios share their script's fixture, in order: most run alone, but
some build on what an earlier one left (pop3.t's later ones read the
messages the earlier ones had delivered; the "no plaintext at rest" and
"clean stop" ones audit what all before them did). Run alone, such a
scenario fails; run it with the ones it builds on.
"""
import os
import sys
import traceback

_count = 0
_failed = 0
_filter = os.environ.get("SQ_TAP_FILTER", "").lower().split()
_ran = []           # names of the scenarios run
_names = []         # names of every scenario met, run or not
_on_failure = []    # functions whose text follows a raising scenario's


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


def selected(name):
    """Whether the scenario called name runs under SQ_TAP_FILTER."""
    return not _filter or any(w in name.lower() for w in _filter)


def on_failure(fn):
    """Registers fn(), whose text (a log's tail, say) is shown after the
    traceback of any scenario that raises."""
    _on_failure.append(fn)
    return fn


def scenario(name, fn=None):
    """Runs fn() as the scenario called name, if the filter selects it; as
    a decorator (@scenario(name)) on a function of no arguments, or called
    as scenario(name, fn). An exception from fn is one failed check naming
    the scenario; the script goes on. Returns fn."""
    if fn is None:
        return lambda f: scenario(name, f)
    if name in _names:
        raise ValueError(f"two scenarios are called {name!r}")
    _names.append(name)
    if not selected(name):
        return fn
    _ran.append(name)
    try:
        fn()
    except Exception as e:    # noqa: BLE001 - reported, then the next one
        detail = traceback.format_exc()
        for more in _on_failure:
            try:
                detail += str(more())
            except Exception as e2:    # noqa: BLE001
                detail += f"({more.__name__}: {e2!r})"
        ok(False, f"scenario {name!r} raised {type(e).__name__}: {e}",
           detail)
    return fn


def done():
    """Prints the plan (the number of checks made) and exits: 0 if all
    passed, 1 if any failed."""
    if _filter:
        script = os.path.basename(sys.argv[0])
        record = os.environ.get("SQ_TAP_RAN")
        if record:
            with open(record, "a") as f:
                f.writelines(f"{script}: {n}\n" for n in _ran)
        if not _ran and not _count:
            print(f"1..0 # SKIP no scenario matches {' '.join(_filter)!r}",
                  flush=True)
            sys.exit(0)
        diag(f"{script}: ran {len(_ran)} of {len(_names)} scenarios: "
             + ", ".join(_ran))
    print(f"1..{_count}", flush=True)
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
