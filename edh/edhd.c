/*
 * NAME
 *	edhd - the Email Database Host: stores sealed mail, hands it back
 * SYNOPSIS
 *	setuidgid edhd edhd
 * DESCRIPTION
 *	Listens on the private network, implicit TLS on every port: LMTP on
 *	control/edhlmtp (default 127.0.0.1:7024) for the Application Host's
 *	delivery agent, and the retrieval protocol of sq-edh(5) on
 *	control/edhretrieve (default 127.0.0.1:7025) for its POP3 server.
 *	One child per connection, at most control/concurrencyedh (40) at
 *	once. Mail lives in $SQ_HOME/maildirs/<MAILBOX>/, created on the first
 *	delivery. SIGHUP reloads control/edhallow; SIGTERM stops edhd and its
 *	children.
 * SECURITY
 *	Holds no key and cannot read what it stores: it only checks the form.
 *	A peer not in control/edhallow is closed before any TLS; every client
 *	authenticates (AUTH PLAIN, control/edhclients) and its role decides
 *	its port. Every message is buffered (bounded) and must be CMS
 *	authEnveloped-data (binary, or S/MIME from an older host) with its
 *	X-SQ-Plaintext-Size line before a single octet is written (the
 *	binary entity is stored without it); 250 only after the file and
 *	directories are fsynced. Command lines are bounded to 512 octets, bare LF refused,
 *	every read and write under control/timeoutedh. Runs as its own user;
 *	refuses root unless $SQ_HOME names a test instance.
 * STANDARDS
 *	RFC 2033 (LMTP), RFC 4954 and RFC 4616 (AUTH PLAIN), RFC 2920
 *	(PIPELINING), RFC 2034 (ENHANCEDSTATUSCODES), RFC 1870 (SIZE),
 *	RFC 3030 (CHUNKING, BINARYMIME), RFC 5083 (authEnveloped-data)
 * DIAGNOSTICS
 *	One line per delivery attempt (mailbox, result, size, time), per
 *	refused peer, failed authentication and retrieval, on stderr.
 * SEE ALSO
 *	edh-ctl(8), sq-edh(5), edhclient in lib/client/edhclient.h
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "clientfile.h"
#include "util/die.h"
#include "util/home.h"
#include "net/ipallow.h"
#include "net/listener.h"
#include "lmtp.h"
#include "mail/limits.h"
#include "util/log.h"
#include "util/path.h"
#include "retr.h"
#include "util/secretfd.h"
#include "session.h"
#include "net/tlsserver.h"

#define CONCURRENCY_DEFAULT 40
#define TIMEOUT_DEFAULT 300
/* edhd stores sealed messages: by default the largest that the largest
 * plaintext sq-smtpd takes becomes (mail/limits.h) */
#define EDH_DATABYTES_DEFAULT \
	((unsigned long)SEALED_MAX(DATABYTES_DEFAULT + DATABYTES_RECEIVED))
#define EDH_DATABYTES_MAX (1UL << 32)

static volatile sig_atomic_t stopping, reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else if (sig != SIGCHLD)
		stopping = 1;
}

/* ---- configuration --------------------------------------------------- */

static void configure(struct edh_config *cfg, unsigned long *concurrency)
{
	char dir[SQ_PATH_MAX];
	struct sbuf me;
	if (sq_path(dir, sizeof dir, "control") < 0 ||
	    control_open(&cfg->ctl, dir) < 0)
		die_sys_temp("cannot open the control directory");
	sbuf_init(&me, CONTROL_LINE_MAX);
	if (control_rldef(&cfg->ctl, "me", 0, "localhost", &me) < 0)
		die_sys_temp("control/me: %s", strerror(errno));
	snprintf(cfg->me, sizeof cfg->me, "%s", me.s);
	sbuf_free(&me);
	cfg->databytes = EDH_DATABYTES_DEFAULT;
	cfg->timeout = TIMEOUT_DEFAULT;
	*concurrency = CONCURRENCY_DEFAULT;
	if (control_readulong(&cfg->ctl, "edhdatabytes", EDH_DATABYTES_MAX,
	                      &cfg->databytes) < 0 ||
	    control_readulong(&cfg->ctl, "timeoutedh", 86400, &cfg->timeout) < 0 ||
	    control_readulong(&cfg->ctl, "concurrencyedh", 10000,
	                      concurrency) < 0)
		die_sys_temp("control: %s", strerror(errno));
	if (cfg->databytes == 0 || cfg->timeout == 0 || *concurrency == 0)
		die_sys_temp("control: edhdatabytes, timeoutedh and "
		             "concurrencyedh must not be 0");
}

/* $SQ_HOME/maildirs, made (0700) on the first start. */
static int open_maildirs(void)
{
	char dir[SQ_PATH_MAX];
	if (sq_path(dir, sizeof dir, "maildirs") < 0)
		die_sys_temp("path too long");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		die_sys_temp("cannot make %s: %s", dir, strerror(errno));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		die_sys_temp("cannot open %s: %s", dir, strerror(errno));
	return fd;
}

static SSL_CTX *tls_context(void)
{
	char cert[SQ_PATH_MAX];
	if (sq_path(cert, sizeof cert, "control/edhcert.pem") < 0)
		die_sys_temp("path too long");
	SSL_CTX *ctx = tlsserver_ctx(cert, cert, TLSSERVER_DAEMON);
	if (!ctx)
		die_sys_temp("TLS: cannot load %s (certificate chain and "
		             "key)", cert);
	return ctx;
}

/* Loads control/edhallow into *allow; keeps the old list (at start: an
 * empty one) when the file is unusable. */
