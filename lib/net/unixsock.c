/*
 * unixsock - local sockets named by a path. See unixsock.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/unixsock.h"

/* A socket of type for path, its address in a; -1 with errno set. */
static int make(const char *path, int type, struct sockaddr_un *a)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a->sun_path, path);
	return socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
}

/* Closes fd and returns -1, keeping errno. */
static int close_fail(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int unixsock_timeout(int fd, long timeout_ms)
{
	struct timeval tv = { (time_t)(timeout_ms / 1000),
	                      (suseconds_t)(timeout_ms % 1000) * 1000 };
	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	       setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0
	       ? -1 : 0;
}

int unixsock_connect(const char *path, int type)
{
	struct sockaddr_un a;
	int fd = make(path, type, &a);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		return close_fail(fd);
	return fd;
}

int unixsock_dial(const char *path, int timeout_ms)
{
	struct sockaddr_un a;
	int fd = make(path, SOCK_SEQPACKET, &a);
	if (fd < 0)
		return -1;
	/* bounded before connect: a full backlog waits no longer either */
	if (unixsock_timeout(fd, timeout_ms) < 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		return close_fail(fd);
	return fd;
}

int unixsock_listen(const char *path, int type, mode_t mode, int backlog)
{
	struct sockaddr_un a;
	int fd = make(path, type, &a);
	if (fd < 0)
		return -1;
	unlink(path); /* a stale socket of a previous run */
	mode_t old = umask(0777 & ~mode);
	int r = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (r < 0 || listen(fd, backlog) < 0)
		return close_fail(fd);
	return fd;
}

int unixsock_listen_private(const char *path, int backlog)
{
	char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
	if (strlen(path) >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(dir, path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	return unixsock_listen(path, SOCK_SEQPACKET, 0700, backlog);
}
