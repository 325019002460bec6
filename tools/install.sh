#!/bin/sh
# install.sh DESTDIR HOME BUILD MANDIR - install secure-qmail under
# DESTDIR/HOME (HOME from conf-home): programs in bin/, and the empty
# control/ and users/ directories, and sq-queue set-id when its user and
# group exist. The queue and maildirs are set up by the instance tools.
# The supervision files are rendered for HOME and conf-users by
# tools/render-service: daemontools service directories in service/ (an
# admin links them into /service), systemd units in systemd/ (an admin
# copies them to /etc/systemd/system), example tcprules sources in control/
# (kept if present); and run/, sq-sealerd's, owned by the sealing user and
# the sealer-callers group (conf-groups, line 3), mode 2750: the socket
# made in it takes that group, and no other local user reaches it.
# The manual pages go to DESTDIR/MANDIR (conf-man), where man(1) finds them.
set -eu
destdir=$1
home=$2
build=$3
mandir="$destdir$4"
root="$destdir$home"

install -d -m 755 "$root" "$root/bin" "$root/control" "$root/users" \
	"$mandir/man5" "$mandir/man8"
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
	install -m 644 "$page" "$mandir/man$section/"
done
# sq-queue runs setuid and setgid to the queue user and the shared group
# (sq-queue(8)); that needs root and the users, which a staging install
# (DESTDIR) may not have.
qowner=$(sh tools/role-users | awk '$1 == "QUEUE" { print $2 }')
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
# The run scripts and units name HOME, not DESTDIR/HOME: they run there.
sh tools/render-service "$home" "$root"
install -d -m 750 "$root/run"
suser=$(sh tools/role-users | awk '$1 == "SEAL" { print $2 }')
sgroup=$(sed -n 3p conf-groups)
if [ "$(id -u)" -eq 0 ] && getent passwd "$suser" >/dev/null &&
	getent group "$sgroup" >/dev/null; then
	chown "$suser:$sgroup" "$root/run"
	chmod 2750 "$root/run"
else
	echo "install: as root, once $suser and $sgroup exist:" \
		"chown $suser:$sgroup $root/run && chmod 2750 $root/run" >&2
fi
echo "installed under $root"
