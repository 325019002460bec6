/*
 * queueprog - run a qmail-queue style program: given descriptors on its fd 0
 * and fd 1, the caller's environment, and its exit code back.
 *
 * posix_spawn, not fork: glibc starts the child with vfork semantics, so
 * a large parent (sq-sealerd, with OpenSSL and libcurl loaded) does not
 * copy its page tables for every message it queues.
 */
#ifndef SQ_QUEUEPROG_H
#define SQ_QUEUEPROG_H

#include <sys/types.h>

/* Starts path, named argv0, with fd0 as its fd 0 and fd1 as its fd 1;
 * the pid, or -1 with errno set (also when path cannot be executed; where
 * posix_spawn cannot tell, the child exits 127 instead). */
pid_t queueprog_start(const char *path, const char *argv0, int fd0, int fd1);

/* queueprog_start with a whole argument vector. */
pid_t queueprog_spawn(const char *path, char *const *argv, int fd0, int fd1);

/* Waits for pid; its exit code, or -1 if a signal ended it. */
int queueprog_wait(pid_t pid);

/* Runs path as qmail-queue is run: msg on a pipe at its fd 0, then env on
 * a pipe at its fd 1 (the order it reads them in). Its exit code; -1 if
 * it cannot be started, was killed, or exited 0 without taking all its
 * input (errno then says why when there is a reason). */
int queueprog_run(const char *path, const char *argv0, const void *msg,
                  size_t msglen, const void *env, size_t envlen);

/* queueprog_run, all within secs seconds (0: no bound): past them the
 * program is killed and the result is -1 with errno ETIMEDOUT. */
int queueprog_run_within(const char *path, const char *argv0,
                         const void *msg, size_t msglen, const void *env,
                         size_t envlen, unsigned long secs);

#endif
