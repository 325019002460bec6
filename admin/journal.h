/*
 * journal - provisioning operations in flight, in users/pending/. An
 * account lives in two places (the key store and this host's qmail
 * files), which no single write can change together. Before the first
 * change an operation records what it is about to do; the record goes
 * when the last change is made. A record found later (after a crash) is
 * finished or undone by journal recovery, which every provisioning tool
 * runs first, under the provisioning lock.
 */
#ifndef SQ_JOURNAL_H
#define SQ_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mail/addr.h"

enum journal_op { JOURNAL_ADD = 1, JOURNAL_DELETE, JOURNAL_DELETE_KEEP_KEYS };

/* The most key rows a delete record names; an address with more is
 * not deleted by a tool (ses-deluser refuses, pks-ctl can). */
#define JOURNAL_ROWS_MAX 256

struct journal_row {
	uint64_t row;           /* the PKS row id */
	char digest[65];        /* SHA-256 of its PEK, hex */
};

struct journal_entry {
	enum journal_op op;
	char address[ADDR_MAX + 1];
	char pek_digest[65];    /* add: SHA-256 of our PEK, hex: tells our row
	                         * from one another host made */
	/* delete: the rows the PKS held for the address before the delete,
	 * so that recovery deletes those and never a later subscriber's
	 * (rows_known 0: a record of an older version, which named none) */
	int rows_known;
	size_t nrows;
	struct journal_row rows[JOURNAL_ROWS_MAX];
	char name[64];          /* the record's file name */
};

/* Takes the provisioning lock (users/.lock, flock) for the life of the
 * process; blocks while another tool holds it. The fd, or -1. */
int journal_lock(const char *home);

/* Writes a record crash-safely (file and directory fsynced); 0 or -1. */
int journal_begin(const char *home, struct journal_entry *e);
/* Removes it; 0 or -1. */
int journal_end(const char *home, const struct journal_entry *e);

/* Calls fn for each record, oldest first; stops at the first fn < 0 and
 * returns it; 0 when all were handled. Unreadable records are -1. */
int journal_each(const char *home,
                 int (*fn)(const struct journal_entry *e, void *arg),
                 void *arg);

#endif
