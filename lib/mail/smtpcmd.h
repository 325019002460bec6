/*
 * smtpcmd - the SMTP command line and MAIL/RCPT path parsers of sq-smtpd
 * (RFC 5321 4.1). Pure syntax: no I/O, no policy (rcpthosts, databytes and
 * the like are the caller's).
 */
#ifndef SQ_SMTPCMD_H
#define SQ_SMTPCMD_H

#include <stddef.h>

#include "mail/addr.h"

#define SMTP_LINE_MAX 510       /* RFC 5321 4.5.3.1.4: 512 with the CRLF */
#define SMTP_PATH_MAX 256       /* RFC 5321 4.5.3.1.3: with its "<" ">" */

enum smtp_verb {
	SMTP_UNKNOWN, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA,
	SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_VRFY, SMTP_HELP, SMTP_STARTTLS
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *arg;        /* the text after the verb and its separating
	                           space(s), "" if none; points into the line */
};

/* line: one command line with its CRLF or LF already removed, followed by
 * a NUL at line[len] (as an sbuf's bytes are) so that arg is a C string.
 * Returns 0, or -1 for a NUL byte inside the line, a line longer than
 * SMTP_LINE_MAX octets or one not NUL-terminated. The verb is
 * case-insensitive and must be followed by a space or the end; any other
 * first word is SMTP_UNKNOWN (with arg after it). */
int smtpcmd_parse(const char *line, size_t len, struct smtp_cmd *out);

struct smtp_path {
	char addr[ADDR_MAX + 1];        /* the mailbox as given (case kept),
	                                   "" for the null path <> */
	int null;                       /* <> */
	unsigned long long size;        /* SIZE= (MAIL only), 0 if absent */
	int body8;                      /* BODY=8BITMIME (MAIL only) */
};

enum smtp_path_error {
	PATH_OK = 0,
	PATH_SYNTAX,            /* 501 */
	PATH_TOO_LONG,          /* 501: path over SMTP_PATH_MAX octets */
	PATH_BAD_PARAM,         /* 555: unknown or malformed parameter */
	PATH_NULL_NOT_ALLOWED   /* <> as RCPT */
};

/* arg: "FROM:<a@b> SIZE=123 BODY=8BITMIME". "FROM:" is case-insensitive
 * and may be followed by spaces; the path is in angle brackets; a source
 * route "<@a,@b:u@d>" is accepted and dropped (RFC 5321 4.1.2, appendix
 * C); the mailbox is local@domain, local a dot-atom or a quoted string
 * (kept as given), domain a domain name or an address literal [1.2.3.4] /
 * [IPv6:...]. Parameters, space-separated, keywords case-insensitive:
 * SIZE=digits, BODY=7BIT or BODY=8BITMIME, each at most once; anything
 * else, or a SIZE that overflows, is PATH_BAD_PARAM. On any error *p is
 * left zeroed (addr ""). */
enum smtp_path_error smtpcmd_mail_from(const char *arg, struct smtp_path *p);

/* arg: "TO:<a@b>"; no parameters are accepted (any is PATH_BAD_PARAM).
 * "<postmaster>" without a domain, in any case, is allowed (RFC 5321
 * 4.5.1) and stored as "postmaster"; <> is PATH_NULL_NOT_ALLOWED. */
enum smtp_path_error smtpcmd_rcpt_to(const char *arg, struct smtp_path *p);

/* A short English reason for a smtp_path_error, for the SMTP reply. */
const char *smtpcmd_strerror(enum smtp_path_error e);

#endif
