/*
 * queue - the layout of the mail queue. See queue.h and sq-queue(8).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "util/path.h"
#include "queue/queue.h"

/* Owner role and mode of each directory, as qmail sets them: the queue
 * user writes pid, mess, intd and todo; the scheduler owns its own
 * directories alone. The shared group may read mess and todo (the
 * scheduler and the delivery programs) but nothing else. */
static const struct {
	const char *name;
	int split;
	int sched;              /* owned by the scheduler, not the queue user */
	mode_t mode;
} layout[QUEUE_NDIRS] = {
	[QUEUE_PID] = { "pid", 0, 0, 0700 },
	[QUEUE_MESS] = { "mess", 1, 0, 0750 },
	[QUEUE_INTD] = { "intd", 0, 0, 0700 },
	[QUEUE_TODO] = { "todo", 0, 0, 0750 },
	[QUEUE_INFO] = { "info", 1, 1, 0700 },
	[QUEUE_LOCAL] = { "local", 1, 1, 0700 },
	[QUEUE_REMOTE] = { "remote", 1, 1, 0700 },
	[QUEUE_BOUNCE] = { "bounce", 0, 1, 0700 },
	[QUEUE_LOCK] = { "lock", 0, 0, 0750 },
};

#define TOP_MODE 0750
/* Anyone in the group may pull the trigger; only the scheduler reads it. */
#define TRIGGER_MODE 0622

const char *queue_dirname(enum queue_dir d)
{
	return (unsigned)d < QUEUE_NDIRS ? layout[d].name : "?";
}

int queue_is_split(enum queue_dir d)
{
	return (unsigned)d < QUEUE_NDIRS && layout[d].split;
}

/* ---- opening ----------------------------------------------------------- */

static void close_keep_errno(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
}

