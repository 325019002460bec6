"""Private instances of the peers, from Debian's packages, on loopback
ports of their own: Postfix with a configuration directory of its own
(postfix -c: its own queue and data directories, no chroot, its own
mail log), Dovecot with a configuration of its own (dovecot -c: its own
base and state directories and log). Nothing under /etc is read or
written: the packaged default instances stay unconfigured and stopped.

Postfix receives on 127.0.0.1:PORT and hands every recipient either to
virtual(8), which writes plain maildirs, or over LMTP to Dovecot. Dovecot
knows the subscribers from a passwd-file (SHA512-CRYPT, as
doveadm pw makes it) and serves POP3 on a port of its own; with mail_crypt,
each subscriber has an EC key pair whose private half is stored
encrypted with a key password derived from the login password, so that
LMTP can encrypt for anyone and only a login can decrypt.
"""
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import time

MAIL_UID = pwd.getpwnam("nobody").pw_uid   # the mailboxes' owner everywhere
MAIL_GID = pwd.getpwnam("nobody").pw_gid

POSTFIX_MAIN = """\
# bench-peers: a private Postfix instance (postfix -c {conf})
compatibility_level = 3.6
queue_directory = {top}/queue
data_directory = {top}/data
# the package's programs and its list of files (postfix-files)
meta_directory = /etc/postfix
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
command_directory = /usr/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file = {top}/maillog
myhostname = {name}.bench.invalid
mydestination =
relay_domains =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtputf8_enable = no
biff = no
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = texthash:{conf}/vmailbox
"""

POSTFIX_VIRTUAL = """\
virtual_transport = virtual
virtual_mailbox_base = {top}/mail
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
"""

POSTFIX_LMTP = """\
virtual_transport = lmtp:inet:127.0.0.1:{lmtp}
"""

# Only what the benchmark uses, every service without chroot (the "n" in
# the fifth column), and postlogd for maillog_file.
POSTFIX_MASTER = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
lmtp      unix  - - n -    - lmtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
virtual   unix  - n n -    - virtual
postlog   unix-dgram n - n - 1 postlogd
"""

DOVECOT_CONF = """\
# bench-peers: a private Dovecot instance (dovecot -c {top}/dovecot.conf)
instance_name = bench-{name}
base_dir = {top}/base
state_dir = {top}/state
log_path = {top}/dovecot.log
protocols = lmtp pop3
listen = 127.0.0.1
ssl = no
# POP3 in the clear on loopback, as the benchmark's client logs in
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {top}/users
{passdb_extra}}}
userdb {{
  driver = passwd-file
  args = {top}/users
}}
protocol lmtp {{
  postmaster_address = postmaster@{domain}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{crypt}"""

# mail_crypt in folder-keys mode with encrypted user keys (Dovecot 2.3):
# the user's key pair lives in the mailbox attributes, its private half
# encrypted with mail_crypt_private_password; INBOX's folder key is made
# at the first delivery with the user's public key only, so LMTP needs
# no password. The key password is the SHA-256 of the login password,
# handed from the passdb to the userdb at login (a raw password could
# hold % and be expanded).
DOVECOT_CRYPT = """\
mail_plugins = $mail_plugins mail_crypt
mail_attribute_dict = file:%h/Maildir/dovecot-attributes
plugin {
  mail_crypt_curve = secp521r1
  mail_crypt_save_version = 2
  mail_crypt_require_encrypted_user_key = yes
}
"""
DOVECOT_CRYPT_PASSDB = \
    "  override_fields = userdb_mail_crypt_private_password=%{sha256:password}\n"


def run(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}:\n"
                           f"{r.stdout}{r.stderr}")
    return r.stdout


def start_daemon(log, *argv):
    """Runs a program that starts a daemon and returns: its output to log,
    not to pipes, which the daemon would hold open after it returns."""
    with open(log, "ab") as f:
        r = subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=f,
                           stderr=f, timeout=300)
    if r.returncode != 0:
        with open(log, errors="replace") as f:
            raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}:\n"
                               + f.read()[-2000:])


def listening(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def empty_dir(path, owner=None):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    if owner:
        os.chown(path, *owner)


class Postfix:
    """A Postfix instance under top, receiving on its own port and
    delivering to virtual(8) maildirs (lmtp None) or to an LMTP port."""

    def __init__(self, top, name, users, domain, lmtp=None):
        self.top, self.name, self.users, self.lmtp = top, name, users, lmtp
        self.conf = os.path.join(top, "conf")
        self.port = free_port()
        os.makedirs(self.conf)
        for d in ("queue", "data"):
            os.makedirs(os.path.join(top, d))
        # master takes its lock in data_directory as mail_owner
        shutil.chown(os.path.join(top, "data"), "postfix")
        fill = dict(top=top, conf=self.conf, name=name, domain=domain,
                    uid=MAIL_UID, gid=MAIL_GID, lmtp=lmtp, port=self.port)
        main = POSTFIX_MAIN.format(**fill) + (
            POSTFIX_LMTP if lmtp else POSTFIX_VIRTUAL).format(**fill)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(main)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER.format(**fill))
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            for u in users:
                # virtual(8): a trailing slash means a maildir; for LMTP the
                # map only says who exists
                local = u.split("@")[0]
                f.write(f"{u} {domain}/{local}/\n" if not lmtp else f"{u} OK\n")
        if not lmtp:
            empty_dir(os.path.join(top, "mail"), (MAIL_UID, MAIL_GID))

    def start(self):
        start_daemon(os.path.join(self.top, "start.log"), "postfix", "-c",
                     self.conf, "start")
        listening(self.port)

    def stop(self):
        subprocess.run(["postfix", "-c", self.conf, "stop"],
                       capture_output=True)

    def maildirs(self):
        """Every subscriber's maildir (virtual(8) only)."""
        base = os.path.join(self.top, "mail", self.users[0].split("@")[1])
        return [os.path.join(base, u.split("@")[0]) for u in self.users]

