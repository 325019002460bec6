/*
 * secretfd - secrets on inherited descriptors. See secretfd.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "util/die.h"
#include "util/secretfd.h"

int secret_pipe(const void *data, size_t n)
{
	int p[2];
	if (n > SECRET_PIPE_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if (write_all(p[1], data, n) < 0) {
		int saved = errno;
		close(p[0]);
		close(p[1]);
		errno = saved;
		return -1;
	}
	close(p[1]);
	return p[0];
}

int secret_memfd(const void *data, size_t n)
{
	int fd = memfd_create("sq-secret", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, n) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
	                               F_SEAL_SEAL) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int secret_pass(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	if (dup2(fd, target) < 0)
		return -1;
	close(fd);
	return 0; /* dup2 clears close-on-exec on the new descriptor */
}

int secret_take(int fd, struct sbuf *out)
{
	int r = sbuf_read_fd(out, fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int secret_nodump(void)
{
	struct rlimit none = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return -1;
	return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void secret_nodump_or_die(void)
{
	if (secret_nodump() < 0)
		die_sys_temp("cannot disable core dumps: %s", strerror(errno));
}
