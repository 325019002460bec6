#!/bin/sh
# mutations-apply.sh - make check's quick guard for make check-mutations:
# every tests/mutations/*.patch still applies to the tree. A change that
# moves the lines a mutation breaks fails here, in seconds, rather than
# in the next 20-minute mutation run.
set -u
cd "$(git rev-parse --show-toplevel)" || exit 1
bad=0
for patch in tests/mutations/*.patch; do
	if ! git apply --check "$patch" 2>/dev/null; then
		echo "mutations: $(basename "$patch" .patch): does not apply;" \
		     "regenerate it (doc/HACKING.md)" >&2
		bad=1
	fi
done
[ "$bad" -eq 0 ] && echo "mutations: every patch applies"
exit "$bad"
