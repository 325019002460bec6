/*
 * journal - provisioning operations in flight. See journal.h.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "journal.h"
#include "util/path.h"
#include "util/sbuf.h"

/* a record of JOURNAL_ROWS_MAX rows fits */
#define JOURNAL_TEXT_MAX (1024 + JOURNAL_ROWS_MAX * 96)

static int pending_dir(const char *home, int create)
{
	char path[SQ_PATH_MAX];
	if (path_join(path, sizeof path, home, "users", NULL) < 0 ||
	    (create && mkdir(path, 0755) < 0 && errno != EEXIST) ||
	    path_join(path, sizeof path, home, "users", "pending", NULL) < 0 ||
	    (create && mkdir(path, 0700) < 0 && errno != EEXIST))
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int journal_lock(const char *home)
{
	char path[SQ_PATH_MAX];
	if (path_join(path, sizeof path, home, "users", NULL) < 0 ||
	    (mkdir(path, 0755) < 0 && errno != EEXIST) ||
	    path_join(path, sizeof path, home, "users", ".lock", NULL) < 0)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static const char *const op_names[] = {
	[JOURNAL_ADD] = "add", [JOURNAL_DELETE] = "delete",
	[JOURNAL_DELETE_KEEP_KEYS] = "delete-keep-keys",
};

static const char *op_name(enum journal_op op)
{
	return op_names[op];
}

/* The record: "op\naddress\ndigest\n", and for a delete "rows N\n" and
 * N lines "ROW DIGEST\n". */
static int format(const struct journal_entry *e, struct sbuf *text)
{
	char line[128];
	snprintf(line, sizeof line, "%s\n", op_name(e->op));
	int r = sbuf_puts(text, line) < 0 || sbuf_puts(text, e->address) < 0 ||
	        sbuf_puts(text, "\n") < 0 || sbuf_puts(text, e->pek_digest) < 0 ||
	        sbuf_puts(text, "\n") < 0 ? -1 : 0;
	if (r == 0 && e->rows_known) {
		snprintf(line, sizeof line, "rows %zu\n", e->nrows);
		r = sbuf_puts(text, line);
	}
	for (size_t i = 0; r == 0 && e->rows_known && i < e->nrows; i++) {
		snprintf(line, sizeof line, "%llu %s\n",
		         (unsigned long long)e->rows[i].row, e->rows[i].digest);
		r = sbuf_puts(text, line);
	}
	return r;
}

int journal_begin(const char *home, struct journal_entry *e)
{
	struct timespec ts;
	struct sbuf text;
	if (e->nrows > JOURNAL_ROWS_MAX) {
		errno = E2BIG;
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	/* names sort by time: recovery takes the oldest first */
	snprintf(e->name, sizeof e->name, "%lld.%09ld.%ld",
	         (long long)ts.tv_sec, ts.tv_nsec, (long)getpid());
	sbuf_init(&text, JOURNAL_TEXT_MAX);
	int dfd = format(e, &text) < 0 ? -1 : pending_dir(home, 1);
	int r = dfd < 0 ? -1 : atomic_write_file(dfd, e->name, text.s, text.len,
	                                         0600, ATOMIC_CREATE);
	if (dfd >= 0)
		close(dfd);
	sbuf_free(&text);
	return r;
}

int journal_end(const char *home, const struct journal_entry *e)
{
	int dfd = pending_dir(home, 0);
	if (dfd < 0)
		return -1;
	int r = unlinkat(dfd, e->name, 0) < 0 && errno != ENOENT ? -1 : 0;
	if (r == 0)
		r = fsync_dir(dfd);
	close(dfd);
	return r;
}

/* The next line of t after *at (without its '\n', at most max - 1
 * octets) into out; 0, or -1 for none or a longer one. */
static int next_line(const struct sbuf *t, size_t *at, char *out, size_t max)
{
	const char *s = t->s + *at, *nl = memchr(s, '\n', t->len - *at);
	if (!nl || (size_t)(nl - s) >= max)
		return -1;
	memcpy(out, s, (size_t)(nl - s));
	out[nl - s] = '\0';
	*at += (size_t)(nl - s) + 1;
	return 0;
}

static int is_digest(const char *d, int empty_ok)
{
	size_t n = strspn(d, "0123456789abcdef");
	return d[n] == '\0' && (n == 64 || (empty_ok && n == 0));
}

/* The "rows N" part of a delete record; 0 or -1. */
static int parse_rows(const struct sbuf *t, size_t at, struct journal_entry *e)
{
	char line[128], *end;
	if (at == t->len)
		return 0; /* an older record: no rows named */
	if (next_line(t, &at, line, sizeof line) < 0 ||
	    strncmp(line, "rows ", 5) != 0)
		return -1;
	unsigned long n = strtoul(line + 5, &end, 10);
	if (*end || n > JOURNAL_ROWS_MAX || !isdigit((unsigned char)line[5]))
		return -1;
	for (e->nrows = 0; e->nrows < n; e->nrows++) {
		struct journal_row *w = &e->rows[e->nrows];
		char *sp;
		if (next_line(t, &at, line, sizeof line) < 0 ||
		    !(sp = strchr(line, ' ')) || !isdigit((unsigned char)*line))
			return -1;
		*sp = '\0';
		w->row = strtoull(line, &end, 10);
		if (*end || w->row == 0 || !is_digest(sp + 1, 0))
			return -1;
		snprintf(w->digest, sizeof w->digest, "%s", sp + 1);
	}
	e->rows_known = 1;
	return at == t->len ? 0 : -1;
}

/* Parses a record (format() above); 0 or -1. */
static int parse(const struct sbuf *t, struct journal_entry *e)
{
	char op[24];
	size_t at = 0;
	if (!t->s || next_line(t, &at, op, sizeof op) < 0 ||
	    next_line(t, &at, e->address, sizeof e->address) < 0 ||
	    !*e->address ||
	    next_line(t, &at, e->pek_digest, sizeof e->pek_digest) < 0 ||
	    !is_digest(e->pek_digest, 1))
		return -1;
	for (int i = JOURNAL_ADD; i <= JOURNAL_DELETE_KEEP_KEYS; i++)
		if (strcmp(op, op_names[i]) == 0) {
			e->op = (enum journal_op)i;
			if (i == JOURNAL_ADD)
				return *e->pek_digest && at == t->len ? 0 : -1;
			return parse_rows(t, at, e);
		}
	return -1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int journal_each(const char *home,
                 int (*fn)(const struct journal_entry *e, void *arg),
                 void *arg)
{
	int dfd = pending_dir(home, 0);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -1;
	DIR *d = fdopendir(dfd);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	int r = d ? 0 : -1;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue; /* ., .., and atomicfile's temporaries */
		char **grown = realloc(names, (n + 1) * sizeof *names);
		if (!grown || !(grown[n] = strdup(de->d_name))) {
			names = grown ? grown : names;
			r = -1;
			break;
		}
		names = grown;
		n++;
	}
	if (n) /* qsort wants a real array, even of none */
		qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct journal_entry e;
		struct sbuf t;
		memset(&e, 0, sizeof e);
		snprintf(e.name, sizeof e.name, "%s", names[i]);
		sbuf_init(&t, JOURNAL_TEXT_MAX);
		int fd = openat(dirfd(d), names[i], O_RDONLY | O_CLOEXEC);
		r = fd >= 0 && sbuf_read_fd(&t, fd) == 0 && parse(&t, &e) == 0
		    ? fn(&e, arg) : -1;
		if (fd >= 0)
			close(fd);
		sbuf_free(&t);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (d)
		closedir(d);
	else
		close(dfd);
	return r;
}
