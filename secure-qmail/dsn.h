/*
 * dsn - the delivery status notification (RFC 3464) sq-send sends a
 * sender when a message cannot be delivered. It names the recipients and
 * the reasons; it cannot quote the message, which is sealed for its
 * recipients (nobody on this host can read it).
 */
#ifndef SQ_DSN_H
#define SQ_DSN_H

#include <time.h>

#include "sbuf.h"

struct dsn {
	const char *me;         /* control/me: the reporting MTA */
	const char *from;       /* the From: address, MAILER-DAEMON@me */
	const char *sender;     /* who gets it */
	unsigned long long num; /* the message's queue number */
	time_t arrival, now;
	const char *failures;   /* bounce/N's "R" rcpt NUL reason NUL records */
	size_t len;
};

/* Appends the notification (LF line ends, as queued messages have) to
 * out; 0, or -1 (ENOMEM, or EINVAL for malformed records). */
int dsn_build(const struct dsn *d, struct sbuf *out);

/* The enhanced status code a reason starts with ("5.1.1 no such user"),
 * or "5.0.0" if it has none; into code (at least 12 octets). */
void dsn_status(const char *reason, char *code);

#endif
