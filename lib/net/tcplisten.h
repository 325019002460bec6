/*
 * tcplisten - a daemon's own listener, tcpserver's job without an exec
 * per connection (sq-smtpd -l, sq-popup -l). The parent opens its
 * addresses, becomes the service's user, then only accepts and forks:
 * each connection gets a child of its own, as under tcpserver, but one
 * with the program and OpenSSL already loaded (an exec and the dynamic
 * loading of libssl cost more CPU than the rest of a small message's
 * session, or of a POP3 login). The child follows tcpserver's rules (a
 * cdb made by tcprules(1)), sets the ucspi-tcp environment and returns
 * to run one session on descriptors 0 and 1.
 *
 * A child ends by a crash signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT, SIGSYS): the parent stops listening and exits 111 once its
 * other children are done, for its supervisor to start a fresh one.
 * Forked children share the parent's address layout and stack canary; a
 * restart after each crash takes away the oracle that guessing them
 * needs.
 */
#ifndef SQ_TCPLISTEN_H
#define SQ_TCPLISTEN_H

#include <stddef.h>

#include "util/control.h"
#include "net/listener.h"
#include "util/path.h"

#define CONCURRENCY_DEFAULT 40
#define CONCURRENCY_MAX 10000

/* What a service listens on, by the names of its control files. */
struct tcplisten_names {
	const char *listen;     /* e.g. "smtp-listen": HOST:PORT lines */
	const char *fallback;   /* when that file is missing: "0.0.0.0:25" */
	const char *concurrency; /* e.g. "concurrencyincoming" */
	const char *rules;      /* e.g. "control/tcp.smtp.cdb" */
};

struct tcplisten {
	struct listener l[LISTEN_MAX];
	size_t n;
	unsigned long concurrency;      /* sessions at once */
	char rules[SQ_PATH_MAX];        /* tcprules' cdb */
	char why[300];
};

/* Opens the addresses (each "HOST:PORT"; none: those of the control file
 * names->listen, else names->fallback) and reads the concurrency (default
 * CONCURRENCY_DEFAULT). 0, or -1 (why says). */
int tcplisten_open(struct tcplisten *tl, struct control *ctl,
                   const struct tcplisten_names *names, char *const *addrs,
                   size_t naddrs);

/* Accepts for ever. Returns only in a child, with the connection on
 * descriptors 0 and 1 and the client allowed by the rules; the parent
 * exits (111 on a crashed child or a broken listener). */
void tcplisten_serve(struct tcplisten *tl);

#endif
