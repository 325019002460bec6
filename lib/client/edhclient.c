/*
 * edhclient - the Application Host's client of edhd. See edhclient.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "client/edhclient.h"
#include "util/fail.h"
#include "util/hostport.h"
#include "util/path.h"
#include "util/rbuf.h"
#include "mail/saslplain.h"

#define REPLY_MAX 1024          /* a reply line, CRLF included */
#define CRED_MAX 4096
#define CHUNK 16384

/* An operation's outcome inside this file: the three results, and a
 * connection that broke before the server answered anything of it. */
enum { OP_OK = EDHC_OK, OP_TEMP = EDHC_TEMP, OP_PERM = EDHC_PERM, OP_STALE };

struct edhc {
	struct edhc_config cfg;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	long timeout_ms;        /* the one in force: connect, then I/O */
	int answered;           /* replies read in this operation */
	char selected[MAILDIR_ID_SIZE];
	int did_ok;             /* edhd takes XDELIVERY-ID (its LHLO said) */
	int chunking;           /* edhd takes BDAT: binary messages */
	struct rbuf in;
	struct sbuf out;
	char err[REPLY_MAX + 64];
};

/* ---- configuration --------------------------------------------------------- */

void edhc_config_wipe(struct edhc_config *cfg)
{
	OPENSSL_cleanse(cfg, sizeof *cfg);
}

static int load_line(struct control *ctl, const char *name, const char *def,
                     char *out, size_t n)
{
	struct sbuf v;
	sbuf_init(&v, CONTROL_LINE_MAX);
	int r = control_rldef(ctl, name, 0, def, &v);
	if (r > 0 && v.len < n)
		memcpy(out, v.s, v.len + 1);
	else if (r > 0)
		errno = ENAMETOOLONG, r = -1;
	sbuf_free(&v);
	return r < 0 ? -1 : 0;
}

static int load_seconds(struct control *ctl, const char *name,
                        unsigned long def, long *ms)
{
	unsigned long s = def;
	if (control_readulong(ctl, name, PKS_TIMEOUT_MAX, &s) < 0 || s == 0) {
		errno = EINVAL;
		return -1;
	}
	*ms = (long)s * 1000;
	return 0;
}

