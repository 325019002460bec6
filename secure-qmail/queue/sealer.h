/*
 * sealer - the work of the encryption queue stage, for one message: read
 * the message and envelope (qmail-queue interface order: message first),
 * find every local recipient's verified PEK, queue one sealed copy per
 * local recipient (so no RecipientInfo names another recipient: a Bcc
 * stays blind) and, for remote recipients only, the message as it is.
 * A local recipient without a key is a permanent failure for that
 * recipient alone: the others are queued and the sender gets a failure
 * notice (RFC 3464, never the original's body; its headers only in a
 * notice sealed for a local sender), none for the null sender. Only when
 * no recipient can be served does the whole message fail (31). A key
 * question the PKS cannot answer now (or answers only with keys that fail
 * the CA check) fails the whole message (71) before anything is queued.
 * "postmaster" and postmaster@ each of our domains go to the subscriber
 * named in control/postmaster.
 */
#ifndef SQ_SEALER_H
#define SQ_SEALER_H

#include <sys/stat.h>

#include "util/control.h"
#include "deliver/localdom.h"
#include "util/path.h"
#include "queue/pekcache.h"
#include "queue/qqcodes.h"

struct sealer {
	struct control *ctl;
	struct pekcache *peks;
	char queue_program[SQ_PATH_MAX]; /* control/sealqueue */
	int serve;                      /* it is sq-queue: kept running as
	                                 * sq-queue --serve, one per worker */
	int qsock;                      /* its socket, -1 until started */
	pid_t qpid;
	unsigned long long max;         /* message size bound */
	struct localdom locals;
	char me[256];                   /* control/me */
	char bouncefrom[512];           /* the From: of failure notices */
	char postmaster[ADDR_MAX + 1];  /* control/postmaster, normalised */
	unsigned long notices;          /* made by this worker */
	unsigned long timeout;          /* seconds to read the input in,
	                                 * 0: no bound (sq-sealerd sets it) */
	char error[400];
	/* what the last sealer_queue queued, for the log */
	size_t octets, sealed, remote, keyless;
	int notice;                     /* a failure notice was queued */
};

int sealer_init(struct sealer *s, struct control *ctl, struct pekcache *peks);
void sealer_fini(struct sealer *s);

/* 1 if address is in one of our domains (or has no domain), 0 if not,
 * -1 if the domain list cannot be read. */
int sealer_is_local(struct sealer *s, const char *address);

/* Seals and queues the message on msgfd with the envelope on envfd;
 * returns a qmail-queue exit code (s->error says why when not 0). Both
 * are read to end of file within s->timeout seconds together: past it,
 * 71 (the caller is too slow, or holds the worker on purpose). */
int sealer_queue(struct sealer *s, int msgfd, int envfd);

#endif
