/*
 * log - one-line log records on stderr, for multilog(8).
 *
 * A record is "program[pid]: level: message\n", written with a single
 * write(2) so records from several processes do not interleave. multilog
 * adds the timestamp. Bytes outside printable ASCII (and the backslash) are
 * written as \xHH, so hostile input can neither break a record in two nor
 * smuggle terminal escapes; records longer than SQLOG_MAX are cut and end
 * with "...". Never pass a password or key to these functions.
 */
#ifndef SQ_LOG_H
#define SQ_LOG_H

#include <stdarg.h>

#define SQLOG_MAX 1024

enum log_level { SQLOG_DEBUG, SQLOG_INFO, SQLOG_WARN, SQLOG_ALERT, SQLOG_FATAL };

/* Sets the program name shown in each record (the basename is kept). */
void log_init(const char *progname);
const char *log_progname(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Formats a record into out (size n, NUL-terminated) without writing it;
 * returns its length. Exposed for tests. */
size_t log_format(char *out, size_t n, enum log_level level,
                  const char *msg);

#endif
