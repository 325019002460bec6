/*
 * lsreq - a delivery request from sq-send to sq-lspawn. See lsreq.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/lsreq.h"

int lsreq_put(struct sbuf *out, unsigned long slot, unsigned long long num,
              const char *sender, const char *rcpt)
{
	size_t slen = strlen(sender), rlen = strlen(rcpt), was = out->len;
	if (slen > QUEUE_ADDR_MAX || rlen > QUEUE_ADDR_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (sbuf_printf(out, "%lu", slot) < 0 || sbuf_putc(out, '\0') < 0 ||
	    sbuf_printf(out, "%llu", num) < 0 || sbuf_putc(out, '\0') < 0 ||
	    sbuf_put(out, sender, slen + 1) < 0 ||
	    sbuf_put(out, rcpt, rlen + 1) < 0) {
		int e = errno;
		out->len = was;
		if (out->s)
			out->s[was] = '\0';
		errno = e;
		return -1;
	}
	return 0;
}

void lsreq_field_init(struct sbuf *field)
{
	/* the longest field, its NUL counted */
	sbuf_init(field, LSREQ_ADDR_FIELD);
}

enum lsreq_get lsreq_get(struct rbuf *in, struct sbuf *field,
                         struct lsreq *r)
{
	static const size_t bound[3] = { LSREQ_NUM_FIELD, LSREQ_ADDR_FIELD,
	                                 LSREQ_ADDR_FIELD };
	enum rbuf_line l = rbuf_getfield(in, field, LSREQ_NUM_FIELD);
	if (l == RBUF_EOF)
		return LSREQ_EOF;
	char *stop;
	if (l != RBUF_LINE || field->len < 2 ||
	    field->s[field->len - 1] != '\0')
		return LSREQ_BAD;
	errno = 0;
	r->slot = strtol(field->s, &stop, 10);
	if (*stop || errno || r->slot < 0 || field->s[0] < '0' ||
	    field->s[0] > '9')
		return LSREQ_BAD;
	int toolong = 0;
	r->len = 0;
	for (int f = 0; f < 3; f++) {
		l = rbuf_getfield(in, field, bound[f]);
		if (l == RBUF_TOOLONG) {
			toolong = 1;
			continue;
		}
		/* a field without its NUL ended the input */
		if (l != RBUF_LINE || field->s[field->len - 1] != '\0')
			return LSREQ_BAD;
		if (toolong)
			continue;
		memcpy(r->req + r->len, field->s, field->len);
		r->len += field->len;
	}
	return toolong ? LSREQ_TOOLONG : LSREQ_OK;
}
