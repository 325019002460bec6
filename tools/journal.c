/*
 * journal - provisioning operations in flight. See journal.h.
 */
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

#include "atomicfile.h"
#include "journal.h"
#include "sbuf.h"

static int pending_dir(const char *home, int create)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/users", home);
	if (create && mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof path, "%s/users/pending", home);
	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int journal_lock(const char *home)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/users", home);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof path, "%s/users/.lock", home);
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

int journal_begin(const char *home, struct journal_entry *e)
{
	char text[512];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* names sort by time: recovery takes the oldest first */
	snprintf(e->name, sizeof e->name, "%lld.%09ld.%ld",
	         (long long)ts.tv_sec, ts.tv_nsec, (long)getpid());
	int n = snprintf(text, sizeof text, "%s\n%s\n%s\n", op_name(e->op),
	                 e->address, e->pek_digest);
	int dfd = pending_dir(home, 1);
	if (dfd < 0)
		return -1;
	int r = atomic_write_file(dfd, e->name, text, (size_t)n, 0600,
	                          ATOMIC_CREATE);
	close(dfd);
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

/* Parses "op\naddress\ndigest\n"; 0 or -1. */
static int parse(const struct sbuf *t, struct journal_entry *e)
{
	char op[24];
	if (!t->s || sscanf(t->s, "%23[a-z-]\n%254[^\n]\n%64[0-9a-f]\n", op,
	                    e->address, e->pek_digest) < 2)
		return -1;
	for (int i = JOURNAL_ADD; i <= JOURNAL_DELETE_KEEP_KEYS; i++)
		if (strcmp(op, op_names[i]) == 0) {
			e->op = (enum journal_op)i;
			return 0;
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
		sbuf_init(&t, 1024);
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
