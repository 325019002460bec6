#!/bin/sh
# deps.sh - install the Debian 12 packages secure-qmail builds, tests and runs
# with. As root it installs what is missing, non-interactively; otherwise it
# prints the one apt-get line to run and fails if anything is missing.
set -eu

PACKAGES="build-essential pkgconf git make
libssl-dev openssl libgcrypt20-dev libcdb-dev tinycdb
libmariadb-dev mariadb-server mariadb-client
libevent-dev libjansson-dev libcurl4-openssl-dev wrk
check libsubunit-dev clang libclang-rt-14-dev
perl python3 mandoc valgrind procps curl ucspi-tcp swaks libnet-ssleay-perl
mpop daemontools shellcheck iproute2"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

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
