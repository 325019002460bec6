/*
 * smtplisten - sq-smtpd's own listener (sq-smtpd -l): tcpserver's job,
 * without an exec per connection. The parent opens the addresses of
 * control/smtp-listen (or those given), becomes the SMTP user, then only
 * accepts and forks: each connection gets a child of its own, as under
 * tcpserver, but one with sq-smtpd and OpenSSL already loaded (an exec
 * and the dynamic loading of libssl cost more CPU than the rest of a
 * small message's session). The child follows tcpserver's rules
 * (control/tcp.smtp.cdb, tcprules(1)), sets the ucspi-tcp environment and
 * returns to run one session on descriptors 0 and 1.
 *
 * A child ends by a crash signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT, SIGSYS): the parent stops listening and exits 111 once its
 * other children are done, for its supervisor to start a fresh one.
 * Forked children share the parent's address layout and stack canary; a
 * restart after each crash takes away the oracle that guessing them
 * needs.
 */
#ifndef SQ_SMTPLISTEN_H
#define SQ_SMTPLISTEN_H

#include <stddef.h>

#include "util/control.h"
#include "net/listener.h"
#include "util/path.h"

#define SMTPLISTEN_DEFAULT "0.0.0.0:25"
#define CONCURRENCY_DEFAULT 40
#define CONCURRENCY_MAX 10000

struct smtplisten {
	struct listener l[LISTEN_MAX];
	size_t n;
	unsigned long concurrency;      /* control/concurrencyincoming */
	char rules[SQ_PATH_MAX];        /* control/tcp.smtp.cdb */
	char why[300];
};

/* Opens the addresses (each "HOST:PORT"; none: control/smtp-listen, else
 * SMTPLISTEN_DEFAULT) and reads the concurrency. 0, or -1 (why says). */
int smtplisten_open(struct smtplisten *sl, struct control *ctl,
                    char *const *addrs, size_t naddrs);

/* Accepts for ever. Returns only in a child, with the connection on
 * descriptors 0 and 1 and the client allowed by the rules; the parent
 * exits (111 on a crashed child or a broken listener). */
void smtplisten_serve(struct smtplisten *sl);

#endif
