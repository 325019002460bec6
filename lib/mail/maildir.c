/*
 * maildir - sealed mailboxes. See maildir.h and edhd(8).
 *
 * Every name that comes from a directory is parsed before it is used, and
 * every file is opened relative to the mailbox's directory descriptors
 * with O_NOFOLLOW: a name in a maildir can neither lead out of it nor be
 * a symbolic link that a reader follows.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "mail/maildir.h"

#define ROW_MAX 9223372036854775807ULL  /* 2^63 - 1 */
#define SUBDIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* ---- mailbox ids --------------------------------------------------------- */

int maildir_id_format(char out[MAILDIR_ID_SIZE], uint32_t hash, uint64_t row)
{
	if (row == 0 || row > ROW_MAX) {
		errno = EINVAL;
		return -1;
	}
	snprintf(out, MAILDIR_ID_SIZE, "%08lx-%llu", (unsigned long)hash,
	         (unsigned long long)row);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case too: one spelling per mailbox */
}

/* Decimal digits at s up to a NUL, without leading zero (0 itself only
 * if zero_ok), at most max; 0 or -1. */
static int parse_decimal(const char *s, size_t n, unsigned long long max,
                         int zero_ok, unsigned long long *out)
{
	unsigned long long v = 0;
	if (n == 0 || n > 20 || (s[0] == '0' && (n > 1 || !zero_ok)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int maildir_id_parse(const char *s, uint32_t *hash, uint64_t *row)
{
	uint32_t h = 0;
	unsigned long long r;
	size_t len = strnlen(s, MAILDIR_ID_SIZE);
	if (len < 10 || len >= MAILDIR_ID_SIZE || s[8] != '-')
		goto bad;
	for (int i = 0; i < 8; i++) {
		int v = hexval(s[i]);
		if (v < 0)
			goto bad;
		h = h << 4 | (uint32_t)v;
	}
	if (parse_decimal(s + 9, len - 9, ROW_MAX, 0, &r) < 0)
		goto bad;
	if (hash)
		*hash = h;
	if (row)
		*row = r;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int maildir_id_valid(const char *s)
{
	int saved = errno;
	int ok = s && maildir_id_parse(s, NULL, NULL) == 0;
	errno = saved;
	return ok;
}

/* ---- message names -------------------------------------------------------- */

static int uid_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	       c == '\\';
}

int maildir_uid_valid(const char *s, size_t len)
{
	if (len == 0 || len > MAILDIR_UID_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!uid_char(s[i]))
			return 0;
	return 1;
}

/* "<key><decimal>" at *p, ending at a ',' ':' or the NUL; advances *p. */
static int name_field(const char **p, const char *key,
                      unsigned long long *out)
{
	size_t k = strlen(key);
	if (strncmp(*p, key, k) != 0)
		return -1;
	const char *v = *p + k;
	size_t n = strcspn(v, ",:");
	if (parse_decimal(v, n, MAILDIR_SIZE_MAX, 1, out) < 0)
		return -1;
	*p = v + n;
	return 0;
}

static int flags_valid(const char *f)
{
	for (; *f; f++)
		if (!((*f >= 'A' && *f <= 'Z') || (*f >= 'a' && *f <= 'z')))
			return 0;
	return 1;
}

int maildir_name_parse(const char *name, struct maildir_name *out)
{
	size_t len = strnlen(name, MAILDIR_NAME_SIZE);
	size_t uidlen = strcspn(name, ",");
	const char *p = name + uidlen;
	memset(out, 0, sizeof *out);
	out->flags = "";
	if (len >= MAILDIR_NAME_SIZE || !maildir_uid_valid(name, uidlen) ||
	    name_field(&p, ",S=", &out->size) < 0 ||
	    name_field(&p, ",W=", &out->plainsize) < 0)
		goto bad;
	if (*p == ':') {
		if (strncmp(p, ":2,", 3) != 0 || !flags_valid(p + 3))
			goto bad;
		out->flags = p + 3;
	} else if (*p != '\0') {
		goto bad;
	}
	out->uidlen = uidlen;
	return 0;
bad:
	memset(out, 0, sizeof *out);
	out->flags = "";
	errno = EINVAL;
	return -1;
}

/* ---- a mailbox ----------------------------------------------------------- */

static int mkdir_ok(int dirfd, const char *name)
{
	return mkdirat(dirfd, name, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int maildir_create(int parentfd, const char *id)
{
	static const char *const subdirs[] = { "tmp", "new", "cur" };
	if (!maildir_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if (mkdir_ok(parentfd, id) < 0)
		return -1;
	int fd = openat(parentfd, id, SUBDIR_FLAGS);
	if (fd < 0)
		return -1;
	int r = 0;
	for (size_t i = 0; r == 0 && i < 3; i++)
		r = mkdir_ok(fd, subdirs[i]);
	/* the new names must reach the disk before anything is put in them */
	if (r == 0)
		r = fsync_dir(fd);
	if (r == 0)
		r = fsync_dir(parentfd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

static void md_reset(struct maildir *md)
{
	md->dirfd = md->tmpfd = md->newfd = md->curfd = -1;
	md->id[0] = '\0';
}

void maildir_close(struct maildir *md)
{
	int fds[4] = { md->dirfd, md->tmpfd, md->newfd, md->curfd };
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	md_reset(md);
}

/* Opens the directories of an existing mailbox; 0 or -1. */
static int open_dirs(struct maildir *md, int parentfd, const char *id)
{
	md->dirfd = openat(parentfd, id, SUBDIR_FLAGS);
	if (md->dirfd >= 0)
		md->tmpfd = openat(md->dirfd, "tmp", SUBDIR_FLAGS);
	if (md->tmpfd >= 0)
		md->newfd = openat(md->dirfd, "new", SUBDIR_FLAGS);
	if (md->newfd >= 0)
		md->curfd = openat(md->dirfd, "cur", SUBDIR_FLAGS);
	if (md->curfd >= 0)
		return 0;
	int saved = errno == ELOOP ? ENOTDIR : errno; /* a symbolic link */
	maildir_close(md);
	errno = saved;
	return -1;
}

int maildir_open(struct maildir *md, int parentfd, const char *id,
                 int create)
{
	md_reset(md);
	if (!maildir_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	/* The common case, an existing mailbox, costs no fsync. */
	if (open_dirs(md, parentfd, id) < 0) {
		if (errno != ENOENT || !create)
			return -1;
		if (maildir_create(parentfd, id) < 0 ||
		    open_dirs(md, parentfd, id) < 0)
			return -1;
	}
	snprintf(md->id, sizeof md->id, "%s", id);
	return 0;
}

/* ---- delivery ------------------------------------------------------------ */

/* The host as the maildir spec writes it: '/' as \057 and ':' as \072;
 * we also escape ',' (it ends the unique id), the backslash itself and
 * anything but letters, digits, '.', '-' and '_', so that the unique id
 * stays within maildir_uid_valid's characters. */
static void host_part(char out[MAILDIR_HOST_MAX + 1], const char *host)
{
	char sys[256];
	size_t n = 0;
	if (!host || !*host) {
		if (gethostname(sys, sizeof sys) < 0 || !*sys)
			snprintf(sys, sizeof sys, "localhost");
		sys[sizeof sys - 1] = '\0';
		host = sys;
	}
	for (const unsigned char *p = (const unsigned char *)host; *p; p++) {
		int plain = uid_char((char)*p) && *p != '\\';
		if (n + (plain ? 1 : 4) > MAILDIR_HOST_MAX)
			break;
		if (plain)
			out[n++] = (char)*p;
		else
			n += (size_t)snprintf(out + n, 5, "\\%03o", (unsigned)*p);
	}
	out[n] = '\0';
}

struct pending {
	char tmpname[MAILDIR_NAME_SIZE];
	long long sec;
	long usec;
	int fd;
};

/* Creates tmp/<sec>.M<usec>P<pid>.<host>, unique by O_EXCL: a second
 * delivery in the same microsecond tries again. */
static int tmp_create(struct maildir *md, const char *host, struct pending *p)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		p->sec = (long long)ts.tv_sec;
		p->usec = ts.tv_nsec / 1000;
		snprintf(p->tmpname, sizeof p->tmpname, "%lld.M%06ldP%ld.%s",
		         p->sec, p->usec, (long)getpid(), host);
		p->fd = openat(md->tmpfd, p->tmpname, O_WRONLY | O_CREAT |
		               O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (p->fd >= 0 || errno != EEXIST)
			return p->fd;
		struct timespec pause = { 0, 1000 };
		nanosleep(&pause, NULL);
	}
	return -1;
}

/* Copies fd to the temporary file, at most max octets. */
static int copy_fd(int out, int in, unsigned long long max)
{
	static const size_t chunk = 65536;
	char *buf = malloc(chunk);
	unsigned long long total = 0;
	int r = buf ? 0 : -1;
	while (r == 0) {
		ssize_t n = read(in, buf, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -1 : 1;
			break;
		}
		total += (unsigned long long)n;
		if (max && total > max) {
			errno = EMSGSIZE;
			r = -1;
		} else {
			r = write_all(out, buf, (size_t)n);
		}
	}
	free(buf);
	return r < 0 ? -1 : 0;
}

/* After the contents are written: fsync, name it by its inode, link it
 * into new/ and fsync new/; then drop the tmp/ name, unsynced: a tmp/
 * name a crash brings back is litter no reader looks at, and syncing its
 * removal would cost every delivery a second journal commit. */
static int commit(struct maildir *md, struct pending *p, const char *host,
                  const char *did, unsigned long long plainsize,
                  struct maildir_delivered *out)
{
	struct stat st;
	int r;
	while ((r = fsync(p->fd)) < 0 && errno == EINTR)
		;
	if (r < 0 || fstat(p->fd, &st) < 0)
		return -1;
	r = close(p->fd);
	p->fd = -1;
	if (r < 0)
		return -1;
	int n = did ? snprintf(out->name, sizeof out->name, "%s,S=%llu,W=%llu",
	                       did, (unsigned long long)st.st_size, plainsize)
	        : snprintf(out->name, sizeof out->name,
	                   "%lld.M%06ldP%ldV%llxI%llx.%s,S=%llu,W=%llu", p->sec,
	                   p->usec, (long)getpid(), (unsigned long long)st.st_dev,
	                   (unsigned long long)st.st_ino, host,
	                   (unsigned long long)st.st_size, plainsize);
	if (n < 0 || (size_t)n >= sizeof out->name) {
		errno = ENAMETOOLONG;
		return -1;
	}
	out->uidlen = strcspn(out->name, ",");
	out->size = (unsigned long long)st.st_size;
	if (linkat(md->tmpfd, p->tmpname, md->newfd, out->name, 0) < 0) {
		if (!did || errno != EEXIST)
			return -1;
		out->again = 1; /* a delivery of the same id linked first */
		unlinkat(md->tmpfd, p->tmpname, 0);
		p->tmpname[0] = '\0';
		return fsync_dir(md->newfd);
	}
	if (fsync_dir(md->newfd) < 0) {
		int saved = errno;
		unlinkat(md->newfd, out->name, 0); /* not delivered after all */
		errno = saved;
		return -1;
	}
	unlinkat(md->tmpfd, p->tmpname, 0);
	p->tmpname[0] = '\0';
	return 0;
}

/* Removes what a failed delivery left in tmp/. */
static void abandon(struct maildir *md, struct pending *p)
{
	int saved = errno;
	if (p->fd >= 0)
		close(p->fd);
	if (p->tmpname[0])
		unlinkat(md->tmpfd, p->tmpname, 0);
	errno = saved;
}

static int deliver(struct maildir *md, const char *host, const char *did,
                   const void *data, size_t len, int infd,
                   unsigned long long max, unsigned long long plainsize,
                   struct maildir_delivered *out)
{
	char hostpart[MAILDIR_HOST_MAX + 1];
	struct pending p;
	memset(out, 0, sizeof *out);
	if (md->tmpfd < 0 || plainsize > MAILDIR_SIZE_MAX) {
		errno = EINVAL;
		return -1;
	}
	host_part(hostpart, host);
	if (tmp_create(md, hostpart, &p) < 0)
		return -1;
	int r = data ? write_all(p.fd, data, len) : copy_fd(p.fd, infd, max);
	if (r == 0)
		r = commit(md, &p, hostpart, did, plainsize, out);
	if (r < 0) {
		abandon(md, &p);
		memset(out, 0, sizeof *out);
	}
	return r;
}

int maildir_deliver(struct maildir *md, const char *host, const void *data,
                    size_t len, unsigned long long plainsize,
                    struct maildir_delivered *out)
{
	if (!data && len) {
		errno = EINVAL;
		return -1;
	}
	return deliver(md, host, NULL, data ? data : "", len, -1, 0, plainsize,
	               out);
}

int maildir_deliver_fd(struct maildir *md, const char *host, int fd,
                       unsigned long long max, unsigned long long plainsize,
                       struct maildir_delivered *out)
{
	return deliver(md, host, NULL, NULL, 0, fd, max, plainsize, out);
}

/* ---- scanning new/ and cur/ -------------------------------------------- */

typedef int (*scan_fn)(void *ctx, const char *name,
                       const struct maildir_name *parsed, int cur);

/* Calls fn for every message of new/ (cur 0) or cur/ (cur 1) whose name
 * parses and that is a regular file; counts the others in *skipped. */
static int scan_one(struct maildir *md, int cur, scan_fn fn, void *ctx,
                    size_t *skipped)
{
	int fd = openat(md->dirfd, cur ? "cur" : "new", SUBDIR_FLAGS);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct dirent *e;
	int r = 0;
	errno = 0;
	while (r == 0 && (e = readdir(d)) != NULL) {
		struct maildir_name parsed;
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (maildir_name_parse(e->d_name, &parsed) < 0 ||
		    (e->d_type != DT_REG &&
		     (e->d_type != DT_UNKNOWN ||
		      fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		      !S_ISREG(st.st_mode)))) {
			(*skipped)++;
			errno = 0;
			continue;
		}
		r = fn(ctx, e->d_name, &parsed, cur);
		if (r == 0)
			errno = 0;
	}
	int saved = errno;
	closedir(d);
	errno = saved;
	return r < 0 || saved ? -1 : 0;
}

static int scan(struct maildir *md, scan_fn fn, void *ctx, size_t *skipped)
{
	size_t dummy = 0;
	if (md->dirfd < 0) {
		errno = EBADF;
		return -1;
	}
	if (!skipped)
		skipped = &dummy;
	*skipped = 0;
	if (scan_one(md, 0, fn, ctx, skipped) < 0)
		return -1;
	return scan_one(md, 1, fn, ctx, skipped);
}

/* ---- listing ------------------------------------------------------------- */

struct lister {
	struct maildir_list *l;
	size_t max, cap;
};

static int list_add(void *ctx, const char *name,
                    const struct maildir_name *parsed, int cur)
{
	struct lister *ls = ctx;
	struct maildir_list *l = ls->l;
	if (l->n >= ls->max) {
		l->truncated = 1;
		return 0;
	}
	if (l->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 64;
		if (cap > ls->max)
			cap = ls->max;
		struct maildir_msg *grown = realloc(l->msgs, cap * sizeof *grown);
		if (!grown)
			return -1;
		l->msgs = grown;
		ls->cap = cap;
	}
	struct maildir_msg *m = &l->msgs[l->n];
	if (!(m->name = strdup(name)))
		return -1;
	m->uidlen = parsed->uidlen;
	m->size = parsed->size;
	m->plainsize = parsed->plainsize;
	m->cur = cur;
	l->n++;
	return 0;
}

/* The delivery time a name starts with ("<sec>.M<usec>"), 0 if none. */
static void name_time(const char *name, unsigned long long *sec,
                      unsigned long long *usec)
{
	char *end;
	*sec = strtoull(name, &end, 10);
	*usec = end[0] == '.' && end[1] == 'M' ? strtoull(end + 2, NULL, 10) : 0;
}

static int by_time(const void *a, const void *b)
{
	const struct maildir_msg *x = a, *y = b;
	unsigned long long xs, xu, ys, yu;
	name_time(x->name, &xs, &xu);
	name_time(y->name, &ys, &yu);
	if (xs != ys)
		return xs < ys ? -1 : 1;
	if (xu != yu)
		return xu < yu ? -1 : 1;
	return strcmp(x->name, y->name);
}

void maildir_list_free(struct maildir_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->msgs[i].name);
	free(l->msgs);
	memset(l, 0, sizeof *l);
}

int maildir_list(struct maildir *md, size_t max, struct maildir_list *out)
{
	struct lister ls = { out, max, 0 };
	memset(out, 0, sizeof *out);
	if (scan(md, list_add, &ls, &out->skipped) < 0) {
		int saved = errno;
		maildir_list_free(out);
		errno = saved;
		return -1;
	}
	if (out->n > 1)
		qsort(out->msgs, out->n, sizeof *out->msgs, by_time);
	return 0;
}

struct usage {
	unsigned long long octets, count;
};

static int usage_add(void *ctx, const char *name,
                     const struct maildir_name *parsed, int cur)
{
	struct usage *u = ctx;
	(void)name, (void)cur;
	u->octets += parsed->size; /* each at most 2^40: no overflow */
	u->count++;
	return 0;
}

long maildir_sweep_tmp(struct maildir *md, time_t before)
{
	int fd = md->tmpfd < 0 ? -1 : openat(md->tmpfd, ".", O_RDONLY |
	                                     O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	struct stat st;
	long removed = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    fstatat(md->tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_mtime < before &&
		    unlinkat(md->tmpfd, de->d_name, 0) == 0)
			removed++;
	closedir(d);
	return removed;
}

int maildir_usage(struct maildir *md, unsigned long long *octets,
                  unsigned long long *count)
{
	struct usage u = { 0, 0 };
	if (scan(md, usage_add, &u, NULL) < 0)
		return -1;
	if (octets)
		*octets = u.octets;
	if (count)
		*count = u.count;
	return 0;
}

/* ---- one message ------------------------------------------------------ */

/* The directory a listed message is in, after checking its name. */
static int msg_dir(struct maildir *md, const struct maildir_msg *m)
{
	struct maildir_name parsed;
	if (!m->name || maildir_name_parse(m->name, &parsed) < 0) {
		errno = EINVAL;
		return -1;
	}
	int fd = m->cur ? md->curfd : md->newfd;
	if (fd < 0)
		errno = EBADF;
	return fd;
}

int maildir_open_msg(struct maildir *md, const struct maildir_msg *m)
{
	struct stat st;
	int dir = msg_dir(md, m);
	if (dir < 0)
		return -1;
	/* O_NONBLOCK: a FIFO planted here must not hang the reader */
	int fd = openat(dir, m->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	                O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

int maildir_remove_msg(struct maildir *md, const struct maildir_msg *m)
{
	int dir = msg_dir(md, m);
	return dir < 0 ? -1 : unlinkat(dir, m->name, 0);
}

int maildir_sync(struct maildir *md)
{
	if (md->newfd < 0 || md->curfd < 0) {
		errno = EBADF;
		return -1;
	}
	return fsync_dir(md->newfd) < 0 ? -1 : fsync_dir(md->curfd);
}

struct finder {
	const char *uid;
	size_t len;
	struct maildir_msg *m;
};

static int find_one(void *ctx, const char *name,
                    const struct maildir_name *parsed, int cur)
{
	struct finder *f = ctx;
	if (f->m->name || parsed->uidlen != f->len ||
	    memcmp(name, f->uid, f->len) != 0)
		return 0;
	if (!(f->m->name = strdup(name)))
		return -1;
	f->m->uidlen = parsed->uidlen;
	f->m->size = parsed->size;
	f->m->plainsize = parsed->plainsize;
	f->m->cur = cur;
	return 0;
}

void maildir_msg_free(struct maildir_msg *m)
{
	free(m->name);
	memset(m, 0, sizeof *m);
}

int maildir_find(struct maildir *md, const char *uid, struct maildir_msg *m)
{
	memset(m, 0, sizeof *m);
	size_t len = strnlen(uid, MAILDIR_UID_MAX + 1);
	if (!maildir_uid_valid(uid, len)) {
		errno = EINVAL;
		return -1;
	}
	struct finder f = { uid, len, m };
	if (scan(md, find_one, &f, NULL) < 0) {
		maildir_msg_free(m);
		return -1;
	}
	if (!m->name) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

int maildir_open_uid(struct maildir *md, const char *uid)
{
	struct maildir_msg m;
	if (maildir_find(md, uid, &m) < 0)
		return -1;
	int fd = maildir_open_msg(md, &m);
	int saved = errno;
	maildir_msg_free(&m);
	errno = saved;
	return fd;
}

int maildir_remove_uid(struct maildir *md, const char *uid)
{
	struct maildir_msg m;
	if (maildir_find(md, uid, &m) < 0)
		return -1;
	int r = maildir_remove_msg(md, &m);
	if (r == 0)
		r = fsync_dir(m.cur ? md->curfd : md->newfd);
	int saved = errno;
	maildir_msg_free(&m);
	errno = saved;
	return r;
}

/* ---- delivery ids ---------------------------------------------------------- */

int maildir_did_format(char out[MAILDIR_UID_MAX + 1], long long sec, long usec,
                       unsigned long long num, const char *host)
{
	char hostpart[MAILDIR_HOST_MAX + 1];
	host_part(hostpart, host);
	int n = snprintf(out, MAILDIR_UID_MAX + 1, "%lld.M%06ldQ%llu.%s", sec,
	                 usec, num, hostpart);
	if (sec < 0 || usec < 0 || usec > 999999 || n < 0 ||
	    n > MAILDIR_UID_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Digits at *p, at least one and at most max, advancing *p past them. */
static int digits(const char **p, size_t min, size_t max)
{
	size_t n = strspn(*p, "0123456789");
	*p += n;
	return n >= min && n <= max ? 0 : -1;
}

int maildir_did_valid(const char *s)
{
	const char *p = s;
	size_t len = strnlen(s, MAILDIR_UID_MAX + 1);
	if (!maildir_uid_valid(s, len) || digits(&p, 1, 19) < 0 ||
	    *p++ != '.' || *p++ != 'M' || digits(&p, 6, 6) < 0 ||
	    *p++ != 'Q' || digits(&p, 1, 20) < 0 || *p++ != '.')
		return 0;
	return *p != '\0'; /* a host part, checked by maildir_uid_valid */
}

struct seen {
	const char *did;
	size_t len;
	int found;
};

static int seen_one(void *ctx, const char *name,
                    const struct maildir_name *parsed, int cur)
{
	struct seen *s = ctx;
	(void)cur;
	if (parsed->uidlen == s->len && memcmp(name, s->did, s->len) == 0)
		s->found = 1;
	return 0;
}

/* 1 if the delivery (did, and the name it makes) is in new/ or cur/, 0
 * if not, -1 if that cannot be known. new/ by its exact name: a stat,
 * whatever its size; cur/ by a scan, as flags change names there (our
 * readers leave messages in new/: cur/ is empty or small). */
static int delivered(struct maildir *md, const char *did, size_t len,
                     unsigned long long plainsize)
{
	char name[MAILDIR_NAME_SIZE];
	struct stat st;
	size_t skipped = 0;
	struct seen s = { did, strlen(did), 0 };
	snprintf(name, sizeof name, "%s,S=%zu,W=%llu", did, len, plainsize);
	if (fstatat(md->newfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (errno != ENOENT || scan_one(md, 1, seen_one, &s, &skipped) < 0)
		return -1;
	return s.found;
}

int maildir_deliver_once(struct maildir *md, const char *did,
                         const void *data, size_t len,
                         unsigned long long plainsize,
                         struct maildir_delivered *out)
{
	memset(out, 0, sizeof *out);
	if (!did || !maildir_did_valid(did) || (!data && len) ||
	    md->newfd < 0) {
		errno = EINVAL;
		return -1;
	}
	int there = delivered(md, did, len, plainsize);
	if (there < 0)
		return -1;
	if (there) {
		int n = snprintf(out->name, sizeof out->name, "%s,S=%zu,W=%llu",
		                 did, len, plainsize);
		out->uidlen = strlen(did);
		out->size = len;
		out->again = 1;
		return n < 0 || fsync_dir(md->newfd) < 0 ? -1 : 0;
	}
	return deliver(md, NULL, did, data ? data : "", len, -1, 0, plainsize,
	               out);
}