/* The credential file, read into wiped memory only. */
static int load_cred(struct edhc_config *cfg, struct control *ctl,
                     const char *name, char *why, size_t whylen)
{
	struct sbuf raw;
	char sub[200];
	sbuf_init_secret(&raw, CRED_MAX);
	int fd = openat(ctl->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r = fd < 0 || sbuf_read_fd(&raw, fd) < 0
		? fail_why(why, whylen, -1, "%s: %s", name, strerror(errno))
		: pks_parse_credentials(raw.s ? raw.s : "", raw.len,
		                        &cfg->client_id, cfg->secret, sub,
		                        sizeof sub);
	if (fd >= 0 && r < 0 && raw.len)
		fail_why(why, whylen, -1, "%s: %s", name, sub);
	if (fd >= 0)
		close(fd);
	sbuf_free(&raw);
	return r;
}

int edhc_config_load(struct edhc_config *cfg, int proto, struct control *ctl,
                     const char *ctldir, const char *hostfile,
                     const char *credfile, char *why, size_t whylen)
{
	char hp[300];
	memset(cfg, 0, sizeof *cfg);
	cfg->proto = proto;
	const char *def = proto == EDHC_LMTP ? EDHC_LMTP_DEFAULT
	                                     : EDHC_RETRIEVE_DEFAULT;
	int r = -1;
	if (load_line(ctl, hostfile, def, hp, sizeof hp) < 0 ||
	    hostport_parse(hp, cfg->host, sizeof cfg->host, cfg->port) < 0)
		fail_why(why, whylen, -1, "control/%s: want HOST:PORT", hostfile);
	else if (load_seconds(ctl, "timeoutedhconnect",
	                      EDHC_CONNECT_TIMEOUT_DEFAULT,
	                      &cfg->connect_timeout_ms) < 0 ||
	         load_seconds(ctl, "timeoutedhclient", EDHC_TIMEOUT_DEFAULT,
	                      &cfg->timeout_ms) < 0)
		fail_why(why, whylen, -1, "timeoutedhconnect, "
		         "timeoutedhclient: want seconds from 1 to %d",
		         PKS_TIMEOUT_MAX);
	else if (load_line(ctl, "me", "localhost", cfg->me, sizeof cfg->me) < 0)
		fail_why(why, whylen, -1, "control/me: %s", strerror(errno));
	else if (path_join(cfg->cafile, sizeof cfg->cafile, ctldir, "ca.pem",
	                   NULL) < 0 ||
	         access(cfg->cafile, R_OK) < 0)
		fail_why(why, whylen, -1, "%s/ca.pem: cannot read it", ctldir);
	else
		r = load_cred(cfg, ctl, credfile, why, whylen);
	if (r < 0)
		edhc_config_wipe(cfg);
	return r;
}

struct edhc *edhc_open(int proto, struct control *ctl, const char *ctldir,
                       char *why, size_t whylen)
{
	struct edhc_config cfg;
	int lmtp = proto == EDHC_LMTP;
	if (edhc_config_load(&cfg, proto, ctl, ctldir,
	                     lmtp ? EDHC_LMTP_HOSTFILE : EDHC_RETRIEVE_HOSTFILE,
	                     lmtp ? EDHC_LMTP_CREDFILE : EDHC_RETRIEVE_CREDFILE,
	                     why, whylen) < 0)
		return NULL;
	struct edhc *c = edhc_new(&cfg);
	edhc_config_wipe(&cfg);
	if (!c)
		fail_why(why, whylen, -1, "edhclient: %s", strerror(ENOMEM));
	return c;
}

/* ---- the connection ------------------------------------------------------- */

/* The reason goes to c->err, for edhc_error(); OP_TEMP for the caller. */
#define set_error(c, ...) \
	fail_why((c)->err, sizeof (c)->err, OP_TEMP, __VA_ARGS__)

/* Waits for the socket as OpenSSL asks (r is SSL_get_error's answer):
 * 1 to retry, 0 on a timeout or a real error. */
static int ssl_wait(struct edhc *c, int r)
{
	struct pollfd p = { .fd = c->fd };
	if (r == SSL_ERROR_WANT_READ)
		p.events = POLLIN;
	else if (r == SSL_ERROR_WANT_WRITE)
		p.events = POLLOUT;
	else
		return 0;
	int n;
	while ((n = poll(&p, 1, (int)c->timeout_ms)) < 0 && errno == EINTR)
		;
	if (n == 0)
		errno = ETIMEDOUT;
	return n > 0;
}

static ssize_t tls_source(void *ctx, void *buf, size_t n)
{
	struct edhc *c = ctx;
	for (;;) {
		int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
		if (r > 0)
			return r;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (!ssl_wait(c, e))
			return e == SSL_ERROR_SYSCALL && !ERR_peek_error() &&
			       errno != ETIMEDOUT ? 0 : -1;
	}
}

/* Writes len octets at p to edhd: 0, or -1. */
static int send_raw(struct edhc *c, const char *p, size_t len)
{
	size_t done = 0;
	if (!c->ssl) {
		errno = ENOTCONN;
		return -1;
	}
	while (done < len) {
		size_t left = len - done;
		int r = SSL_write(c->ssl, p + done,
		                  left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			done += (size_t)r;
		else if (!ssl_wait(c, SSL_get_error(c->ssl, r)))
			return -1;
	}
	return 0;
}

static int flush(struct edhc *c)
{
	int r = send_raw(c, c->out.s, c->out.len);
	sbuf_reset(&c->out);
	return r;
}

static void disconnect(struct edhc *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->selected[0] = '\0';
	c->did_ok = 0;
	c->chunking = 0;
	sbuf_reset(&c->out);
	ERR_clear_error();
}

/* A TCP connection to one address within the connect timeout, or -1. */
static int tcp_connect(struct edhc *c, const struct addrinfo *a)
{
	int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                0);
	if (fd < 0)
		return -1;
	if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS)
		goto bad;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0, n;
	socklen_t len = sizeof err;
	while ((n = poll(&p, 1, (int)c->cfg.connect_timeout_ms)) < 0 &&
	       errno == EINTR)
		;
	if (n == 0)
		errno = ETIMEDOUT;
	if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		goto bad;
	if (err) {
		errno = err;
		goto bad;
	}
	return fd;
bad:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static int tcp_any(struct edhc *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	int g = getaddrinfo(c->cfg.host, c->cfg.port, &hints, &res);
	if (g != 0)
		return set_error(c, "%s: %s", c->cfg.host, gai_strerror(g)), -1;
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next)
		fd = tcp_connect(c, a);
	if (fd < 0)
		set_error(c, "cannot connect to %s:%s: %s", c->cfg.host,
		          c->cfg.port, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static SSL_CTX *client_ctx(struct edhc *c)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_load_verify_locations(ctx, c->cfg.cafile, NULL) != 1) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/* The name or address the certificate must carry. */
static int expect_peer(struct edhc *c)
{
	unsigned char a[16];
	X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
	if (inet_pton(AF_INET, c->cfg.host, a) == 1 ||
	    inet_pton(AF_INET6, c->cfg.host, a) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(vp, c->cfg.host) == 1;
	return SSL_set_tlsext_host_name(c->ssl, c->cfg.host) == 1 &&
	       SSL_set1_host(c->ssl, c->cfg.host) == 1;
}

static int handshake(struct edhc *c)
{
	if ((!c->ctx && !(c->ctx = client_ctx(c))))
		return set_error(c, "TLS: cannot load %s", c->cfg.cafile), -1;
	if (!(c->ssl = SSL_new(c->ctx)) || !SSL_set_fd(c->ssl, c->fd) ||
	    !expect_peer(c))
		return set_error(c, "TLS: out of memory"), -1;
	int r;
	while ((r = SSL_connect(c->ssl)) != 1)
		if (!ssl_wait(c, SSL_get_error(c->ssl, r))) {
			long v = SSL_get_verify_result(c->ssl);
			set_error(c, "TLS handshake with %s failed: %s", c->cfg.host,
			          v != X509_V_OK ? X509_verify_cert_error_string(v)
			          : errno == ETIMEDOUT ? "timeout" : "refused");
			return -1;
		}
	return 0;
}

/* Reads one reply (all its lines); its code, or -1 (connection trouble).
 * Each line before the last goes to each(arg, text after "NNN-"). */
static int reply(struct edhc *c, void (*each)(void *, const char *), void *arg)
{
	struct sbuf line;
	int code = -1;
	if (!c->ssl) { /* gone (421, EOF): nothing to read from */
		set_error(c, "edhd closed the connection");
		return -1;
	}
	sbuf_init(&line, REPLY_MAX);
	for (;;) {
		enum rbuf_line r = rbuf_getline(&c->in, &line, REPLY_MAX);
		size_t n = line.len;
		if (r != RBUF_LINE || n < 6 || line.s[n - 2] != '\r' ||
		    line.s[n - 1] != '\n' || strspn(line.s, "0123456789") != 3 ||
		    (line.s[3] != ' ' && line.s[3] != '-')) {
			set_error(c, r == RBUF_LINE ? "malformed reply from edhd"
			          : r == RBUF_ERROR && errno == ETIMEDOUT
			          ? "timeout waiting for edhd" : "edhd closed the "
			          "connection");
			disconnect(c);
			break;
		}
		sbuf_truncate(&line, n - 2);
		if (line.s[3] == '-') {
			if (each)
				each(arg, line.s + 4);
			continue;
		}
		snprintf(c->err, sizeof c->err, "%s", line.s);
		code = atoi(line.s);
		/* 421: edhd is closing (its timeout), whatever we said */
		if (code == 421)
			disconnect(c);
		else
			c->answered++;
		break;
	}
	sbuf_free(&line);
	return code;
}

/* Sends a command (CRLF added), reads its reply, each seeing its
 * continuation lines: its code or -1. */
static int vcommand(struct edhc *c, void (*each)(void *, const char *),
                    const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static int vcommand(struct edhc *c, void (*each)(void *, const char *),
                    const char *fmt, va_list ap)
{
	if (sbuf_vprintf(&c->out, fmt, ap) < 0 ||
	    sbuf_put(&c->out, "\r\n", 2) < 0 || flush(c) < 0) {
		set_error(c, "cannot write to edhd: %s", strerror(errno));
		disconnect(c);
		return -1;
	}
	return reply(c, each, c);
}

static int command(struct edhc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int command(struct edhc *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vcommand(c, NULL, fmt, ap);
	va_end(ap);
	return r;
}

static int command_each(struct edhc *c, void (*each)(void *, const char *),
                        const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int command_each(struct edhc *c, void (*each)(void *, const char *),
                        const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vcommand(c, each, fmt, ap);
	va_end(ap);
	return r;
}

/* An LHLO reply's extension line. */
static void lhlo_extension(void *arg, const char *text)
{
	struct edhc *c = arg;
	if (!strcasecmp(text, "XDELIVERY-ID"))
		c->did_ok = 1;
	if (!strcasecmp(text, "CHUNKING"))
		c->chunking = 1;
}

/* Greeting, LHLO (LMTP) and AUTH PLAIN: 0, or -1 with the reason. */
static int greet_and_auth(struct edhc *c)
{
	struct sbuf b64;
	char id[16];
	if (reply(c, NULL, NULL) != 220)
		return -1;
	if (c->cfg.proto == EDHC_LMTP &&
	    command_each(c, lhlo_extension, "LHLO %s", c->cfg.me) != 250)
		return -1;
	snprintf(id, sizeof id, "%lu", (unsigned long)c->cfg.client_id);
	sbuf_init_secret(&b64, SASL_PLAIN_B64_MAX + 16);
	int r = sasl_plain_encode("", id, c->cfg.secret, &b64) < 0 ? -1
	        : command(c, "AUTH PLAIN %s", b64.s);
	sbuf_free(&b64);
	return r == 235 ? 0 : -1;
}

/* Connects if not connected: OP_OK, or OP_TEMP / OP_PERM (a refused AUTH is
 * permanent: retrying will not fix a credential). */
static int ensure(struct edhc *c)
{
	if (c->ssl)
		return OP_OK;
	c->timeout_ms = c->cfg.connect_timeout_ms;
	if ((c->fd = tcp_any(c)) < 0 || handshake(c) < 0) {
		disconnect(c);
		return OP_TEMP;
	}
	c->timeout_ms = c->cfg.timeout_ms;
	rbuf_init(&c->in, c->fd, (int)c->timeout_ms);
	rbuf_set_source(&c->in, tls_source, c);
	if (greet_and_auth(c) == 0)
		return OP_OK;
	int code = atoi(c->err); /* the last reply, 0 if there was none */
	disconnect(c);
	return code >= 500 ? OP_PERM : OP_TEMP;
}

static int classify(int code)
{
	return code < 0 ? OP_TEMP : code >= 500 ? OP_PERM : code >= 400 ? OP_TEMP
	       : OP_OK;
}

/* Runs op on a connection; when a kept connection turns out closed
 * before edhd answered anything, once more on a fresh one. */
static enum edhc_result run(struct edhc *c, int (*op)(struct edhc *, void *),
                            void *arg)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int reused = c->ssl != NULL;
		int r = ensure(c);
		if (r != OP_OK)
			return (enum edhc_result)r;
		c->answered = 0;
		r = op(c, arg);
		if (r == OP_STALE || (r == OP_TEMP && c->answered == 0)) {
			disconnect(c);
			if (reused)
				continue;
			return EDHC_TEMP;
		}
		return (enum edhc_result)r;
	}
	return EDHC_TEMP;
}

/* ---- LMTP ------------------------------------------------------------------- */

struct delivery {
	const char *mailbox, *data, *did;
	size_t len;
};

/* The reply of the next pipelined command; the first refusal's text is
 * kept in why (a later reply would overwrite c->err). */
static int pipelined_reply(struct edhc *c, int ok, char *why, size_t n)
{
	int code = reply(c, NULL, NULL);
	if (code != ok && !*why)
		snprintf(why, n, "%s", c->err);
	return code;
}

static int deliver_op(struct edhc *c, void *arg)
{
	struct delivery *d = arg;
	char why[sizeof c->err] = "";
	if (!c->chunking) { /* the message is binary: DATA cannot carry it */
		set_error(c, "edhd does not take BDAT (CHUNKING): upgrade the "
		          "EDH first");
		return OP_TEMP;
	}
	/* PIPELINING (RFC 2920): the envelope and the message in one go,
	 * three replies; the id only to an edhd that takes it (one older
	 * than the AH would refuse the parameter) */
	int did = d->did && c->did_ok;
	if (sbuf_printf(&c->out, "MAIL FROM:<> SIZE=%zu%s%s\r\nRCPT TO:<%s>\r\n"
	                "BDAT %zu LAST\r\n", d->len, did ? " XDELIVERY-ID=" : "",
	                did ? d->did : "", d->mailbox, d->len) < 0 ||
	    flush(c) < 0 || send_raw(c, d->data, d->len) < 0) {
		set_error(c, "cannot write to edhd: %s", strerror(errno));
		disconnect(c);
		return OP_TEMP;
	}
	/* every command gets its reply, unless edhd has gone (421, EOF);
	 * after a refused RCPT, BDAT's is a refusal too */
	int mail = pipelined_reply(c, 250, why, sizeof why);
	int rcpt = c->ssl ? pipelined_reply(c, 250, why, sizeof why) : -1;
	int bdat = c->ssl ? pipelined_reply(c, 250, why, sizeof why) : -1;
	int code = mail != 250 ? mail : rcpt != 250 ? rcpt : bdat;
	if (code == 250)
		return OP_OK;
	int r = classify(code);
	if (code > 0 && command(c, "RSET") != 250)
		disconnect(c);
	snprintf(c->err, sizeof c->err, "%s", why);
	return r;
}

enum edhc_result edhc_deliver(struct edhc *c, const char *mailbox,
                              const char *did, const char *data, size_t len)
{
	struct delivery d = { mailbox, data, did, len };
	if (c->cfg.proto != EDHC_LMTP || !maildir_id_valid(mailbox) ||
	    (did && !maildir_did_valid(did))) {
		snprintf(c->err, sizeof c->err, "%s", c->cfg.proto != EDHC_LMTP
		         ? "not an LMTP client" : !maildir_id_valid(mailbox)
		         ? "not a mailbox id" : "not a delivery id");
		return EDHC_PERM;
	}
	return run(c, deliver_op, &d);
}

/* ---- retrieval ----------------------------------------------------------- */

struct retrieval {
	const char *mailbox, *uid;
	struct edhc_msg *msgs;
	size_t n, cap;
	int bad;
	struct sbuf *out;
};

static int select_box(struct edhc *c, const char *mailbox)
{
	if (!strcmp(c->selected, mailbox))
		return OP_OK;
	int code = command(c, "MAILBOX %s", mailbox);
	if (code == 250)
		snprintf(c->selected, sizeof c->selected, "%s", mailbox);
	return classify(code);
}

/* One "UID SIZE PLAINSIZE" line of LIST. */
static void list_line(void *arg, const char *text)
{
	struct retrieval *r = arg;
	struct edhc_msg m;
	char tail;
	int uidlen = 0;
	if (r->bad || sscanf(text, "%*s%n %llu %llu%c", &uidlen, &m.size,
	                     &m.plainsize, &tail) != 2 ||
	    !maildir_uid_valid(text, (size_t)uidlen)) {
		r->bad = 1;
		return;
	}
	memcpy(m.uid, text, (size_t)uidlen);
	m.uid[uidlen] = '\0';
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct edhc_msg *g = realloc(r->msgs, cap * sizeof *g);
		if (!g) {
			r->bad = 1;
			return;
		}
		r->msgs = g, r->cap = cap;
	}
	r->msgs[r->n++] = m;
}

static int list_op(struct edhc *c, void *arg)
{
	struct retrieval *r = arg;
	int s = select_box(c, r->mailbox);
	if (s != OP_OK)
		return s;
	r->n = 0;
	if (sbuf_puts(&c->out, "LIST\r\n") < 0 || flush(c) < 0)
		return set_error(c, "cannot write to edhd");
	int code = reply(c, list_line, r);
	if (code == 250 && r->bad)
		return set_error(c, "malformed LIST from edhd");
	return classify(code);
}

enum edhc_result edhc_list(struct edhc *c, const char *mailbox,
                           struct edhc_msg **msgs, size_t *n)
{
	struct retrieval r = { .mailbox = mailbox };
	*msgs = NULL;
	*n = 0;
	if (c->cfg.proto != EDHC_RETRIEVE || !maildir_id_valid(mailbox)) {
		snprintf(c->err, sizeof c->err, "not a retrieval client or mailbox");
		return EDHC_PERM;
	}
	enum edhc_result res = run(c, list_op, &r);
	if (res == EDHC_OK) {
		*msgs = r.msgs;
		*n = r.n;
	} else {
		free(r.msgs);
	}
	return res;
}

static int fetch_op(struct edhc *c, void *arg)
{
	struct retrieval *r = arg;
	char buf[CHUNK];
	int s = select_box(c, r->mailbox);
	if (s != OP_OK)
		return s;
	int code = command(c, "FETCH %s", r->uid);
	if (code != 250)
		return classify(code);
	char *end;
	unsigned long long left = strtoull(c->err + 10, &end, 10);
	if (strncmp(c->err, "250 2.0.0 ", 10) || *end || left > EDHC_FETCH_MAX) {
		disconnect(c); /* the octets that follow cannot be skipped */
		return set_error(c, "malformed FETCH reply from edhd");
	}
	sbuf_reset(r->out);
	while (left > 0) {
		ssize_t got = rbuf_read(&c->in, buf, left < sizeof buf
		                        ? (size_t)left : sizeof buf);
		if (got <= 0 || sbuf_put(r->out, buf, (size_t)got) < 0) {
			int e = got <= 0 ? EPIPE : errno;
			disconnect(c);
			return set_error(c, "FETCH broke off: %s", strerror(e));
		}
		left -= (unsigned long long)got;
	}
	return OP_OK;
}

static int delete_op(struct edhc *c, void *arg)
{
	struct retrieval *r = arg;
	int s = select_box(c, r->mailbox);
	return s != OP_OK ? s : classify(command(c, "DELETE %s", r->uid));
}

static enum edhc_result one_message(struct edhc *c, const char *mailbox,
                                    const char *uid, struct sbuf *out,
                                    int (*op)(struct edhc *, void *))
{
	struct retrieval r = { .mailbox = mailbox, .uid = uid, .out = out };
	if (c->cfg.proto != EDHC_RETRIEVE || !maildir_id_valid(mailbox) ||
	    !maildir_uid_valid(uid, strlen(uid))) {
		snprintf(c->err, sizeof c->err, "not a retrieval client, mailbox "
		         "or message id");
		return EDHC_PERM;
	}
	return run(c, op, &r);
}

enum edhc_result edhc_fetch(struct edhc *c, const char *mailbox,
                            const char *uid, struct sbuf *out)
{
	return one_message(c, mailbox, uid, out, fetch_op);
}

enum edhc_result edhc_delete(struct edhc *c, const char *mailbox,
                             const char *uid)
{
	return one_message(c, mailbox, uid, NULL, delete_op);
}

/* ---- the handle ------------------------------------------------------------- */

struct edhc *edhc_new(const struct edhc_config *cfg)
{
	struct edhc *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->fd = -1;
	sbuf_init(&c->out, 2 * CHUNK + 1024);
	return c;
}

const char *edhc_error(const struct edhc *c)
{
	return c->err;
}

void edhc_free(struct edhc *c)
{
	if (!c)
		return;
	if (c->ssl && sbuf_puts(&c->out, "QUIT\r\n") == 0)
		flush(c);
	disconnect(c);
	SSL_CTX_free(c->ctx);
	sbuf_free(&c->out);
	OPENSSL_cleanse(c, sizeof *c);
	free(c);
}
