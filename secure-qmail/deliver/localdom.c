/*
 * localdom - the domains that are ours. See localdom.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "deliver/localdom.h"

static const char *const files[2] = { "virtualdomains", "locals" };

void localdom_init(struct localdom *l, struct control *ctl)
{
	memset(l, 0, sizeof *l);
	l->ctl = ctl;
	sbuf_init(&l->list, CONTROL_FILE_MAX * 2);
}

void localdom_free(struct localdom *l)
{
	sbuf_free(&l->list);
}

static int add(struct sbuf *list, const char *dom, size_t len,
               const char *prefix)
{
	return sbuf_put(list, dom, len) < 0 || sbuf_putc(list, '\0') < 0 ||
	       sbuf_put(list, prefix, strlen(prefix) + 1) < 0 ? -1 : 0;
}

int localdom_reload(struct localdom *l)
{
	struct timespec now[2] = { { 0, 0 }, { 0, 0 } };
	for (int i = 0; i < 2; i++) {
		struct stat st;
		if (fstatat(l->ctl->dirfd, files[i], &st, 0) == 0)
			now[i] = st.st_mtim;
	}
	if (l->list.s && !memcmp(now, l->mtime, sizeof now))
		return 0;
	sbuf_reset(&l->list);
	for (int i = 0; i < 2; i++) {
		struct sbuf lines;
		size_t n;
		sbuf_init(&lines, CONTROL_FILE_MAX);
		int r = control_readfile(l->ctl, files[i], &lines, &n);
		for (const char *s = r == 1 ? control_nextline(&lines, NULL) : NULL;
		     s; s = control_nextline(&lines, s)) {
			const char *colon = i == 0 ? strchr(s, ':') : NULL;
			if (i == 0 && !colon)
				continue; /* not a virtualdomains line */
			if (add(&l->list, s, colon ? (size_t)(colon - s) : strlen(s),
			        colon ? colon + 1 : "") < 0)
				r = -1;
		}
		sbuf_free(&lines);
		if (r < 0)
			return -1;
	}
	if (sbuf_putc(&l->list, '\0') < 0)
		return -1;
	memcpy(l->mtime, now, sizeof now);
	return 0;
}

int localdom_match(struct localdom *l, const char *address,
                   const char **prefix)
{
	const char *at = strrchr(address, '@');
	if (prefix)
		*prefix = NULL;
	if (!at)
		return 1; /* a bare local part ("postmaster") is ours */
	if (localdom_reload(l) < 0)
		return -1;
	for (const char *d = l->list.s; d && *d;) {
		const char *p = d + strlen(d) + 1;
		if (strcasecmp(d, at + 1) == 0) {
			if (prefix)
				*prefix = *p ? p : NULL;
			return 1;
		}
		d = p + strlen(p) + 1;
	}
	return 0;
}

int localdom_localname(struct localdom *l, const char *address, char *out,
                       size_t n)
{
	const char *at = strrchr(address, '@'), *prefix;
	int llen = at ? (int)(at - address) : (int)strlen(address);
	int ours = localdom_match(l, address, &prefix);
	if (ours <= 0)
		return ours;
	int len = prefix ? snprintf(out, n, "%s-%.*s", prefix, llen, address)
	                 : snprintf(out, n, "%.*s", llen, address);
	return len < 0 || (size_t)len >= n ? -2 : 1;
}

int localdom_is_postmaster(const char *address)
{
	const char *at = strrchr(address, '@');
	size_t n = at ? (size_t)(at - address) : strlen(address);
	return n == 10 && strncasecmp(address, "postmaster", 10) == 0;
}
