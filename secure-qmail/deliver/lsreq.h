/*
 * lsreq - a delivery request from sq-send to sq-lspawn (sq-lspawn(8)):
 * slot NUL, message number NUL, sender NUL, recipient NUL.
 *
 * Both ends take their bounds from here, and the bound on an address is
 * the queue's, QUEUE_ADDR_MAX octets without its NUL: every address the
 * queue holds fits. A request whose address does not fit is refused for
 * that recipient alone (the writer does not send it; the reader skips it
 * whole and answers D for its slot), never by ending the stream: one
 * queued message must not stop the scheduler.
 */
#ifndef SQ_LSREQ_H
#define SQ_LSREQ_H

#include <stddef.h>

#include "queue/queue.h"
#include "util/rbuf.h"
#include "util/sbuf.h"

/* A decimal slot or message number with its NUL. */
#define LSREQ_NUM_FIELD 24
/* An address with its NUL, as rbuf_getfield counts. */
#define LSREQ_ADDR_FIELD (QUEUE_ADDR_MAX + 1)
/* The part a worker gets: number, sender, recipient, each NUL-ended. */
#define LSREQ_MAX (LSREQ_NUM_FIELD + 2 * LSREQ_ADDR_FIELD)

struct lsreq {
	long slot;
	char req[LSREQ_MAX];    /* num NUL sender NUL rcpt NUL */
	size_t len;
};

/* Appends the request to out. -1 with errno ENAMETOOLONG if sender or
 * rcpt is longer than QUEUE_ADDR_MAX (nothing appended), or as sbuf_put. */
int lsreq_put(struct sbuf *out, unsigned long slot, unsigned long long num,
              const char *sender, const char *rcpt);

enum lsreq_get {
	LSREQ_OK,               /* r holds a request */
	LSREQ_EOF,              /* end of input before a request */
	LSREQ_TOOLONG,          /* a field over its bound: r->slot is set and
	                         * the request read whole; refuse that slot */
	LSREQ_BAD               /* not a request: the stream is unusable */
};

/* An sbuf for lsreq_get's fields. */
void lsreq_field_init(struct sbuf *field);
/* Reads one request from in into r, using field (lsreq_field_init). */
enum lsreq_get lsreq_get(struct rbuf *in, struct sbuf *field,
                         struct lsreq *r);

#endif
