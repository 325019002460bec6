/*
 * listener - a server's listening sockets. listener_open takes every
 * "HOST:PORT" line of a control file (edhd's control/edhlmtp and
 * control/edhretrieve), HOST an IP literal, IPv6 in brackets
 * ("[::1]:7024"), each a socket of its own; listener_socket makes one
 * socket for an address a server parsed itself (pksd's
 * control/pksd-listen, one socket per worker). Every socket is
 * close-on-exec with SO_REUSEADDR.
 */
#ifndef SQ_LISTENER_H
#define SQ_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>

#include "util/control.h"

#define LISTEN_MAX 8            /* addresses per file */
#define LISTEN_BACKLOG 128      /* listener_open's */

/* listener_socket's flags */
#define LISTEN_V6ONLY 1         /* [::] takes IPv6 only, IPv4 wants its own */
#define LISTEN_REUSEPORT 2      /* one socket per worker on one address */
#define LISTEN_NONBLOCK 4       /* for an event loop */

struct listener {
	int fd;
	int role;               /* the caller's: edhd's EDH_ROLE_DELIVER ... */
	char addr[80];          /* as configured, for the log */
};

/* A socket bound to sa and listening with backlog: its descriptor, or -1
 * (errno). */
int listener_socket(const struct sockaddr *sa, socklen_t len, int backlog,
                    int flags);

/* Opens a socket (LISTEN_V6ONLY, LISTEN_BACKLOG) for each line of
 * control/name (def when there is no file), appending to v (room for max)
 * and counting in *n. 0, or -1 with a reason in why. */
int listener_open(struct control *ctl, const char *name, const char *def,
                  int role, struct listener *v, size_t max, size_t *n,
                  char *why, size_t whylen);

/* One socket for "HOST:PORT" (an address given on a command line), as
 * listener_open makes for each line. 0, or -1 with a reason in why. */
int listener_add(const char *hostport, int role, struct listener *v,
                 size_t max, size_t *n, char *why, size_t whylen);

#endif
