#!/bin/sh
# run-integration.sh BUILD [SANITIZE] - run the TAP scripts in
# tests/integration with prove against the programs in BUILD; fail if they
# run zero tests. SANITIZE=1 tells the tests the programs run under ASan
# (slower, more memory: resource bounds are then not asserted).
#
# T (from the environment; make passes its T) picks what runs: its words
# ending in .t name scripts of tests/integration (all of them when none
# does), the other words pick scenarios, those whose name contains one of
# the words (case does not matter; every scenario when there is no such
# word). The set-up a script shares among its scenarios still runs. For
# example:
#   make integration T='smtp.t smuggling'   one scenario of smtp.t
#   make integration T='pop3.t'             every scenario of pop3.t
#   make integration T='outage'             "*outage*" in every script
#   make check T='smtp.t smuggling'         the same, plain and ASan builds
#   T='smtp.t starttls' sh tests/run-integration.sh build
# Each script says on stderr which scenarios ran, and so does this script
# at the end; a name of no script, or scenario words that match no
# scenario in any selected script, fail the run (never a pass with zero
# tests). The scenarios are those of tap.scenario() in each script
# (tests/integration/sqtest/tap.py).
set -u
build=$(cd "${1:-build}" && pwd)
scripts=""
words=""
for w in ${T:-}; do
	case $w in
	*.t)
		t=tests/integration/${w##*/}
		[ -f "$t" ] || { echo "integration: FAIL: no script $t (T='$T')" >&2; exit 1; }
		scripts="$scripts $t" ;;
	*) words="$words $w" ;;
	esac
done
SQ_BUILD=$(sh tools/stage-reachable "$build") || exit 1
SQ_SANITIZE=${2:-0}
export SQ_BUILD SQ_SANITIZE
# libgcrypt's process-lifetime pools are not leaks (see tests/lsan.supp)
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/lsan.supp}
ran=""
# shellcheck disable=SC2317 # called from the trap below
cleanup() {
	if [ "$SQ_BUILD" != "$build" ]; then rm -rf "$SQ_BUILD"; fi
	if [ -n "$ran" ]; then rm -f "$ran"; fi
}
trap cleanup EXIT
if [ "$SQ_BUILD" != "$build" ]; then
	# a copy the daemons' user can reach (tools/stage-reachable)
	echo "integration: testing a copy of $build in $SQ_BUILD"
	LSAN_OPTIONS=suppressions=$SQ_BUILD/lsan.supp
fi
export LSAN_OPTIONS
# shellcheck disable=SC2086 # $scripts: words
if [ -n "$scripts" ]; then set -- $scripts; else set -- tests/integration/*.t; fi
[ -e "$1" ] || { echo "integration: FAIL: no test scripts" >&2; exit 1; }
if [ -n "$words" ]; then
	ran=$(mktemp /tmp/sq-scenarios.XXXXXX)
	SQ_TAP_FILTER=$words SQ_TAP_RAN=$ran
	export SQ_TAP_FILTER SQ_TAP_RAN
	echo "integration: scenarios matching:$words; scripts: $*"
fi
out=$(prove --exec '' --timer "$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ -n "$words" ]; then
	if [ ! -s "$ran" ]; then
		echo "integration: FAIL: no scenario matches:$words (in $*)" >&2
		exit 1
	fi
	echo "integration: the scenarios run:"
	sed 's/^/  /' "$ran"
fi
case "$out" in
*"Tests=0,"*) echo "integration: FAIL: zero tests were run" >&2; exit 1 ;;
esac
exit "$rc"
