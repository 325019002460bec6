/*
 * qmsg - the scheduler's files for one queued message. See qmsg.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "deliver/qmsg.h"

/* A scheduler file is never larger than the envelope it came from. */
#define QMSG_FILE_MAX (QUEUE_ENVELOPE_MAX + 64)

static int path_of(char *out, size_t n, enum queue_dir d,
                   unsigned long long num)
{
	if (queue_path(out, n, d, num) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Writes the whole file d/num, not yet synced: its descriptor, or -1. */
static int write_unsynced(struct queue *q, enum queue_dir d,
                          unsigned long long num, const char *data,
                          size_t len)
{
	char path[64];
	if (path_of(path, sizeof path, d, num) < 0)
		return -1;
	int fd = openat(q->top, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	                                      O_CLOEXEC, 0600);
	if (fd >= 0 && write_all(fd, data, len) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int remove_one(struct queue *q, enum queue_dir d,
                      unsigned long long num, int sync);

/* Writes the files of a new message (an empty recipient list gets no
 * file), then syncs them and their directories. All are written before
 * the first sync, so the filesystem commits them together: the later
 * syncs find little left to do. On failure (a full disk) the files go
 * again: todo/N still holds the message, and a light job that then ends
 * removes only todo/N and mess/N, so a file half written here would stay
 * for good, read at every start as a message that is not there. */
static int write_new(struct queue *q, struct qmsg *m)
{
	struct { enum queue_dir d; const struct sbuf *b; int fd; } f[3] = {
		{ QUEUE_LOCAL, &m->local.raw, -1 },
		{ QUEUE_REMOTE, &m->remote.raw, -1 },
		{ QUEUE_INFO, &m->info, -1 },
	};
	int r = 0;
	for (int i = 0; r == 0 && i < 3; i++)
		if (f[i].b->len && (f[i].fd = write_unsynced(q, f[i].d, m->num,
		                    f[i].b->s, f[i].b->len)) < 0)
			r = -1;
	for (int i = 0; r == 0 && i < 3; i++)
		if (f[i].fd >= 0 && fsync(f[i].fd) < 0)
			r = -1;
	for (int i = 0; r == 0 && i < 3; i++)
		if (f[i].fd >= 0 && queue_sync_dir(q, f[i].d, m->num) < 0)
			r = -1;
	int saved = errno;
	for (int i = 0; i < 3; i++)
		if (f[i].fd >= 0 && close(f[i].fd) < 0 && r == 0) {
			r = -1;
			saved = errno;
		}
	for (int i = 0; r < 0 && i < 3; i++)
		if (f[i].b->len)
			remove_one(q, f[i].d, m->num, 0);
	errno = saved;
	return r;
}

static int read_all(struct queue *q, enum queue_dir d, unsigned long long num,
                    struct sbuf *out)
{
	char path[64];
	if (path_of(path, sizeof path, d, num) < 0)
		return -1;
	int fd = openat(q->top, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = sbuf_read_fd(out, fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* Indexes "T"/"D" addr NUL records; EINVAL if that is not what raw is. */
static int index_list(struct qlist *l)
{
	size_t cap = 0, pos = 0;
	l->n = l->todo = 0;
	while (pos < l->raw.len) {
		char tag = l->raw.s[pos];
		const char *nul = memchr(l->raw.s + pos, '\0', l->raw.len - pos);
		if ((tag != 'T' && tag != 'D') || !nul ||
		    nul == l->raw.s + pos + 1) {
			errno = EINVAL;
			return -1;
		}
		if (l->n == cap) {
			cap = cap ? 2 * cap : 8;
			struct qrcpt *grown = realloc(l->r, cap * sizeof *grown);
			if (!grown)
				return -1;
			l->r = grown;
		}
		l->r[l->n] = (struct qrcpt){ l->raw.s + pos + 1, (off_t)pos,
		                             tag == 'D' };
		l->todo += tag == 'T';
		l->n++;
		pos = (size_t)(nul - l->raw.s) + 1;
	}
	return 0;
}

static void list_init(struct qlist *l)
{
	sbuf_init(&l->raw, QMSG_FILE_MAX);
	l->r = NULL;
	l->n = l->todo = 0;
}

static void list_free(struct qlist *l)
{
	sbuf_free(&l->raw);
	free(l->r);
	l->r = NULL;
	l->n = l->todo = 0;
}

static void msg_init(struct qmsg *m, unsigned long long num)
{
	m->num = num;
	m->birth = 0;
	m->sender = NULL;
	sbuf_init(&m->info, QUEUE_ADDR_MAX + 64);
	list_init(&m->local);
	list_init(&m->remote);
}

/* Reads "b" birth NUL "F" sender NUL. */
static int parse_info(struct qmsg *m)
{
	const char *s = m->info.s, *end = s + m->info.len;
	const char *nul = s ? memchr(s, '\0', m->info.len) : NULL;
	long long birth = 0;
	if (!nul || s[0] != 'b' || nul == s + 1 || end - nul < 3 ||
	    nul[1] != 'F' || memchr(nul + 2, '\0', (size_t)(end - nul - 2))
	                     != end - 1)
		goto bad;
	for (const char *p = s + 1; p < nul; p++) {
		if (*p < '0' || *p > '9' || birth > (1LL << 40))
			goto bad;
		birth = birth * 10 + (*p - '0');
	}
	m->birth = (time_t)birth;
	m->sender = nul + 2;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int qmsg_from_envelope(unsigned long long num, const struct queue_envelope *e,
                       qmsg_is_local is_local, void *arg, time_t birth,
                       struct qmsg *m)
{
	msg_init(m, num);
	m->birth = birth;
	int r = sbuf_printf(&m->info, "b%lld", (long long)birth) < 0 ||
	        sbuf_putc(&m->info, '\0') < 0 || sbuf_putc(&m->info, 'F') < 0 ||
	        sbuf_put(&m->info, e->sender, strlen(e->sender) + 1) < 0 ? -1 : 0;
	for (size_t i = 0; r == 0 && i < e->nrcpt; i++) {
		struct qlist *l = is_local(e->rcpt[i], arg) ? &m->local : &m->remote;
		r = sbuf_putc(&l->raw, 'T') < 0 ||
		    sbuf_put(&l->raw, e->rcpt[i], strlen(e->rcpt[i]) + 1) < 0 ? -1 : 0;
	}
	if (r == 0)
		r = parse_info(m) < 0 || index_list(&m->local) < 0 ||
		    index_list(&m->remote) < 0 ? -1 : 0;
	if (r < 0) {
		int saved = errno;
		qmsg_free(m);
		errno = saved;
	}
	return r;
}

/* A list as it is now: recipients done in memory are written done. */
static void mark_done(struct qlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->r[i].done)
			l->raw.s[l->r[i].off] = 'D';
}

int qmsg_write(struct queue *q, struct qmsg *m)
{
	mark_done(&m->local);
	mark_done(&m->remote);
	return write_new(q, m);
}

int qmsg_from_todo(struct queue *q, unsigned long long num,
                   const struct queue_envelope *e, qmsg_is_local is_local,
                   void *arg, time_t birth, struct qmsg *m)
{
	if (qmsg_from_envelope(num, e, is_local, arg, birth, m) < 0)
		return -1;
	if (write_new(q, m) < 0) {
		int saved = errno;
		qmsg_free(m);
		errno = saved;
		return -1;
	}
	return 0;
}

/* A recipient list: no file is an empty list (none were written, or the
 * message's end was under way). */
static int read_list(struct queue *q, enum queue_dir d, unsigned long long num,
                     struct qlist *l)
{
	return read_all(q, d, num, &l->raw) < 0 && errno != ENOENT ? -1 : 0;
}

int qmsg_has_files(struct queue *q, unsigned long long num)
{
	char path[64];
	struct stat st;
	if (path_of(path, sizeof path, QUEUE_INFO, num) < 0)
		return -1;
	if (fstatat(q->top, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

int qmsg_load(struct queue *q, unsigned long long num, struct qmsg *m)
{
	msg_init(m, num);
	int r = read_all(q, QUEUE_INFO, num, &m->info) < 0 || parse_info(m) < 0 ||
	        read_list(q, QUEUE_LOCAL, num, &m->local) < 0 ||
	        read_list(q, QUEUE_REMOTE, num, &m->remote) < 0 ||
	        index_list(&m->local) < 0 || index_list(&m->remote) < 0 ? -1 : 0;
	if (r < 0) {
		int saved = errno;
		qmsg_free(m);
		errno = saved;
	}
	return r;
}

void qmsg_free(struct qmsg *m)
{
	sbuf_free(&m->info);
	list_free(&m->local);
	list_free(&m->remote);
	m->sender = NULL;
}

int qmsg_done(struct queue *q, struct qmsg *m, struct qlist *l, size_t i)
{
	char path[64];
	if (i >= l->n || l->r[i].done)
		return 0;
	if (path_of(path, sizeof path, l == &m->local ? QUEUE_LOCAL
	                                                : QUEUE_REMOTE, m->num) < 0)
		return -1;
	int fd = openat(q->top, path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = pwrite(fd, "D", 1, l->r[i].off) == 1 && fdatasync(fd) == 0 ? 0 : -1;
	int saved = errno;
	close(fd);
	errno = saved;
	if (r == 0) {
		l->r[i].done = 1;
		l->todo--;
	}
	return r;
}

int qmsg_set_next(struct queue *q, unsigned long long num, time_t when)
{
	char path[64];
	struct timespec t[2] = { { when, 0 }, { when, 0 } };
	if (path_of(path, sizeof path, QUEUE_INFO, num) < 0)
		return -1;
	return utimensat(q->top, path, t, AT_SYMLINK_NOFOLLOW);
}

time_t qmsg_next(struct queue *q, unsigned long long num)
{
	char path[64];
	struct stat st;
	if (path_of(path, sizeof path, QUEUE_INFO, num) < 0 ||
	    fstatat(q->top, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return st.st_mtime;
}

int qmsg_bounce_add(struct queue *q, unsigned long long num,
                    const char *rcpt, const char *reason)
{
	char path[64];
	if (path_of(path, sizeof path, QUEUE_BOUNCE, num) < 0)
		return -1;
	int fd = openat(q->top, path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
	                                      O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct sbuf rec;
	sbuf_init(&rec, 2 * QUEUE_ADDR_MAX + 4096);
	int r = sbuf_putc(&rec, 'R') < 0 ||
	        sbuf_put(&rec, rcpt, strlen(rcpt) + 1) < 0 ||
	        sbuf_put(&rec, reason, strlen(reason) + 1) < 0 ||
	        write_all(fd, rec.s, rec.len) < 0 || fsync(fd) < 0 ? -1 : 0;
	int saved = errno;
	sbuf_free(&rec);
	close(fd);
	errno = saved;
	return r < 0 ? -1 : queue_sync_dir(q, QUEUE_BOUNCE, num);
}

int qmsg_bounce_read(struct queue *q, unsigned long long num,
                     struct sbuf *out)
{
	if (read_all(q, QUEUE_BOUNCE, num, out) < 0)
		return errno == ENOENT ? 0 : -1;
	return out->len > 0;
}

/* Unlinks d/num; synced only if sync is set. An unsynced removal a
 * crash undoes brings back a finished step (see qmsg.h), never loses one. */
static int remove_one(struct queue *q, enum queue_dir d,
                      unsigned long long num, int sync)
{
	char path[64];
	if (path_of(path, sizeof path, d, num) < 0)
		return -1;
	if (unlinkat(q->top, path, 0) < 0)
		return errno == ENOENT ? 0 : -1;
	return sync ? queue_sync_dir(q, d, num) : 0;
}

int qmsg_bounce_remove(struct queue *q, unsigned long long num)
{
	return remove_one(q, QUEUE_BOUNCE, num, 1);
}

int qmsg_remove(struct queue *q, unsigned long long num)
{
	return remove_one(q, QUEUE_LOCAL, num, 0) < 0 ||
	       remove_one(q, QUEUE_REMOTE, num, 0) < 0 ||
	       remove_one(q, QUEUE_BOUNCE, num, 0) < 0 ||
	       remove_one(q, QUEUE_INFO, num, 0) < 0 ? -1 : 0;
}

int qmsg_each(struct queue *q, int (*fn)(unsigned long long num, void *arg),
              void *arg)
{
	return queue_each(q, QUEUE_INFO, fn, arg);
}
