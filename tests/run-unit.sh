#!/bin/sh
# run-unit.sh BUILD - run every check suite in BUILD/tests/unit and fail if
# any fails or if, all together, they ran zero checks.
set -u
build=${1:-build}
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/lsan.supp}
export LSAN_OPTIONS
total=0
failed=0
for t in "$build"/tests/unit/check_*; do
	[ -x "$t" ] || continue
	out=$(CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120} "$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed "s|^|$(basename "$t"): |"
	n=$(printf '%s\n' "$out" | sed -n 's/.*Checks: \([0-9]*\).*/\1/p' | tail -n 1)
	total=$((total + ${n:-0}))
	[ "$rc" -eq 0 ] || failed=$((failed + 1))
done
echo "unit: $total checks run, $failed suite(s) failed"
[ "$total" -gt 0 ] || { echo "unit: FAIL: zero checks were run" >&2; exit 1; }
[ "$failed" -eq 0 ]
