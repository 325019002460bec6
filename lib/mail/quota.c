/*
 * quota - mailbox size limits. See quota.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/control.h"
#include "util/log.h"
#include "mail/maildir.h"
#include "mail/quota.h"

/* OCTETS: decimal, no sign, no leading zero (0 itself is allowed: a
 * mailbox that takes nothing), at most QUOTA_MAX. */
static int parse_octets(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 19 || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > QUOTA_MAX)
		return -1;
	*out = v;
	return 0;
}

/* Splits "KEY<blanks>OCTETS" into key (of MAILDIR_ID_SIZE) and octets. */
static int parse_line(const char *line, char key[MAILDIR_ID_SIZE],
                      unsigned long long *octets)
{
	size_t k = strcspn(line, " \t");
	const char *v = line + k;
	if (k == 0 || k >= MAILDIR_ID_SIZE || !*v)
		return -1;
	memcpy(key, line, k);
	key[k] = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	if (strcmp(key, "*") != 0 && !maildir_id_valid(key))
		return -1;
	return parse_octets(v, octets);
}

struct keyline {
	char key[MAILDIR_ID_SIZE];
	size_t no;
};

static int by_key(const void *a, const void *b)
{
	const struct keyline *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->no > y->no) - (x->no < y->no);
}

/* The number of a line that repeats an earlier key, or 0: sorted, so a
 * 1 MiB file (some 30 000 lines) costs no quadratic time. */
static size_t repeated(struct keyline *keys, size_t n)
{
	size_t worst = 0;
	qsort(keys, n, sizeof *keys, by_key);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(keys[i].key, keys[i - 1].key) &&
		    (!worst || keys[i].no < worst))
			worst = keys[i].no;
	return worst;
}

/* Parses every line into keys (n of them); the first bad line's number,
 * or 0. */
static size_t parse_all(const struct sbuf *lines, const char *mailbox,
                        struct keyline *keys, size_t *n,
                        unsigned long long *mine, int *have_mine,
                        unsigned long long *def, int *have_def)
{
	*n = 0;
	for (const char *l = control_nextline(lines, NULL); l;
	     l = control_nextline(lines, l)) {
		struct keyline *k = &keys[*n];
		unsigned long long v;
		k->no = ++*n;
		if (parse_line(l, k->key, &v) < 0)
			return k->no;
		if (strcmp(k->key, "*") == 0) {
			*have_def = 1;
			*def = v;
		} else if (mailbox && strcmp(k->key, mailbox) == 0) {
			*have_mine = 1;
			*mine = v;
		}
	}
	return 0;
}

int quota_lookup(const struct sbuf *lines, const char *mailbox,
                 unsigned long long *limit, size_t *badline)
{
	unsigned long long mine = 0, def = 0;
	int have_mine = 0, have_def = 0;
	size_t count = 0, n;
	*badline = 0;
	for (const char *l = control_nextline(lines, NULL); l;
	     l = control_nextline(lines, l))
		count++;
	struct keyline *keys = calloc(count ? count : 1, sizeof *keys);
	if (!keys)
		return -1;
	*badline = parse_all(lines, mailbox, keys, &n, &mine, &have_mine, &def,
	                     &have_def);
	if (!*badline)
		*badline = repeated(keys, n);
	free(keys);
	if (*badline) {
		errno = EINVAL;
		return -1;
	}
	if (have_mine || have_def)
		*limit = have_mine ? mine : def;
	return have_mine || have_def;
}

int quota_fits(unsigned long long usage, unsigned long long size,
               unsigned long long limit)
{
	return usage <= limit && size <= limit - usage;
}

/* control/quota's limit for box: 1 (in *limit), 0 none, -1 unusable. */
static int limit_of(struct control *ctl, const char *box,
                    unsigned long long *limit)
{
	struct sbuf lines;
	size_t count, bad = 0;
	sbuf_init(&lines, CONTROL_FILE_MAX);
	int r = control_readfile(ctl, "quota", &lines, &count);
	if (r > 0)
		r = quota_lookup(&lines, box, limit, &bad);
	if (r < 0)
		log_msg(SQLOG_ALERT, "control/quota unusable (line %zu): %s", bad,
		        strerror(errno));
	sbuf_free(&lines);
	return r;
}

int quota_check(struct control *ctl, struct maildir *md, const char *box,
                unsigned long long size)
{
	unsigned long long limit, used = 0, count;
	int r = limit_of(ctl, box, &limit);
	if (r <= 0)
		return r;
	if (md->dirfd >= 0 && maildir_usage(md, &used, &count) < 0) {
		log_msg(SQLOG_ALERT, "%s: cannot count its usage: %s", box,
		        strerror(errno));
		return -1;
	}
	return !quota_fits(used, size, limit);
}

int quota_check_once(struct control *ctl, struct maildir *md,
                     const char *box, unsigned long long size,
                     const char *did)
{
	struct maildir_msg m;
	int q = quota_check(ctl, md, box, size);
	/* only when full: the scan reads the whole mailbox */
	if (q <= 0 || !did || !*did || md->dirfd < 0 ||
	    maildir_find(md, did, &m) < 0)
		return q;
	maildir_msg_free(&m);
	return 0;
}
