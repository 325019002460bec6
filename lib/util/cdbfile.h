/*
 * cdbfile - constant databases (users/cdb, tcprules) through tinycdb.
 *
 * Lookups copy the value into a bounded sbuf, so a corrupt or hostile cdb
 * cannot make the reader allocate without limit (tinycdb itself checks that
 * every offset stays inside the file). Writing builds the new cdb in a
 * temporary file and installs it with the atomicfile ordering, so readers
 * see the old database or the new one, never a half-written one.
 */
#ifndef SQ_CDBFILE_H
#define SQ_CDBFILE_H

#include <cdb.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/atomicfile.h"
#include "util/sbuf.h"

/* Looks key up in the cdb at path: 1 found (value in val), 0 not found or
 * no such file, -1 error (unreadable, corrupt: errno EPROTO, value longer
 * than val->max: EMSGSIZE). */
int cdbfile_lookup(const char *path, const void *key, size_t klen,
                   struct sbuf *val);

/* Same, on an already open cdb (for repeated lookups). */
int cdbfile_find(struct cdb *db, const void *key, size_t klen,
                 struct sbuf *val);

struct cdbfile_writer {
	struct atomicfile af;
	struct cdb_make cm;
	int making;             /* cm holds tinycdb's record lists */
};

/* Starts a new cdb that will replace dirfd/name. 0 or -1. */
int cdbfile_begin(struct cdbfile_writer *w, int dirfd, const char *name,
                  mode_t mode);
/* Adds a record (duplicates are kept, as in cdbmake). 0 or -1. */
int cdbfile_add(struct cdbfile_writer *w, const void *key, size_t klen,
                const void *val, size_t vlen);
/* Finishes the index and installs the file (fsync, rename, fsync dir). */
int cdbfile_commit(struct cdbfile_writer *w);
void cdbfile_abort(struct cdbfile_writer *w);

#endif
