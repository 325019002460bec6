/*
 * fail - "format a reason, return a code": the one way a function that
 * fails writes why into its caller's buffer,
 *   return fail_why(why, whylen, -1, "control/%s: %s", name,
 *                   strerror(errno));
 * A module that keeps its reason in a structure names the buffer once,
 * in a macro of its own:
 *   #define temp(p, ...) \
 *           fail_why((p)->why, sizeof (p)->why, PROV_TEMP, __VA_ARGS__)
 * The reason is truncated to the buffer (it is text for a log line or a
 * reply, never a name to open); a NULL why or a whylen of 0 writes
 * nothing.
 */
#ifndef SQ_FAIL_H
#define SQ_FAIL_H

#include <stdarg.h>
#include <stddef.h>

/* Formats the reason into why (whylen octets with the NUL); returns code. */
int fail_why(char *why, size_t whylen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int vfail_why(char *why, size_t whylen, int code, const char *fmt,
              va_list ap)
	__attribute__((format(printf, 4, 0)));

#endif
