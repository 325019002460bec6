/*
 * queueprog - run a qmail-queue style program. See queueprog.h.
 */
#include <errno.h>
#include <spawn.h>
#include <sys/wait.h>

#include "queueprog.h"

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
