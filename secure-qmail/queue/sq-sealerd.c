/*
 * NAME
 *	sq-sealerd - the sealing daemon of the encryption queue stage
 * SYNOPSIS
 *	sq-sealerd
 * DESCRIPTION
 *	Keeps control/sealworkers workers, each with OpenSSL loaded once, a
 *	kept-alive connection to the Paired Key Store (deliver role,
 *	control/pksdeliver) and a cache of verified PEKs, and serves two
 *	requests on the UNIX socket run/sealer:
 *	  QUEUE, with the message and envelope descriptors (an sq-seal run's,
 *	    or two pipes sq-smtpd writes them into):
 *	    seals the message once for each local recipient and queues each
 *	    copy with sq-queue (control/sealqueue); a recipient without a
 *	    key fails alone, with a failure notice to the sender; the answer
 *	    is a qmail-queue exit code and a reason;
 *	  CHECK address: whether a local recipient has a key (sq-smtpd asks at
 *	    RCPT, so a recipient without one is refused alone).
 *	No message pays for OpenSSL's start or a TLS handshake with the PKS.
 *	Every wait on a caller (its request and descriptors, reading the
 *	message and envelope to end of file, the answer) is bounded by
 *	control/sealtimeout seconds (60); a caller past it gets 71 and the
 *	worker is free again. A caller (by its uid, SO_PEERCRED) holds at
 *	most control/sealperuser workers at once (all but one); one more
 *	connection of its is answered 71 at once.
 * SECURITY
 *	Holds the PKS deliver credential and sees every local message in the
 *	clear, in memory only: runs as its own user (sqmaile), never root,
 *	core dumps off; plaintext buffers are wiped. The socket is mode 0660,
 *	its group that of run/ (set-group-id, group sqseal by make install):
 *	only the callers (sq-smtpd, sq-send) are in it, so no other local
 *	user can hold a worker; the timeouts and the bound per uid keep a
 *	caller that misbehaves from holding them all.
 * STANDARDS
 *	RFC 8551 (S/MIME 4.0), RFC 5083, RFC 5084, RFC 5753
 * DIAGNOSTICS
 *	One line per message on stderr: recipients, result, reason.
 * SEE ALSO
 *	sq-seal(8), sq-queue(8), sq-smtpd(8), sq-sealed(5), pksd(8)
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/control.h"
#include "util/die.h"
#include "net/unixsock.h"
#include "queue/fdpass.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "queue/pekcache.h"
#include "crypto/pki.h"
#include "client/pksclient.h"
#include "util/prefork.h"
#include "queue/sealer.h"
#include "util/secretfd.h"

#define REQUEST_MAX 1100

struct daemon {
	char ctldir[SQ_PATH_MAX];
	int lfd;
	unsigned long workers;
	unsigned long ttl;
	unsigned long timeout;          /* control/sealtimeout */
	unsigned long peruser;          /* control/sealperuser */
	_Atomic long *callers;          /* shared: the uid each worker serves,
	                                 * -1 for none */
};

static void reply(int fd, int code, const char *text)
{
	char line[512];
	int n = snprintf(line, sizeof line, "%d %s\n", code, text);
	if (n > 0 && fdpass_send(fd, line, (size_t)n < sizeof line ? (size_t)n
	                                                           : sizeof line - 1,
	                         NULL, 0) < 0)
		log_msg(SQLOG_WARN, "cannot answer: %s", strerror(errno));
}

static void check(struct sealer *s, int fd, const char *arg)
{
	char norm[ADDR_MAX + 1];
	X509 *pek;
	int local = sealer_is_local(s, arg);
	if (local <= 0) {
		reply(fd, local < 0 ? QQ_CONFIG : 1, local < 0 ? "no domain list"
		                                              : "not local");
		return;
	}
	if (addr_normalize(arg, strlen(arg), norm) != ADDR_OK) {
		reply(fd, QQ_REFUSED, "no key");
		return;
	}
	int r = pekcache_get(s->peks, norm, &pek);
	reply(fd, r == PEK_OK ? QQ_OK : r == PEK_NONE ? QQ_REFUSED : QQ_TEMP,
	      r == PEK_OK ? "ok" : r == PEK_NONE ? "no key" : s->peks->error);
}

