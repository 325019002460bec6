/*
 * popstore - where sq-pop3d finds a subscriber's sealed messages: the
 * maildir itself ($SQ_HOME/maildirs/MAILBOX) when the Email Database Host
 * is this host (combined mode), or edhd's retrieval protocol (sq-edh(5))
 * when control/edhretrieve-cred names this host's credential.
 */
#ifndef SQ_POPSTORE_H
#define SQ_POPSTORE_H

#include <stddef.h>

#include "control.h"
#include "edhclient.h"
#include "maildir.h"
#include "sbuf.h"

struct pop_msg {
	char uid[MAILDIR_UID_MAX + 1];  /* the maildir unique id */
	unsigned long long size;        /* S=: the sealed octets */
	unsigned long long plainsize;   /* W=: the plaintext's, as sent */
};

struct popstore {
	char mailbox[MAILDIR_ID_SIZE];
	struct edhc *edh;               /* remote: the retrieval client */
	int maildirs;                   /* combined: $SQ_HOME/maildirs */
};

enum popstore_result { POPSTORE_OK = 0, POPSTORE_TEMP = -1,
                       POPSTORE_GONE = -2 };

/* Chooses and sets up the store for mailbox (validated). 0, or -1 with
 * why. */
int popstore_open(struct popstore *ps, struct control *ctl,
                  const char *ctldir, const char *home, const char *mailbox,
                  char *why, size_t whylen);
void popstore_close(struct popstore *ps);

/* Lists the mailbox, oldest first, at most max messages, into a malloc'd
 * array (free()). A mailbox never delivered to is empty. Combined mode
 * sweeps tmp/ of what crashed deliveries left, as maildir readers do. */
enum popstore_result popstore_list(struct popstore *ps, size_t max,
                                   struct pop_msg **msgs, size_t *n,
                                   char *why, size_t whylen);

/* Replaces out's contents with a message's sealed octets. GONE: removed
 * meanwhile (another session). */
enum popstore_result popstore_fetch(struct popstore *ps,
                                    const struct pop_msg *m,
                                    struct sbuf *out, char *why,
                                    size_t whylen);

/* Removes a message for good (directory synced). A message already gone
 * counts as removed. */
enum popstore_result popstore_remove(struct popstore *ps,
                                     const struct pop_msg *m, char *why,
                                     size_t whylen);

#endif
