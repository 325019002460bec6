/*
 * netio - a server's side of a connection (sq-smtpd, edhd, sq-popup,
 * sq-pop3d): bounded line reads, replies held until the client has to
 * wait for them (PIPELINING, RFC 2920), every read and write under the
 * caller's timeout, and STARTTLS (RFC 3207, RFC 2595's STLS): after the
 * handshake the same calls go through OpenSSL.
 */
#ifndef SQ_NETIO_H
#define SQ_NETIO_H

#include <openssl/ssl.h>

#include "util/rbuf.h"
#include "util/sbuf.h"

struct netio {
	int rfd, wfd;
	int timeout_ms;
	SSL_CTX *ctx;
	SSL *ssl;
	struct rbuf in;
	struct sbuf out;                /* replies not yet written */
	char cipher[160];               /* "TLSv1.3:TLS_AES_256_GCM_SHA384:256" */
	int broken;                     /* a write failed: nothing more goes */
};

/* Makes rfd and wfd non-blocking: every wait is poll(2)'s, under the
 * timeout. netio_fini wipes what was read (passwords among it). */
void netio_init(struct netio *io, int rfd, int wfd, int timeout_ms);
/* Changes the timeout of every later read and write (a configuration read
 * after the connection was set up). */
void netio_set_timeout(struct netio *io, int timeout_ms);
void netio_fini(struct netio *io);

/* Queues one reply line (CRLF added). */
void netio_reply(struct netio *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Writes what is queued; 0 or -1. */
int netio_flush(struct netio *io);

/* A command line, bounded (see rbuf_getline); replies are flushed first
 * whenever the read would wait. */
enum rbuf_line netio_getline(struct netio *io, struct sbuf *line,
                              size_t max);
/* Raw octets for DATA: >0, 0 at EOF, -1 on error or timeout. */
ssize_t netio_read(struct netio *io, void *buf, size_t n);

/* Writes n octets at data after the replies queued: a body too large to
 * queue (a POP3 message). 0 or -1. */
int netio_send(struct netio *io, const void *data, size_t n);

/* 1 when octets the client sent are already buffered here or in TLS, so
 * that a read cannot wait: a caller that polls the descriptor itself
 * (sq-popup's relay) must look here first. */
int netio_buffered(const struct netio *io);

/* Loads certfile (certificate chain and key, PEM) for STARTTLS; 0 or -1. */
int netio_tls_load(struct netio *io, const char *certfile);
/* Discards whatever the client sent after STARTTLS (CVE-2011-0411: it
 * would be taken as said inside TLS) and makes the handshake; 0 or -1. */
int netio_starttls(struct netio *io);

#endif
