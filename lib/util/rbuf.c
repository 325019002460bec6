/*
 * rbuf - buffered, bounded, timed reads. See rbuf.h.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "util/rbuf.h"

void rbuf_init(struct rbuf *rb, int fd, int timeout_ms)
{
	rb->fd = fd;
	rb->timeout_ms = timeout_ms;
	rb->source = NULL;
	rb->ctx = NULL;
	rb->pos = rb->end = 0;
}

void rbuf_set_source(struct rbuf *rb, rbuf_source source, void *ctx)
{
	rb->source = source;
	rb->ctx = ctx;
}

/* Refills an empty buffer; >0 bytes, 0 at EOF, -1 on error or timeout. */
static ssize_t rbuf_fill(struct rbuf *rb)
{
	if (rb->source) {
		ssize_t n = rb->source(rb->ctx, rb->buf, sizeof rb->buf);
		if (n > 0) {
			rb->pos = 0;
			rb->end = (size_t)n;
		}
		return n;
	}
	for (;;) {
		if (rb->timeout_ms >= 0) {
			struct pollfd p = { .fd = rb->fd, .events = POLLIN };
			int r = poll(&p, 1, rb->timeout_ms);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -1;
			if (r == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
		}
		ssize_t n = read(rb->fd, rb->buf, sizeof rb->buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			rb->pos = 0;
			rb->end = (size_t)n;
		}
		return n;
	}
}

/* Reads up to and including the next end octet. */
static enum rbuf_line get_until(struct rbuf *rb, struct sbuf *line,
                                size_t max, int end)
{
	int toolong = 0;
	size_t have = 0;

	sbuf_reset(line);
	for (;;) {
		if (rb->pos == rb->end) {
			ssize_t n = rbuf_fill(rb);
			if (n < 0)
				return RBUF_ERROR;
			if (n == 0) {
				if (toolong) {
					sbuf_reset(line);
					return RBUF_TOOLONG;
				}
				return have ? RBUF_LINE : RBUF_EOF;
			}
		}
		unsigned char *start = rb->buf + rb->pos;
		size_t avail = rb->end - rb->pos;
		unsigned char *nl = memchr(start, end, avail);
		size_t take = nl ? (size_t)(nl - start) + 1 : avail;
		rb->pos += take;
		if (!toolong && have + take > max)
			toolong = 1;
		if (!toolong && sbuf_put(line, start, take) < 0)
			return RBUF_ERROR;
		have += take;
		if (nl) {
			if (toolong) {
				sbuf_reset(line);
				return RBUF_TOOLONG;
			}
			return RBUF_LINE;
		}
	}
}

enum rbuf_line rbuf_getline(struct rbuf *rb, struct sbuf *line, size_t max)
{
	return get_until(rb, line, max, '\n');
}

enum rbuf_line rbuf_getfield(struct rbuf *rb, struct sbuf *field, size_t max)
{
	return get_until(rb, field, max, '\0');
}

ssize_t rbuf_read(struct rbuf *rb, void *dst, size_t n)
{
	if (n == 0)
		return 0;
	if (rb->pos == rb->end) {
		ssize_t r = rbuf_fill(rb);
		if (r <= 0)
			return r;
	}
	size_t avail = rb->end - rb->pos;
	if (n > avail)
		n = avail;
	memcpy(dst, rb->buf + rb->pos, n);
	rb->pos += n;
	return (ssize_t)n;
}

void rbuf_unread(struct rbuf *rb, size_t n)
{
	/* rbuf_read copies out of buf without refilling after: the octets
	 * are still there, just behind pos */
	rb->pos = n <= rb->pos ? rb->pos - n : 0;
}

size_t rbuf_pending(const struct rbuf *rb)
{
	return rb->end - rb->pos;
}

void rbuf_discard(struct rbuf *rb)
{
	rb->pos = rb->end = 0;
}
