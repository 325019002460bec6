"""secure-qmail as make run sets it up and starts it (tools/run-instance,
through tools/setup-instance as the tests' fixtures do): the PKS with its
own MariaDB, the subscribers provisioned by ses-adduser, sq-sealerd,
sq-smtpd under tcpserver, the delivery chain (sq-start) handing sealed
mail over LMTP/TLS to edhd in the same instance (combined mode: edhd's
maildirs are the instance's), and POP3 (sq-popup, sq-checkpw, sq-pop3d,
with the login cache sq-pdkcache) reading those maildirs directly. As root every daemon runs as nobody."""
import glob
import os
import shutil

from sqtest import instance
from sqtest.mail import MailHost, PASSWORD, listening
from sqtest.pks import free_port


class Ours:
    label = "secure-qmail"

    def __init__(self, users):
        # sealworkers 8: make run sets none, and 8 is sq-sealerd's default
        self.m = MailHost(users=users, sealworkers=8)
        self.users = users
        self.password = PASSWORD

    def start(self):
        m = self.m
        m.start()
        # edhd in the instance, as run-instance's "setup-instance edh" and
        # "daemon edhd" lay it out: LMTP and retrieval on loopback, the
        # deliver client's credential in control/edhlmtp-cred (so that
        # sq-lspawn stores through edhd), no retrieve client (so that
        # sq-pop3d reads the maildirs itself)
        self.lmtp, retr = free_port(), free_port()
        instance.setup(m.home, "edh", f"127.0.0.1:{self.lmtp}",
                       f"127.0.0.1:{retr}", "bench-peers", "127.0.0.1",
                       "deliver")
        self.edhd = m._spawn(instance.argv("daemon", "edhd"), "edhd.log")
        listening(self.lmtp)
        m.start_delivery()
        m.start_pdkcache()
        m.start_pop3()

    def stop(self):
        self.m.stop()

    smtp_port = property(lambda self: self.m.smtp_port)
    pop3_port = property(lambda self: self.m.pop3_port)

    def maildirs(self):
        return glob.glob(os.path.join(self.m.home, "maildirs", "*"))

    def queued(self):
        return self.m.queue_count()

    def reset(self):
        # the boxes, not maildirs/ itself: edhd holds it open
        top = os.path.join(self.m.home, "maildirs")
        for box in os.listdir(top):
            shutil.rmtree(os.path.join(top, box))

    def scan_roots(self):
        return [self.m.home]
