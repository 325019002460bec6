#!/bin/sh
# install.sh DESTDIR HOME BUILD - install secure-qmail under DESTDIR/HOME
# (HOME from conf-home): programs in bin/, pages in man/, and the empty
# control/ and users/ directories, and sq-queue set-id when its user and
# group exist. The queue and maildirs are set up by the instance tools.
set -eu
destdir=$1
home=$2
build=$3
root="$destdir$home"

install -d -m 755 "$root" "$root/bin" "$root/control" "$root/users" \
	"$root/man/man5" "$root/man/man8"
if [ -d "$build/bin" ]; then
	for p in "$build"/bin/*; do
		[ -f "$p" ] && install -m 755 "$p" "$root/bin/"
	done
fi
# Formats (section 5) always; program pages (section 8) for the programs
# installed, so development tools such as sq-mariadb stay out.
for page in man/*.[0-9]; do
	section=${page##*.}
	name=$(basename "$page" ".$section")
	if [ "$section" = 8 ] && [ ! -f "$root/bin/$name" ]; then
		continue
	fi
	install -m 644 "$page" "$root/man/man$section/"
done
# sq-queue runs setuid and setgid to the queue user and the shared group
# (sq-queue(8)); that needs root and the users, which a staging install
# (DESTDIR) may not have.
qowner=$(sed -n 3p conf-users)
qgroup=$(sed -n 1p conf-groups)
if [ -f "$root/bin/sq-queue" ]; then
	if [ "$(id -u)" -eq 0 ] && getent passwd "$qowner" >/dev/null &&
		getent group "$qgroup" >/dev/null; then
		chown "$qowner:$qgroup" "$root/bin/sq-queue"
		chmod 6711 "$root/bin/sq-queue"
	else
		echo "install: as root, once $qowner and $qgroup exist:" \
			"chown $qowner:$qgroup $root/bin/sq-queue &&" \
			"chmod 6711 $root/bin/sq-queue" >&2
	fi
fi
echo "installed under $root"
