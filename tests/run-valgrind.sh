#!/bin/sh
# run-valgrind.sh BUILD - every check suite once more, in one process
# (CK_FORK=no) under valgrind's memcheck: any invalid access or definite
# leak fails the run. Complements the ASan+UBSan pass, which cannot see
# reads of uninitialised memory.
set -u
build=${1:-build}
failed=0
for t in "$build"/tests/unit/check_*; do
	[ -x "$t" ] || continue
	if CK_FORK=no CK_DEFAULT_TIMEOUT=600 valgrind -q --error-exitcode=9 \
		--leak-check=full --errors-for-leak-kinds=definite,indirect \
		"$t" >"$t.valgrind" 2>&1; then
		echo "valgrind: $(basename "$t"): clean"
	else
		failed=$((failed + 1))
		echo "valgrind: $(basename "$t"): FAILED"
		cat "$t.valgrind"
	fi
done
[ "$failed" -eq 0 ]