static void load_allow(struct control *ctl, struct ipallow *allow, int start)
{
	size_t bad = 0;
	if (tlsserver_allow_load(allow, ctl, "edhallow", &bad) >= 0)
		return;
	if (start)
		die_sys_temp("control/edhallow unusable (line %zu): %s", bad,
		             strerror(errno));
	log_msg(SQLOG_ALERT, "control/edhallow unusable (line %zu); "
	        "keeping the old list", bad);
}

/* ---- connections ------------------------------------------------------ */

struct server {
	struct edh_config cfg;
	SSL_CTX *ctx;
	struct ipallow allow;
	struct listener ls[2 * LISTEN_MAX];
	size_t nls;
	pid_t *kids;
	unsigned long maxkids, nkids;
};

/* The child: one session, then exit. */
static _Noreturn void child(struct server *sv, const struct listener *l,
                            int fd, const char *ip)
{
	struct edh_session s;
	for (size_t i = 0; i < sv->nls; i++)
		close(sv->ls[i].fd);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	if (session_start(&s, &sv->cfg, fd, sv->ctx, ip, l->role) == 0) {
		if (l->role == EDH_ROLE_DELIVER)
			lmtp_run(&s);
		else
			retr_run(&s);
	}
	session_end(&s);
	close(fd);
	ipallow_free(&sv->allow);
	free(sv->kids);
	close(sv->cfg.maildirs);
	control_close(&sv->cfg.ctl);
	exit(0);
}

/* Takes one connection of l, unless the table is full: one poll pass
 * can find several listeners ready, so the check is here, at each
 * accept; what it leaves waits in the kernel's backlog. */
static void accept_one(struct server *sv, const struct listener *l)
{
	if (sv->nkids >= sv->maxkids)
		return;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char ip[INET6_ADDRSTRLEN];
	int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	tlsserver_peer_text((struct sockaddr *)&ss, ip, sizeof ip);
	if (!tlsserver_admit(&sv->allow, (struct sockaddr *)&ss, ip, fd)) {
		close(fd);
		return;
	}
	pid_t pid = fork();
	if (pid == 0)
		child(sv, l, fd, ip);
	if (pid < 0)
		log_msg(SQLOG_ALERT, "cannot fork: %s", strerror(errno));
	else
		sv->kids[sv->nkids++] = pid;
	close(fd);
}

static void reap(struct server *sv)
{
	pid_t pid;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		for (unsigned long i = 0; i < sv->nkids; i++)
			if (sv->kids[i] == pid) {
				sv->kids[i] = sv->kids[--sv->nkids];
				break;
			}
}

/* Waits for connections until SIGTERM; at the cap, stops accepting until
 * a child ends (the kernel's backlog holds the rest). */
static void serve(struct server *sv)
{
	struct pollfd p[2 * LISTEN_MAX];
	while (!stopping) {
		reap(sv);
		if (reload) {
			reload = 0;
			load_allow(&sv->cfg.ctl, &sv->allow, 0);
		}
		int full = sv->nkids >= sv->maxkids;
		for (size_t i = 0; i < sv->nls; i++)
			p[i] = (struct pollfd){ .fd = full ? -1 : sv->ls[i].fd,
			                        .events = POLLIN };
		if (poll(p, sv->nls, 1000) <= 0)
			continue;
		for (size_t i = 0; i < sv->nls; i++)
			if (p[i].revents & POLLIN)
				accept_one(sv, &sv->ls[i]);
	}
	for (unsigned long i = 0; i < sv->nkids; i++)
		kill(sv->kids[i], SIGTERM);
	while (sv->nkids) {
		pid_t pid = waitpid(-1, NULL, 0);
		if (pid < 0 && errno != EINTR)
			break;
		reap(sv);
		if (pid > 0)
			for (unsigned long i = 0; i < sv->nkids; i++)
				if (sv->kids[i] == pid)
					sv->kids[i] = sv->kids[--sv->nkids];
	}
}

static void open_listeners(struct server *sv)
{
	char why[256];
	if (listener_open(&sv->cfg.ctl, "edhlmtp", "127.0.0.1:7024",
	                  EDH_ROLE_DELIVER, sv->ls, LISTEN_MAX, &sv->nls, why,
	                  sizeof why) < 0 ||
	    listener_open(&sv->cfg.ctl, "edhretrieve", "127.0.0.1:7025",
	                  EDH_ROLE_RETRIEVE, sv->ls, 2 * LISTEN_MAX, &sv->nls,
	                  why, sizeof why) < 0)
		die_sys_temp("%s", why);
	for (size_t i = 0; i < sv->nls; i++)
		log_msg(SQLOG_INFO, "listening on %s (%s)", sv->ls[i].addr,
		        sv->ls[i].role == EDH_ROLE_DELIVER ? "LMTP" : "retrieval");
}

static void set_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a signal wakes poll() */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	static struct server sv;
	(void)argc;
	log_init(argv[0]);
	die_if_root(1, "run edhd as its own user (setuidgid)");
	if (secret_nodump() < 0)
		die_sys_temp("cannot disable core dumps: %s", strerror(errno));
	umask(077);
	set_signals();
	configure(&sv.cfg, &sv.maxkids);
	sv.cfg.maildirs = open_maildirs();
	sv.ctx = tls_context();
	load_allow(&sv.cfg.ctl, &sv.allow, 1);
	if (!(sv.kids = calloc(sv.maxkids, sizeof *sv.kids)))
		die_nomem();
	open_listeners(&sv);
	serve(&sv);
	log_msg(SQLOG_INFO, "stopped");
	for (size_t i = 0; i < sv.nls; i++)
		close(sv.ls[i].fd);
	SSL_CTX_free(sv.ctx);
	ipallow_free(&sv.allow);
	free(sv.kids);
	close(sv.cfg.maildirs);
	control_close(&sv.cfg.ctl);
	return 0;
}
