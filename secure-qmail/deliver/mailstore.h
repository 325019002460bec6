/*
 * mailstore - hands a sealed message to the Email Database Host and
 * reports success only once it is safely on disk there (file and
 * directories fsynced). Two transports:
 *   - combined mode (the EDH's maildirs on this host): the maildir is
 *     written directly, under $SQ_HOME/maildirs, with control/quota;
 *   - the three-host mode: LMTP over TLS to edhd (edhclient.h), chosen
 *     by the presence of the delivery credential control/edhlmtp-cred;
 *     edhd applies its own quota.
 * Either way the message is already sealed: the store never sees
 * plaintext, and edhd refuses it anyway.
 */
#ifndef SQ_MAILSTORE_H
#define SQ_MAILSTORE_H

#include <stddef.h>

#include "util/control.h"
#include "client/edhclient.h"
#include "mail/maildir.h"

struct mailstore {
	struct control *ctl;
	struct edhc *edh;               /* LMTP mode, else NULL */
	int maildirs;                   /* combined mode: the parent dir */
	char host[MAILDIR_HOST_MAX + 1];        /* for maildir names */
};

enum mailstore_result {
	MAILSTORE_OK = 0, MAILSTORE_TEMP = 1, MAILSTORE_PERM = 2
};

/* Reads the control files; in combined mode opens (creating, mode 0700)
 * the maildirs directory. 0, or -1 with a reason. */
int mailstore_init(struct mailstore *st, struct control *ctl,
                   const char *ctldir, const char *home, char *why,
                   size_t whylen);
void mailstore_fini(struct mailstore *st);

/* Stores len octets of sealed message, whose plaintext POP3 will list as
 * plainsize octets, in the mailbox id, once per delivery id did
 * (maildir_did_format: a retry after a crash finds the first copy;
 * NULL: no id). why gets the reason of the result, with its enhanced
 * status code first ("4.2.2 ..."). */
enum mailstore_result mailstore_put(struct mailstore *st, const char *mailbox,
                                    const char *did, const char *data,
                                    size_t len,
                                    unsigned long long plainsize, char *why,
                                    size_t whylen);

#endif
