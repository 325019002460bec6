/*
 * maildir - the sealed mailboxes of the Email Database Host: mailbox ids,
 * crash-safe delivery, listing, usage, opening and removal.
 *
 * A mailbox is named MAILBOX = the 8 lower-case hex digits of the address
 * hash (sq-addrhash(5)), "-", and the decimal PKS row id (1 to 2^63-1, no
 * leading zero), e.g. "1a2b3c4d-17"; its maildir is <parent>/<MAILBOX>/
 * with tmp/, new/ and cur/ (mode 0700). A message file is named
 *   <sec>.M<usec>P<pid>V<dev hex>I<inode hex>.<host>,S=<octets>,W=<plain>
 * (then ":2,<flags>" in cur/): the unique id is the name up to its first
 * ',', S= the file's octets, W= the plaintext's octets that POP3 LIST
 * reports (given by whoever sealed it). The format is in sq-edh(5).
 *
 * Used by edhd and, in combined mode, by the Application Host's delivery
 * program directly. Every function works relative to directory
 * descriptors (the *at() calls, O_NOFOLLOW), validates every id and name
 * it is given or reads, returns 0 or -1 with errno, and holds memory
 * bounded by its arguments.
 */
#ifndef SQ_MAILDIR_H
#define SQ_MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MAILDIR_ID_SIZE 29      /* 8 + 1 + 19 digits of 2^63-1, and NUL */
#define MAILDIR_UID_MAX 200     /* a unique id's octets, at most */
#define MAILDIR_NAME_SIZE 256   /* NAME_MAX and a NUL */
#define MAILDIR_HOST_MAX 64     /* octets of the host part, escaped */
#define MAILDIR_SIZE_MAX (1ULL << 40) /* the largest S= or W= accepted */

/* ---- mailbox ids --------------------------------------------------------- */

/* Writes the id of (hash, row) into out; 0, or -1 (EINVAL) if row is 0
 * or above 2^63-1. */
int maildir_id_format(char out[MAILDIR_ID_SIZE], uint32_t hash, uint64_t row);

/* Parses an id strictly: exactly 8 lower-case hex digits, '-', a decimal
 * row from 1 to 2^63-1 without leading zero, and nothing else. hash and
 * row may be NULL. 0, or -1 (EINVAL). */
int maildir_id_parse(const char *s, uint32_t *hash, uint64_t *row);

/* 1 if s is a valid mailbox id, else 0. */
int maildir_id_valid(const char *s);

/* ---- message names -------------------------------------------------------- */

struct maildir_name {
	size_t uidlen;                  /* the unique id is name[0..uidlen) */
	unsigned long long size;        /* S= */
	unsigned long long plainsize;   /* W= */
	const char *flags;              /* after ":2," in the name, or "" */
};

/* 1 if s (len octets) can be a unique id: 1 to MAILDIR_UID_MAX octets of
 * letters, digits, '.', '_', '-' and '\', not starting with '.'. */
int maildir_uid_valid(const char *s, size_t len);

/* Parses a file name of new/ or cur/: "<uid>,S=<n>,W=<n>" then nothing
 * or ":2," and flag letters; S and W decimal without leading zero, at
 * most MAILDIR_SIZE_MAX. out->flags points into name. 0, or -1 (EINVAL)
 * for anything else. */
int maildir_name_parse(const char *name, struct maildir_name *out);

/* ---- a mailbox ----------------------------------------------------------- */

struct maildir {
	int dirfd, tmpfd, newfd, curfd;     /* -1 when closed */
	char id[MAILDIR_ID_SIZE];
};

/* Creates parentfd/<id>/{tmp,new,cur} (mode 0700) where missing and
 * fsyncs the mailbox directory and the parent, so a crash leaves either
 * no mailbox or one that a second call completes. 0 or -1. */
int maildir_create(int parentfd, const char *id);

/* Opens parentfd/<id>, creating it first when create is set; -1 with
 * errno ENOENT when it does not exist (a mailbox never delivered to) and
 * create is 0, EINVAL for a bad id, ENOTDIR for anything but a maildir. */
int maildir_open(struct maildir *md, int parentfd, const char *id,
                 int create);
void maildir_close(struct maildir *md);

/* ---- delivery ------------------------------------------------------------ */

struct maildir_delivered {
	char name[MAILDIR_NAME_SIZE];       /* the file's name in new/ */
	size_t uidlen;                      /* its unique id's octets */
	unsigned long long size;            /* S= */
	int again;                          /* maildir_deliver_once: it was
	                                       there already */
};

