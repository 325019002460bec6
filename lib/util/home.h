/*
 * home - where the instance lives: conf-home compiled in, or $SQ_HOME (an
 * absolute path) for a test or development instance. Who may follow it:
 *   - a set-id program (AT_SECURE), or one whose real and effective uid
 *     or gid differ, ignores it: no caller can point it at a directory
 *     of their own;
 *   - root follows it only to a directory that only root can change
 *     (owned by root, like every directory above it, none writable by
 *     group or others but a sticky one such as /tmp, on the way); any
 *     other is refused: a log line and exit 111 (die_sys_temp), rather
 *     than acting on the production instance the caller did not mean;
 *   - anyone else follows it.
 * The test instances (tools/setup-instance, the unit suites' mkdtemp
 * directories) are made by whoever runs them, root included, in /tmp.
 */
#ifndef SQ_HOME_H
#define SQ_HOME_H

#include <stddef.h>

/* The instance root directory. */
const char *sq_home(void);

/* 1 if $SQ_HOME names the instance (the rules above), 0 if not; dies if
 * root is given one it may not follow. */
int sq_home_is_test(void);

/* Writes home + "/" + rel into out (n bytes); 0, or -1 (ENAMETOOLONG) if
 * it does not fit (path_join, util/path.h). */
int sq_path(char *out, size_t n, const char *rel);

/* Writes the path of the program prog that sits beside this one (the
 * directory of /proc/self/exe): the delivery programs start each other
 * from wherever they were installed or built. 0, or -1. */
int sq_sibling(char *out, size_t n, const char *prog);

#endif
