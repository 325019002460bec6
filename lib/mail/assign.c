/*
 * assign - qmail's users/assign and users/cdb. See assign.h for the
 * format, which is qmail-newu's and qmail-lspawn's to the byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/assign.h"
#include "util/cdbfile.h"

#define NFIELDS 6               /* user uid gid home dash ext */
#define LINE_MAX_FORMATTED                                               \
	(ASSIGN_LOCAL_MAX + ASSIGN_USER_MAX + ASSIGN_HOME_MAX +          \
	 ASSIGN_DASH_MAX + ASSIGN_EXT_MAX + 2 * 10 + 16)
/* Bounds a cdb value read back: far above any entry we can hold. */
#define CDB_DATA_MAX (64 * 1024)

/* qmail's case_lowerb: ASCII only, whatever the locale says. */
static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int same_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

/* --- reading assign text line by line, with qmail-newu's checks --- */

struct scan {
	const char *text;
	size_t len;
	size_t pos;             /* start of the next line */
	size_t lineno;          /* 1-based number of the line last read */
};

struct aline {
	const char *s;          /* the line, without its '\n' */
	size_t len;
	size_t colon;           /* index of the first ':' */
	size_t dataend;         /* index of the sixth ':' after it */
	size_t start, next;     /* its offset in text, and the next line's */
};

static void scan_init(struct scan *sc, const char *text, size_t len)
{
	sc->text = text ? text : "";   /* an empty sbuf has no bytes yet */
	sc->len = len;
	sc->pos = 0;
	sc->lineno = 0;
}

/* The sixth ':' after the first, or 0 if there are fewer. */
static size_t sixth_colon(const struct aline *a)
{
	int n = 0;
	for (size_t i = a->colon + 1; i < a->len; i++)
		if (a->s[i] == ':' && ++n == NFIELDS)
			return i;
	return 0;
}

/* 1 an assignment in *a; 0 the end line (a->start is its offset); -1 a
 * format error (EINVAL) on line sc->lineno. */
static int scan_next(struct scan *sc, struct aline *a)
{
	const char *p = sc->text + sc->pos;
	size_t left = sc->len - sc->pos;
	const char *nl = memchr(p, '\n', left);
	sc->lineno++;
	a->s = p;
	a->start = sc->pos;
	a->len = nl ? (size_t)(nl - p) : left;
	a->next = sc->pos + a->len + (nl ? 1 : 0);
	sc->pos = a->next;
	/* The end test comes first: qmail-newu needs no '\n' after it. */
	if (a->len > 0 && p[0] == '.')
		return 0;
	const char *colon = memchr(p, ':', a->len);
	if (nl && !memchr(p, '\0', a->len) && colon && colon != p) {
		a->colon = (size_t)(colon - p);
		a->dataend = sixth_colon(a);
		if (a->dataend)
			return 1;
	}
	errno = EINVAL;
	return -1;
}

/* Does line a hold the cdb key of (type, local)? */
static int same_key(const struct aline *a, char type, const char *local)
{
	size_t n = strlen(local);
	if ((a->s[0] == '+') != (type == '+') || a->colon - 1 != n)
		return 0;
	return same_nocase(a->s + 1, local, n);
}

/* --- entries --- */

static int put_field(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

static int parse_id(const char *s, size_t n, unsigned long *out)
{
	unsigned long v = 0;
	errno = EINVAL;
	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > ASSIGN_ID_MAX)
		return -1;
	*out = v;
	return 0;
}

/* Splits "user\0uid\0gid\0home\0dash\0ext" into e; 0, or -1 with EINVAL
 * (not six fields, bad id) or ENAMETOOLONG. */
