/*
 * lmtp - edhd's LMTP side (RFC 2033): sealed messages in, one reply per
 * recipient, 250 only after maildir_deliver has fsynced the file and its
 * directories. Anything that is not S/MIME authEnveloped-data with its
 * X-SQ-Plaintext-Size line is refused before a single octet is written.
 */
#ifndef SQ_EDH_LMTP_H
#define SQ_EDH_LMTP_H

#include <stddef.h>

#include "session.h"

#define LMTP_RCPT_MAX 100       /* recipients per transaction */

/* Serves an authenticated-or-not session to its end. */
void lmtp_run(struct edh_session *s);

/* Parses an RCPT argument "TO:<MAILBOX>" ("TO:" in any case, no
 * parameters) into box (MAILDIR_ID_SIZE octets). 0, -1 for bad syntax,
 * -2 for a well-formed path that is not a mailbox id. */
int lmtp_rcpt_parse(const char *arg, char *box);

/* MAIL's XDELIVERY-ID=<id> parameter (advertised in LHLO): the queue's
 * delivery id (maildir_did_format), under which the message is stored
 * once per mailbox, however often a crashed delivery is retried.
 * Copies arg into rest without that parameter and the id into did
 * (MAILDIR_UID_MAX + 1 octets, "" when absent). 0; -1 when the parameter
 * is there twice, empty, or not a delivery id; -2 when arg is too long. */
int lmtp_mail_did(const char *arg, char *rest, size_t restlen, char *did);

/* BDAT's argument (RFC 3030): "SIZE" or "SIZE LAST", SIZE of at most 12
 * digits. 0 with *size and *last set, or -1. */
int lmtp_bdat_parse(const char *arg, unsigned long long *size, int *last);

#endif
