/*
 * NAME
 *	pksd - the Paired Key Store: subscribers' key pairs over HTTPS
 * SYNOPSIS
 *	pksd
 * DESCRIPTION
 *	Serves the REST API of pksd(8) on the address in control/pksd-listen
 *	(default 127.0.0.1:7443). A parent process binds one socket per
 *	worker (SO_REUSEPORT) and keeps control/pksworkers workers running;
 *	each worker has its own event
 *	loop (libevent evhttp over OpenSSL bufferevents), its own MariaDB
 *	connection and its own keyring. The parent never reads the network.
 * SECURITY
 *	Holds the PKS private key, which opens every row's Dynamic Row Secret:
 *	runs as its own user (never root), core dumps disabled, the key in
 *	libgcrypt's secure memory. A peer not in control/pksallow is cut off
 *	before the TLS handshake; every request needs a client id and secret
 *	(HTTP Basic) and a role that allows it. Addresses, keys and secrets
 *	are never logged.
 * STANDARDS
 *	RFC 9110 (HTTP semantics), RFC 7617 (Basic authentication), RFC 8446
 *	(TLS 1.3; TLS 1.2 is the minimum), RFC 8259 (JSON)
 * DIAGNOSTICS
 *	One line per request on stderr: peer, client id, method, route
 *	pattern and status. Exit 111 on a configuration error, which
 *	includes a keyrow table the database does not encrypt.
 * SEE ALSO
 *	pks-ctl(8), sq-control(5)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "api.h"
#include "conninfo.h"
#include "util/control.h"
#include "db.h"
#include "util/die.h"
#include "util/home.h"
#include "net/ipallow.h"
#include "keyring.h"
#include "net/listener.h"
#include "util/log.h"
#include "migrations.h"
#include "util/path.h"
#include "crypto/pki.h"
#include "util/prefork.h"
#include "util/secretfd.h"
#include "store.h"
#include "net/tlsserver.h"

#define WORKERS_MAX PREFORK_MAX

struct config {
	char listen_host[64];
	unsigned port;
	unsigned long workers;
	unsigned long timeout;
	struct lockout lockout;
	struct db_config db;
	char ctldir[SQ_PATH_MAX];
	char keydir[SQ_PATH_MAX];
};

/* Everything a worker owns. */
struct worker {
	struct config *cfg;
	SSL_CTX *ssl;
	struct ipallow allow;
	struct event_base *base;
	struct api api;
};

/* ---- configuration ----------------------------------------------------- */

static unsigned long number(struct control *ctl, const char *name,
                            unsigned long def, unsigned long max)
{
	unsigned long v = def;
	if (control_readulong(ctl, name, max, &v) < 0)
		die_sys_temp("control/%s: %s", name, strerror(errno));
	return v;
}

/* POP3 login throttling (pksd(8), LOGIN THROTTLING). */
static void throttle_config(struct control *ctl, struct throttle_conf *t)
{
	t->net_free = (unsigned)number(ctl, "pksthrottlenet", 5, 1000);
	t->net_max = (unsigned)number(ctl, "pksthrottlenettime", 3600,
	                              86400 * 30);
	t->addr_free = (unsigned)number(ctl, "pksthrottleaddr", 50, 100000);
	t->addr_max = (unsigned)number(ctl, "pksthrottleaddrtime", 60, 86400);
	t->known_seconds = (unsigned)number(ctl, "pksthrottleknown",
	                                    86400 * 30, 86400 * 366);
	if (t->net_max == 0 || t->addr_max == 0)
		die_sys_temp("control/pksthrottlenettime and pksthrottleaddrtime: "
		             "at least 1");
}

static void parse_listen(struct config *cfg, const char *text)
{
	const char *colon = strrchr(text, ':');
	const char *host = text;
	size_t hlen = colon ? (size_t)(colon - text) : 0;
	if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	char *end;
	unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
	if (!colon || hlen == 0 || hlen >= sizeof cfg->listen_host || *end ||
	    port == 0 || port > 65535)
		die_sys_temp("control/pksd-listen: want HOST:PORT, got %s",
		             text);
	memcpy(cfg->listen_host, host, hlen);
	cfg->listen_host[hlen] = '\0';
	cfg->port = (unsigned)port;
}

