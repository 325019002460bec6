/*
 * smtpdata - the DATA phase of sq-smtpd as a state machine fed with the
 * octets read from the client: finds the end of the message, unstuffs
 * dots, turns CRLF into LF, enforces databytes and the line length limit,
 * counts hops, and refuses bare CR and bare LF (qmail's rule, which defeats
 * SMTP smuggling).
 */
#ifndef SQ_SMTPDATA_H
#define SQ_SMTPDATA_H

#include <stddef.h>

#include "util/sbuf.h"

#define SMTPDATA_LINE_MAX 1000  /* RFC 5321 4.5.3.1.6: a text line's
                                   octets with its CRLF, as received */
#define SMTPDATA_HEAD 13        /* strlen("Delivered-To:"): the longest
                                   line start that counts as a hop */

/* The fields are private to smtpdata.c; use the functions below. */
struct smtpdata {
	unsigned long long max;         /* databytes, 0 = no limit */
	unsigned long long octets;      /* message octets so far, LF ends */
	unsigned hops;
	int state;                      /* where in a line we are */
	int done, bare, too_big, long_line;
	int error;                      /* errno of a failed append, or 0 */
	int in_header;                  /* no empty line seen yet */
	size_t linepos;                 /* octets of this line so far, up
	                                   to SMTPDATA_HEAD */
	char head[SMTPDATA_HEAD];       /* the start of this header line */
	size_t linelen;                 /* octets of this line as received,
	                                   stuffed dot and CR included */
};

void smtpdata_init(struct smtpdata *d, unsigned long long max);

/* Feeds n octets read from the client. Appends the message to out with
 * every CRLF turned into LF and leading dots unstuffed (RFC 5321 4.5.2),
 * but never more than max octets: past it the message is only counted
 * (too_big). Returns how many octets of in it consumed: it stops right
 * after the final CRLF "." CRLF, so octets after it (pipelined commands)
 * stay with the caller; after a bare CR or LF it stops right after the
 * octet that showed it. Once done or bare it consumes nothing. */
size_t smtpdata_feed(struct smtpdata *d, const char *in, size_t n,
                     struct sbuf *out);

/* The end CRLF "." CRLF was seen. */
int smtpdata_done(const struct smtpdata *d);

/* A LF not preceded by CR, or a CR not followed by LF, was seen: the
 * caller answers 451 and closes the connection. */
int smtpdata_bare(const struct smtpdata *d);

/* The message has more than max octets (the caller answers 552). */
int smtpdata_too_big(const struct smtpdata *d);

/* A line had more than SMTPDATA_LINE_MAX octets as received, its CRLF
 * included (the caller refuses the message with 554 once it has ended).
 * The message is still read and stored to its end. */
int smtpdata_long_line(const struct smtpdata *d);

/* errno of a failed append to out (ENOMEM, or EMSGSIZE when out's own
 * limit is below max), 0 if none. From then on the message is only
 * counted, so that its end is still found; the caller answers 451. */
int smtpdata_error(const struct smtpdata *d);

/* Octets of the message with LF line ends, counted even past max. */
unsigned long long smtpdata_octets(const struct smtpdata *d);

/* Header lines (before the first empty line) that begin with "Received:"
 * or "Delivered-To:", case-insensitive: the hop count. */
unsigned smtpdata_hops(const struct smtpdata *d);

#endif
