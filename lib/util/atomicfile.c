/*
 * atomicfile - crash-safe writes. See atomicfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/atomicfile.h"

int write_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

long long monotonic_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int write_all_by(int fd, const void *data, size_t n, long long deadline)
{
	const char *p = data;
	if (!deadline)
		return write_all(fd, p, n);
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		long long left = deadline - monotonic_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		if (poll(&pf, 1, (int)(left > 60000 ? 60000 : left)) < 0 &&
		    errno != EINTR)
			return -1;
	}
	return 0;
}

int fsync_dir(int dirfd)
{
	while (fsync(dirfd) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int atomic_begin(struct atomicfile *af, int dirfd, const char *name,
                 mode_t mode)
{
	struct timespec ts;
	af->dirfd = dirfd;
	af->fd = -1;
	af->tmpname[0] = '\0';
	if (!*name || strchr(name, '/') ||
	    strlen(name) >= sizeof af->name) {
		errno = EINVAL;
		return -1;
	}
	snprintf(af->name, sizeof af->name, "%s", name);
	/* Unique per process and moment; O_EXCL catches the rest, and a
	 * clash (two files in one nanosecond) is simply tried again. */
	for (int attempt = 0; attempt < 5 && af->fd < 0; attempt++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(af->tmpname, sizeof af->tmpname, ".tmp.%ld.%ld.%s",
		         (long)getpid(), (long)ts.tv_nsec, name);
		af->fd = openat(dirfd, af->tmpname,
		                O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		                        O_NOFOLLOW,
		                mode);
		if (af->fd < 0 && errno != EEXIST)
			break;
	}
	return af->fd < 0 ? -1 : 0;
}

int atomic_write(struct atomicfile *af, const void *data, size_t n)
{
	return write_all(af->fd, data, n);
}

int atomic_commit(struct atomicfile *af, enum atomic_mode mode)
{
	int r = -1;
	while ((r = fsync(af->fd)) < 0 && errno == EINTR)
		;
	if (r == 0) {
		r = close(af->fd);
		af->fd = -1;
	}
	if (r == 0) {
		if (mode == ATOMIC_REPLACE)
			r = renameat(af->dirfd, af->tmpname, af->dirfd, af->name);
		else
			r = linkat(af->dirfd, af->tmpname, af->dirfd, af->name, 0);
	}
	if (r == 0 && mode == ATOMIC_CREATE)
		unlinkat(af->dirfd, af->tmpname, 0);
	if (r == 0)
		r = fsync_dir(af->dirfd);
	if (r < 0) {
		int saved = errno;
		atomic_abort(af);
		errno = saved;
	}
	return r;
}

void atomic_abort(struct atomicfile *af)
{
	int saved = errno;
	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	if (af->tmpname[0])
		unlinkat(af->dirfd, af->tmpname, 0);
	errno = saved;
}

int atomic_write_file(int dirfd, const char *name, const void *data,
                      size_t n, mode_t mode, enum atomic_mode how)
{
	struct atomicfile af;
	if (atomic_begin(&af, dirfd, name, mode) < 0)
		return -1;
	if (atomic_write(&af, data, n) < 0) {
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af, how);
}