static void queue(struct sealer *s, int fd, const int *fds, size_t nfds)
{
	if (nfds != 2) {
		reply(fd, QQ_BUG, "QUEUE needs the message and envelope");
		return;
	}
	int code = sealer_queue(s, fds[0], fds[1]);
	if (code == QQ_TEMP && strstr(s->error, "timed out"))
		log_msg(SQLOG_WARN, "a caller timed out; its worker is free");
	if (code == QQ_OK)
		log_msg(SQLOG_INFO, "queued %zu octets: %zu sealed copies, "
		        "%zu remote recipients, %zu without a key%s", s->octets,
		        s->sealed, s->remote, s->keyless,
		        s->notice ? " (failure notice queued)" : "");
	else
		log_msg(SQLOG_WARN, "not queued (%d): %s; %zu sealed copies "
		        "already queued", code, s->error, s->sealed);
	reply(fd, code, code ? s->error : "ok");
}

/* One request a connection. */
static void serve(struct sealer *s, int fd)
{
	char req[REQUEST_MAX + 1];
	int fds[FDPASS_MAX];
	size_t nfds;
	ssize_t n = fdpass_recv(fd, req, REQUEST_MAX, fds, &nfds);
	if (n <= 0) {
		for (size_t i = 0; n == 0 && i < nfds; i++)
			close(fds[i]);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			log_msg(SQLOG_WARN, "a caller sent no request in time");
			reply(fd, QQ_TEMP, "timed out waiting for the request");
		}
		return;
	}
	req[n] = '\0';
	char *nl = strchr(req, '\n');
	if (nl)
		*nl = '\0';
	if (strcmp(req, "QUEUE") == 0)
		queue(s, fd, fds, nfds);
	else if (strncmp(req, "CHECK ", 6) == 0 && nfds == 0)
		check(s, fd, req + 6);
	else
		reply(fd, QQ_BUG, "unknown request");
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Whether the caller on c may have this worker (slot i): 1, its uid then
 * in the slot; 0 (answered 71) when its uid already holds d->peruser
 * workers or cannot be told. Claim first, then count: two workers
 * admitting the same uid at once may both refuse, never both admit. */
static int admit(struct daemon *d, unsigned long i, int c)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_msg(SQLOG_WARN, "cannot tell the caller's uid: %s",
		        strerror(errno));
		reply(c, QQ_TEMP, "cannot tell the caller");
		return 0;
	}
	atomic_store(&d->callers[i], (long)cred.uid);
	unsigned long held = 0;
	for (unsigned long j = 0; j < d->workers; j++)
		held += atomic_load(&d->callers[j]) == (long)cred.uid;
	if (held <= d->peruser)
		return 1;
	atomic_store(&d->callers[i], -1);
	log_msg(SQLOG_WARN, "uid %lu already holds %lu workers: refused",
	        (unsigned long)cred.uid, d->peruser);
	reply(c, QQ_TEMP, "busy: this user holds its share of the workers");
	return 0;
}

