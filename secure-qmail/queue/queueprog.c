/*
 * queueprog - run a qmail-queue style program. See queueprog.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/wait.h>

#include "util/atomicfile.h"
#include "queue/queueprog.h"

extern char **environ;

pid_t queueprog_start(const char *path, const char *argv0, int fd0, int fd1)
{
	char *argv[] = { (char *)argv0, NULL };
	return queueprog_spawn(path, argv, fd0, fd1);
}

pid_t queueprog_spawn(const char *path, char *const *argv, int fd0, int fd1)
{
	posix_spawn_file_actions_t fa;
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

/* Waits for pid until deadline (ms, 0: none), killing it past that; its
 * exit code, or -1 (errno ETIMEDOUT when it was killed for time). */
static int wait_by(pid_t pid, long long deadline)
{
	if (!deadline)
		return queueprog_wait(pid);
	for (;;) {
		int status;
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w < 0 && errno != EINTR)
			return -1;
		if (w == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (monotonic_ms() >= deadline) {
			kill(pid, SIGKILL);
			queueprog_wait(pid);
			errno = ETIMEDOUT;
			return -1;
		}
		struct timespec nap = { 0, 10 * 1000000 };
		nanosleep(&nap, NULL);
	}
}

int queueprog_run(const char *path, const char *argv0, const void *msg,
                  size_t msglen, const void *env, size_t envlen)
{
	return queueprog_run_within(path, argv0, msg, msglen, env, envlen, 0);
}

int queueprog_run_within(const char *path, const char *argv0,
                         const void *msg, size_t msglen, const void *env,
                         size_t envlen, unsigned long secs)
{
	int m[2], e[2];
	long long deadline = secs ? monotonic_ms() + (long long)secs * 1000 : 0;
	int flags = O_CLOEXEC | (secs ? O_NONBLOCK : 0);
	if (pipe2(m, flags) < 0)
		return -1;
	if (pipe2(e, flags) < 0) {
		close(m[0]);
		close(m[1]);
		return -1;
	}
	/* the child's ends block, as a qmail-queue program expects */
	if (secs && (fcntl(m[0], F_SETFL, 0) < 0 || fcntl(e[0], F_SETFL, 0) < 0)) {
		close(m[0]);
		close(m[1]);
		close(e[0]);
		close(e[1]);
		return -1;
	}
	pid_t pid = queueprog_start(path, argv0, m[0], e[0]);
	int saved = errno;
	close(m[0]);
	close(e[0]);
	int ok = pid > 0 && write_all_by(m[1], msg, msglen, deadline) == 0;
	int timedout = !ok && errno == ETIMEDOUT;
	close(m[1]);
	ok = ok && write_all_by(e[1], env, envlen, deadline) == 0;
	timedout = timedout || (!ok && errno == ETIMEDOUT);
	close(e[1]);
	if (pid < 0) {
		errno = saved;
		return -1;
	}
	if (timedout) {
		kill(pid, SIGKILL);
		queueprog_wait(pid);
		errno = ETIMEDOUT;
		return -1;
	}
	int code = wait_by(pid, deadline);
	if (code < 0 && errno == ETIMEDOUT)
		return -1;
	errno = 0; /* a signal, or input not taken: no errno to tell */
	return code == 0 && !ok ? -1 : code; /* 0 without all its input: odd */
}
