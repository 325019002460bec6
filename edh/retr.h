/*
 * retr - edhd's retrieval protocol, for the POP3 server of the
 * Application Host (sq-edh(5) describes it): after AUTH, MAILBOX selects
 * a mailbox; LIST gives each message's unique id, S= and W=; FETCH sends
 * a message's octets after a length line; DELETE removes one.
 */
#ifndef SQ_EDH_RETR_H
#define SQ_EDH_RETR_H

#include "session.h"

#define RETR_LIST_MAX 100000    /* messages LIST reports, at most */

void retr_run(struct edh_session *s);

#endif
