#!/usr/bin/env python3
"""Backup and disaster recovery of the Paired Key Store (pks-ctl backup
and restore, pks-backup(5)). A subscriber is provisioned and sent a
message, which rests sealed; the PKS is backed up; then it is destroyed:
pksd stopped, MariaDB's data directory and the PKS key files deleted. A
fresh MariaDB is brought up, the backup restored into it, pksd started
again, and the old message read over POP3 with the old password. Also:
the backup file is mode 0600 and holds neither the passphrase nor the PKS
key in the clear; a wrong passphrase, a flipped octet, a cut or an
appended octet are refused with nothing written; a database that is not
empty, or key files already there, are refused unless --force; no
backup is taken while a rotation holds the key directory, and one taken
after a rotation carries both keys and restores."""
import fcntl
import hashlib
import os
import poplib
import shutil
import smtplib
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqtest import instance, tap  # noqa: E402
from sqtest.mail import MailHost, PASSWORD, retr  # noqa: E402
from sqtest.mariadb import MariaDB  # noqa: E402

A = "jane.doe@example.org"
PASSPHRASE = "backup passphrase kept apart from the backup"
BODY = (b"From: Alice <alice@remote.example>\r\n"
        b"To: Jane <jane.doe@example.org>\r\n"
        b"Subject: before the disaster\r\n"
        b"\r\n"
        b"This message was sealed before the key store was lost.\r\n")

m = MailHost(users=[A])
work = tempfile.mkdtemp(prefix="sqbak.", dir="/tmp")
BACKUP = os.path.join(work, "pks.backup")
restore_user = ["-u", instance.DAEMONS] if instance.DAEMONS else []


def ctl(*args, passphrase=None):
    """pks-ctl ARGS with the passphrase on descriptor 3: (exit, out+err)."""
    r = m.run(os.path.join(m.bin, "pks-ctl"), *args,
              pw=None if passphrase is None else passphrase + "\n")
    return r.returncode, r.stdout + r.stderr


def restore(path=BACKUP, passphrase=PASSPHRASE, *more):
    return ctl("restore", *restore_user, *more, "--passphrase-fd", "3", path,
               passphrase=passphrase)


def keydir():
    return os.path.join(m.home, "pks")


def key_files():
    d = keydir()
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def read_mail():
    p = m.pop3(A)
    got = retr(p, 1)
    p.quit()
    return got


def tampered(name, change):
    data = bytearray(open(BACKUP, "rb").read())
    data = change(data)
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def flip(i):
    def change(data):
        data[i] ^= 0x01
        return data
    return change


