/*
 * ipallow - source-address allow-lists. See ipallow.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "net/ipallow.h"

/* 1 if the first bits of a and b are equal. */
static int prefix_equal(const unsigned char *a, const unsigned char *b,
                        unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

int ipnet_parse(const char *text, struct ipnet *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len = strlen(text);
	if (len == 0 || len >= sizeof buf)
		goto bad;
	memcpy(buf, text, len + 1);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		out->prefix = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		out->prefix = 128;
	} else {
		goto bad;
	}
	if (slash) {
		char *end;
		unsigned long p = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end || p > out->prefix)
			goto bad;
		/* host bits past the prefix must be zero */
		unsigned total = out->prefix;
		out->prefix = (unsigned)p;
		for (unsigned bit = out->prefix; bit < total; bit++)
			if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
				goto bad;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int ipallow_load(struct ipallow *list, struct control *ctl, const char *name,
                 size_t *badline)
{
	struct sbuf lines;
	size_t count;
	list->n = 0;
	list->nets = NULL;
	*badline = 0;
	sbuf_init(&lines, CONTROL_FILE_MAX);
	int r = control_readfile(ctl, name, &lines, &count);
	if (r == 1 && count > 0) {
		list->nets = calloc(count, sizeof *list->nets);
		if (!list->nets)
			r = -1;
	}
	const char *l = r == 1 ? control_nextline(&lines, NULL) : NULL;
	for (; l && r == 1; l = control_nextline(&lines, l)) {
		if (ipnet_parse(l, &list->nets[list->n]) < 0) {
			*badline = list->n + 1;
			r = -1;
		} else {
			list->n++;
		}
	}
	sbuf_free(&lines);
	if (r < 0)
		ipallow_free(list);
	return r;
}

void ipallow_free(struct ipallow *list)
{
	free(list->nets);
	list->nets = NULL;
	list->n = 0;
}

int ipallow_match(const struct ipallow *list, const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			memcpy(addr, a6->s6_addr + 12, 4);
		} else {
			family = AF_INET6;
			memcpy(addr, a6->s6_addr, 16);
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < list->n; i++)
		if (list->nets[i].family == family &&
		    prefix_equal(list->nets[i].addr, addr, list->nets[i].prefix))
			return 1;
	return 0;
}