static void load_config(struct config *cfg, struct control *ctl)
{
	struct sbuf v;
	char why[256];
	sbuf_init(&v, CONTROL_LINE_MAX);
	if (control_rldef(ctl, "pksd-listen", 0, "127.0.0.1:7443", &v) < 0)
		die_sys_temp("control/pksd-listen: %s", strerror(errno));
	parse_listen(cfg, v.s);
	sbuf_free(&v);
	cfg->workers = number(ctl, "pksworkers", 2, WORKERS_MAX);
	if (cfg->workers == 0)
		cfg->workers = 1;
	cfg->timeout = number(ctl, "timeoutpksd", 10, 3600);
	if (cfg->timeout == 0) /* evhttp would take 0 as "no timeout" */
		die_sys_temp("control/timeoutpksd: at least 1 second");
	cfg->lockout.backoff_after = (unsigned)number(ctl, "pksloginbackoff", 3,
	                                              1000);
	cfg->lockout.lock_after = (unsigned)number(ctl, "pksloginlock", 10, 1000);
	cfg->lockout.lock_seconds = (unsigned)number(ctl, "pksloginlocktime",
	                                             3600, 86400 * 30);
	if (cfg->lockout.lock_seconds == 0 || cfg->lockout.lock_after == 0)
		die_sys_temp("control/pksloginlock and pksloginlocktime: at "
		             "least 1");
	throttle_config(ctl, &cfg->lockout.throttle);
	if (db_config_load(&cfg->db, ctl, why, sizeof why) < 0)
		die_sys_temp("%s", why);
}

static SSL_CTX *tls_context(const char *ctldir)
{
	char cert[SQ_PATH_MAX], key[SQ_PATH_MAX];
	if (path_join(cert, sizeof cert, ctldir, "pksd-cert.pem", NULL) < 0 ||
	    path_join(key, sizeof key, ctldir, "pksd-key.pem", NULL) < 0)
		die_sys_temp("instance path too long");
	SSL_CTX *ctx = tlsserver_ctx(cert, key, TLSSERVER_DAEMON);
	if (!ctx) {
		char err[512];
		die_sys_temp("TLS: %s, %s: %s", cert, key,
		             pki_errstr(err, sizeof err));
	}
	return ctx;
}

static void load_allow(struct ipallow *allow, const char *ctldir)
{
	struct control ctl;
	size_t bad;
	if (control_open(&ctl, ctldir) < 0)
		die_sys_temp("%s: %s", ctldir, strerror(errno));
	int r = tlsserver_allow_load(allow, &ctl, "pksallow", &bad);
	control_close(&ctl);
	if (r < 0 && bad)
		die_sys_temp("control/pksallow line %zu: not an address or "
		             "prefix", bad);
	if (r < 0)
		die_sys_temp("control/pksallow: %s", strerror(errno));
}

/* ---- the socket -------------------------------------------------------- */

static int listen_socket(const struct config *cfg, int reuseport)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, cfg->listen_host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)cfg->port);
		len = sizeof *in4;
	} else if (inet_pton(AF_INET6, cfg->listen_host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)cfg->port);
		len = sizeof *in6;
	} else {
		die_sys_temp("control/pksd-listen: %s is not an IP address",
		             cfg->listen_host);
	}
	/* One socket per worker on the same address (SO_REUSEPORT): the
	 * kernel spreads connections evenly, where one shared socket lets
	 * whichever worker wakes first take them all. */
	int fd = listener_socket((struct sockaddr *)&ss, len, 1024,
	                         LISTEN_NONBLOCK |
	                         (reuseport ? LISTEN_REUSEPORT : 0));
	if (fd < 0)
		die_sys_temp("cannot listen on %s:%u: %s", cfg->listen_host,
		             cfg->port, strerror(errno));
	return fd;
}

/* ---- the worker ----------------------------------------------------------- */

/* A refused connection: OpenSSL gets a read side that only ever says EOF,
 * so it cannot parse a ClientHello already queued on the socket, and the
 * socket is shut both ways, so it is readable at once and evhttp tears
 * the connection down without a byte of TLS from us. */
static void refuse(SSL *ssl, int fd)
{
	BIO *eof = BIO_new(BIO_s_mem());
	if (!eof)       /* never leave OpenSSL reading the peer's bytes */
		die_nomem();
	BIO_set_mem_eof_return(eof, 0);
	SSL_set0_rbio(ssl, eof);
	shutdown(fd, SHUT_RDWR);
}

/* What the deferred allow-list check needs. */
struct peercheck {
	struct worker *w;
	struct bufferevent *bev;
};

/* Runs right after evhttp's accept callback has given the bufferevent its
 * socket, before the loop reads a byte of it: the allow-list decides here,
 * once, for a silent peer as for a talkative one. */