/* Delivers len octets at data, whose plaintext has plainsize octets:
 * written to tmp/, fsynced, linked into new/ under its final name, new/
 * fsynced, then removed from tmp/ (unsynced: a tmp/ name a crash brings
 * back is litter no reader looks at). host names the delivering host in
 * the file name (NULL: gethostname). Only when 0 is returned is the
 * message delivered; on -1 nothing is left in new/ (unless removing it
 * failed too, which is logged by no one: the caller may). */
int maildir_deliver(struct maildir *md, const char *host, const void *data,
                    size_t len, unsigned long long plainsize,
                    struct maildir_delivered *out);

/* The same with the message read from fd to its end, at most max octets
 * (EMSGSIZE beyond): for a delivery program that holds it in a file. */
int maildir_deliver_fd(struct maildir *md, const char *host, int fd,
                       unsigned long long max, unsigned long long plainsize,
                       struct maildir_delivered *out);

/* ---- delivery ids: the same message never stored twice --------------------
 * A queued message's delivery to a mailbox is retried after a crash
 * that came between the store's commit and the queue's record of it.
 * The queue names each delivery with a delivery id that stays the same
 * across retries and is the unique id of the file it makes:
 *   <sec>.M<usec>Q<num>.<host>
 * sec and usec the time the message entered the queue (its queue file's
 * modification time), num its queue number (an inode number: unique
 * while the message is queued, and never again at the same time), host
 * the queueing host as in any maildir name. Two queued messages never
 * share an id; one message and mailbox always give the same name. */

/* Writes the delivery id into out. 0, or -1 (ENAMETOOLONG). */
int maildir_did_format(char out[MAILDIR_UID_MAX + 1], long long sec, long usec,
                       unsigned long long num, const char *host);

/* 1 if s is a delivery id as maildir_did_format writes them, else 0. */
int maildir_did_valid(const char *s);

/* Delivers like maildir_deliver, under the unique id did, once: when a
 * message of that id is in new/ (its name is known: the id, S= and W=)
 * or in cur/, or another delivery of it links first, nothing is written
 * again, new/ is fsynced (the other delivery may not have done it yet)
 * and out->again is set. A retried delivery re-sealed at a different
 * size (a notice sealed at delivery, with the key rotated in between)
 * is not recognised: one duplicate, never a loss. */
int maildir_deliver_once(struct maildir *md, const char *did,
                         const void *data, size_t len,
                         unsigned long long plainsize,
                         struct maildir_delivered *out);

/* Unlinks the regular files of tmp/ last changed before the time given
 * (maildir's rule: 36 hours): what a delivery that crashed between its
 * write and its link left. Readers of the mailbox call it. The number
 * removed, or -1. */
#define MAILDIR_TMP_STALE (36 * 3600)
long maildir_sweep_tmp(struct maildir *md, time_t before);

/* ---- listing ------------------------------------------------------------- */

struct maildir_msg {
	char *name;                     /* file name (owned) */
	size_t uidlen;                  /* unique id = name[0..uidlen) */
	unsigned long long size;        /* S= */
	unsigned long long plainsize;   /* W= */
	int cur;                        /* in cur/ (else new/) */
};

struct maildir_list {
	struct maildir_msg *msgs;       /* oldest first (by the name's time) */
	size_t n;
	size_t skipped;                 /* names that did not parse, or not
	                                   regular files: never listed */
	int truncated;                  /* more than max messages */
};

/* Lists new/ and cur/: at most max messages (the rest only counted in
 * truncated). A name that does not parse is skipped and counted. 0 or -1
 * (the list is then empty). */
int maildir_list(struct maildir *md, size_t max, struct maildir_list *out);
void maildir_list_free(struct maildir_list *l);

/* Usage for quota: the sum of S= and the number of messages in new/ and
 * cur/ (names that do not parse are not counted). 0 or -1. */
int maildir_usage(struct maildir *md, unsigned long long *octets,
                  unsigned long long *count);

/* ---- one message ------------------------------------------------------ */

/* Opens a listed message read-only; the descriptor, or -1 (ENOENT if it
 * has gone, EINVAL if it is not a regular file). */
int maildir_open_msg(struct maildir *md, const struct maildir_msg *m);

/* Removes a listed message (unlink, no fsync: see maildir_sync). */
int maildir_remove_msg(struct maildir *md, const struct maildir_msg *m);

/* fsyncs new/ and cur/, after removals. 0 or -1. */
int maildir_sync(struct maildir *md);

/* Finds the message whose unique id is uid (validated); fills *m (its
 * name owned by m: free with maildir_msg_free). 0, or -1 (ENOENT, EINVAL). */
int maildir_find(struct maildir *md, const char *uid, struct maildir_msg *m);
void maildir_msg_free(struct maildir_msg *m);

/* By unique id: open, or remove with the directory fsynced. */
int maildir_open_uid(struct maildir *md, const char *uid);
int maildir_remove_uid(struct maildir *md, const char *uid);

#endif
