/*
 * smtpio - sq-smtpd's side of the connection: bounded line reads, replies
 * held until the client has to wait for them (PIPELINING, RFC 2920), every
 * read and write under control/timeoutsmtpd, and STARTTLS (RFC 3207):
 * after the handshake the same calls go through OpenSSL.
 */
#ifndef SQ_SMTPIO_H
#define SQ_SMTPIO_H

#include <openssl/ssl.h>

#include "rbuf.h"
#include "sbuf.h"

struct smtpio {
	int rfd, wfd;
	int timeout_ms;
	SSL_CTX *ctx;
	SSL *ssl;
	struct rbuf in;
	struct sbuf out;                /* replies not yet written */
	char cipher[160];               /* "TLSv1.3:TLS_AES_256_GCM_SHA384:256" */
	int broken;                     /* a write failed: nothing more goes */
};

void smtpio_init(struct smtpio *io, int rfd, int wfd, int timeout_ms);
void smtpio_fini(struct smtpio *io);

/* Queues one reply line (CRLF added). */
void smtpio_reply(struct smtpio *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Writes what is queued; 0 or -1. */
int smtpio_flush(struct smtpio *io);

/* A command line, bounded (see rbuf_getline); replies are flushed first
 * whenever the read would wait. */
enum rbuf_line smtpio_getline(struct smtpio *io, struct sbuf *line,
                              size_t max);
/* Raw octets for DATA: >0, 0 at EOF, -1 on error or timeout. */
ssize_t smtpio_read(struct smtpio *io, void *buf, size_t n);

/* Loads certfile (certificate chain and key, PEM) for STARTTLS; 0 or -1. */
int smtpio_tls_load(struct smtpio *io, const char *certfile);
/* Discards whatever the client sent after STARTTLS (CVE-2011-0411: it
 * would be taken as said inside TLS) and makes the handshake; 0 or -1. */
int smtpio_starttls(struct smtpio *io);

#endif
