/*
 * quota - control/quota of the store (edhd, or sq-lspawn writing the
 * maildirs itself in combined mode): the most octets (the sum of the S= sizes
 * of its messages) a mailbox may hold, one line per mailbox
 *   MAILBOX OCTETS
 * and at most one default line
 *   * OCTETS
 * for the mailboxes not named. No file, or no line that applies: no limit.
 * A malformed line, a repeated mailbox or a second default makes the whole
 * file invalid, so that a typo never lifts a limit silently.
 */
#ifndef SQ_QUOTA_H
#define SQ_QUOTA_H

#include <stddef.h>

#include "util/control.h"
#include "mail/maildir.h"
#include "util/sbuf.h"

#define QUOTA_MAX (1ULL << 62)

/* Looks mailbox up in the value lines of control/quota (as
 * control_readfile returns them): 1 with its limit in *limit, 0 when no
 * limit applies, -1 (EINVAL, the bad line's number in *badline) when the
 * file is invalid. */
int quota_lookup(const struct sbuf *lines, const char *mailbox,
                 unsigned long long *limit, size_t *badline);

/* 1 if a message of size octets fits beside usage octets under limit. */
int quota_fits(unsigned long long usage, unsigned long long size,
               unsigned long long limit);

/* 1 when size more octets would pass the quota of md (mailbox box), 0
 * when they fit, -1 when that cannot be known: control/quota unusable or
 * the usage uncountable, logged (callers fail closed, temporarily). md
 * may be closed (dirfd -1): a mailbox never delivered to uses nothing. */
int quota_check(struct control *ctl, struct maildir *md, const char *box,
                unsigned long long size);

/* quota_check for the delivery did (maildir_did_format; NULL: none), that
 * never refuses one stored already: after a crash its first copy may be
 * what filled the mailbox, and the retry must end, not wait for room. */
int quota_check_once(struct control *ctl, struct maildir *md,
                     const char *box, unsigned long long size,
                     const char *did);

#endif