static void peer_check(evutil_socket_t unused, short what, void *arg)
{
	struct peercheck *pc = arg;
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN];
	(void)unused, (void)what;
	int fd = (int)bufferevent_getfd(pc->bev);
	SSL *ssl = bufferevent_openssl_get_ssl(pc->bev);
	/* fd -1: evhttp could not set the connection up and freed it */
	if (fd >= 0 && ssl) {
		tlsserver_peer(fd, &ss, host, sizeof host);
		if (tlsserver_admit(&pc->w->allow, (struct sockaddr *)&ss, host,
		                    fd))
			conninfo_set_peer(ssl, host);
		else
			refuse(ssl, fd);
	}
	bufferevent_decref(pc->bev);
	free(pc);
}

/* evhttp's bufferevent callback. It runs before evhttp sets the socket on
 * the bufferevent, so the peer cannot be checked here; the check is queued
 * to run as soon as the accept callback returns, holding a reference so
 * the bufferevent outlives a connection evhttp drops meanwhile. Out of
 * memory ends the worker (the parent starts another): a NULL here would
 * make evhttp serve the connection in plain HTTP. */
static struct bufferevent *tls_bufferevent(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	static const struct timeval now = { 0, 0 };
	struct peercheck *pc = malloc(sizeof *pc);
	SSL *ssl = pc ? SSL_new(w->ssl) : NULL;
	if (!ssl || conninfo_attach(ssl, w->cfg->timeout) < 0)
		die_nomem();
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		die_nomem();
	pc->w = w;
	pc->bev = bev;
	bufferevent_incref(bev);
	/* a zero timeout makes the event active at once: it runs in this
	 * pass over active events, before the loop next polls for input */
	if (event_base_once(base, -1, EV_TIMEOUT, peer_check, pc, &now) < 0)
		die_nomem();
	return bev;
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	event_base_loopexit(arg, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;
	(void)sig, (void)what;
	size_t bad;
	struct control ctl;
	if (control_open(&ctl, w->cfg->ctldir) < 0)
		return;
	int r = tlsserver_allow_load(&w->allow, &ctl, "pksallow", &bad);
	control_close(&ctl);
	if (r < 0) {
		log_msg(SQLOG_ALERT, "control/pksallow unusable; keeping the old "
		        "list");
		return;
	}
	log_msg(SQLOG_INFO, "reloaded control/pksallow: %zu entries",
	        w->allow.n);
}

static void worker_run(struct config *cfg, SSL_CTX *ssl, int lfd)
{
	struct worker w;
	struct keyring kr;
	struct store st;
	char why[256];
	X509 *ca;
	char capath[SQ_PATH_MAX];
	memset(&w, 0, sizeof w);
	w.cfg = cfg;
	w.ssl = ssl;
	load_allow(&w.allow, cfg->ctldir);
	if (path_join(capath, sizeof capath, cfg->ctldir, "ca.pem", NULL) < 0 ||
	    !(ca = pki_cert_load(capath)))
		die_sys_temp("cannot read %s", capath);
	if (keyring_open(&kr, cfg->keydir, geteuid()) < 0)
		die_sys_temp("PKS key: %s", kr.error);
	/* A database down at start is an outage like any other: 503s until
	 * it is back, not a worker that dies and respawns. */
	struct db *db = db_connect(&cfg->db, why, sizeof why);
	if (!db) {
		log_msg(SQLOG_WARN, "database: %s; will retry", why);
		struct db_config later = cfg->db;
		db = db_lazy(&later);
	}
	if (!db || store_init(&st, db, &kr, ca, &cfg->lockout) < 0)
		die_nomem();
	w.api.store = &st;
	w.api.allow = &w.allow;

	w.base = event_base_new();
	struct evhttp *http = w.base ? evhttp_new(w.base) : NULL;
	if (!http)
		die_sys_temp("cannot start the event loop");
	evhttp_set_bevcb(http, tls_bufferevent, &w);
	evhttp_set_gencb(http, api_handle, &w.api);
	evhttp_set_timeout(http, (int)cfg->timeout);
	evhttp_set_max_headers_size(http, 8192);
	evhttp_set_max_body_size(http, API_BODY_MAX);
	/* every method reaches api_handle, which answers 405 in JSON */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                           EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS |
	                           EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	                           EVHTTP_REQ_PATCH);
	if (!evhttp_accept_socket_with_handle(http, lfd))
		die_sys_temp("cannot accept on the listening socket");
	struct event *term = evsignal_new(w.base, SIGTERM, on_term, w.base);
	struct event *hup = evsignal_new(w.base, SIGHUP, on_hup, &w);
	if (!term || !hup || event_add(term, NULL) < 0 || event_add(hup, NULL) < 0)
		die_sys_temp("cannot watch signals");
	event_base_dispatch(w.base);

	event_free(term);
	event_free(hup);
	evhttp_free(http);
	event_base_free(w.base);
	store_fini(&st);
	db_close(db);
	keyring_close(&kr);
	X509_free(ca);
	ipallow_free(&w.allow);
	exit(0);
}