static int fill_fields(struct assign_entry *e, const char *d, size_t n)
{
	const char *f[NFIELDS];
	size_t fl[NFIELDS];
	size_t k = 0;
	const char *end = d + n;
	for (; k < NFIELDS; k++) {
		const char *z = memchr(d, '\0', (size_t)(end - d));
		f[k] = d;
		fl[k] = z ? (size_t)(z - d) : (size_t)(end - d);
		if (!z)
			break;
		d = z + 1;
	}
	errno = EINVAL;
	if (k != NFIELDS - 1)
		return -1;
	if (put_field(e->user, sizeof e->user, f[0], fl[0]) < 0 ||
	    parse_id(f[1], fl[1], &e->uid) < 0 ||
	    parse_id(f[2], fl[2], &e->gid) < 0 ||
	    put_field(e->home, sizeof e->home, f[3], fl[3]) < 0 ||
	    put_field(e->dash, sizeof e->dash, f[4], fl[4]) < 0 ||
	    put_field(e->ext, sizeof e->ext, f[5], fl[5]) < 0)
		return -1;
	return 0;
}

/* The cdb data of a line: the fields up to the sixth ':', NUL-separated. */
static int line_data(const struct aline *a, struct sbuf *data)
{
	size_t from = a->colon + 1;
	if (sbuf_copy(data, a->s + from, a->dataend - from) < 0)
		return -1;
	for (size_t i = 0; i < data->len; i++)
		if (data->s[i] == ':')
			data->s[i] = '\0';
	return 0;
}

static int line_entry(const struct aline *a, struct assign_entry *e)
{
	struct sbuf data;
	sbuf_init(&data, a->len);
	e->type = a->s[0];
	int r = put_field(e->local, sizeof e->local, a->s + 1, a->colon - 1);
	if (r == 0)
		r = line_data(a, &data);
	if (r == 0)
		r = fill_fields(e, data.s, data.len);
	int saved = errno;
	sbuf_free(&data);
	errno = saved;
	return r;
}

void assign_list_init(struct assign_list *l)
{
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}

void assign_list_free(struct assign_list *l)
{
	free(l->v);
	assign_list_init(l);
}

static struct assign_entry *list_push(struct assign_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		if (cap > (size_t)-1 / sizeof *l->v) {
			errno = ENOMEM;
			return NULL;
		}
		struct assign_entry *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	return &l->v[l->n++];
}

int assign_parse(const char *text, size_t len, struct assign_list *out,
                 size_t *badline)
{
	struct scan sc;
	struct aline a;
	int r;
	out->n = 0;
	*badline = 0;
	scan_init(&sc, text, len);
	while ((r = scan_next(&sc, &a)) == 1) {
		struct assign_entry *e = list_push(out);
		if (!e)
			return -1;
		if (line_entry(&a, e) < 0) {
			out->n--;
			r = -1;
			break;
		}
	}
	if (r < 0)
		*badline = sc.lineno;
	return r < 0 ? -1 : 0;
}

/* --- users/cdb --- */

static int line_key(const struct aline *a, struct sbuf *key)
{
	if (sbuf_copy(key, "!", 1) < 0 ||
	    sbuf_put(key, a->s + 1, a->colon - 1) < 0 ||
	    (a->s[0] != '+' && sbuf_putc(key, '\0') < 0))
		return -1;
	for (size_t i = 0; i < key->len; i++)
		key->s[i] = lower(key->s[i]);
	return 0;
}

/* qmail-newu keeps the wildchar as written, not lower-cased. */
static int note_wildchar(const struct aline *a, struct sbuf *wild)
{
	if (a->s[0] != '+' || a->colon < 2)
		return 0;
	char c = a->s[a->colon - 1];
	if (wild->len && memchr(wild->s, c, wild->len))
		return 0;
	return sbuf_putc(wild, c);
}

struct builder {
	struct cdbfile_writer w;
	struct sbuf key, data, wild;
};

static int add_line(struct builder *b, const struct aline *a)
{
	if (line_key(a, &b->key) < 0 || line_data(a, &b->data) < 0 ||
	    note_wildchar(a, &b->wild) < 0)
		return -1;
	return cdbfile_add(&b->w, b->key.s, b->key.len, b->data.s,
	                   b->data.len);
}

