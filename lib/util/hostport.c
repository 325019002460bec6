/*
 * hostport - "HOST:PORT" of the control files. See hostport.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/hostport.h"

int hostport_parse(const char *text, char *host, size_t hostlen,
                   char port[8])
{
	const char *h = text, *colon;
	size_t hl;
	if (*text == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			goto bad;
		h = text + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || memchr(text, ':', (size_t)(colon - text)))
			goto bad; /* an IPv6 address wants its brackets */
		hl = (size_t)(colon - text);
	}
	const char *p = colon + 1;
	size_t pl = strlen(p);
	if (hl == 0 || hl >= hostlen || pl == 0 || pl > 5 || p[0] == '0' ||
	    strspn(p, "0123456789") != pl || atoi(p) > 65535)
		goto bad;
	for (size_t i = 0; i < hl; i++)
		if (h[i] <= ' ' || h[i] >= 127 || h[i] == '/' || h[i] == '[')
			goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, p, pl + 1);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
