/*
 * session - one edhd connection: TLS, command lines and AUTH PLAIN. See
 * session.h.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clientfile.h"
#include "util/log.h"
#include "mail/saslplain.h"
#include "session.h"

int session_start(struct edh_session *s, struct edh_config *cfg, int fd,
                  SSL_CTX *ctx, const char *ip, int role)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->role = role;
	snprintf(s->ip, sizeof s->ip, "%s", ip);
	/* the AUTH line carries the secret: wiped with every new line */
	sbuf_init_secret(&s->line, EDH_LINE_MAX + 2);
	netio_init(&s->io, fd, fd, (int)cfg->timeout * 1000);
	s->io.ctx = ctx;
	if (netio_starttls(&s->io) < 0) {
		log_msg(SQLOG_WARN, "%s: TLS handshake failed", s->ip);
		return -1;
	}
	return 0;
}

void session_end(struct edh_session *s)
{
	netio_flush(&s->io);
	netio_fini(&s->io);
	sbuf_free(&s->line);
}

int session_getline(struct edh_session *s)
{
	enum rbuf_line r = netio_getline(&s->io, &s->line, EDH_LINE_MAX + 2);
	if (r == RBUF_EOF || r == RBUF_ERROR) {
		if (r == RBUF_ERROR && errno == ETIMEDOUT) {
			log_msg(SQLOG_INFO, "%s: timeout", s->ip);
			netio_reply(&s->io, "421 4.4.2 timeout; closing");
		}
		return 0;
	}
	if (r == RBUF_TOOLONG) {
		netio_reply(&s->io, "500 5.5.2 line too long");
		return -1;
	}
	size_t len = s->line.len;
	if (len < 2 || s->line.s[len - 2] != '\r' || s->line.s[len - 1] != '\n') {
		/* a bare LF (or none, at EOF): no guessing what was meant */
		netio_reply(&s->io, "500 5.5.2 command lines end in CRLF");
		return -1;
	}
	sbuf_truncate(&s->line, len - 2);
	if (strlen(s->line.s) != s->line.len) {
		netio_reply(&s->io, "500 5.5.2 NUL in the command line");
		return -1;
	}
	return 1;
}

const char *session_verb(struct edh_session *s, char *verb, size_t n)
{
	const char *p = s->line.s;
	size_t w = strcspn(p, " ");
	size_t i;
	for (i = 0; i < w && i + 1 < n; i++)
		verb[i] = (char)toupper((unsigned char)p[i]);
	verb[i] = '\0';
	if (w >= n)
		verb[0] = '\0'; /* too long for any verb of ours */
	p += w;
	if (*p == ' ')
		p++;
	return p;
}

/* A failure: 535 and a log line, the id only when it parsed. */
static int auth_failed(struct edh_session *s, const char *id, const char *why)
{
	log_msg(SQLOG_WARN, "%s: authentication failed for client %s: %s",
	        s->ip, id, why);
	netio_reply(&s->io, "535 5.7.8 authentication failed");
	if (++s->failures >= EDH_AUTH_TRIES) {
		netio_reply(&s->io, "421 4.7.0 too many failures; closing");
		return -1;
	}
	return 0;
}

/* Checks the decoded PLAIN message against control/edhclients. */
static int check_client(struct edh_session *s, const struct sasl_plain *p)
{
	struct edh_clients list;
	size_t bad;
	uint32_t id;
	char shown[16];
	snprintf(shown, sizeof shown, "%s", "(malformed)");
	if (edh_client_id_parse(p->authcid, p->authcid_len, &id) == 0)
		snprintf(shown, sizeof shown, "%lu", (unsigned long)id);
	else
		id = 0;
	if (p->authzid_len && strcmp(p->authzid, p->authcid) != 0)
		return auth_failed(s, shown, "authorization identity differs");
	if (edh_clients_load(s->cfg->ctl.dirfd, EDH_CLIENTS_FILE, &list,
	                     &bad) < 0) {
		log_msg(SQLOG_ALERT, "control/%s unusable (line %zu): %s",
		        EDH_CLIENTS_FILE, bad, strerror(errno));
		netio_reply(&s->io, "454 4.7.0 temporary authentication failure");
		return 0;
	}
	const struct edh_client *c = id ? edh_clients_find(&list, id) : NULL;
	int good = edh_client_verify(c, p->passwd, p->passwd_len);
	int role = c ? c->role : 0;
	edh_clients_free(&list);
	if (!good)
		return auth_failed(s, shown, c ? "wrong secret" : "unknown client");
	if (role != s->role)
		return auth_failed(s, shown, "its role may not use this port");
	s->client = id;
	log_msg(SQLOG_INFO, "%s: client %s authenticated", s->ip, shown);
	netio_reply(&s->io, "235 2.7.0 authenticated");
	return 0;
}

int session_auth(struct edh_session *s, const char *arg)
{
	struct sbuf raw;
	struct sasl_plain p;
	if (s->client) {
		netio_reply(&s->io, "503 5.5.1 already authenticated");
		return 0;
	}
	if (strncasecmp(arg, "PLAIN ", 6) != 0) {
		netio_reply(&s->io, strcasecmp(arg, "PLAIN") == 0
		             ? "501 5.5.2 AUTH PLAIN wants its initial response"
		             : "504 5.5.4 only AUTH PLAIN is offered");
		return 0;
	}
	arg += 6;
	sbuf_init_secret(&raw, SASL_PLAIN_RAW_MAX);
	int r;
	if (sasl_plain_decode(arg, strlen(arg), &raw, &p) < 0) {
		netio_reply(&s->io, "501 5.5.2 malformed AUTH PLAIN message");
		r = 0;
	} else {
		r = check_client(s, &p);
	}
	sbuf_free(&raw);
	return r;
}