    def queued(self):
        """Messages still in the queue (any of its queues)."""
        q = os.path.join(self.top, "queue")
        return sum(len(files) for d in ("maildrop", "incoming", "active",
                                        "deferred", "hold")
                   for _, _, files in os.walk(os.path.join(q, d)))

    def reset(self):
        if not self.lmtp:
            empty_dir(os.path.join(self.top, "mail"), (MAIL_UID, MAIL_GID))


class Dovecot:
    """A Dovecot instance under top: LMTP and POP3 on ports of their own,
    the subscribers in a passwd-file, mail_crypt when crypt."""

    def __init__(self, top, name, users, domain, password, crypt):
        self.top, self.users, self.crypt = top, users, crypt
        self.password = password
        self.lmtp, self.pop3 = free_port(), free_port()
        self.conf = os.path.join(top, "dovecot.conf")
        for d in ("base", "state"):
            os.makedirs(os.path.join(top, d))
        empty_dir(os.path.join(top, "mail"), (MAIL_UID, MAIL_GID))
        hashed = run("doveadm", "pw", "-s", "SHA512-CRYPT", "-p",
                     password).strip()
        with open(os.path.join(top, "users"), "w") as f:
            for u in users:
                home = os.path.join(top, "mail", u.split("@")[0])
                f.write(f"{u}:{hashed}:{MAIL_UID}:{MAIL_GID}::{home}::\n")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(
                top=top, name=name, domain=domain, lmtp=self.lmtp,
                pop3=self.pop3,
                passdb_extra=DOVECOT_CRYPT_PASSDB if crypt else "",
                crypt=DOVECOT_CRYPT if crypt else ""))
        with open(os.path.join(top, "userlist"), "w") as f:
            f.write("".join(u + "\n" for u in users))

    def start(self):
        start_daemon(os.path.join(self.top, "start.log"), "dovecot", "-c",
                     self.conf)
        listening(self.lmtp)
        listening(self.pop3)
        if self.crypt:
            self.make_keys()

