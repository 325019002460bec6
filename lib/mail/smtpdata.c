/*
 * smtpdata - the DATA phase state machine. See smtpdata.h.
 *
 * The state says where in a line the last octet left us, so that a line
 * may arrive split at any octet over any number of reads. A CR is never
 * stored: it is either the first half of a CRLF (stored as LF) or bare,
 * and a bare CR or LF stops everything. That is what makes "\n.\n",
 * "\r.\r" and the like unable to end a message here while a later hop,
 * reading them differently, would see a second message begin.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "mail/smtpdata.h"

enum {
	SD_BOL,         /* at the start of a line */
	SD_DOT,         /* a '.' at the start of a line */
	SD_DOTCR,       /* ".\r" at the start of a line: the end, if LF comes */
	SD_LINE,        /* inside a line */
	SD_CR           /* a CR inside a line: its end, if LF comes */
};

void smtpdata_init(struct smtpdata *d, unsigned long long max)
{
	memset(d, 0, sizeof *d);
	d->max = max;
	d->state = SD_BOL;
	d->in_header = 1;
}

/* Appends to out, filling it to its own limit before failing, so that
 * what is stored is the same however the input was split into reads. */
static void append(struct smtpdata *d, const char *p, size_t n,
                   struct sbuf *out)
{
	size_t room = out->max - out->len;
	if (sbuf_put(out, p, n < room ? n : room) < 0)
		d->error = errno;
	else if (n > room)
		d->error = EMSGSIZE;
}

/* Counts n octets of the message and appends those within max. */
static void store(struct smtpdata *d, const char *p, size_t n,
                  struct sbuf *out)
{
	unsigned long long before = d->octets;
	d->octets = n > ULLONG_MAX - before ? ULLONG_MAX : before + n;
	if (d->max && d->octets > d->max) {
		d->too_big = 1;
		n = before < d->max ? (size_t)(d->max - before) : 0;
	}
	if (n > 0 && !d->error)
		append(d, p, n, out);
}

/* Whether a line start grown from was to now octets has just reached
 * the length of prefix and matches it. */
static int head_is(const struct smtpdata *d, size_t was, const char *prefix)
{
	size_t n = strlen(prefix);
	return was < n && d->linepos >= n &&
	       strncasecmp(d->head, prefix, n) == 0;
}

/* Keeps the first octets of a header line, for the hop count. */
static void track_head(struct smtpdata *d, const char *p, size_t n)
{
	if (!d->in_header || d->linepos >= SMTPDATA_HEAD)
		return;
	size_t was = d->linepos;
	size_t k = SMTPDATA_HEAD - was;
	if (n < k)
		k = n;
	memcpy(d->head + was, p, k);
	d->linepos += k;
	if (head_is(d, was, "Received:"))
		d->hops++;
	if (head_is(d, was, "Delivered-To:"))
		d->hops++;
}

static void content(struct smtpdata *d, const char *p, size_t n,
                    struct sbuf *out)
{
	track_head(d, p, n);
	store(d, p, n, out);
}

/* A CRLF: stored as LF; an empty line ends the header. */
static void end_line(struct smtpdata *d, struct sbuf *out)
{
	if (d->in_header && d->linepos == 0)
		d->in_header = 0;
	d->linepos = 0;
	store(d, "\n", 1, out);
}

/* Inside a line: everything up to a CR or LF is content, in one append. */
static size_t step_line(struct smtpdata *d, const char *p, size_t n,
                        struct sbuf *out)
{
	size_t run = 0;
	while (run < n && p[run] != '\r' && p[run] != '\n')
		run++;
	if (run > 0) {
		content(d, p, run, out);
		return run;
	}
	if (*p == '\r')
		d->state = SD_CR;
	else
		d->bare = 1;
	return 1;
}

/* Handles what the first of n octets at p means in the current state;
 * returns how many it consumed (0 when it only changed the state, for
 * the octet to be seen again in the new one). */
static size_t step(struct smtpdata *d, const char *p, size_t n,
                   struct sbuf *out)
{
	switch (d->state) {
	case SD_BOL:
		d->state = *p == '.' ? SD_DOT : SD_LINE;
		return *p == '.';
	case SD_DOT:
		/* Anything but CR after it makes the dot a stuffed one, which
		 * is dropped (RFC 5321 4.5.2); a LF is then bare as usual. */
		d->state = *p == '\r' ? SD_DOTCR : SD_LINE;
		return *p == '\r';
	case SD_DOTCR:
		if (*p == '\n')
			d->done = 1;
		else
			d->bare = 1;
		return 1;
	case SD_CR:
		if (*p == '\n') {
			end_line(d, out);
			d->state = SD_BOL;
		} else {
			d->bare = 1;
		}
		return 1;
	default:
		return step_line(d, p, n, out);
	}
}

/* Adds the k octets a step consumed to the line's length as received. A
 * line is known to be too long as soon as its count passes the limit,
 * without waiting for its end; the count stops there, so that no line,
 * however long, can overflow it. Every step that ends a line leaves the
 * state at SD_BOL, and no other does. */
static void measure(struct smtpdata *d, size_t k)
{
	if (!d->long_line) {
		d->linelen += k;
		if (d->linelen > SMTPDATA_LINE_MAX)
			d->long_line = 1;
	}
	if (d->state == SD_BOL)
		d->linelen = 0;
}

size_t smtpdata_feed(struct smtpdata *d, const char *in, size_t n,
                     struct sbuf *out)
{
	size_t used = 0;
	while (used < n && !d->done && !d->bare) {
		size_t k = step(d, in + used, n - used, out);
		used += k;
		measure(d, k);
	}
	return used;
}

int smtpdata_done(const struct smtpdata *d)
{
	return d->done;
}

int smtpdata_bare(const struct smtpdata *d)
{
	return d->bare;
}

int smtpdata_too_big(const struct smtpdata *d)
{
	return d->too_big;
}

int smtpdata_long_line(const struct smtpdata *d)
{
	return d->long_line;
}

int smtpdata_error(const struct smtpdata *d)
{
	return d->error;
}

unsigned long long smtpdata_octets(const struct smtpdata *d)
{
	return d->octets;
}

unsigned smtpdata_hops(const struct smtpdata *d)
{
	return d->hops;
}
