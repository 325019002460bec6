/*
 * dsn - delivery status notifications. See dsn.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "deliver/dsn.h"
#include "queue/queue.h"

/* Reasons and addresses come from elsewhere: written into a header or a
 * report field they must not bring a line end or a control octet. */
static int put_clean(struct sbuf *out, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (sbuf_putc(out, c >= 0x20 && c < 0x7f ? (char)c : '?') < 0)
			return -1;
	}
	return 0;
}

/* 1 to 3 digits at *p, stepped over; 0 if none. */
static int digits(const char **p)
{
	int n = 0;
	while (n < 4 && **p >= '0' && **p <= '9') {
		(*p)++;
		n++;
	}
	return n >= 1 && n <= 3;
}

void dsn_status(const char *reason, char *code)
{
	/* RFC 3463: class "." subject "." detail; the class is 5 whatever
	 * the reason said, since the delivery has failed for good */
	const char *p = reason + 1, *subject = p + 1;
	if ((*reason == '4' || *reason == '5') && *p == '.' && (p++, digits(&p)) &&
	    *p == '.' && (p++, digits(&p)) && (*p == ' ' || *p == '\0'))
		snprintf(code, 12, "5.%.*s", (int)(p - subject), subject);
	else
		snprintf(code, 12, "5.0.0");
}

static int date(struct sbuf *out, const char *name, time_t t)
{
	char buf[64];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	return sbuf_printf(out, "%s: %s\n", name, buf);
}

/* Calls each record's pair in turn; -1 with EINVAL if malformed. */
static int next_record(const struct dsn *d, size_t *pos, const char **rcpt,
                       const char **reason)
{
	const char *s = d->failures, *end = s + d->len;
	const char *p = s + *pos;
	const char *nul1 = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
	const char *nul2 = nul1 ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1))
	                        : NULL;
	if (!nul2 || *p != 'R') {
		errno = EINVAL;
		return -1;
	}
	*rcpt = p + 1;
	*reason = nul1 + 1;
	*pos = (size_t)(nul2 + 1 - s);
	return 0;
}

static int human_part(const struct dsn *d, int headers, struct sbuf *out)
{
	const char *rcpt, *reason;
	if (sbuf_printf(out, "Content-Type: text/plain; charset=us-ascii\n\n"
	                "This is the mail system at %s.\n\n"
	                "Your message could not be delivered to the addresses "
	                "below. This is a\npermanent error: it will not be "
	                "tried again.\n\n", d->me) < 0)
		return -1;
	for (size_t pos = 0; pos < d->len;) {
		if (next_record(d, &pos, &rcpt, &reason) < 0 ||
		    sbuf_putc(out, '<') < 0 || put_clean(out, rcpt, QUEUE_ADDR_MAX) < 0 ||
		    sbuf_puts(out, ">:\n    ") < 0 ||
		    put_clean(out, reason, 900) < 0 || sbuf_puts(out, "\n\n") < 0)
			return -1;
	}
	if (headers)
		return sbuf_puts(out, "The headers of your message follow; its "
		                 "body is not attached: nobody\nhere keeps it.\n\n");
	return sbuf_puts(out, "The message itself is not attached: it was "
	                 "sealed for its recipients,\nand nobody here can read "
	                 "it.\n\n");
}

/* 1 if line (n octets, no LF) is a header field or the fold of one. */
static int header_line(const char *line, size_t n)
{
	if (n && (line[0] == ' ' || line[0] == '\t'))
		return 1;
	size_t i = 0;
	while (i < n && line[i] > 0x20 && line[i] < 0x7f && line[i] != ':')
		i++;
	return i > 0 && i < n && line[i] == ':';
}

size_t dsn_header_section(const char *msg, size_t len, size_t max)
{
	size_t pos = 0;
	while (pos < len) {
		const char *lf = memchr(msg + pos, '\n', len - pos);
		size_t end = lf ? (size_t)(lf - msg) + 1 : len;
		size_t n = end - pos - (lf ? 1 : 0);
		if (n && msg[pos + n - 1] == '\r')
			n--;
		if (!lf || end > max || !header_line(msg + pos, n))
			break;
		pos = end;
	}
	return pos;
}