/* ---- the parent --------------------------------------------------------- */

/* The key rows are sealed row by row and, below that, the table must be
 * encrypted by the database itself: refuse a keyrow table the server
 * reports unencrypted, or whose state pksd cannot read. */
static void require_encrypted(struct db *db)
{
	int encrypted;
	int rc = db_table_encrypted(db, "keyrow", &encrypted);
	if (rc == DB_DOWN) {
		log_msg(SQLOG_WARN, "database: %s; serving 503 until it is up",
		        db_error(db));
		return;
	}
	if (rc == DB_FAIL)
		die_sys_temp("cannot read the encryption of table keyrow: %s "
		             "(pksd's database user needs PROCESS; pks-ctl init "
		             "-u USER grants it)", db_error(db));
	if (rc == DB_NOTFOUND)
		die_sys_temp("there is no table keyrow: run pks-ctl migrate");
	if (!encrypted)
		die_sys_temp("table keyrow is not encrypted by the database: "
		             "turn on data-at-rest encryption (INSTALL, step 8)");
}

/* Everything a worker needs, tried once before any worker starts: a
 * configuration error ends pksd with 111 and says why, instead of workers
 * failing and being restarted for ever. */
static void preflight(struct config *cfg)
{
	struct ipallow allow = { 0 };
	struct keyring kr;
	char capath[SQ_PATH_MAX], why[256];
	load_allow(&allow, cfg->ctldir);
	ipallow_free(&allow);
	X509 *ca = path_join(capath, sizeof capath, cfg->ctldir, "ca.pem",
	                     NULL) == 0 ? pki_cert_load(capath) : NULL;
	if (!ca)
		die_sys_temp("cannot read %s", capath);
	X509_free(ca);
	if (keyring_open(&kr, cfg->keydir, geteuid()) < 0)
		die_sys_temp("PKS key: %s", kr.error);
	keyring_close(&kr);
	struct db *db = db_connect(&cfg->db, why, sizeof why);
	unsigned have;
	if (!db) {
		log_msg(SQLOG_WARN, "database: %s; serving 503 until it is up", why);
		return;
	}
	if (db_schema_version(db, &have) == DB_OK &&
	    have != schema_version_expected())
		die_sys_temp("database schema %u, this pksd needs %u: run "
		             "pks-ctl migrate", have,
		             schema_version_expected());
	require_encrypted(db);
	db_close(db);
}

/* What each worker needs from the parent. */
struct workers {
	struct config *cfg;
	SSL_CTX *ssl;
	int lfds[WORKERS_MAX];
};

static void worker_start(unsigned long i, void *arg)
{
	struct workers *w = arg;
	for (unsigned long j = 0; j < w->cfg->workers; j++)
		if (j != i)
			close(w->lfds[j]);
	worker_run(w->cfg, w->ssl, w->lfds[i]);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct control ctl;
	(void)argc;
	log_init(argv[0]);
	die_if_root(0, "run pksd as its own user (setuidgid)");
	if (secret_nodump() < 0 || pks_crypto_init() < 0)
		die_sys_temp("cannot initialise: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	memset(&cfg, 0, sizeof cfg);
	if (sq_path(cfg.ctldir, sizeof cfg.ctldir, "control") < 0 ||
	    sq_path(cfg.keydir, sizeof cfg.keydir, "pks") < 0)
		die_sys_temp("instance path too long");
	if (control_open(&ctl, cfg.ctldir) < 0)
		die_sys_temp("%s: %s", cfg.ctldir, strerror(errno));
	load_config(&cfg, &ctl);
	control_close(&ctl);
	preflight(&cfg);
	SSL_CTX *ssl = tls_context(cfg.ctldir);
	if (conninfo_init() < 0)
		die_sys_temp("cannot initialise OpenSSL ex_data");
	/* With SO_REUSEPORT a second pksd would share the address without a
	 * word; a plain bind first fails if anyone holds it. */
	close(listen_socket(&cfg, 0));
	struct workers w = { &cfg, ssl, { 0 } };
	for (unsigned long i = 0; i < cfg.workers; i++)
		w.lfds[i] = listen_socket(&cfg, 1);
	log_msg(SQLOG_INFO, "listening on %s:%u with %lu workers",
	        cfg.listen_host, cfg.port, cfg.workers);
	prefork_run(cfg.workers, worker_start, &w);
	SSL_CTX_free(ssl);
	for (unsigned long i = 0; i < cfg.workers; i++)
		close(w.lfds[i]);
	return 0;
}
