#!/bin/sh
# fuzz-long - the long fuzzing run behind "make fuzz-long": every target
# (or those named) for FUZZ_LONG_RUNS executions or FUZZ_LONG_SECONDS
# seconds, whichever comes first, on a scratch copy of its corpus; then
# the inputs that reach coverage the tracked corpus does not are merged
# (libFuzzer's -merge=1: only those, under their SHA-1) into
# tests/fuzz/corpus/<target>/, and a table gives each target's
# executions, coverage (cov: edges, ft: features, from libFuzzer's last
# stats line) and corpus size. A crash leaves its reproducer in
# BUILD/crash-<target>-*, its log in BUILD/long/<target>/fuzz.log, and
# fails the run once every target has had its turn.
#   sh tests/fuzz/fuzz-long.sh BUILD [TARGET...]
# The tracked files are never removed: each is a seed or a crash that
# must stay fixed (tests/integration/fuzz_replay.t replays them all).
set -u

build=${1:?usage: fuzz-long.sh BUILD [TARGET...]}
shift
runs=${FUZZ_LONG_RUNS:-10000000}
secs=${FUZZ_LONG_SECONDS:-900}
# a session or a sealed message is a few KB; larger inputs only slow
maxlen=${FUZZ_LONG_MAXLEN:-16384}
corpus=tests/fuzz/corpus
# libgcrypt's process-lifetime pools are not leaks (as in make check)
LSAN_OPTIONS=suppressions=$(pwd)/tests/lsan.supp
export LSAN_OPTIONS

if [ $# -eq 0 ]; then
	set -- $(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')
fi

table=$build/long/table.txt
mkdir -p "$build/long"
printf '%-12s %10s %6s %7s %6s %5s %7s %6s\n' target execs cov ft files new \
	KB seconds > "$table"
failed=""
for t in "$@"; do
	fuzzer=$build/tests/fuzz/fuzz_$t
	work=$build/long/$t
	rm -rf "$work" && mkdir -p "$work/corpus" || exit 1
	cp "$corpus/$t"/* "$work/corpus/" || exit 1
	start=$(date +%s)
	"$fuzzer" -runs="$runs" -max_total_time="$secs" -max_len="$maxlen" \
		-print_final_stats=1 -close_fd_mask=2 \
		-artifact_prefix="$build/crash-$t-" "$work/corpus" \
		> "$work/fuzz.log" 2>&1
	rc=$?
	end=$(date +%s)
	if [ $rc -ne 0 ]; then
		echo "fuzz-long: $t failed (exit $rc): see $work/fuzz.log" >&2
		failed="$failed $t"
		continue
	fi
	# what the scratch corpus adds over the tracked one
	before=$(ls "$corpus/$t" | wc -l)
	"$fuzzer" -merge=1 -max_len="$maxlen" -close_fd_mask=2 \
		"$corpus/$t" "$work/corpus" > "$work/merge.log" 2>&1 || {
		echo "fuzz-long: merging $t failed: see $work/merge.log" >&2
		failed="$failed $t"
		continue
	}
	after=$(ls "$corpus/$t" | wc -l)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
	# the last stats line: "#N  DONE  cov: C ft: F corp: ..."
	last=$(grep -E '^#[0-9]+.*cov: ' "$work/fuzz.log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	kb=$(( $(cat "$corpus/$t"/* | wc -c) / 1024 ))
	printf '%-12s %10s %6s %7s %6s %5s %7s %6s\n' "$t" "${execs:-?}" \
		"${cov:-?}" "${ft:-?}" "$after" $((after - before)) "$kb" \
		$((end - start)) >> "$table"
done
cat "$table"
if [ -n "$failed" ]; then
	echo "fuzz-long: failed:$failed (reproducers in $build/crash-*)" >&2
	exit 1
fi
exit 0
