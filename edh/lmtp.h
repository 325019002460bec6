/*
 * lmtp - edhd's LMTP side (RFC 2033): sealed messages in, one reply per
 * recipient, 250 only after maildir_deliver has fsynced the file and its
 * directories. Anything that is not S/MIME authEnveloped-data with its
 * X-SQ-Plaintext-Size line is refused before a single octet is written.
 */
#ifndef SQ_EDH_LMTP_H
#define SQ_EDH_LMTP_H

#include "session.h"

#define LMTP_RCPT_MAX 100       /* recipients per transaction */

/* Serves an authenticated-or-not session to its end. */
void lmtp_run(struct edh_session *s);

/* Parses an RCPT argument "TO:<MAILBOX>" ("TO:" in any case, no
 * parameters) into box (MAILDIR_ID_SIZE octets). 0, -1 for bad syntax,
 * -2 for a well-formed path that is not a mailbox id. */
int lmtp_rcpt_parse(const char *arg, char *box);

#endif
