/*
 * control - read qmail-style control files. See control.h and sq-control(5).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "util/control.h"

int control_open(struct control *c, const char *dir)
{
	sbuf_init(&c->me, CONTROL_LINE_MAX);
	c->meok = 0;
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return -1;
	int r = control_readline(c, "me", &c->me);
	if (r < 0) {
		control_close(c);
		return -1;
	}
	c->meok = r == 1;
	return 0;
}

void control_close(struct control *c)
{
	if (c->dirfd >= 0)
		close(c->dirfd);
	c->dirfd = -1;
	sbuf_free(&c->me);
	c->meok = 0;
}

/* Reads the whole file: 1, 0 (missing) or -1. */
static int slurp(struct control *c, const char *name, struct sbuf *raw)
{
	int fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	int r = sbuf_read_fd(raw, fd);
	int saved = errno;
	close(fd);
	if (r < 0) {
		errno = saved;
		return -1;
	}
	return 1;
}

int control_split(const char *text, size_t len, struct sbuf *out,
                  size_t *count)
{
	const char *p = text;
	const char *end = p + len;
	*count = 0;
	if (memchr(text, '\0', len)) {
		errno = EINVAL;
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p);
		if (n > CONTROL_LINE_MAX) {
			errno = EINVAL;
			return -1;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
		                 p[n - 1] == '\r'))
			n--;
		if (n > 0 && p[0] != '#') {
			if (sbuf_put(out, p, n) < 0 || sbuf_putc(out, '\0') < 0)
				return -1;
			(*count)++;
		}
		p = eol + 1;
	}
	return 0;
}

int control_readfile(struct control *c, const char *name, struct sbuf *out,
                     size_t *count)
{
	struct sbuf raw;
	size_t n = 0;
	sbuf_init(&raw, CONTROL_FILE_MAX);
	sbuf_reset(out);
	int r = slurp(c, name, &raw);
	if (r == 1 && control_split(raw.s ? raw.s : "", raw.len, out, &n) < 0)
		r = -1;
	int saved = errno;
	sbuf_free(&raw);
	errno = saved;
	if (count)
		*count = r == 1 ? n : 0;
	return r;
}

const char *control_nextline(const struct sbuf *lines, const char *prev)
{
	if (!lines->s || lines->len == 0)
		return NULL;
	const char *next = prev ? prev + strlen(prev) + 1 : lines->s;
	return next < lines->s + lines->len ? next : NULL;
}

int control_readline(struct control *c, const char *name, struct sbuf *out)
{
	struct sbuf lines;
	size_t n;
	sbuf_init(&lines, CONTROL_FILE_MAX);
	int r = control_readfile(c, name, &lines, &n);
	if (r == 1) {
		/* An existing file with no value line means the empty value. */
		const char *first = n ? lines.s : "";
		if (sbuf_copy(out, first, strlen(first)) < 0)
			r = -1;
	}
	int saved = errno;
	sbuf_free(&lines);
	errno = saved;
	return r;
}

int control_rldef(struct control *c, const char *name, int flagme,
                  const char *def, struct sbuf *out)
{
	int r = control_readline(c, name, out);
	if (r != 0)
		return r;
	if (flagme && c->meok)
		return sbuf_copy(out, c->me.s, c->me.len) < 0 ? -1 : 1;
	if (def)
		return sbuf_copy(out, def, strlen(def)) < 0 ? -1 : 1;
	return 0;
}

int control_readulong(struct control *c, const char *name, unsigned long max,
                      unsigned long *out)
{
	struct sbuf line;
	sbuf_init(&line, CONTROL_LINE_MAX);
	int r = control_readline(c, name, &line);
	if (r == 1) {
		unsigned long v = 0;
		const char *p = line.s;
		if (!p || !*p)
			r = -1;
		for (; r == 1 && *p; p++) {
			unsigned long d = (unsigned long)(*p - '0');
			if (*p < '0' || *p > '9' || v > max / 10 ||
			    d > max || v * 10 > max - d)
				r = -1;
			else
				v = v * 10 + d;
		}
		if (r == 1)
			*out = v;
		else
			errno = EINVAL;
	} else if (r < 0) {
		int saved = errno;
		sbuf_free(&line);
		errno = saved;
		return r;
	}
	sbuf_free(&line);
	return r;
}
