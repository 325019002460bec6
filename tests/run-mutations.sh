#!/bin/sh
# run-mutations.sh [NAME...] - make check-mutations: each tests/mutations/
# NAME.patch breaks one promise on purpose; the command on its "# test:"
# line, which must fail against the broken tree, names the test that
# guards the promise. For each patch: a scratch copy of the committed
# checkout (git worktree, detached at HEAD), the patch applied, the
# programs built (from scratch when the patch changes the Makefile or a
# conf-* file), the test run. A mutation whose test still passes is a
# test that proves nothing: the run fails and says which; so does a patch
# that no longer applies or builds. The scratch copy is removed at the end.
set -u
top=$(git rev-parse --show-toplevel) || exit 1
cd "$top" || exit 1
if [ $# -eq 0 ]; then
	set -- tests/mutations/*.patch
else
	names=""
	for n in "$@"; do names="$names tests/mutations/${n%.patch}.patch"; done
	# shellcheck disable=SC2086 # one word a file name
	set -- $names
fi
[ -e "$1" ] || { echo "mutations: no patches" >&2; exit 1; }
scratch=$(mktemp -d /var/tmp/sq-mutations.XXXXXX)
chmod 755 "$scratch"
trap 'git worktree remove --force "$scratch/tree" >/dev/null 2>&1; rm -rf "$scratch"' EXIT
git worktree add --detach "$scratch/tree" HEAD >/dev/null 2>&1 || exit 1
survived=0
killed=0
for patch in "$@"; do
	name=$(basename "$patch" .patch)
	cmd=$(sed -n 's/^# test: //p' "$patch" | head -n 1)
	[ -n "$cmd" ] || { echo "mutations: $name: no '# test:' line" >&2; exit 1; }
	(cd "$scratch/tree" && git checkout -q -- . && git apply -) \
		<"$top/$patch" || { echo "mutations: $name: does not apply" >&2; exit 1; }
	# A mutation of the Makefile or a conf-* file alone would relink
	# nothing: those build from scratch; the others incrementally (the
	# files the last patch touched were restored, newer, and rebuild).
	fresh=""
	if grep -q '^diff --git a/\(Makefile\|conf-\)' "$top/$patch"; then
		fresh=1
	fi
	if ! (cd "$scratch/tree" && { [ -z "$fresh" ] || rm -rf build; } &&
		make -j2 all) >"$scratch/build.log" 2>&1; then
		tail -n 20 "$scratch/build.log" >&2
		echo "mutations: $name: does not build" >&2
		exit 1
	fi
	if (cd "$scratch/tree" && sh -c "$cmd") >"$scratch/test.log" 2>&1; then
		echo "mutations: SURVIVED $name: '$cmd' passed with it"
		survived=$((survived + 1))
	else
		echo "mutations: killed $name"
		killed=$((killed + 1))
	fi
done
echo "mutations: $killed killed, $survived survived"
[ "$survived" -eq 0 ]
