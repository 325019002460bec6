#!/bin/sh
# run-integration.sh BUILD - run the TAP scripts in tests/integration with
# prove against the programs in BUILD; fail if they run zero tests.
set -u
build=${1:-build}
SQ_BUILD=$(cd "$build" && pwd)
export SQ_BUILD
set -- tests/integration/*.t
[ -e "$1" ] || { echo "integration: FAIL: no test scripts" >&2; exit 1; }
out=$(prove --exec '' --timer "$@" 2>&1)
rc=$?
printf '%s\n' "$out"
case "$out" in
*"Tests=0,"*) echo "integration: FAIL: zero tests were run" >&2; exit 1 ;;
esac
exit "$rc"
