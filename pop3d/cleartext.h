/*
 * cleartext - whether a POP3 client may send its password before TLS:
 * only from the networks in control/pop3cleartext (ipallow(5) lines:
 * addresses and CIDR prefixes); without that file, only from loopback.
 * The password unlocks the subscriber's key, so it must not cross a
 * network in the clear unless the administrator says so.
 */
#ifndef SQ_CLEARTEXT_H
#define SQ_CLEARTEXT_H

#include "util/control.h"

#define CLEARTEXT_CONTROL "pop3cleartext"

/* 1 if a login in the clear is allowed from remoteip (ucspi-tcp's
 * TCPREMOTEIP; NULL or unparsable allows nothing), 0 if not, -1 if the
 * control file is unreadable or malformed (the caller refuses). */
int cleartext_allowed(struct control *ctl, const char *remoteip);

#endif
