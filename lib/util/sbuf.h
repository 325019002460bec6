/*
 * sbuf - bounded, growable byte strings.
 *
 * Every sbuf carries a maximum length fixed at initialisation; an append
 * that would pass it fails with EMSGSIZE and leaves the buffer unchanged, so
 * no input can make a reader grow without limit. The bytes are always
 * followed by a NUL (not counted in len) for use with C string functions.
 * A "secret" sbuf never leaves copies behind: growth copies and wipes the
 * old block, and reset/free wipe the bytes (for passwords and keys). Its
 * storage is whole pages, mlock'ed within RLIMIT_MEMLOCK (past it: used
 * unlocked, one warning per process) and MADV_DONTDUMP.
 */
#ifndef SQ_SBUF_H
#define SQ_SBUF_H

#include <stdarg.h>
#include <stddef.h>

struct sbuf {
	char *s;        /* bytes, NUL-terminated; NULL until the first append */
	size_t len;     /* bytes in use, excluding the NUL */
	size_t cap;     /* bytes allocated, including room for the NUL */
	size_t max;     /* the most len may ever be */
	int secret;     /* wipe on growth, reset and free */
};

void sbuf_init(struct sbuf *b, size_t max);
void sbuf_init_secret(struct sbuf *b, size_t max);

/* Appends; 0 on success, -1 with errno EMSGSIZE (limit) or ENOMEM. */
int sbuf_put(struct sbuf *b, const void *data, size_t n);
int sbuf_puts(struct sbuf *b, const char *str);
int sbuf_putc(struct sbuf *b, char c);
int sbuf_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Makes room for n more bytes (and the NUL) within the limit, so that
 * appending up to n copies nothing: a known size given ahead, rather than
 * doubling past it. 0, or -1 as sbuf_put. */
int sbuf_reserve(struct sbuf *b, size_t n);
/* Appends n zero bytes and returns where they start, for the caller to
 * fill in place; NULL (errno EMSGSIZE or ENOMEM) if they do not fit. */
char *sbuf_grow(struct sbuf *b, size_t n);

/* Replaces the contents; same results as sbuf_put. */
int sbuf_copy(struct sbuf *b, const void *data, size_t n);

/* Makes the buffer empty (wiping a secret one); keeps the allocation. */
void sbuf_reset(struct sbuf *b);
/* Cuts the contents to their first n bytes, wiping the rest. */
void sbuf_truncate(struct sbuf *b, size_t n);
/* Drops the first n bytes. */
void sbuf_consume(struct sbuf *b, size_t n);
/* Releases the allocation (wiping a secret one); the sbuf may be reused. */
void sbuf_free(struct sbuf *b);

/* Reads fd to EOF into b (appending), at most b->max bytes in all;
 * 0 on success, -1 with errno (EMSGSIZE when the input is longer). */
int sbuf_read_fd(struct sbuf *b, int fd);

#endif
