/*
 * rbuf - buffered reading from a file descriptor, with a read timeout and
 * line reads bounded by a caller-given maximum.
 */
#ifndef SQ_RBUF_H
#define SQ_RBUF_H

#include <stddef.h>
#include <sys/types.h>

#include "util/sbuf.h"

#define RBUF_SIZE 8192

/* A source other than a plain descriptor (TLS): reads up to n octets,
 * as read(2) does. */
typedef ssize_t (*rbuf_source)(void *ctx, void *buf, size_t n);

struct rbuf {
	int fd;
	int timeout_ms;         /* per read; -1 waits for ever */
	rbuf_source source;     /* NULL: read(2) on fd, after poll(2) */
	void *ctx;
	size_t pos, end;        /* unread bytes are buf[pos..end) */
	unsigned char buf[RBUF_SIZE];
};

enum rbuf_line {
	RBUF_LINE = 1,          /* a line, with its '\n' (or the last bytes at EOF) */
	RBUF_EOF = 0,           /* end of input, nothing read */
	RBUF_ERROR = -1,        /* read error or timeout (errno ETIMEDOUT) */
	RBUF_TOOLONG = -2       /* line passed the limit; skipped up to its '\n' */
};

void rbuf_init(struct rbuf *rb, int fd, int timeout_ms);
/* Reads through source instead (which handles its own timeout). */
void rbuf_set_source(struct rbuf *rb, rbuf_source source, void *ctx);

/* Reads one line into line (replacing its contents), keeping the line end
 * so callers can tell CRLF from a bare LF and a final unterminated line.
 * A line longer than max bytes (terminator included) is read and thrown
 * away up to its '\n' and reported as RBUF_TOOLONG. */
enum rbuf_line rbuf_getline(struct rbuf *rb, struct sbuf *line, size_t max);

/* The same for a NUL-terminated field (the NUL kept), as the queue
 * programs talk to each other. */
enum rbuf_line rbuf_getfield(struct rbuf *rb, struct sbuf *field, size_t max);

/* Reads up to n bytes (buffered bytes first); >0, 0 at EOF, -1 on error. */
ssize_t rbuf_read(struct rbuf *rb, void *dst, size_t n);

/* Gives back the last n octets the last rbuf_read returned, to be read
 * again (a parser that read past its end). */
void rbuf_unread(struct rbuf *rb, size_t n);

/* Bytes already buffered, e.g. to discard input pipelined before STARTTLS. */
size_t rbuf_pending(const struct rbuf *rb);
void rbuf_discard(struct rbuf *rb);

#endif
