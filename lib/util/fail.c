/*
 * fail - format a reason, return a code. See fail.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include "util/fail.h"

int vfail_why(char *why, size_t whylen, int code, const char *fmt,
              va_list ap)
{
	if (why && whylen)
		vsnprintf(why, whylen, fmt, ap);
	return code;
}

int fail_why(char *why, size_t whylen, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail_why(why, whylen, code, fmt, ap);
	va_end(ap);
	return code;
}