/* Adds every record; 0, or -1 (*badline set for a format error). */
static int add_all(struct builder *b, const char *text, size_t len,
                   size_t *badline)
{
	struct scan sc;
	struct aline a;
	int r;
	scan_init(&sc, text, len);
	while ((r = scan_next(&sc, &a)) == 1)
		if (add_line(b, &a) < 0)
			return -1;
	if (r < 0) {
		*badline = sc.lineno;
		return -1;
	}
	return cdbfile_add(&b->w, "", 0, b->wild.s ? b->wild.s : "",
	                   b->wild.len);
}

int assign_build_cdb(const char *text, size_t len, int dirfd,
                     const char *cdbname, size_t *badline)
{
	struct builder b;
	*badline = 0;
	if (cdbfile_begin(&b.w, dirfd, cdbname, 0644) < 0)
		return -1;
	sbuf_init(&b.key, len + 2);
	sbuf_init(&b.data, len);
	sbuf_init(&b.wild, 256);
	int r = add_all(&b, text, len, badline);
	if (r < 0)
		cdbfile_abort(&b.w);
	else
		r = cdbfile_commit(&b.w);
	int saved = errno;
	sbuf_free(&b.key);
	sbuf_free(&b.data);
	sbuf_free(&b.wild);
	errno = saved;
	return r;
}

/* --- editing assign text --- */

/* A field that fits its array and holds no ':' or '\n'. */
static int field_ok(const char *f, size_t size)
{
	size_t n = strnlen(f, size);
	return n < size && !memchr(f, ':', n) && !memchr(f, '\n', n);
}

int assign_format(const struct assign_entry *e, struct sbuf *line)
{
	if ((e->type != '=' && e->type != '+') ||
	    !field_ok(e->local, sizeof e->local) ||
	    !field_ok(e->user, sizeof e->user) ||
	    !field_ok(e->home, sizeof e->home) ||
	    !field_ok(e->dash, sizeof e->dash) ||
	    !field_ok(e->ext, sizeof e->ext) || e->uid > ASSIGN_ID_MAX ||
	    e->gid > ASSIGN_ID_MAX) {
		errno = EINVAL;
		return -1;
	}
	sbuf_reset(line);
	return sbuf_printf(line, "%c%s:%s:%lu:%lu:%s:%s:%s:\n", e->type,
	                   e->local, e->user, e->uid, e->gid, e->home, e->dash,
	                   e->ext);
}

/* Walks the whole text: the end line's offset in *endpos, the number of
 * lines with the key of (type, local) in *found; when keep is not NULL,
 * every other byte of text is appended to it. 0, or -1 (EINVAL). */
