/*
 * listener - edhd's listening sockets. See listener.h.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/edhclient.h"
#include "listener.h"

/* One IP literal and port: a bound, listening socket, or -1. */
static int open_one(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
	                                      AI_PASSIVE };
	struct addrinfo *ai;
	int one = 1;
	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* [::] serves IPv6 only; IPv4 gets a line of its own */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	                         sizeof one) < 0 ||
	    (ai->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		errno = e;
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int listener_open(struct control *ctl, const char *name, const char *def,
                  int role, struct listener *v, size_t max, size_t *n,
                  char *why, size_t whylen)
{
	struct sbuf lines;
	size_t count;
	int r = -1;
	sbuf_init(&lines, CONTROL_FILE_MAX);
	int got = control_readfile(ctl, name, &lines, &count);
	if (got == 0 && sbuf_put(&lines, def, strlen(def) + 1) == 0)
		got = 1;
	if (got < 0 || !lines.len) {
		snprintf(why, whylen, "control/%s: %s", name,
		         got < 0 ? strerror(errno) : "no address");
		goto out;
	}
	for (const char *l = control_nextline(&lines, NULL); l;
	     l = control_nextline(&lines, l)) {
		char host[64], port[8];
		if (*n >= max) {
			snprintf(why, whylen, "control/%s: too many addresses", name);
			goto out;
		}
		if (edhc_hostport_parse(l, host, sizeof host, port) < 0) {
			snprintf(why, whylen, "control/%s: want HOST:PORT, got %.60s",
			         name, l);
			goto out;
		}
		struct listener *x = &v[*n];
		if ((x->fd = open_one(host, port)) < 0) {
			snprintf(why, whylen, "cannot listen on %.60s: %s", l,
			         strerror(errno));
			goto out;
		}
		x->role = role;
		snprintf(x->addr, sizeof x->addr, "%s", l);
		++*n;
	}
	r = 0;
out:
	sbuf_free(&lines);
	return r;
}
