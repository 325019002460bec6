/*
 * popcmd - POP3 command lines. See popcmd.h.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "popcmd.h"

const char *const pop_capabilities[] = {
	"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
	"IMPLEMENTATION secure-qmail", NULL
};

int popcmd_parse(struct sbuf *buf, struct pop_cmd *cmd)
{
	size_t v = 0, len = buf->len;
	if (len > 0 && buf->s[len - 1] == '\n')
		len--;
	if (len > 0 && buf->s[len - 1] == '\r')
		len--;
	sbuf_truncate(buf, len);
	const char *line = buf->s ? buf->s : "";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return -1; /* NUL, CR, LF, TAB: never in a command */
	while (v < len && isalpha((unsigned char)line[v]))
		v++;
	if (v < 3 || v > 4 || (v < len && line[v] != ' '))
		return -1;
	for (size_t i = 0; i < v; i++)
		cmd->verb[i] = (char)toupper((unsigned char)line[i]);
	cmd->verb[v] = '\0';
	cmd->arg = v < len ? line + v + 1 : line + v;
	return 0;
}

/* One decimal number at s, up to its end or a space (*end). */
static int number(const char *s, const char **end, unsigned long max,
                  unsigned long *out)
{
	unsigned long n = 0;
	const char *p = s;
	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (d > max || n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (p == s)
		return -1;
	*end = p;
	*out = n;
	return 0;
}

int popcmd_number(const char *s, unsigned long max, unsigned long *out)
{
	const char *end;
	if (number(s, &end, max, out) < 0 || *end || *out == 0)
		return -1;
	return 0;
}

int popcmd_two_numbers(const char *s, unsigned long max, unsigned long *n,
                       unsigned long *m)
{
	const char *end;
	if (number(s, &end, max, n) < 0 || *n == 0 || *end != ' ' ||
	    number(end + 1, &end, ULONG_MAX, m) < 0 || *end)
		return -1;
	return 0;
}
