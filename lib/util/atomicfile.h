/*
 * atomicfile - crash-safe file replacement and creation.
 *
 * The order is the proof: the new contents go to a temporary file in the
 * same directory, which is fsynced and closed; only then is it renamed over
 * (or linked to) the final name, and the directory itself is fsynced so the
 * new name survives a power loss. A crash at any point leaves the old file
 * or the new one, never a torn mixture; a leftover ".tmp." file is harmless
 * and may be removed by a cleaner.
 */
#ifndef SQ_ATOMICFILE_H
#define SQ_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

struct atomicfile {
	int dirfd;              /* directory of the final name (not owned) */
	int fd;                 /* the temporary file, open for writing */
	char name[256];         /* final name, relative to dirfd */
	char tmpname[300];      /* temporary name, relative to dirfd */
};

enum atomic_mode {
	ATOMIC_REPLACE,         /* rename(2): the final name may exist */
	ATOMIC_CREATE           /* link(2): fail with EEXIST if it exists */
};

/* Creates the temporary file, mode as given (umask applies). 0 or -1. */
int atomic_begin(struct atomicfile *af, int dirfd, const char *name,
                 mode_t mode);
/* Writes all of data to the temporary file; 0 or -1. */
int atomic_write(struct atomicfile *af, const void *data, size_t n);
/* fsync, close, rename or link, fsync the directory; 0 or -1 (and the
 * temporary file is removed). */
int atomic_commit(struct atomicfile *af, enum atomic_mode mode);
/* Removes the temporary file. Safe after a failed commit. */
void atomic_abort(struct atomicfile *af);

/* One call: the whole contents at once. */
int atomic_write_file(int dirfd, const char *name, const void *data,
                      size_t n, mode_t mode, enum atomic_mode how);

/* Writes all n bytes to fd, retrying short writes and EINTR; 0 or -1. */
int write_all(int fd, const void *data, size_t n);
/* CLOCK_MONOTONIC in milliseconds: the clock of the deadlines below. */
long long monotonic_ms(void);
/* write_all to a non-blocking fd, before deadline (monotonic_ms; 0: none,
 * and fd may block); 0, or -1 (ETIMEDOUT past the deadline). */
int write_all_by(int fd, const void *data, size_t n, long long deadline);
/* fsync(2) of a directory given by fd; 0 or -1. */
int fsync_dir(int dirfd);

#endif