    def make_keys(self):
        """Every subscriber's key pair, its private half encrypted with
        the key password the login will derive (SHA-256 of the password,
        in hex, as %{sha256:password} expands)."""
        keypw = hashlib.sha256(self.password.encode()).hexdigest()
        # -f flow: 2.3.19's table formatter panics after the first user
        run("doveadm", "-f", "flow", "-c", self.conf, "-o",
            f"plugin/mail_crypt_private_password={keypw}",
            "mailbox", "cryptokey", "generate", "-U",
            "-F", os.path.join(self.top, "userlist"))
        lacking = [md for md in self.maildirs() if not os.path.exists(
            os.path.join(md, "dovecot-attributes"))]
        if lacking:
            raise RuntimeError(f"no mail_crypt user key in {lacking[:3]}")

    def stop(self):
        subprocess.run(["doveadm", "-c", self.conf, "stop"],
                       capture_output=True)

    def maildirs(self):
        return [os.path.join(self.top, "mail", u.split("@")[0], "Maildir")
                for u in self.users]

    def reset(self):
        """Empty mailboxes: new homes, and new keys for them."""
        empty_dir(os.path.join(self.top, "mail"), (MAIL_UID, MAIL_GID))
        if self.crypt:
            self.make_keys()


class PostfixVirtual:
    """(b) Postfix virtual(8) to plain maildirs; POP3 by a plain Dovecot
    over the same maildirs (virtual(8) serves no POP3)."""
    label = "Postfix virtual(8)"

    def __init__(self, top, users, domain, password):
        self.top = top
        self.postfix = Postfix(os.path.join(top, "postfix"), "pfvirtual",
                               users, domain)
        self.dovecot = Dovecot(os.path.join(top, "dovecot"), "pfvirtual",
                               users, domain, password, crypt=False)
        # Dovecot reads virtual(8)'s maildirs: each user's home's Maildir
        with open(os.path.join(self.dovecot.top, "users")) as f:
            lines = f.read().splitlines()
        with open(os.path.join(self.dovecot.top, "users"), "w") as f:
            for line in lines:
                fields = line.split(":")
                local = fields[0].split("@")[0]
                fields[5] = os.path.join(top, "postfix", "mail", domain, local)
                f.write(":".join(fields) + "\n")
        with open(self.dovecot.conf) as f:
            conf = f.read().replace("maildir:~/Maildir", "maildir:~")
        with open(self.dovecot.conf, "w") as f:
            f.write(conf)

    def start(self):
        self.dovecot.start()
        self.postfix.start()

    def stop(self):
        self.postfix.stop()
        self.dovecot.stop()

    smtp_port = property(lambda self: self.postfix.port)
    pop3_port = property(lambda self: self.dovecot.pop3)

    def maildirs(self):
        return self.postfix.maildirs()

    def queued(self):
        return self.postfix.queued()

    def reset(self):
        self.postfix.reset()

    def scan_roots(self):
        return [self.top]


class PostfixDovecot:
    """(a) and (c): Postfix handing every recipient to Dovecot over LMTP,
    with mail_crypt and per-user password-protected keys or plain."""

    def __init__(self, top, users, domain, password, crypt):
        self.top = top
        self.label = ("Postfix → Dovecot mail_crypt" if crypt
                      else "Postfix → Dovecot plain")
        tag = "pfcrypt" if crypt else "pfplain"
        self.dovecot = Dovecot(os.path.join(top, "dovecot"), tag, users,
                               domain, password, crypt)
        self.postfix = Postfix(os.path.join(top, "postfix"), tag, users,
                               domain, lmtp=self.dovecot.lmtp)

    def start(self):
        self.dovecot.start()
        self.postfix.start()

    def stop(self):
        self.postfix.stop()
        self.dovecot.stop()

    smtp_port = property(lambda self: self.postfix.port)
    pop3_port = property(lambda self: self.dovecot.pop3)

    def maildirs(self):
        return self.dovecot.maildirs()

    def queued(self):
        return self.postfix.queued()

    def reset(self):
        self.dovecot.reset()

    def scan_roots(self):
        return [self.top]
