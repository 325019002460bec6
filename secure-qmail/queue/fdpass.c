/*
 * fdpass - requests and descriptors over UNIX sockets. See fdpass.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "net/unixsock.h"
#include "queue/fdpass.h"

int fdpass_send(int sock, const void *data, size_t len, const int *fds,
                size_t nfds)
{
	union {
		char buf[CMSG_SPACE(FDPASS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)data, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (len == 0 || nfds > FDPASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (nfds) {
		memset(&ctl, 0, sizeof ctl);
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ssize_t n;
	while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n >= 0 && (size_t)n != len) {
		errno = EIO; /* a request goes in one piece or not at all */
		return -1;
	}
	return n < 0 ? -1 : 0;
}

ssize_t fdpass_recv(int sock, void *data, size_t max, int *fds, size_t *nfds)
{
	union {
		char buf[CMSG_SPACE(FDPASS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { data, max };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	                      .msg_control = ctl.buf,
	                      .msg_controllen = sizeof ctl.buf };
	ssize_t n;
	*nfds = 0;
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (*nfds < FDPASS_MAX)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		for (size_t i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

int fdpass_timeout(int sock, unsigned long secs)
{
	return unixsock_timeout(sock, (long)secs * 1000);
}

/* Connects to path and sends req with nfds descriptors, every wait
 * bounded by deadline; the socket, or -1. *sent is 0 when the request
 * went, else the errno of its failure: a busy sealer may answer and close
 * before the request is sent, and its answer is still there to read. */
static int connect_send(const char *path, const char *req, size_t len,
                        const int *fds, size_t nfds, long long deadline,
                        int *sent)
{
	long long left = deadline - monotonic_ms();
	int s = unixsock_connect(path, SOCK_STREAM);
	if (s < 0)
		return -1;
	*sent = EAGAIN;
	if (fdpass_timeout(s, left > 1000 ? (unsigned long)(left + 999) / 1000
	                                  : 1) == 0)
		*sent = fdpass_send(s, req, len, fds, nfds) == 0 ? 0 : errno;
	return s;
}

/* Reads the answer on s after a request that went (sent 0) or was cut
 * short by the sealer's close; closes s. As fdpass_ask. */
static ssize_t read_answer(int s, int sent, char *answer, size_t max)
{
	int got[FDPASS_MAX];
	size_t ngot = 0;
	ssize_t n = -1;
	if (sent == 0 || sent == EPIPE || sent == ECONNRESET)
		n = fdpass_recv(s, answer, max - 1, got, &ngot);
	if (sent && n <= 0) {
		n = -1;
		errno = sent;
	}
	int saved = errno;
	for (size_t i = 0; i < ngot; i++)
		close(got[i]);
	close(s);
	errno = saved;
	if (n >= 0)
		answer[n] = '\0';
	return n;
}

/* Whether to ask again: a busy answer while time is left (after a nap:
 * another of this uid's requests ends soon). */
static int busy_again(ssize_t n, const char *answer, long long deadline)
{
	if (n < 0 || strncmp(answer, SEALER_BUSY, strlen(SEALER_BUSY)) != 0 ||
	    monotonic_ms() >= deadline)
		return 0;
	struct timespec nap = { 0, 50 * 1000000 };
	nanosleep(&nap, NULL);
	return 1;
}

static long long deadline_in(unsigned long secs)
{
	return monotonic_ms() + (long long)(secs ? secs : 1) * 1000;
}

ssize_t fdpass_ask(const char *path, const char *req, size_t len,
                   const int *fds, size_t nfds, unsigned long secs,
                   char *answer, size_t max)
{
	long long deadline = deadline_in(secs);
	ssize_t n;
	do {
		int sent, s = connect_send(path, req, len, fds, nfds, deadline,
		                           &sent);
		if (s < 0)
			return -1;
		n = read_answer(s, sent, answer, max);
	} while (busy_again(n, answer, deadline));
	return n;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Pipes for nin inputs: read ends in rd, write ends (non-blocking) in wr;
 * 0 or -1. A pipe as large as its input, up to the system's bound, so a
 * message goes in a few writes. */
static int make_pipes(const struct fdpass_feed *in, size_t nin, int *rd,
                      int *wr)
{
	for (size_t i = 0; i < nin; i++)
		rd[i] = wr[i] = -1;
	for (size_t i = 0; i < nin; i++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0) {
			close_all(rd, i);
			close_all(wr, i);
			return -1;
		}
		rd[i] = p[0];
		wr[i] = p[1];
		fcntl(wr[i], F_SETFL, O_NONBLOCK);
		if (in[i].len > 65536)
			fcntl(wr[i], F_SETPIPE_SZ, in[i].len < (1 << 20)
			                           ? (int)in[i].len : 1 << 20);
	}
	return 0;
}

/* Writes each input to its pipe and closes it, in order; 0, or -1 when
 * the deadline passed (errno EAGAIN). A reader that went away (EPIPE) has
 * answered already: the rest is not written, the answer says why. */
static int feed(const struct fdpass_feed *in, size_t nin, int *wr,
                long long deadline)
{
	int r = 0;
	for (size_t i = 0; i < nin; i++) {
		if (r == 0 && write_all_by(wr[i], in[i].data, in[i].len,
		                           deadline) < 0)
			r = errno == EPIPE ? 1 : -1;
		close(wr[i]);
		wr[i] = -1;
	}
	if (r < 0)
		errno = EAGAIN;
	return r < 0 ? -1 : 0;
}

ssize_t fdpass_ask_feed(const char *path, const char *req, size_t len,
                        const struct fdpass_feed *in, size_t nin,
                        unsigned long secs, char *answer, size_t max)
{
	long long deadline = deadline_in(secs);
	int rd[FDPASS_MAX], wr[FDPASS_MAX];
	ssize_t n;
	if (nin > FDPASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	do {
		if (make_pipes(in, nin, rd, wr) < 0)
			return -1;
		int sent, s = connect_send(path, req, len, rd, nin, deadline,
		                           &sent);
		int saved = errno;
		close_all(rd, nin); /* the sealer's now: EPIPE if it goes */
		if (s >= 0 && sent == 0 && feed(in, nin, wr, deadline) < 0) {
			close(s);
			s = -1;
			saved = EAGAIN;
		}
		close_all(wr, nin);
		if (s < 0) {
			errno = saved;
			return -1;
		}
		n = read_answer(s, sent, answer, max);
	} while (busy_again(n, answer, deadline));
	return n;
}

int fdpass_answer_code(const char *answer)
{
	char *end;
	long code = strtol(answer, &end, 10);
	if (end == answer || code < 0 || code > 255)
		return -1;
	return (int)code;
}
