#!/bin/sh
# deps.sh - install the Debian 12 packages secure-qmail builds, tests and runs
# with. As root it installs what is missing, non-interactively; otherwise it
# prints the one apt-get line to run and fails if anything is missing.
# deps.sh --build-missing prints, on one line, the packages that plain make
# needs and lacks (the Makefile's check before it compiles), and installs
# nothing.
set -eu

# What the build itself needs: the compiler and the libraries' headers.
BUILD_PACKAGES="build-essential pkgconf make
libssl-dev libgcrypt20-dev libcdb-dev libmariadb-dev
libevent-dev libjansson-dev libcurl4-openssl-dev check libsubunit-dev"
# What the tests, make run and the benchmarks need besides.
PACKAGES="$BUILD_PACKAGES git openssl tinycdb
mariadb-server mariadb-client wrk clang libclang-rt-14-dev
perl python3 mandoc valgrind procps curl ucspi-tcp swaks libnet-ssleay-perl
mpop daemontools shellcheck iproute2 strace"

# missing PACKAGE... - the packages dpkg does not list as installed
missing() {
	for p in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$status" in
		*" installed") ;;
		*) printf ' %s' "$p" ;;
		esac
	done
}

if [ "${1:-}" = --build-missing ]; then
	# shellcheck disable=SC2086 # one word a package
	missing $BUILD_PACKAGES
	exit 0
fi

# shellcheck disable=SC2086 # one word a package
missing=$(missing $PACKAGES)
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages; as root run:" >&2
	echo "apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y --no-install-recommends $missing