static int walk(const struct sbuf *text, char type, const char *local,
                size_t *endpos, size_t *found, struct sbuf *keep)
{
	struct scan sc;
	struct aline a;
	int r;
	*found = 0;
	scan_init(&sc, text->s, text->len);
	while ((r = scan_next(&sc, &a)) == 1) {
		if (same_key(&a, type, local))
			(*found)++;
		else if (keep && sbuf_put(keep, a.s, a.next - a.start) < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	*endpos = a.start;
	if (keep && sbuf_put(keep, a.s, text->len - a.start) < 0)
		return -1;
	return 0;
}

/* Puts n bytes at offset at, moving the rest up. */
static int insert_at(struct sbuf *text, size_t at, const char *s, size_t n)
{
	size_t old = text->len;
	if (!sbuf_grow(text, n))
		return -1;
	memmove(text->s + at + n, text->s + at, old - at);
	memcpy(text->s + at, s, n);
	return 0;
}

int assign_add(struct sbuf *text, const struct assign_entry *e)
{
	struct sbuf line;
	size_t at = 0, found = 0;
	sbuf_init(&line, LINE_MAX_FORMATTED);
	int r = assign_format(e, &line);
	if (r == 0 && text->len == 0)
		r = sbuf_put(&line, ".\n", 2);
	else if (r == 0)
		r = walk(text, e->type, e->local, &at, &found, NULL);
	if (r == 0 && found) {
		errno = EEXIST;
		r = -1;
	}
	if (r == 0)
		r = insert_at(text, at, line.s, line.len);
	int saved = errno;
	sbuf_free(&line);
	errno = saved;
	return r;
}

int assign_remove_type(struct sbuf *text, char type, const char *local)
{
	struct sbuf keep;
	size_t at, found = 0;
	if (text->len == 0) {
		errno = ENOENT;
		return -1;
	}
	sbuf_init(&keep, text->max);
	int r = walk(text, type, local, &at, &found, &keep);
	if (r == 0 && !found) {
		errno = ENOENT;
		r = -1;
	}
	if (r == 0)
		r = sbuf_copy(text, keep.s, keep.len);
	int saved = errno;
	sbuf_free(&keep);
	errno = saved;
	return r;
}

int assign_remove(struct sbuf *text, const char *local)
{
	return assign_remove_type(text, '=', local);
}

/* --- lookup, as qmail-lspawn --- */

/* Fills e from the record found under key[0..i); for a wildcard, the
 * rest of local after the prefix (which is i - 1 bytes long) goes on ext. */
static int found_entry(struct assign_entry *e, const char *key, size_t klen,
                       size_t i, const struct sbuf *data, const char *local)
{
	int wildcard = i < klen;
	e->type = wildcard ? '+' : '=';
	if (put_field(e->local, sizeof e->local, key + 1,
	              wildcard ? i - 1 : klen - 2) < 0)
		return -1;
	if (fill_fields(e, data->s ? data->s : "", data->len) < 0) {
		if (errno == EINVAL)
			errno = EPROTO;
		return -1;
	}
	if (!wildcard)
		return 0;
	size_t have = strlen(e->ext);
	const char *rest = local + i - 1;
	return put_field(e->ext + have, sizeof e->ext - have, rest,
	                 strlen(rest));
}

static int is_wildchar(const struct sbuf *wild, char c)
{
	return wild->len && memchr(wild->s, c, wild->len);
}

/* qmail-lspawn's order: the simple key (all klen bytes, NUL included),
 * then every shorter key whose last byte is a wildchar, longest first,
 * and "!" alone whatever the wildchars. 1 found (key length in *at), 0 or
 * -1. */
static int try_keys(struct cdb *db, const char *key, size_t klen,
                    const struct sbuf *wild, struct sbuf *data, size_t *at)
{
	for (size_t i = klen; i > 0; i--) {
		if (i < klen && i > 1 && !is_wildchar(wild, key[i - 1]))
			continue;
		int r = cdbfile_find(db, key, i, data);
		if (r != 0) {
			*at = i;
			return r;
		}
	}
	return 0;
}

static int search(struct cdb *db, const char *key, size_t klen,
                  const char *local, struct assign_entry *e)
{
	struct sbuf wild, data;
	size_t at = 0;
	sbuf_init(&wild, CDB_DATA_MAX);
	sbuf_init(&data, CDB_DATA_MAX);
	int r = cdbfile_find(db, "", 0, &wild);
	if (r == 0) {
		errno = EPROTO;
		r = -1;
	}
	if (r == 1)
		r = try_keys(db, key, klen, &wild, &data, &at);
	if (r == 1 && found_entry(e, key, klen, at, &data, local) < 0)
		r = -1;
	if (r < 0 && errno == EMSGSIZE)
		errno = ENAMETOOLONG;
	int saved = errno;
	sbuf_free(&wild);
	sbuf_free(&data);
	errno = saved;
	return r;
}

int assign_lookup(const char *cdbpath, const char *local,
                  struct assign_entry *e)
{
	char key[ASSIGN_LOCAL_MAX + 2];
	struct cdb db;
	size_t n = strlen(local);
	if (n >= ASSIGN_LOCAL_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	key[0] = '!';
	for (size_t i = 0; i < n; i++)
		key[i + 1] = lower(local[i]);
	key[n + 1] = '\0';
	int fd = open(cdbpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	errno = 0;
	int r = cdb_init(&db, fd);
	if (r < 0 && !errno)
		errno = EPROTO;
	if (r == 0) {
		r = search(&db, key, n + 2, local, e);
		int saved = errno;
		cdb_free(&db);
		errno = saved;
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}
