/*
 * dsn - the delivery status notification (RFC 3464) sq-send sends a
 * sender when a message cannot be delivered. It names the recipients and
 * the reasons; it cannot quote the message, which is sealed for its
 * recipients (nobody on this host can read it). The sealing daemon, which
 * still holds the plaintext when a recipient has no key, adds the
 * original's header section (text/rfc822-headers, RFC 6522), never its
 * body.
 */
#ifndef SQ_DSN_H
#define SQ_DSN_H

#include <time.h>

#include "util/control.h"
#include "util/sbuf.h"

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

/* dsn_build with a third part: headers (len octets, the original's
 * header section as dsn_header_section finds it) as text/rfc822-headers. */
int dsn_build_headers(const struct dsn *d, const char *headers, size_t len,
                      struct sbuf *out);

/* The length of msg's header section: the header fields (and their
 * folded lines) from the start, up to max octets and cut at a line end;
 * it stops at the empty line or at the first line that is not a header
 * field, so no body text is taken even from a message without an empty
 * line. */
size_t dsn_header_section(const char *msg, size_t len, size_t max);

/* The enhanced status code a reason starts with ("5.1.1 no such user"),
 * or "5.0.0" if it has none; into code (at least 12 octets). */
void dsn_status(const char *reason, char *code);

/* Who notices come from: control/me (default localhost) into me, and
 * control/bouncefrom (MAILER-DAEMON) @ control/bouncehost (me) into from.
 * 0, or -1 (errno) when a file cannot be read. */
int dsn_sender(struct control *ctl, char *me, size_t melen, char *from,
               size_t fromlen);

#endif
