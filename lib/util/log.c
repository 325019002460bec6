/*
 * log - one-line log records on stderr. See log.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* Set once at start-up, read by every record: the only global here. */
static char progname[64] = "secure-qmail";

static const char *const level_names[] = {
	[SQLOG_DEBUG] = "debug", [SQLOG_INFO] = "info", [SQLOG_WARN] = "warning",
	[SQLOG_ALERT] = "alert", [SQLOG_FATAL] = "fatal",
};

void log_init(const char *name)
{
	const char *slash = strrchr(name, '/');
	snprintf(progname, sizeof progname, "%s", slash ? slash + 1 : name);
}

const char *log_progname(void)
{
	return progname;
}

/* Appends c to out[*len] escaped; returns 0 when it no longer fits. */
static int put_escaped(char *out, size_t room, size_t *len, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	if (c >= 0x20 && c < 0x7f && c != '\\') {
		if (*len + 1 > room)
			return 0;
		out[(*len)++] = (char)c;
		return 1;
	}
	if (*len + 4 > room)
		return 0;
	out[(*len)++] = '\\';
	out[(*len)++] = 'x';
	out[(*len)++] = hex[c >> 4];
	out[(*len)++] = hex[c & 15];
	return 1;
}

size_t log_format(char *out, size_t n, enum log_level level, const char *msg)
{
	if (n < 8)
		return 0;
	if ((unsigned)level > SQLOG_FATAL)
		level = SQLOG_ALERT;
	int head = snprintf(out, n, "%s[%ld]: %s: ", progname, (long)getpid(),
	                    level_names[level]);
	if (head < 0 || (size_t)head >= n - 5)
		head = 0;
	size_t len = (size_t)head;
	size_t room = n - 5; /* keep space for "...\n" and the NUL */
	const unsigned char *p = (const unsigned char *)msg;
	for (; *p; p++)
		if (!put_escaped(out, room, &len, *p))
			break;
	if (*p) {
		memcpy(out + len, "...", 3);
		len += 3;
	}
	out[len++] = '\n';
	out[len] = '\0';
	return len;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[SQLOG_MAX];
	char rec[SQLOG_MAX + 128];
	int want = vsnprintf(msg, sizeof msg, fmt, ap);
	if (want >= (int)sizeof msg)
		memcpy(msg + sizeof msg - 4, "...", 4);
	size_t len = log_format(rec, sizeof rec, level, msg);
	const char *p = rec;
	while (len > 0) {
		ssize_t w = write(2, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		len -= (size_t)w;
	}
	errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
