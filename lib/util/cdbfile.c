/*
 * cdbfile - constant databases through tinycdb. See cdbfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "util/cdbfile.h"

int cdbfile_find(struct cdb *db, const void *key, size_t klen,
                 struct sbuf *val)
{
	if (klen > UINT_MAX) {
		errno = EINVAL;
		return -1;
	}
	int r = cdb_find(db, key, (unsigned)klen);
	if (r <= 0)
		return r;
	const void *data = cdb_getdata(db);
	if (!data) {
		errno = EPROTO;
		return -1;
	}
	return sbuf_copy(val, data, cdb_datalen(db)) < 0 ? -1 : 1;
}

int cdbfile_lookup(const char *path, const void *key, size_t klen,
                   struct sbuf *val)
{
	struct cdb db;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (cdb_init(&db, fd) < 0) {
		int saved = errno;
		close(fd);
		errno = saved ? saved : EPROTO;
		return -1;
	}
	int r = cdbfile_find(&db, key, klen, val);
	int saved = errno;
	cdb_free(&db);
	close(fd);
	errno = saved;
	return r;
}

int cdbfile_begin(struct cdbfile_writer *w, int dirfd, const char *name,
                  mode_t mode)
{
	if (atomic_begin(&w->af, dirfd, name, mode) < 0)
		return -1;
	if (cdb_make_start(&w->cm, w->af.fd) < 0) {
		atomic_abort(&w->af);
		return -1;
	}
	w->making = 1;
	return 0;
}

int cdbfile_add(struct cdbfile_writer *w, const void *key, size_t klen,
                const void *val, size_t vlen)
{
	if (klen > UINT_MAX || vlen > UINT_MAX) {
		errno = EINVAL;
		return -1;
	}
	return cdb_make_add(&w->cm, key, (unsigned)klen, val, (unsigned)vlen);
}

int cdbfile_commit(struct cdbfile_writer *w)
{
	w->making = 0; /* cdb_make_finish frees the lists in every case */
	if (cdb_make_finish(&w->cm) < 0) {
		atomic_abort(&w->af);
		return -1;
	}
	return atomic_commit(&w->af, ATOMIC_REPLACE);
}

void cdbfile_abort(struct cdbfile_writer *w)
{
	/* tinycdb has no other way to free its record lists; what it writes
	 * goes to the temporary file, which is removed next. */
	if (w->making)
		cdb_make_finish(&w->cm);
	w->making = 0;
	atomic_abort(&w->af);
}
