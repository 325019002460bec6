/*
 * path - file names under one limit. See path.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/path.h"

/* The room a name may take in a buffer of outlen octets. */
static size_t room(size_t outlen)
{
	return outlen < SQ_PATH_MAX ? outlen : SQ_PATH_MAX;
}

static int too_long(char *out, size_t outlen)
{
	if (outlen)
		out[0] = '\0';
	errno = ENAMETOOLONG;
	return -1;
}

int path_join(char *out, size_t outlen, const char *first, ...)
{
	size_t max = room(outlen), len = 0, slash = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *p = first; p; p = va_arg(ap, const char *), slash = 1) {
		size_t n = strlen(p);
		/* the part, its "/" before it and the NUL after the name */
		if (n + slash >= max - len) {
			va_end(ap);
			return too_long(out, outlen);
		}
		if (slash)
			out[len++] = '/';
		memcpy(out + len, p, n);
		len += n;
	}
	va_end(ap);
	if (len >= max) /* no parts at all and no room for the NUL */
		return too_long(out, outlen);
	out[len] = '\0';
	return 0;
}

int path_fmt(char *out, size_t outlen, const char *fmt, ...)
{
	size_t max = room(outlen);
	va_list ap;
	va_start(ap, fmt);
	int n = max ? vsnprintf(out, max, fmt, ap) : -1;
	va_end(ap);
	if (n < 0 || (size_t)n >= max)
		return too_long(out, outlen);
	return 0;
}