static void worker(unsigned long i, void *arg)
{
	struct daemon *d = arg;
	struct control ctl;
	struct pks_config cfg;
	struct pekcache peks;
	struct sealer s;
	char why[300], capath[SQ_PATH_MAX];
	(void)i;
	/* prefork passes SIGHUP on: it must not kill a worker in the middle
	 * of a message. Nothing here reloads on it; restart to reload. */
	signal(SIGHUP, SIG_IGN);
	if (control_open(&ctl, d->ctldir) < 0)
		die_sys_temp("%s: %s", d->ctldir, strerror(errno));
	X509 *ca = path_join(capath, sizeof capath, d->ctldir, "ca.pem",
	                     NULL) == 0 ? pki_cert_load(capath) : NULL;
	if (!ca)
		die_sys_temp("cannot read %s", capath);
	if (pks_config_load(&cfg, &ctl, d->ctldir, "pksdeliver", why,
	                    sizeof why) < 0)
		die_sys_temp("%s", why);
	struct pks_client *pks = pks_client_new(&cfg);
	pks_config_wipe(&cfg);
	if (!pks || pekcache_init(&peks, pks, ca, (unsigned)d->ttl) < 0 ||
	    sealer_init(&s, &ctl, &peks) < 0)
		die_sys_temp("cannot start a worker: %s", strerror(errno));
	s.timeout = d->timeout;
	atomic_store(&d->callers[i], -1); /* in place of a worker that died */
	for (;;) {
		int c = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				die_sys_temp("accept: %s", strerror(errno));
			continue;
		}
		if (fdpass_timeout(c, d->timeout) < 0) {
			log_msg(SQLOG_WARN, "cannot bound the wait: %s",
			        strerror(errno));
		} else if (admit(d, i, c)) {
			serve(&s, c);
			atomic_store(&d->callers[i], -1);
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct control ctl;
	char sock[SQ_PATH_MAX];
	(void)argc;
	log_init(argv[0]);
	die_if_root(0, "run sq-sealerd as its own user (setuidgid)");
	if (secret_nodump() < 0)
		die_sys_temp("cannot disable core dumps");
	signal(SIGPIPE, SIG_IGN);
	memset(&d, 0, sizeof d);
	if (sq_path(d.ctldir, sizeof d.ctldir, "control") < 0 ||
	    sq_path(sock, sizeof sock, "run") < 0)
		die_sys_temp("instance path too long");
	if (control_open(&ctl, d.ctldir) < 0)
		die_sys_temp("%s: %s", d.ctldir, strerror(errno));
	/* a worker mostly waits for sq-queue's fsyncs: more than the cores */
	d.workers = 8;
	d.ttl = 300;
	d.timeout = 60;
	if (control_readulong(&ctl, "sealworkers", PREFORK_MAX, &d.workers) < 0 ||
	    control_readulong(&ctl, "pekcachetime", 86400, &d.ttl) < 0 ||
	    control_readulong(&ctl, "sealtimeout", 3600, &d.timeout) < 0)
		die_sys_temp("control/sealworkers, pekcachetime or sealtimeout: "
		             "%s", strerror(errno));
	if (d.workers == 0)
		d.workers = 1;
	if (d.timeout == 0)
		d.timeout = 1;
	/* one caller may take all workers but one: SMTP (a single uid) keeps
	 * the sealer's throughput, and another uid (sq-send's notices)
	 * always finds a worker */
	d.peruser = d.workers > 1 ? d.workers - 1 : 1;
	if (control_readulong(&ctl, "sealperuser", PREFORK_MAX, &d.peruser) < 0)
		die_sys_temp("control/sealperuser: %s", strerror(errno));
	control_close(&ctl);
	if (d.peruser == 0)
		d.peruser = 1;
	d.callers = mmap(NULL, PREFORK_MAX * sizeof *d.callers,
	                 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (d.callers == MAP_FAILED)
		die_sys_temp("mmap: %s", strerror(errno));
	for (unsigned long j = 0; j < PREFORK_MAX; j++)
		atomic_init(&d.callers[j], -1);
	if (mkdir(sock, 0755) < 0 && errno != EEXIST)
		die_sys_temp("mkdir %s: %s", sock, strerror(errno));
	strcat(sock, "/sealer");
	if ((d.lfd = unixsock_listen(sock, SOCK_STREAM, 0660, 128)) < 0)
		die_sys_temp("cannot listen on %s: %s", sock, strerror(errno));
	log_msg(SQLOG_INFO, "listening on %s with %lu workers, %lu per user, "
	        "%lu s timeout", sock, d.workers, d.peruser, d.timeout);
	prefork_run(d.workers, worker, &d);
	close(d.lfd);
	unlink(sock);
	return 0;
}
