/*
 * envelope - the qmail-queue envelope. See envelope.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "receive/envelope.h"

int envelope_parse(struct envelope *e, const char *data, size_t len)
{
	memset(e, 0, sizeof *e);
	sbuf_init(&e->text, len + 1);
	if (len < 3 || data[0] != 'F' || data[len - 1] != '\0' ||
	    sbuf_put(&e->text, data, len) < 0)
		goto bad;
	char *p = e->text.s, *end = p + len - 1; /* end: the final NUL */
	size_t cap = 0;
	while (p < end) {
		char *nul = memchr(p, '\0', (size_t)(end - p) + 1);
		if (nul == p)
			goto bad; /* an empty item: no F or T */
		size_t alen = (size_t)(nul - p) - 1;
		if (alen == 0 && p != e->text.s)
			goto bad; /* an empty recipient, as sq-queue refuses */
		if (alen > ENVELOPE_ADDR_MAX) {
			envelope_free(e);
			errno = ENAMETOOLONG;
			return -1;
		}
		if (p == e->text.s) {
			e->sender = p + 1;
		} else if (*p == 'T') {
			if (e->n == cap) {
				cap = cap ? 2 * cap : 8;
				char **grown = realloc(e->rcpt, cap * sizeof *grown);
				if (!grown)
					goto bad;
				e->rcpt = grown;
			}
			e->rcpt[e->n++] = p + 1;
		} else {
			goto bad;
		}
		p = nul + 1;
	}
	if (p != end || e->n == 0)
		goto bad;
	return 0;
bad:
	envelope_free(e);
	errno = EINVAL;
	return -1;
}

void envelope_free(struct envelope *e)
{
	free(e->rcpt);
	sbuf_free(&e->text);
	e->rcpt = NULL;
	e->sender = NULL;
	e->n = 0;
}

int envelope_format(struct sbuf *out, const char *sender,
                    const char *const *rcpt, size_t n)
{
	if (sbuf_putc(out, 'F') < 0 || sbuf_put(out, sender, strlen(sender) + 1))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sbuf_putc(out, 'T') < 0 ||
		    sbuf_put(out, rcpt[i], strlen(rcpt[i]) + 1) < 0)
			return -1;
	return sbuf_putc(out, '\0');
}