static int open_dir(int at, const char *name)
{
	return openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int queue_open(struct queue *q, const char *home, unsigned want)
{
	q->top = -1;
	q->failed = QUEUE_FAILED_HOME;
	for (int d = 0; d < QUEUE_NDIRS; d++)
		q->dir[d] = -1;
	int h = open_dir(AT_FDCWD, home);
	if (h < 0)
		return -1;
	q->top = open_dir(h, "queue");
	close_keep_errno(h);
	if (q->top < 0) {
		q->failed = QUEUE_FAILED_TOP;
		return -1;
	}
	for (int d = 0; d < QUEUE_NDIRS; d++) {
		if (!(want & QUEUE_BIT(d)))
			continue;
		if ((q->dir[d] = open_dir(q->top, layout[d].name)) < 0) {
			int saved = errno;
			q->failed = d;
			queue_close(q);
			errno = saved;
			return -1;
		}
	}
	return 0;
}

void queue_close(struct queue *q)
{
	for (int d = 0; d < QUEUE_NDIRS; d++) {
		if (q->dir[d] >= 0)
			close(q->dir[d]);
		q->dir[d] = -1;
	}
	if (q->top >= 0)
		close(q->top);
	q->top = -1;
}

/* ---- names ------------------------------------------------------------- */

int queue_path(char *out, size_t n, enum queue_dir d, unsigned long long num)
{
	if (queue_is_split(d))
		return path_fmt(out, n, "%s/%llu/%llu", layout[d].name,
		                num % QUEUE_SPLIT, num);
	return path_fmt(out, n, "%s/%llu", queue_dirname(d), num);
}

int queue_dirpath(char *out, size_t n, enum queue_dir d,
                  unsigned long long num)
{
	if (queue_is_split(d))
		return path_fmt(out, n, "%s/%llu", layout[d].name,
		                num % QUEUE_SPLIT);
	return path_join(out, n, queue_dirname(d), NULL);
}

/* A canonical decimal number (no sign, no leading zero) that fits. */
static int parse_num(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;
	if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned digit = (unsigned)(s[i] - '0');
		if (digit > 9 || v > (~0ULL - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

/* Calls fn for each canonical message number in the directory at fd. */
static int each_in(int at, const char *name,
                   int (*fn)(unsigned long long num, void *arg), void *arg)
{
	/* A descriptor of its own: closedir() closes it, and the listing
	 * starts from the top whatever an earlier one left. */
	int fd = open_dir(at, name);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int r = 0;
	struct dirent *de;
	errno = 0;
	while (r == 0 && (de = readdir(dir)) != NULL) {
		unsigned long long num;
		if (parse_num(de->d_name, strlen(de->d_name), &num) == 0)
			r = fn(num, arg);
		errno = 0;
	}
	if (r == 0 && errno != 0)
		r = -1;
	int saved = errno;
	closedir(dir);
	errno = saved;
	return r;
}

int queue_each(const struct queue *q, enum queue_dir d,
               int (*fn)(unsigned long long num, void *arg), void *arg)
{
	if (!layout[d].split)
		return each_in(q->dir[d], ".", fn, arg);
	int r = 0;
	for (unsigned i = 0; r == 0 && i < QUEUE_SPLIT; i++) {
		char sub[16];
		snprintf(sub, sizeof sub, "%u", i);
		r = each_in(q->dir[d], sub, fn, arg);
	}
	return r;
}

int queue_todo_each(const struct queue *q,
                    int (*fn)(unsigned long long num, void *arg), void *arg)
{
	return queue_each(q, QUEUE_TODO, fn, arg);
}

/* ---- envelopes --------------------------------------------------------- */

enum queue_env queue_env_scan(struct queue_env_scan *st, const char *s,
                              size_t len)
{
	while (st->pos < len) {
		char c = s[st->pos];
		if (st->pos == 0 ? c != 'F' : (c != 'T' && c != '\0'))
			return QUEUE_ENV_FORMAT;
		if (c == '\0') {
			if (st->nrcpt == 0)
				return QUEUE_ENV_FORMAT;
			st->pos++;
			return QUEUE_ENV_DONE;
		}
		/* Look no further than the longest address: a writer cannot
		 * make us hold more than that before we say no. */
		size_t avail = len - st->pos - 1;
		size_t look = avail < QUEUE_ADDR_MAX + 1 ? avail : QUEUE_ADDR_MAX + 1;
		const char *nul = memchr(s + st->pos + 1, '\0', look);
		if (!nul)
			return avail > QUEUE_ADDR_MAX ? QUEUE_ENV_TOOLONG
			                              : QUEUE_ENV_MORE;
		size_t alen = (size_t)(nul - (s + st->pos + 1));
		/* The null sender is how bounces are sent; a null recipient
		 * can be delivered to no one. */
		if (c == 'T' && alen == 0)
			return QUEUE_ENV_FORMAT;
		st->nrcpt += c == 'T';
		st->pos += alen + 2;
	}
	return QUEUE_ENV_MORE;
}

/* Reads "<tag><decimal>\0" at *pos. */
static int parse_field_num(const char *s, size_t len, size_t *pos, char tag,
                           unsigned long long *out)
{
	if (*pos >= len || s[*pos] != tag)
		return -1;
	const char *start = s + *pos + 1;
	const char *nul = memchr(start, '\0', len - *pos - 1);
	if (!nul || parse_num(start, (size_t)(nul - start), out) < 0)
		return -1;
	*pos = (size_t)(nul - s) + 1;
	return 0;
}

/* Points e->sender and e->rcpt into the envelope at raw + off. */
static int index_envelope(struct queue_envelope *e, size_t off, size_t nrcpt)
{
	const char *p = e->raw.s + off;
	e->rcpt = calloc(nrcpt, sizeof *e->rcpt);
	if (!e->rcpt)
		return -1;
	e->sender = p + 1;
	p += strlen(p) + 1;
	for (e->nrcpt = 0; e->nrcpt < nrcpt; e->nrcpt++) {
		e->rcpt[e->nrcpt] = p + 1;
		p += strlen(p) + 1;
	}
	return 0;
}

static int parse_raw(struct queue_envelope *e)
{
	const char *s = e->raw.s;
	size_t len = e->raw.len, pos = 0;
	struct queue_env_scan st = { 0, 0 };
	if (!s || parse_field_num(s, len, &pos, 'u', &e->uid) < 0 ||
	    parse_field_num(s, len, &pos, 'p', &e->pid) < 0 ||
	    queue_env_scan(&st, s + pos, len - pos) != QUEUE_ENV_DONE ||
	    pos + st.pos != len) {
		errno = EINVAL;
		return -1;
	}
	return index_envelope(e, pos, st.nrcpt);
}

static void envelope_init(struct queue_envelope *e)
{
	sbuf_init(&e->raw, QUEUE_ENVELOPE_MAX + 64);
	e->uid = e->pid = 0;
	e->sender = NULL;
	e->rcpt = NULL;
	e->nrcpt = 0;
}

int queue_envelope_read(struct queue_envelope *e, int fd)
{
	envelope_init(e);
	if (sbuf_read_fd(&e->raw, fd) < 0)
		return -1;
	return parse_raw(e);
}

int queue_envelope_parse(struct queue_envelope *e, const char *s, size_t len)
{
	envelope_init(e);
	if (sbuf_put(&e->raw, s, len) < 0)
		return -1;
	return parse_raw(e);
}

void queue_envelope_free(struct queue_envelope *e)
{
	free(e->rcpt);
	e->rcpt = NULL;
	e->nrcpt = 0;
	e->sender = NULL;
	sbuf_free(&e->raw);
}

/* ---- set-up ------------------------------------------------------------ */

/* Makes (if missing) and opens at/name, then gives it owner and mode; the
 * parent is fsynced after a creation so the name survives a crash. */
static int make_dir(int at, const char *name, uid_t uid, gid_t gid,
                    mode_t mode)
{
	int made = mkdirat(at, name, mode) == 0;
	if (!made && errno != EEXIST)
		return -1;
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0) ||
	    fchmod(fd, mode) < 0 || (made && fsync_dir(at) < 0)) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

static int make_split(int parent, uid_t uid, gid_t gid, mode_t mode,
                      char *rel, size_t reln, const char *name)
{
	for (unsigned i = 0; i < QUEUE_SPLIT; i++) {
		char sub[16];
		snprintf(sub, sizeof sub, "%u", i);
		snprintf(rel, reln, "%s/%u", name, i);
		int fd = make_dir(parent, sub, uid, gid, mode);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

/* lock/trigger: a FIFO, opened (without blocking) only to set its owner
 * and mode through the descriptor, so that no symlink is followed. */
static int make_trigger(int lock, uid_t uid, gid_t gid)
{
	if (mkfifoat(lock, "trigger", TRIGGER_MODE) < 0 && errno != EEXIST)
		return -1;
	int fd = openat(lock, "trigger",
	                O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -1;
	int r = fstat(fd, &st);
	if (r == 0 && !S_ISFIFO(st.st_mode)) {
		errno = EEXIST;
		r = -1;
	}
	if (r == 0 && (uid != (uid_t)-1 || gid != (gid_t)-1))
		r = fchown(fd, uid, gid);
	if (r == 0)
		r = fchmod(fd, TRIGGER_MODE);
	if (r == 0)
		r = fsync_dir(lock);
	close_keep_errno(fd);
	return r;
}

/* One directory of the layout, its subdirectories and the trigger. */
static int init_dir(int top, enum queue_dir d, const struct queue_owners *o,
                    char *rel, size_t reln)
{
	uid_t uid = layout[d].sched ? o->send : o->queue;
	snprintf(rel, reln, "%s", layout[d].name);
	int fd = make_dir(top, layout[d].name, uid, o->group, layout[d].mode);
	if (fd < 0)
		return -1;
	int r = 0;
	if (layout[d].split) {
		r = make_split(fd, uid, o->group, layout[d].mode, rel, reln,
		               layout[d].name);
	} else if (d == QUEUE_LOCK) {
		snprintf(rel, reln, "lock/trigger");
		r = make_trigger(fd, o->send, o->group);
	}
	close_keep_errno(fd);
	return r;
}

int queue_init(const char *home, const struct queue_owners *o, char *why,
               size_t whylen)
{
	char rel[64];
	int h = open_dir(AT_FDCWD, home);
	if (h < 0) {
		int saved = errno;
		snprintf(why, whylen, "%s", home);
		errno = saved;
		return QUEUE_FAILED_HOME;
	}
	int top = make_dir(h, "queue", o->queue, o->group, TOP_MODE);
	close_keep_errno(h);
	if (top < 0) {
		int saved = errno;
		snprintf(why, whylen, "%s/queue", home);
		errno = saved;
		return -1;
	}
	int r = 0;
	for (int d = 0; r == 0 && d < QUEUE_NDIRS; d++)
		r = init_dir(top, d, o, rel, sizeof rel);
	close_keep_errno(top);
	if (r < 0) {
		int saved = errno;
		snprintf(why, whylen, "%s/queue/%s", home, rel);
		errno = saved;
	}
	return r;
}

int queue_sync_dir(const struct queue *q, enum queue_dir d,
                   unsigned long long num)
{
	char path[64];
	if (queue_dirpath(path, sizeof path, d, num) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = openat(q->top, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync_dir(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int queue_todo_read(const struct queue *q, unsigned long long num,
                    struct queue_envelope *e, time_t *queued)
{
	char name[32];
	struct stat st;
	snprintf(name, sizeof name, "%llu", num);
	int fd = openat(q->dir[QUEUE_TODO], name, O_RDONLY | O_NOFOLLOW |
	                                          O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		errno = saved;
		return -1;
	}
	*queued = st.st_mtime;
	int r = queue_envelope_read(e, fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r < 0 ? -2 : 0;
}
