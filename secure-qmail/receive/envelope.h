/*
 * envelope - the envelope of the qmail-queue interface: "F" sender NUL,
 * then "T" recipient NUL for each recipient, then one more NUL (see
 * qmail-queue(8)). What sq-smtpd writes, sq-seal hands on and the sealing
 * daemon reads.
 */
#ifndef SQ_ENVELOPE_H
#define SQ_ENVELOPE_H

#include <stddef.h>

#include "queue/queue.h"
#include "util/sbuf.h"

/* The queue's bound, the one every reader and writer of an envelope
 * uses (qmail-queue refuses longer, exit 11). */
#define ENVELOPE_ADDR_MAX QUEUE_ADDR_MAX

struct envelope {
	char *sender;           /* "" for the null path */
	char **rcpt;
	size_t n;
	struct sbuf text;       /* the strings above point into it */
};

/* Parses an envelope; 0, or -1 (EINVAL malformed, ENAMETOOLONG an
 * address over ENVELOPE_ADDR_MAX). */
int envelope_parse(struct envelope *e, const char *data, size_t len);
void envelope_free(struct envelope *e);

/* Appends the envelope of sender and rcpt[0..n) to out; 0 or -1. */
int envelope_format(struct sbuf *out, const char *sender,
                    const char *const *rcpt, size_t n);

#endif