try:
    m.start()
    m.start_delivery()
    m.start_pop3()
    tap.on_failure(lambda: "\npksd.log:\n" + m.pks.log_text()[-2000:])

    @tap.scenario("a sealed message for a provisioned subscriber")
    def _():
        s = smtplib.SMTP("127.0.0.1", m.smtp_port)
        s.sendmail("alice@remote.example", [A], BODY)
        s.quit()
        tap.ok(m.wait_for(lambda: m.delivered(A), 30), "delivered, sealed",
               m.log("send.log")[-1500:])
        tap.ok(BODY.endswith(read_mail()[-60:]), "read over POP3 before")

    @tap.scenario("backup")
    def _():
        rc, out = ctl("backup", "--passphrase-fd", "3", BACKUP,
                      passphrase="short")
        tap.ok(rc != 0 and "at least" in out and not os.path.exists(BACKUP),
               "a passphrase shorter than 12 octets is refused", out)
        rc, out = ctl("backup", "--passphrase-fd", "3", BACKUP,
                      passphrase=PASSPHRASE)
        tap.ok(rc == 0 and "1 rows" in out and "pks.key " in out,
               "pks-ctl backup writes the rows and the key", out)
        st = os.stat(BACKUP)
        tap.is_(stat.S_IMODE(st.st_mode), 0o600, "the backup is mode 0600")
        data = open(BACKUP, "rb").read()
        key = open(os.path.join(keydir(), "pks.key")).read().split("\n")[1]
        tap.ok(data.startswith(b"SQPKSBAK\x01\x01") and
               PASSPHRASE.encode() not in data and
               key.encode() not in data and bytes.fromhex(key) not in data,
               "neither the passphrase nor the PKS key is in it in clear")
        tap.ok(not [n for n in os.listdir(work) if n.startswith(".tmp")],
               "no temporary file left beside it")
        # the header as pks-backup(5) gives it, checked with another
        # scrypt (Python's, OpenSSL's): the cost, and the check value
        log_n, r, p, length = data[10], data[11], data[12], \
            int.from_bytes(data[76:84], "big")
        derived = hashlib.scrypt(PASSPHRASE.encode(), salt=data[16:48],
                                 n=1 << log_n, r=r, p=p, dklen=48,
                                 maxmem=512 << 20)
        tap.ok((log_n, r, p) == (17, 8, 1) and data[13:16] == b"\0\0\0" and
               len(data) == 84 + length + 16 and derived[32:] == data[48:64],
               "header, cost and check value as pks-backup(5) says",
               f"{log_n} {r} {p} {length} {len(data)}")

    @tap.scenario("restore refuses a PKS that is not new")
    def _():
        before = key_files()
        rc, out = restore()
        tap.ok(rc != 0 and "exists" in out and key_files() == before,
               "key files already there: refused, nothing changed", out)
        m.pks.stop_pksd()
        aside = keydir() + ".aside"
        os.rename(keydir(), aside)
        rc, out = restore()
        tap.ok(rc != 0 and "holds 1 rows" in out and key_files() == [],
               "a database with rows: refused, no key file written", out)
        shutil.rmtree(keydir(), ignore_errors=True)
        os.rename(aside, keydir())

    @tap.scenario("the disaster: datadir and keys gone")
    def _():
        if m.pks.proc:
            m.pks.stop_pksd()
        m.pks.db.stop()                 # and its data directory removed
        shutil.rmtree(keydir())
        db = MariaDB().start()
        os.chmod(db.dir, 0o711)
        m.pks.db = db
        m.control("pksdb", f"socket={db.socket}\n")
        tap.ok("pks" not in db.sql("SHOW DATABASES").split(),
               "a fresh MariaDB, without the key store")

    def untouched():
        return (key_files() == [] and
                "pks" not in m.pks.db.sql("SHOW DATABASES").split())

    @tap.scenario("wrong passphrase and damaged backups are refused")
    def _():
        rc, out = restore(passphrase="not the passphrase at all")
        tap.ok(rc == 100 and "wrong passphrase" in out and untouched(),
               "a wrong passphrase: exit 100, nothing written", out)
        size = os.path.getsize(BACKUP)
        for name, change in (
                ("body", flip(100)),
                ("last octet before the tag", flip(size - 17)),
                ("tag", flip(size - 1))):
            rc, out = restore(tampered("flip", change))
            tap.ok(rc == 100 and "authentication tag" in out and untouched(),
                   f"a flipped octet in the {name}: refused", out)
        rc, out = restore(tampered("cut", lambda d: d[:-1]))
        tap.ok(rc == 100 and "not a PKS backup" in out and untouched(),
               "a backup cut short: refused", out)
        rc, out = restore(tampered("grown", lambda d: d + b"\0"))
        tap.ok(rc == 100 and untouched(), "an octet appended: refused", out)
        rc, out = restore(tampered("length", flip(83)))
        tap.ok(rc == 100 and untouched(), "another length: refused", out)

    @tap.scenario("restore onto the fresh PKS and read the old mail")
    def _():
        rc, out = restore()
        tap.ok(rc == 0 and "1 rows" in out and "pks.key " in out,
               "pks-ctl restore", out)
        st = os.stat(os.path.join(keydir(), "pks.key"))
        want_uid = (int(subprocess.check_output(["id", "-u", instance.DAEMONS]))
                    if instance.DAEMONS else os.getuid())
        tap.ok(stat.S_IMODE(st.st_mode) == 0o400 and st.st_uid == want_uid,
               "pks.key: mode 0400, owned by pksd's user",
               f"{oct(st.st_mode)} {st.st_uid}")
        h = hashlib.sha256(A.encode()).hexdigest()[:8]
        rc, out = ctl("keys", h)
        tap.ok(rc == 0 and "seal ok" in out, "the row opens with the key",
               out)
        m.pks.start_pksd()
        got = read_mail()
        tap.ok(got.endswith(BODY[BODY.index(b"\r\n\r\n") + 4:]) and
               b"Subject: before the disaster" in got,
               "the old message read over POP3 with the old password",
               repr(got[:300]))
        try:
            m.pop3(A, password="wrong password")
            refused = False
        except poplib.error_proto:
            refused = True
        tap.ok(refused, "a wrong password still unlocks nothing")

    @tap.scenario("the restored PKS takes new mail, and restore --force")
    def _():
        s = smtplib.SMTP("127.0.0.1", m.smtp_port)
        s.sendmail("alice@remote.example", [A],
                   BODY.replace(b"before", b"after"))
        s.quit()
        tap.ok(m.wait_for(lambda: len(m.delivered(A)) == 2, 30),
               "a new message sealed with the restored key")
        rc, out = restore()
        tap.ok(rc != 0 and "exists" in out, "a second restore: refused")
        m.pks.stop_pksd()
        rc, out = restore(BACKUP, PASSPHRASE, "--force")
        tap.ok(rc == 0 and "restored" in out, "restore --force replaces it",
               out)
        m.pks.start_pksd()
        p = m.pop3(A)
        tap.ok(p.stat()[0] == 2 and b"before the disaster" in retr(p, 1),
               "both messages still open")
        p.quit()
    @tap.scenario("after a rotation, a backup carries both keys")
    def _():
        d = os.open(keydir(), os.O_RDONLY)
        fcntl.flock(d, fcntl.LOCK_EX)   # as pks-ctl rotate holds it
        rc, out = ctl("backup", "--passphrase-fd", "3", BACKUP,
                      passphrase=PASSPHRASE)
        os.close(d)
        tap.ok(rc == 111 and "rotate" in out,
               "no backup while a rotation holds the key directory", out)
        rc, out = ctl("rotate")
        tap.ok(rc == 0 and "rotated: 1 rows" in out, "pks-ctl rotate", out)
        rc, out = ctl("backup", "--passphrase-fd", "3", BACKUP,
                      passphrase=PASSPHRASE)
        tap.ok(rc == 0 and "pks.key " in out and "pks.key.old " in out,
               "the backup holds pks.key and pks.key.old", out)
        m.pks.stop_pksd()
        shutil.rmtree(keydir())
        rc, out = restore(BACKUP, PASSPHRASE, "--force")
        tap.ok(rc == 0 and key_files() == ["pks.key", "pks.key.old"],
               "restored with both keys", out)
        m.pks.start_pksd()
        p = m.pop3(A)
        tap.ok(p.stat()[0] == 2 and b"before the disaster" in retr(p, 1),
               "the mail still opens")
        p.quit()
finally:
    m.stop()
    shutil.rmtree(work, ignore_errors=True)
tap.done()
