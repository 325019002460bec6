/*
 * listener - a server's listening sockets. See listener.h.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/fail.h"
#include "util/hostport.h"
#include "net/listener.h"

int listener_socket(const struct sockaddr *sa, socklen_t len, int backlog,
                    int flags)
{
	int one = 1;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC |
	                (flags & LISTEN_NONBLOCK ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	                         sizeof one) < 0 ||
	    ((flags & LISTEN_REUSEPORT) &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
	    ((flags & LISTEN_V6ONLY) && sa->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
	    bind(fd, sa, len) < 0 || listen(fd, backlog) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* One IP literal and port: a bound, listening socket, or -1. */
static int open_one(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
	                                      AI_PASSIVE };
	struct addrinfo *ai;
	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		errno = EINVAL;
		return -1;
	}
	int fd = listener_socket(ai->ai_addr, ai->ai_addrlen, LISTEN_BACKLOG,
	                         LISTEN_V6ONLY);
	int e = errno;
	freeaddrinfo(ai);
	errno = e;
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
		fail_why(why, whylen, -1, "control/%s: %s", name,
		         got < 0 ? strerror(errno) : "no address");
		goto out;
	}
	for (const char *l = control_nextline(&lines, NULL); l;
	     l = control_nextline(&lines, l)) {
		if (listener_add(l, role, v, max, n, why, whylen) < 0) {
			char inner[200];
			snprintf(inner, sizeof inner, "%s", why);
			fail_why(why, whylen, -1, "control/%s: %s", name, inner);
			goto out;
		}
	}
	r = 0;
out:
	sbuf_free(&lines);
	return r;
}

int listener_add(const char *hostport, int role, struct listener *v,
                 size_t max, size_t *n, char *why, size_t whylen)
{
	char host[64], port[8];
	if (*n >= max)
		return fail_why(why, whylen, -1, "too many addresses");
	if (hostport_parse(hostport, host, sizeof host, port) < 0)
		return fail_why(why, whylen, -1, "want HOST:PORT, got %.60s",
		                hostport);
	struct listener *x = &v[*n];
	if ((x->fd = open_one(host, port)) < 0)
		return fail_why(why, whylen, -1, "cannot listen on %.60s: %s",
		                hostport, strerror(errno));
	x->role = role;
	snprintf(x->addr, sizeof x->addr, "%s", hostport);
	++*n;
	return 0;
}
