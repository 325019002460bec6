/*
 * rcptcheck - which recipients sq-smtpd takes: a domain in
 * control/rcpthosts (or a relay client, RELAYCLIENT set), and of those
 * only our own domains (control/virtualdomains, control/locals) unless
 * the client may relay: a domain only in rcpthosts would be queued in the
 * clear as remote mail (553 5.7.1, as qmail-smtpd refuses relaying). In
 * our own domains only subscribers: an
 * entry in users/cdb (qmail's users/assign lookup, after the
 * virtualdomains prefix) and a key, asked of sq-sealerd. Unlike qmail, a
 * missing control/rcpthosts admits no domain at all. "postmaster" (any
 * case, no domain) and postmaster@ each of our domains are the subscriber
 * control/postmaster names (RFC 5321 4.5.1); without that file, unknown
 * (550 5.1.1), with a log line.
 */
#ifndef SQ_RCPTCHECK_H
#define SQ_RCPTCHECK_H

#include "util/control.h"
#include "deliver/localdom.h"
#include "util/path.h"
#include "util/sbuf.h"

enum rcpt_verdict {
	RCPT_OK = 0,            /* 250 */
	RCPT_NO_RELAY,          /* 553 5.7.1: not one of our domains, and
	                         * the client may not relay */
	RCPT_UNKNOWN,           /* 550 5.1.1: no such subscriber */
	RCPT_NO_KEY,            /* 550 5.7.1: a subscriber without a key */
	RCPT_TEMP               /* 451 4.3.0: cannot tell now */
};

struct rcptcheck {
	struct sbuf rcpthosts;          /* NUL-separated, as read */
	struct localdom ours;           /* locals and virtualdomains */
	char userscdb[SQ_PATH_MAX];
	char sealer[SQ_PATH_MAX];       /* the sealing daemon's socket */
	unsigned long sealwait;         /* control/sealwait, seconds */
	int relayclient;
	int has_postmaster;             /* control/postmaster: 1, 0 missing,
	                                 * -1 unreadable */
	char postmaster[1024];
};

/* Reads the control files; 0, or -1 when one exists but cannot be read. */
int rcptcheck_init(struct rcptcheck *r, struct control *ctl);
void rcptcheck_fini(struct rcptcheck *r);

/* The verdict for a recipient address as given in RCPT TO. */
enum rcpt_verdict rcptcheck(struct rcptcheck *r, const char *address);

#endif