/* The original's header section, its line ends made LF (CR dropped):
 * a report must not carry bare CRs. */
static int headers_part(const char *headers, size_t len, struct sbuf *out)
{
	if (sbuf_puts(out, "Content-Type: text/rfc822-headers\n\n") < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (headers[i] != '\r' && sbuf_putc(out, headers[i]) < 0)
			return -1;
	return 0;
}

static int status_part(const struct dsn *d, struct sbuf *out)
{
	const char *rcpt, *reason;
	char code[12];
	if (sbuf_printf(out, "Content-Type: message/delivery-status\n\n"
	                "Reporting-MTA: dns; %s\n", d->me) < 0 ||
	    date(out, "Arrival-Date", d->arrival) < 0)
		return -1;
	for (size_t pos = 0; pos < d->len;) {
		if (next_record(d, &pos, &rcpt, &reason) < 0)
			return -1;
		dsn_status(reason, code);
		if (sbuf_puts(out, "\nFinal-Recipient: rfc822; ") < 0 ||
		    put_clean(out, rcpt, QUEUE_ADDR_MAX) < 0 ||
		    sbuf_printf(out, "\nAction: failed\nStatus: %s\n"
		                "Diagnostic-Code: x-secure-qmail; ", code) < 0 ||
		    put_clean(out, reason, 900) < 0 || sbuf_putc(out, '\n') < 0)
			return -1;
	}
	return 0;
}

int dsn_build(const struct dsn *d, struct sbuf *out)
{
	return dsn_build_headers(d, NULL, 0, out);
}

int dsn_build_headers(const struct dsn *d, const char *headers, size_t len,
                      struct sbuf *out)
{
	char boundary[80];
	snprintf(boundary, sizeof boundary, "sq-dsn-%llu-%lld", d->num,
	         (long long)d->now);
	if (sbuf_printf(out, "From: %s\nTo: <", d->from) < 0 ||
	    put_clean(out, d->sender, 1000) < 0 ||
	    sbuf_puts(out, ">\nSubject: failure notice: undeliverable mail\n") < 0 ||
	    date(out, "Date", d->now) < 0 ||
	    sbuf_printf(out, "Message-ID: <%lld.%llu.dsn@%s>\n"
	                "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	                "Content-Type: multipart/report; "
	                "report-type=delivery-status;\n\tboundary=\"%s\"\n\n"
	                "This is a delivery status notification (RFC 3464).\n"
	                "\n--%s\n", (long long)d->now, d->num, d->me, boundary,
	                boundary) < 0 ||
	    human_part(d, headers != NULL, out) < 0 ||
	    sbuf_printf(out, "--%s\n", boundary) < 0 ||
	    status_part(d, out) < 0 ||
	    (headers && (sbuf_printf(out, "\n--%s\n", boundary) < 0 ||
	                 headers_part(headers, len, out) < 0)) ||
	    sbuf_printf(out, "\n--%s--\n", boundary) < 0)
		return -1;
	return 0;
}

/* One line of control/name into out (def when missing; me too with
 * flagme, as control_rldef does). */
static int line_or(struct control *ctl, const char *name, int flagme,
                   const char *def, char *out, size_t n)
{
	struct sbuf v;
	sbuf_init(&v, CONTROL_LINE_MAX);
	int r = control_rldef(ctl, name, flagme, def, &v);
	if (r >= 0)
		snprintf(out, n, "%s", v.s ? v.s : "");
	sbuf_free(&v);
	return r < 0 ? -1 : 0;
}

int dsn_sender(struct control *ctl, char *me, size_t melen, char *from,
               size_t fromlen)
{
	char host[256];
	if (line_or(ctl, "me", 0, "localhost", me, melen) < 0 ||
	    line_or(ctl, "bouncehost", 1, me, host, sizeof host) < 0 ||
	    line_or(ctl, "bouncefrom", 0, "MAILER-DAEMON", from,
	            fromlen > sizeof host ? fromlen - sizeof host : 1) < 0)
		return -1;
	size_t len = strlen(from);
	snprintf(from + len, fromlen - len, "@%s", host);
	return 0;
}
