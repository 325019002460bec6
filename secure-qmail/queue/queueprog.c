/*
 * queueprog - run a qmail-queue style program. See queueprog.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/wait.h>

#include "util/atomicfile.h"
#include "queue/queueprog.h"

extern char **environ;

pid_t queueprog_start(const char *path, const char *argv0, int fd0, int fd1)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { (char *)argv0, NULL };
	pid_t pid;
	int r = posix_spawn_file_actions_init(&fa);
	if (r == 0 && (r = posix_spawn_file_actions_adddup2(&fa, fd0, 0)) == 0 &&
	    (r = posix_spawn_file_actions_adddup2(&fa, fd1, 1)) == 0)
		r = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return pid;
}

int queueprog_wait(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int queueprog_run(const char *path, const char *argv0, const void *msg,
                  size_t msglen, const void *env, size_t envlen)
{
	int m[2], e[2];
	if (pipe2(m, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(e, O_CLOEXEC) < 0) {
		close(m[0]);
		close(m[1]);
		return -1;
	}
	pid_t pid = queueprog_start(path, argv0, m[0], e[0]);
	int saved = errno;
	close(m[0]);
	close(e[0]);
	int ok = pid > 0 && write_all(m[1], msg, msglen) == 0;
	close(m[1]);
	ok = ok && write_all(e[1], env, envlen) == 0;
	close(e[1]);
	if (pid < 0) {
		errno = saved;
		return -1;
	}
	int code = queueprog_wait(pid);
	errno = 0; /* a signal, or input not taken: no errno to tell */
	return code == 0 && !ok ? -1 : code; /* 0 without all its input: odd */
}
