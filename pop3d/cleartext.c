/*
 * cleartext - where a password may come before TLS. See cleartext.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "cleartext.h"
#include "net/ipallow.h"

/* The peer as a socket address; 0, or -1. */
static int peer(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof *ss);
	if (ip && inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		return 0;
	}
	if (ip && inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

int cleartext_allowed(struct control *ctl, const char *remoteip)
{
	struct ipnet loopback[2];
	struct ipallow list;
	struct sockaddr_storage ss;
	size_t bad;
	int r = ipallow_load(&list, ctl, CLEARTEXT_CONTROL, &bad);
	if (r < 0)
		return -1;
	if (peer(remoteip, &ss) < 0) {
		ipallow_free(&list);
		return 0;
	}
	if (r == 0) { /* no file: loopback only */
		ipallow_free(&list);
		if (ipnet_parse("127.0.0.0/8", &loopback[0]) < 0 ||
		    ipnet_parse("::1", &loopback[1]) < 0)
			return -1;
		struct ipallow local = { .n = 2, .nets = loopback };
		return ipallow_match(&local, (struct sockaddr *)&ss);
	}
	int ok = ipallow_match(&list, (struct sockaddr *)&ss);
	ipallow_free(&list);
	return ok;
}
