/*
 * qmsg - the scheduler's files for one queued message, in its own queue
 * directories (sq-send(8)):
 *
 *	info/s/N	"b" birth time NUL "F" sender NUL; its mtime is the
 *			time of the next delivery attempt
 *	local/s/N	"T" recipient NUL for each local recipient still to
 *			do, "D" in place of the T once done
 *	remote/s/N	the same for remote recipients
 *	bounce/N	"R" recipient NUL reason NUL for each permanent failure
 *			not yet reported to the sender
 *
 * They are written from todo/N before todo/N is removed, so a crash before
 * that removal only means they are written again; a recipient's T becomes
 * D (one octet, in place, synced) only after its delivery succeeded or
 * failed for good: a crash can repeat a delivery, never lose one.
 */
#ifndef SQ_QMSG_H
#define SQ_QMSG_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "queue/queue.h"
#include "util/sbuf.h"

struct qrcpt {
	const char *addr;       /* into the list's raw bytes */
	off_t off;              /* of its T/D octet in the file */
	int done;
};

struct qlist {
	struct sbuf raw;
	struct qrcpt *r;
	size_t n, todo;         /* recipients, and those not done */
};

struct qmsg {
	unsigned long long num;
	time_t birth;
	struct sbuf info;
	const char *sender;     /* into info */
	struct qlist local, remote;
};

/* Which list a recipient goes to. */
typedef int (*qmsg_is_local)(const char *addr, void *arg);

/* Builds the message from the envelope of todo/num in memory only, as
 * qmsg_from_todo does, but writes nothing: sq-send's first attempt at a
 * one-recipient message needs no files (qmsg_write makes them when it
 * must wait). 0, or -1 with errno. */
int qmsg_from_envelope(unsigned long long num, const struct queue_envelope *e,
                       qmsg_is_local is_local, void *arg, time_t birth,
                       struct qmsg *m);
/* Writes the files of a message built by qmsg_from_envelope, its
 * recipients done so far marked done; synced. 0 or -1. */
int qmsg_write(struct queue *q, struct qmsg *m);

/* Writes info, local and remote for the envelope of todo/num, each file
 * and its directory synced, born at birth; m is then that message. 0, or
 * -1 with errno. */
int qmsg_from_todo(struct queue *q, unsigned long long num,
                   const struct queue_envelope *e, qmsg_is_local is_local,
                   void *arg, time_t birth, struct qmsg *m);

/* 1 if num has an info file (written by an earlier pass over todo/num
 * that a crash cut short: todo/num is the truth until it is removed, and
 * those files are to be written again from it), 0 if not, -1 if that
 * cannot be known. */
int qmsg_has_files(struct queue *q, unsigned long long num);

/* Reads the files of num back (after a restart); 0 or -1 with errno
 * (ENOENT: no info file). */
int qmsg_load(struct queue *q, unsigned long long num, struct qmsg *m);
void qmsg_free(struct qmsg *m);

/* Marks recipient i of list l (&m->local or &m->remote) done, synced. */
int qmsg_done(struct queue *q, struct qmsg *m, struct qlist *l, size_t i);

/* The next attempt's time, kept as info's mtime across restarts. */
int qmsg_set_next(struct queue *q, unsigned long long num, time_t when);
time_t qmsg_next(struct queue *q, unsigned long long num);

/* Adds a permanent failure to bounce/num, synced. */
int qmsg_bounce_add(struct queue *q, unsigned long long num,
                    const char *rcpt, const char *reason);
/* The failures of bounce/num ("R" rcpt NUL reason NUL ...) into out;
 * 1 if there are some, 0 if none, -1 on error. */
int qmsg_bounce_read(struct queue *q, unsigned long long num,
                     struct sbuf *out);
int qmsg_bounce_remove(struct queue *q, unsigned long long num);

/* Removes local, remote, bounce and then info: once info is gone the
 * message is no longer the scheduler's (mess/ and the rest are
 * sq-clean's). 0 or -1. Not synced, as qmail does not: every recipient is
 * marked done (synced) before, so a removal that a crash undoes brings
 * the message back finished, and it is finished again (with the
 * notification, at worst, sent twice); a list already gone reads as
 * empty. */
int qmsg_remove(struct queue *q, unsigned long long num);

/* Calls fn for each message number with an info file; fn != 0 stops. */
int qmsg_each(struct queue *q, int (*fn)(unsigned long long num, void *arg),
              void *arg);

#endif
