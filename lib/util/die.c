/*
 * die - exit codes with enhanced status codes. See die.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/die.h"
#include "util/home.h"
#include "util/log.h"

/* Reads 1 to 3 digits; returns the position after them or NULL. */
static const char *digits(const char *s)
{
	int n = 0;
	while (isdigit((unsigned char)*s) && n < 4) {
		s++;
		n++;
	}
	return (n >= 1 && n <= 3) ? s : NULL;
}

int enh_valid(const char *s)
{
	if (!s || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	s = digits(s + 2);
	if (!s || *s != '.')
		return 0;
	s = digits(s + 1);
	return s && *s == '\0';
}

static _Noreturn void die_msg(int code, const char *enh, const char *msg)
{
	if (!enh_valid(enh))
		enh = code == EXIT_PERM ? "5.0.0" : code == EXIT_TEMP ? "4.0.0"
		                                                      : "2.0.0";
	log_msg(code == EXIT_DONE ? SQLOG_INFO : SQLOG_FATAL, "%s (#%s)", msg, enh);
	exit(code);
}

/* Formats the variadic message of the function it is used in into msg. */
#define FORMAT_MSG(msg, fmt)                            \
	char msg[SQLOG_MAX];                              \
	do {                                            \
		va_list ap;                             \
		va_start(ap, fmt);                      \
		vsnprintf(msg, sizeof msg, fmt, ap);    \
		va_end(ap);                             \
	} while (0)

void die_code(int code, const char *enh, const char *fmt, ...)
{
	FORMAT_MSG(msg, fmt);
	die_msg(code, enh, msg);
}

void die_temp(const char *enh, const char *fmt, ...)
{
	FORMAT_MSG(msg, fmt);
	die_msg(EXIT_TEMP, enh, msg);
}

void die_perm(const char *enh, const char *fmt, ...)
{
	FORMAT_MSG(msg, fmt);
	die_msg(EXIT_PERM, enh, msg);
}

void die_sys_temp(const char *fmt, ...)
{
	FORMAT_MSG(msg, fmt);
	die_msg(EXIT_TEMP, "4.3.0", msg);
}

void die_badarg(const char *fmt, ...)
{
	FORMAT_MSG(msg, fmt);
	die_msg(EXIT_PERM, "5.3.5", msg);
}

void die_nosuch(const char *fmt, ...)
{
	FORMAT_MSG(msg, fmt);
	die_msg(EXIT_PERM, "5.1.1", msg);
}

void die_nomem(void)
{
	die_sys_temp("out of memory");
}

void die_usage(const char *usage)
{
	die_badarg("usage: %s %s", log_progname(), usage);
}

void die_if_root(int test_ok, const char *how)
{
	if (geteuid() == 0 && !(test_ok && sq_home_is_test()))
		die_sys_temp("refusing to run as root: %s", how);
}
