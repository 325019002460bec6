/*
 * popstore - where sq-pop3d finds a subscriber's sealed messages: the
 * maildir itself ($SQ_HOME/maildirs/MAILBOX) when the Email Database Host
 * is this host (combined mode), or edhd's retrieval protocol (sq-edh(5))
 * when control/edhretrieve-cred names this host's credential.
 */
#ifndef SQ_POPSTORE_H
#define SQ_POPSTORE_H

#include <stddef.h>

#include "util/control.h"
#include "client/edhclient.h"
#include "mail/maildir.h"
#include "util/sbuf.h"

struct pop_msg {
	char uid[MAILDIR_UID_MAX + 1];  /* the maildir unique id */
	unsigned long long size;        /* S=: the sealed octets */
	unsigned long long plainsize;   /* W=: the plaintext's, as sent */
};

struct popstore {
	char mailbox[MAILDIR_ID_SIZE];
	struct edhc *edh;               /* remote: the retrieval client */
	int maildirs;                   /* combined: $SQ_HOME/maildirs */
	struct maildir md;              /* combined: the mailbox, once listed */
	struct maildir_list list;       /* combined: the files listed */
	struct pop_msg *msgs;           /* what popstore_list found */
	size_t n;
};

enum popstore_result { POPSTORE_OK = 0, POPSTORE_TEMP = -1,
                       POPSTORE_GONE = -2 };

/* Chooses and sets up the store for mailbox (validated). 0, or -1 with
 * why. */
int popstore_open(struct popstore *ps, struct control *ctl,
                  const char *ctldir, const char *home, const char *mailbox,
                  char *why, size_t whylen);
void popstore_close(struct popstore *ps);

/* Lists the mailbox into ps->msgs and ps->n, oldest first, at most max
 * messages, once per session. A mailbox never delivered to is empty.
 * Combined mode keeps the mailbox open and the file names listed, and
 * sweeps tmp/ of what crashed deliveries left, as maildir readers do. */
enum popstore_result popstore_list(struct popstore *ps, size_t max,
                                   char *why, size_t whylen);

/* Replaces out's contents with message i's sealed octets. GONE: removed
 * meanwhile (another session). */
enum popstore_result popstore_fetch(struct popstore *ps, size_t i,
                                    struct sbuf *out, char *why,
                                    size_t whylen);

/* Removes message i for good; a message already gone counts as removed.
 * In combined mode the directories are synced by popstore_sync, once for
 * all removals; edhd syncs each itself. */
enum popstore_result popstore_remove(struct popstore *ps, size_t i,
                                     char *why, size_t whylen);
enum popstore_result popstore_sync(struct popstore *ps, char *why,
                                   size_t whylen);

#endif
