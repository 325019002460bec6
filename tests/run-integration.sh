#!/bin/sh
# run-integration.sh BUILD [SANITIZE] - run the TAP scripts in
# tests/integration with prove against the programs in BUILD; fail if they
# run zero tests. SANITIZE=1 tells the tests the programs run under ASan
# (slower, more memory: resource bounds are then not asserted).
set -u
build=$(cd "${1:-build}" && pwd)
SQ_BUILD=$(sh tools/stage-reachable "$build") || exit 1
SQ_SANITIZE=${2:-0}
export SQ_BUILD SQ_SANITIZE
# libgcrypt's process-lifetime pools are not leaks (see tests/lsan.supp)
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/lsan.supp}
if [ "$SQ_BUILD" != "$build" ]; then
	# a copy the daemons' user can reach (tools/stage-reachable)
	echo "integration: testing a copy of $build in $SQ_BUILD"
	trap 'rm -rf "$SQ_BUILD"' EXIT
	LSAN_OPTIONS=suppressions=$SQ_BUILD/lsan.supp
fi
export LSAN_OPTIONS
set -- tests/integration/*.t
[ -e "$1" ] || { echo "integration: FAIL: no test scripts" >&2; exit 1; }
out=$(prove --exec '' --timer "$@" 2>&1)
rc=$?
printf '%s\n' "$out"
case "$out" in
*"Tests=0,"*) echo "integration: FAIL: zero tests were run" >&2; exit 1 ;;
esac
exit "$rc"
