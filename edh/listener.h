/*
 * listener - edhd's listening sockets: every "HOST:PORT" line of a control
 * file (control/edhlmtp, control/edhretrieve), IPv4 or IPv6 ("[::1]:7024"),
 * each a socket of its own.
 */
#ifndef SQ_EDH_LISTENER_H
#define SQ_EDH_LISTENER_H

#include <stddef.h>

#include "util/control.h"

#define LISTEN_MAX 8            /* addresses per file */

struct listener {
	int fd;
	int role;               /* EDH_ROLE_DELIVER (LMTP) or _RETRIEVE */
	char addr[80];          /* as configured, for the log */
};

/* Opens a socket for each line of control/name (def when there is no
 * file), appending to v (room for max) and counting in *n. 0, or -1 with
 * a reason in why. */
int listener_open(struct control *ctl, const char *name, const char *def,
                  int role, struct listener *v, size_t max, size_t *n,
                  char *why, size_t whylen);

#endif
