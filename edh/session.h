/*
 * session - what edhd's two protocols share: one TLS connection (netio:
 * bounded lines, every read and write under control/timeoutedh), the
 * command line reader, and AUTH PLAIN against control/edhclients with the
 * role the port demands.
 */
#ifndef SQ_EDH_SESSION_H
#define SQ_EDH_SESSION_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "util/control.h"
#include "util/sbuf.h"
#include "net/netio.h"

#define EDH_LINE_MAX 510        /* 512 octets with the CRLF, as SMTP */
#define EDH_AUTH_TRIES 3        /* failures before the connection closes */

struct edh_config {
	struct control ctl;
	int maildirs;                   /* $SQ_HOME/maildirs */
	char me[256];
	unsigned long databytes;        /* control/edhdatabytes */
	unsigned long timeout;          /* control/timeoutedh, seconds */
};

struct edh_session {
	struct netio io;
	struct edh_config *cfg;
	char ip[64];                    /* the peer, for the log */
	int role;                       /* the role this port serves */
	uint32_t client;                /* authenticated client id, or 0 */
	int failures;                   /* AUTH failures so far */
	struct sbuf line;               /* the current command line */
};

/* Sets up the session on a connected socket and makes the TLS handshake
 * with ctx (the process's; freed with the session). 0, or -1 (logged). */
int session_start(struct edh_session *s, struct edh_config *cfg, int fd,
                  SSL_CTX *ctx, const char *ip, int role);
void session_end(struct edh_session *s);

/* Reads the next command line into s->line without its CRLF. 1 a line,
 * 0 the client is gone (EOF, timeout: a 421 was tried), -1 a line that
 * was answered here (too long, bare LF, NUL): read the next one. */
int session_getline(struct edh_session *s);

/* The first word of s->line (the verb, at most n - 1 octets, upper-cased
 * into verb) and where its argument starts. */
const char *session_verb(struct edh_session *s, char *verb, size_t n);

/* AUTH with its argument ("PLAIN <base64>"): replies 235, 501, 503 or
 * 535 itself and logs failures with the client id and address (never the
 * secret). Returns 0 to go on, -1 when the connection must close (too
 * many failures). */
int session_auth(struct edh_session *s, const char *arg);

#endif
