/*
 * home - where the instance lives: conf-home compiled in, or $SQ_HOME for
 * a test or development instance. A set-id program ignores $SQ_HOME, so
 * no caller can point it at a directory of their own.
 */
#ifndef SQ_HOME_H
#define SQ_HOME_H

#include <stddef.h>

/* The instance root directory. */
const char *sq_home(void);

/* Writes home + "/" + rel into out (n bytes); 0, or -1 (ENAMETOOLONG) if
 * it does not fit (path_join, util/path.h). */
int sq_path(char *out, size_t n, const char *rel);

/* Writes the path of the program prog that sits beside this one (the
 * directory of /proc/self/exe): the delivery programs start each other
 * from wherever they were installed or built. 0, or -1. */
int sq_sibling(char *out, size_t n, const char *prog);

#endif
