/*
 * secretfd - hand a secret (an unlocked PDK, a password) to the next
 * program on an inherited file descriptor: never argv, the environment or a
 * file on disk.
 *
 * Two carriers: a pipe whose kernel buffer holds the secret (up to
 * SECRET_PIPE_MAX bytes, never swapped), or a sealed memfd (any size; the
 * receiver cannot change it). The receiver reads it once with secret_take.
 * Programs that hold secrets call secret_nodump first: no core file, no
 * ptrace by other processes of the same uid.
 */
#ifndef SQ_SECRETFD_H
#define SQ_SECRETFD_H

#include <stddef.h>

#include "util/sbuf.h"

#define SECRET_PIPE_MAX 4096    /* PIPE_BUF: one atomic write */

/* Returns the read end of a pipe that holds data (write end closed),
 * close-on-exec set, or -1 (EMSGSIZE if n > SECRET_PIPE_MAX). */
int secret_pipe(const void *data, size_t n);

/* Returns a memfd holding data, sealed against writes, growth and
 * shrinking, positioned at 0, close-on-exec set; or -1. */
int secret_memfd(const void *data, size_t n);

/* Moves fd to number target for a following exec: target is inherited
 * (close-on-exec cleared), fd is closed if different. 0 or -1. */
int secret_pass(int fd, int target);

/* Reads the secret from fd to EOF into out (a secret sbuf whose max bounds
 * the read) and closes fd. 0 or -1. */
int secret_take(int fd, struct sbuf *out);

/* Disables core dumps and same-uid ptrace for this process. 0 or -1. */
int secret_nodump(void);

/* secret_nodump, or a log line and exit 111 (die_sys_temp) if it fails:
 * a program about to hold a secret or plaintext does not run dumpable.
 * The first call of such a program. */
void secret_nodump_or_die(void);

#endif
