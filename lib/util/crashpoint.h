/*
 * crashpoint - test builds (-DSQ_CRASH_POINTS) kill themselves at the
 * point $SQ_CRASH_AT names, so that a test can prove a kill -9 at any step
 * leaves nothing half done; in other builds crash_point() is nothing.
 */
#ifndef SQ_CRASHPOINT_H
#define SQ_CRASHPOINT_H

#ifdef SQ_CRASH_POINTS
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static inline void crash_point(const char *name)
{
	const char *at = getenv("SQ_CRASH_AT");
	if (at && strcmp(at, name) == 0)
		raise(SIGKILL);
}
#else
#define crash_point(name) ((void)0)
#endif

#endif
