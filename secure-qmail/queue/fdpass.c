/*
 * fdpass - requests and descriptors over UNIX sockets. See fdpass.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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
	struct timeval tv = { .tv_sec = (time_t)secs, .tv_usec = 0 };
	if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
		return -1;
	return 0;
}

/* A stream socket for path, its address in sa; -1 with errno set. */
static int unix_socket(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa->sun_path, path);
	return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

/* Closes fd and returns -1, keeping errno. */
static int close_fail(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

ssize_t fdpass_ask(const char *path, const char *req, size_t len,
                   const int *fds, size_t nfds, unsigned long secs,
                   char *answer, size_t max)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	time_t deadline = t.tv_sec + (time_t)(secs ? secs : 1);
	for (;;) {
		int got[FDPASS_MAX];
		size_t ngot = 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		time_t left = deadline - t.tv_sec;
		int s = unix_connect(path);
		if (s < 0)
			return -1;
		ssize_t n = -1;
		int sent = -1, sent_errno = 0;
		if (fdpass_timeout(s, (unsigned long)(left > 0 ? left : 1)) == 0) {
			sent = fdpass_send(s, req, len, fds, nfds);
			sent_errno = errno;
		}
		/* a busy sealer may answer and close before the request is
		 * sent: its answer is still there to read */
		if (sent == 0 || sent_errno == EPIPE || sent_errno == ECONNRESET)
			n = fdpass_recv(s, answer, max - 1, got, &ngot);
		if (sent < 0 && n <= 0) {
			n = -1;
			errno = sent_errno;
		}
		int saved = errno;
		for (size_t i = 0; i < ngot; i++)
			close(got[i]);
		close(s);
		errno = saved;
		if (n < 0)
			return -1;
		answer[n] = '\0';
		if (strncmp(answer, SEALER_BUSY, strlen(SEALER_BUSY)) != 0)
			return n;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec >= deadline)
			return n;
		/* another of this uid's requests ends soon: ask again */
		struct timespec nap = { 0, 50 * 1000000 };
		nanosleep(&nap, NULL);
	}
}

int unix_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = unix_socket(path, &sa);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return close_fail(fd);
	return fd;
}

int unix_listen(const char *path, mode_t mode)
{
	struct sockaddr_un sa;
	int fd = unix_socket(path, &sa);
	if (fd < 0)
		return -1;
	unlink(path); /* a stale socket of a previous run */
	mode_t old = umask(0777 & ~mode);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || listen(fd, 128) < 0)
		return close_fail(fd);
	return fd;
}
