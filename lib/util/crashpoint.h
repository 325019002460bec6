/*
 * crashpoint - test builds (-DSQ_CRASH_POINTS) kill themselves at the
 * point $SQ_CRASH_AT names, so that a test can prove a kill -9 at any step
 * leaves nothing half done; in other builds crash_point() is nothing.
 * With $SQ_CRASH_ONCE naming a file, only the first process to create
 * that file dies: a daemon restarted after the crash then gets past the
 * point, as the retry it makes is what the test is about.
 */
#ifndef SQ_CRASHPOINT_H
#define SQ_CRASHPOINT_H

#ifdef SQ_CRASH_POINTS
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void crash_point(const char *name)
{
	const char *at = getenv("SQ_CRASH_AT");
	const char *once = getenv("SQ_CRASH_ONCE");
	if (!at || strcmp(at, name) != 0)
		return;
	if (once && close(open(once, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	                       0600)) < 0)
		return; /* created before: crashed once already */
	raise(SIGKILL);
}
#else
#define crash_point(name) ((void)0)
#endif

#endif
