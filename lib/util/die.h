/*
 * die - leave a program qmail's way: exit 0 (done), 100 (permanent
 * failure: do not retry) or 111 (temporary failure: try again later), with
 * a log record that carries the RFC 3463 enhanced status code, e.g.
 *   sq-seal[42]: fatal: unable to reach the PKS: timeout (#4.3.0)
 */
#ifndef SQ_DIE_H
#define SQ_DIE_H

#include <stdarg.h>

enum { EXIT_DONE = 0, EXIT_PERM = 100, EXIT_TEMP = 111 };

/* Logs "<message> (#<enh>)" at level fatal and exits with code. enh must
 * look like "4.3.0"; a malformed one is replaced by the generic x.0.0 of the
 * exit class so a bad caller cannot produce an unparsable line. */
_Noreturn void die_code(int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
_Noreturn void die_temp(const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
_Noreturn void die_perm(const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The common cases, qmail's temp_nomem() and friends, each with its one
 * enhanced status code:
 *   die_sys_temp  111, 4.3.0: a system error, a missing or unusable
 *                 control file, anything worth a retry
 *   die_badarg    100, 5.3.5: an argument the program refuses (as
 *                 die_usage, which prints the usage line)
 *   die_nosuch    100, 5.1.1: what an argument names does not exist
 *   die_nomem     111, 4.3.0: "out of memory" */
_Noreturn void die_sys_temp(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
_Noreturn void die_badarg(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
_Noreturn void die_nosuch(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
_Noreturn void die_nomem(void);
_Noreturn void die_usage(const char *usage);

/* A daemon's refusal of root: with the effective uid 0, dies as
 * die_sys_temp("refusing to run as root: %s", how), unless test_ok and
 * $SQ_HOME names a test instance (sq_home_is_test, util/home.h: root
 * follows it only to a directory only root can change). */
void die_if_root(int test_ok, const char *how);

/* 1 if s is a well-formed enhanced status code "c.s.d" (RFC 3463:
 * class 2, 4 or 5; subject 0-999; detail 0-999), else 0. */
int enh_valid(const char *s);

#endif
