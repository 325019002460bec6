/*
 * sealer - the work of the encryption queue stage, for one message: read
 * the message and envelope (qmail-queue interface order: message first),
 * find every local recipient's verified PEK, queue one sealed copy per
 * local recipient (so no RecipientInfo names another recipient: a Bcc
 * stays blind) and, for remote recipients only, the message as it is.
 * Nothing is queued unless every local recipient has a key.
 */
#ifndef SQ_SEALER_H
#define SQ_SEALER_H

#include <sys/stat.h>

#include "control.h"
#include "localdom.h"
#include "pekcache.h"

/* qmail-queue's exit codes, which sq-seal returns to sq-smtpd. */
enum {
	QQ_OK = 0,
	QQ_ADDR_TOO_LONG = 11,
	QQ_REFUSED = 31,        /* permanent: a local recipient has no key */
	QQ_NOMEM = 51,
	QQ_READ = 54,           /* cannot read the message or envelope */
	QQ_CONFIG = 55,
	QQ_TEMP = 71,           /* temporary: the PKS cannot be asked */
	QQ_BUG = 81,
	QQ_ENVELOPE = 91
};

struct sealer {
	struct control *ctl;
	struct pekcache *peks;
	char queue_program[4096];       /* control/sealqueue */
	unsigned long long max;         /* message size bound */
	struct localdom locals;
	char error[400];
	/* what the last sealer_queue queued, for the log */
	size_t octets, sealed, remote;
};

int sealer_init(struct sealer *s, struct control *ctl, struct pekcache *peks);
void sealer_fini(struct sealer *s);

/* 1 if address is in one of our domains (or has no domain), 0 if not,
 * -1 if the domain list cannot be read. */
int sealer_is_local(struct sealer *s, const char *address);

/* Seals and queues the message on msgfd with the envelope on envfd;
 * returns a qmail-queue exit code (s->error says why when not 0). */
int sealer_queue(struct sealer *s, int msgfd, int envfd);

#endif
