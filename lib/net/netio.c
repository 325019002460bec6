/*
 * netio - a server's connection. See netio.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "net/netio.h"
#include "net/tlsserver.h"

#define REPLIES_MAX 65536

/* Waits until fd is ready for events; 1, 0 on timeout, -1 on error. */
static int wait_for(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;
	while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (r == 0)
		errno = ETIMEDOUT;
	return r;
}

/* The connection's descriptors do not block (netio_init): every read and
 * write, OpenSSL's included, waits in poll(2) under the timeout, never in
 * the kernel. A descriptor that blocked would let a client that stops
 * reading, or sends half a TLS record, hold the process for ever. */
static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Whether a read or write that returned r should be tried again after
 * another wait. */
static int again(ssize_t r)
{
	return r < 0 && (errno == EINTR || errno == EAGAIN ||
	                 errno == EWOULDBLOCK);
}

static ssize_t tls_read(struct netio *io, void *buf, size_t n)
{
	/* wait (with the timeout) before asking OpenSSL */
	if (SSL_pending(io->ssl) == 0 &&
	    wait_for(io->rfd, POLLIN, io->timeout_ms) <= 0)
		return -1;
	for (;;) {
		int r = SSL_read(io->ssl, buf, (int)(n > 65536 ? 65536 : n));
		if (r > 0)
			return r;
		int e = SSL_get_error(io->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			short ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
			if (wait_for(e == SSL_ERROR_WANT_READ ? io->rfd : io->wfd, ev,
			             io->timeout_ms) <= 0)
				return -1;
			continue;
		}
		errno = EPROTO;
		return -1;
	}
}

/* The line reader's source: replies go out before the client is waited
 * for, and only then. */
static ssize_t source(void *ctx, void *buf, size_t n)
{
	struct netio *io = ctx;
	if (netio_flush(io) < 0)
		return -1;
	if (io->ssl)
		return tls_read(io, buf, n);
	ssize_t r;
	do {
		if (wait_for(io->rfd, POLLIN, io->timeout_ms) <= 0)
			return -1;
	} while (again(r = read(io->rfd, buf, n)));
	return r;
}

void netio_init(struct netio *io, int rfd, int wfd, int timeout_ms)
{
	memset(io, 0, sizeof *io);
	io->rfd = rfd;
	io->wfd = wfd;
	io->timeout_ms = timeout_ms;
	set_nonblocking(rfd);
	set_nonblocking(wfd);
	rbuf_init(&io->in, rfd, timeout_ms);
	rbuf_set_source(&io->in, source, io);
	sbuf_init_secret(&io->out, REPLIES_MAX); /* POP3 sends plaintext */
}

void netio_set_timeout(struct netio *io, int timeout_ms)
{
	io->timeout_ms = io->in.timeout_ms = timeout_ms;
}

void netio_fini(struct netio *io)
{
	if (io->ssl) {
		SSL_shutdown(io->ssl);
		SSL_free(io->ssl);
	}
	SSL_CTX_free(io->ctx);
	sbuf_free(&io->out);
	/* what the client said, a POP3 password among it */
	explicit_bzero(io->in.buf, sizeof io->in.buf);
	io->ssl = NULL;
	io->ctx = NULL;
}

void netio_reply(struct netio *io, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (sbuf_vprintf(&io->out, fmt, ap) < 0 || sbuf_put(&io->out, "\r\n", 2))
		io->broken = 1; /* a client that never reads its replies */
	va_end(ap);
}

static int write_some(struct netio *io, const char *p, size_t n)
{
	if (io->ssl) {
		for (;;) {
			int r = SSL_write(io->ssl, p, (int)(n > 65536 ? 65536 : n));
			if (r > 0)
				return r;
			int e = SSL_get_error(io->ssl, r);
			if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
			    wait_for(e == SSL_ERROR_WANT_READ ? io->rfd : io->wfd,
			             e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			             io->timeout_ms) <= 0)
				return -1;
		}
	}
	ssize_t w;
	do {
		if (wait_for(io->wfd, POLLOUT, io->timeout_ms) <= 0)
			return -1;
	} while (again(w = write(io->wfd, p, n > 65536 ? 65536 : n)));
	return w <= 0 ? -1 : (int)w;
}

int netio_flush(struct netio *io)
{
	size_t done = 0;
	if (io->broken)
		return -1;
	while (done < io->out.len) {
		int w = write_some(io, io->out.s + done, io->out.len - done);
		if (w < 0) {
			io->broken = 1;
			return -1;
		}
		done += (size_t)w;
	}
	sbuf_reset(&io->out);
	return 0;
}

enum rbuf_line netio_getline(struct netio *io, struct sbuf *line,
                              size_t max)
{
	return rbuf_getline(&io->in, line, max);
}

ssize_t netio_read(struct netio *io, void *buf, size_t n)
{
	return rbuf_read(&io->in, buf, n);
}

int netio_send(struct netio *io, const void *data, size_t n)
{
	const char *p = data;
	/* the replies and the first octets in one write: a short write and
	 * then another would wait on the peer's delayed ACK (Nagle) */
	size_t room = io->out.max - io->out.len, first = n < room ? n : room;
	if (first > 0 && sbuf_put(&io->out, p, first) == 0) {
		p += first;
		n -= first;
	}
	if (netio_flush(io) < 0)
		return -1;
	while (n > 0) {
		int w = write_some(io, p, n);
		if (w < 0) {
			io->broken = 1;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int netio_buffered(const struct netio *io)
{
	return rbuf_pending(&io->in) > 0 || (io->ssl && SSL_pending(io->ssl) > 0);
}

int netio_tls_load(struct netio *io, const char *certfile)
{
	/* STARTTLS as it has always been: the client's cipher order, the
	 * key not checked against the certificate before the handshake */
	io->ctx = tlsserver_ctx(certfile, certfile, 0);
	if (!io->ctx) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int netio_starttls(struct netio *io)
{
	if (netio_flush(io) < 0)
		return -1;
	rbuf_discard(&io->in); /* anything pipelined after STARTTLS */
	io->ssl = SSL_new(io->ctx);
	if (!io->ssl || !SSL_set_rfd(io->ssl, io->rfd) ||
	    !SSL_set_wfd(io->ssl, io->wfd))
		return -1;
	for (;;) {
		int r = SSL_accept(io->ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(io->ssl, r);
		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
		    wait_for(e == SSL_ERROR_WANT_READ ? io->rfd : io->wfd,
		             e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		             io->timeout_ms) <= 0) {
			ERR_clear_error();
			return -1;
		}
	}
	snprintf(io->cipher, sizeof io->cipher, "%s:%s:%d",
	         SSL_get_version(io->ssl), SSL_get_cipher_name(io->ssl),
	         SSL_get_cipher_bits(io->ssl, NULL));
	return 0;
}
