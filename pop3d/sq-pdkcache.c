/*
 * NAME
 *	sq-pdkcache - keep unlocked PDKs a while, for logins that cost
 *	milliseconds
 * SYNOPSIS
 *	sq-pdkcache
 * DESCRIPTION
 *	Serves sq-checkpw(8) on the socket $SQ_HOME/pdkcache/socket (in a
 *	directory of the POP3 user, mode 0700): after a login has unwrapped a PDK with
 *	scrypt, it keeps that PDK for control/pdkcachetime seconds (default
 *	900; 0 turns the cache off), at most control/pdkcachesize entries
 *	(default 4096), sealed under a key only that login's password and
 *	the key store's pepper make (pdkcache.h). A later login of the same
 *	subscriber asks for it with the key it makes the same way, after
 *	the key store has counted the attempt and served the same wrapped
 *	PDK; a miss, or no cache at all, is a scrypt unwrap as before.
 *	One request per connection; every wait is bounded.
 * SECURITY
 *	Holds no password, no pepper and no key: only PDKs sealed under
 *	keys it does not keep, in memory locked with mlock (within
 *	RLIMIT_MEMLOCK; past it, a warning and pages that may be swapped),
 *	never written anywhere, not dumpable (no core, no ptrace by its own
 *	user). It opens an entry only for a caller who brings its key, and
 *	forgets it after three wrong ones. Refuses root unless $SQ_HOME
 *	names a test instance.
 * SEE ALSO
 *	sq-pdkcache(8), sq-checkpw(8)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "net/unixsock.h"
#include "pdkcache.h"
#include "util/control.h"
#include "util/die.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "util/secretfd.h"

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void settings(struct pdkcache *c)
{
	char dir[SQ_PATH_MAX];
	struct control ctl;
	unsigned long ttl = PDKCACHE_TIME_DEFAULT, size = PDKCACHE_SIZE_DEFAULT;
	if (sq_path(dir, sizeof dir, "control") < 0 || control_open(&ctl, dir) < 0)
		die_sys_temp("cannot open the control directory");
	int bad = control_readulong(&ctl, "pdkcachetime", 86400, &ttl) < 0 ||
	          control_readulong(&ctl, "pdkcachesize", 1000000, &size) < 0;
	control_close(&ctl);
	if (bad)
		die_sys_temp("control/pdkcachetime or pdkcachesize: not a number "
		             "in range");
	if (pdkcache_init(c, size, (time_t)ttl) < 0)
		die_nomem();
}

/* One request from the connection fd, answered. */
static void serve(struct pdkcache *c, int fd)
{
	unsigned char req[PDKCACHE_REQ_HEAD + PDKCACHE_PDK_MAX + 1];
	struct sbuf pdk;
	sbuf_init_secret(&pdk, 1 + PDKCACHE_PDK_MAX);
	unixsock_timeout(fd, 500);
	ssize_t n = recv(fd, req, sizeof req, 0);
	uint64_t row = 0;
	for (int i = 0; n >= PDKCACHE_REQ_HEAD && i < 8; i++)
		row = row << 8 | req[1 + i];
	const unsigned char *digest = req + 9;
	const unsigned char *key = digest + PDKCACHE_DIGEST_LEN;
	int ok = 0;
	sbuf_putc(&pdk, '+');
	if (n == PDKCACHE_REQ_HEAD && req[0] == 'G')
		ok = pdkcache_get(c, row, digest, key, time(NULL), &pdk) == 1;
	else if (n > PDKCACHE_REQ_HEAD && n <= PDKCACHE_REQ_HEAD +
	         PDKCACHE_PDK_MAX && req[0] == 'P')
		ok = pdkcache_put(c, row, digest, key,
		                  (const char *)req + PDKCACHE_REQ_HEAD,
		                  (size_t)n - PDKCACHE_REQ_HEAD, time(NULL)) == 0;
	send(fd, ok ? pdk.s : "-", ok ? pdk.len : 1, MSG_NOSIGNAL);
	OPENSSL_cleanse(req, sizeof req);
	sbuf_free(&pdk);
}

int main(void)
{
	struct pdkcache c;
	char path[SQ_PATH_MAX];
	struct sigaction sa;
	log_init("sq-pdkcache");
	die_if_root(1, "run it as the POP3 user (sq-pdkcache(8))");
	secret_nodump_or_die();
	settings(&c);
	/* the table is allocated once; the buffers a request passes through
	 * are secret sbufs, locked on their own */
	if (mlock(c.e, c.cap * sizeof *c.e) < 0)
		log_msg(SQLOG_WARN, "cannot lock the table's %zu octets "
		        "(RLIMIT_MEMLOCK): %s; its pages may reach swap",
		        c.cap * sizeof *c.e, strerror(errno));
	if (sq_path(path, sizeof path, PDKCACHE_SOCKET) < 0)
		die_sys_temp("socket path too long");
	int lfd = unixsock_listen_private(path, 64);
	if (lfd < 0)
		die_sys_temp("cannot listen on %s: %s", path, strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term; /* no SA_RESTART: accept returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_msg(SQLOG_INFO, "started: %zu entries of %ld s", c.cap, (long)c.ttl);
	while (!stopping) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve(&c, fd);
		close(fd);
	}
	close(lfd);
	unlink(path);
	pdkcache_fini(&c);
	log_msg(SQLOG_INFO, "stopped");
	return 0;
}
