/*
 * NAME
 *	sq-pkslogin - the key store calls of POP3 logins, over kept
 *	connections
 * SYNOPSIS
 *	sq-pkslogin
 * DESCRIPTION
 *	Serves sq-checkpw(8) on the socket $SQ_HOME/pkslogin/socket (in a
 *	directory of the POP3 user, mode 0700), one request per connection
 *	(pkslogin.h): a login attempt, which the key store counts before it
 *	serves the address's wrapped PDKs, and the report that the password
 *	was right. control/pksloginworkers processes (default 4) each keep
 *	one HTTPS connection to pksd open with the login role's credential,
 *	control/pkslogin, so that a login pays neither a TLS handshake nor
 *	the start of libcurl. Each request and answer is bounded by a
 *	second; the key store call by control/timeoutpks.
 * SECURITY
 *	The only process of the POP3 side that holds the login role's
 *	credential; sq-checkpw holds none. Sees no password and opens no
 *	key: the wrapped PDKs and their cache peppers pass through buffers
 *	that are locked and wiped after each request, in processes of their
 *	own, so a dump of the login cache's memory (sq-pdkcache(8)) finds
 *	no pepper. Not dumpable; refuses root unless $SQ_HOME names a test
 *	instance. Every request is parsed strictly: an op, a hash, and a
 *	client address that must read as IPv4 or IPv6.
 * SEE ALSO
 *	sq-pkslogin(8), sq-checkpw(8), pksd(8)
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/pksclient.h"
#include "mail/addr.h"
#include "net/unixsock.h"
#include "pkslogin.h"
#include "util/control.h"
#include "util/die.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "util/prefork.h"
#include "util/secretfd.h"

#define WORKERS_DEFAULT 4
#define REQUEST_WAIT_MS 1000

struct relay {
	int lfd;
	struct pks_config cfg;  /* secret: wiped in each worker once used */
};

/* One request on the connection fd, answered; reply is the worker's
 * buffer for the key store's reply (secret, locked once), wiped after. */
static void serve(struct pks_client *pks, struct sbuf *reply, int fd)
{
	unsigned char req[PKSLOGIN_REQ_HEAD + PKSLOGIN_IP_MAX + 1];
	char op, ip[PKSLOGIN_IP_MAX + 1], hex[9];
	uint32_t hash;
	unixsock_timeout(fd, REQUEST_WAIT_MS);
	ssize_t n = recv(fd, req, sizeof req, 0);
	if (n < 0 || pkslogin_request_parse(req, (size_t)n, &op, &hash,
	                                     ip) < 0) {
		log_msg(SQLOG_WARN, "a malformed request (%zd octets): refused",
		        n);
		pkslogin_answer(fd, PKS_REFUSED, "malformed request", 17);
		return;
	}
	enum pks_result r = op == 'A'
	                    ? pks_login_attempt(pks, hash, ip, reply)
	                    : pks_login_succeeded(pks, hash, ip);
	const char *text = r == PKS_OK ? reply->s : pks_client_error(pks);
	pkslogin_answer(fd, r, text ? text : "", r == PKS_OK ? reply->len
	                                                   : strlen(text));
	if (r == PKS_TEMP) {
		addr_hash_hex(hash, hex);
		log_msg(SQLOG_WARN, "%s %s: %s", op == 'A' ? "attempt" : "success",
		        hex, pks_client_error(pks));
	}
	sbuf_reset(reply);
}

static void worker(unsigned long i, void *arg)
{
	struct relay *d = arg;
	(void)i;
	signal(SIGHUP, SIG_IGN); /* nothing reloads: restart to reload */
	struct pks_client *pks = pks_client_new(&d->cfg);
	struct sbuf reply;
	/* room for the result octet before it in the answer */
	sbuf_init_secret(&reply, PKSLOGIN_ANSWER_MAX - 1);
	pks_config_wipe(&d->cfg);
	if (!pks)
		die_sys_temp("cannot start a worker: %s", strerror(errno));
	for (;;) {
		int fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				die_sys_temp("accept: %s", strerror(errno));
			continue;
		}
		serve(pks, &reply, fd);
		close(fd);
	}
}

int main(void)
{
	struct relay d;
	struct control ctl;
	char ctldir[SQ_PATH_MAX], path[SQ_PATH_MAX], why[300];
	unsigned long workers = WORKERS_DEFAULT;
	log_init("sq-pkslogin");
	die_if_root(1, "run it as the POP3 user (sq-pkslogin(8))");
	secret_nodump_or_die();
	signal(SIGPIPE, SIG_IGN);
	if (sq_path(ctldir, sizeof ctldir, "control") < 0 ||
	    sq_path(path, sizeof path, PKSLOGIN_SOCKET) < 0)
		die_sys_temp("instance path too long");
	if (control_open(&ctl, ctldir) < 0)
		die_sys_temp("%s: %s", ctldir, strerror(errno));
	int bad = control_readulong(&ctl, "pksloginworkers", PREFORK_MAX,
	                            &workers) < 0;
	int r = bad ? 0 : pks_config_load(&d.cfg, &ctl, ctldir, "pkslogin",
	                                  why, sizeof why);
	control_close(&ctl);
	if (bad)
		die_sys_temp("control/pksloginworkers: not a number from 1 to %d",
		             PREFORK_MAX);
	if (r < 0)
		die_sys_temp("%s", why);
	if (workers == 0)
		workers = 1;
	if ((d.lfd = unixsock_listen_private(path, 128)) < 0)
		die_sys_temp("cannot listen on %s: %s", path, strerror(errno));
	log_msg(SQLOG_INFO, "listening on %s with %lu workers", path, workers);
	prefork_run(workers, worker, &d);
	pks_config_wipe(&d.cfg);
	close(d.lfd);
	unlink(path);
	log_msg(SQLOG_INFO, "stopped");
	return 0;
}
