#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "deliver/dotqmail.h"
#include "util/path.h"
#include "util/sbuf.h"

#define SEALED "%sealed "

static enum dotqmail_result bad(const char **why, const char *text)
{
	if (why)
		*why = text;
	return DOTQMAIL_BADFILE;
}

/* One "%sealed ADDRESS" line (without its LF) into address. */
static enum dotqmail_result sealed_line(const char *s, size_t n,
                                        char address[ADDR_MAX + 1],
                                        const char **why)
{
	size_t k = sizeof SEALED - 1;
	if (n <= k || memcmp(s, SEALED, k) != 0)
		return bad(why, "a delivery line other than %sealed");
	if (memchr(s + k, ' ', n - k) || memchr(s + k, '\t', n - k))
		return bad(why, "a %sealed line with more than one address");
	if (addr_normalize(s + k, n - k, address) != ADDR_OK)
		return bad(why, "a %sealed line with an invalid address");
	return DOTQMAIL_OK;
}

enum dotqmail_result dotqmail_parse(const char *text, size_t len,
                                    char address[ADDR_MAX + 1],
                                    const char **why)
{
	int found = 0;
	if (len > DOTQMAIL_MAX || memchr(text, '\0', len))
		return bad(why, "a .qmail file too long or with a NUL");
	for (size_t at = 0; at < len;) {
		const char *eol = memchr(text + at, '\n', len - at);
		size_t n = eol ? (size_t)(eol - text) - at : len - at;
		const char *s = text + at;
		at += n + 1;
		if (n == 0 || s[0] == '#')
			continue;
		if (found)
			return bad(why, "more than one delivery line");
		enum dotqmail_result r = sealed_line(s, n, address, why);
		if (r != DOTQMAIL_OK)
			return r;
		found = 1;
	}
	return found ? DOTQMAIL_OK : bad(why, "no delivery line");
}

int dotqmail_path(const struct assign_entry *e, char *out, size_t n)
{
	if (path_fmt(out, n, "%s/.qmail%s%s", e->home, e->dash, e->ext) < 0)
		return -1;
	for (char *p = out + strlen(e->home) + 7; *p; p++)
		if (*p == '.')
			*p = ':';
	return 0;
}

static enum dotqmail_result read_file(const char *path, struct sbuf *text,
                                      const char **why)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return bad(why, "no .qmail file for the assignment");
		*why = "cannot open the .qmail file";
		return DOTQMAIL_TEMP;
	}
	int r = sbuf_read_fd(text, fd);
	int e = errno;
	close(fd);
	if (r < 0) {
		errno = e;
		*why = e == EMSGSIZE ? "the .qmail file is too long"
		                                    : "cannot read the .qmail file";
		return e == EMSGSIZE ? DOTQMAIL_BADFILE
		                                    : DOTQMAIL_TEMP;
	}
	return DOTQMAIL_OK;
}

enum dotqmail_result dotqmail_lookup(const char *cdbpath, const char *local,
                                     struct assign_entry *e,
                                     char address[ADDR_MAX + 1],
                                     const char **why)
{
	char path[ASSIGN_HOME_MAX + ASSIGN_DASH_MAX + ASSIGN_EXT_MAX + 8];
	const char *dummy;
	if (!why)
		why = &dummy;
	int r = assign_lookup(cdbpath, local, e);
	if (r < 0) {
		*why = "cannot read users/cdb";
		return DOTQMAIL_TEMP;
	}
	if (r == 0) {
		*why = "no such user";
		return DOTQMAIL_NOUSER;
	}
	if (dotqmail_path(e, path, sizeof path) < 0)
		return bad(why, "the .qmail path is too long");
	struct sbuf text;
	sbuf_init(&text, DOTQMAIL_MAX);
	enum dotqmail_result res = read_file(path, &text, why);
	if (res == DOTQMAIL_OK)
		res = dotqmail_parse(text.s ? text.s : "", text.len, address, why);
	sbuf_free(&text);
	return res;
}
