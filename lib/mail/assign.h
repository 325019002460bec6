/*
 * assign - qmail's users/assign and users/cdb.
 *
 * users/assign (what qmail-newu reads; the rules are qmail-newu's, so our
 * users/cdb is the one qmail-newu would make and qmail-lspawn reads):
 *   - lines end in '\n'; the first line that begins with '.' ends the
 *     assignments and everything after it is ignored. qmail-users(5) says
 *     "a line containing a single dot", but qmail-newu stops at any line
 *     starting with '.', and needs no '\n' after it;
 *   - there are no comments: every line before the end is an assignment;
 *   - format errors: no end line, a line (before the end) without its '\n',
 *     a NUL byte, a line with no ':' or with ':' first, fewer than six ':'
 *     after the first one;
 *   - "=local:user:uid:gid:homedir:dash:ext:" is a simple assignment and
 *     "+prefix:user:uid:gid:homedir:dash:pre:" a wildcard. qmail-newu only
 *     tests for '+': any other first byte makes a simple assignment, and
 *     that byte is dropped like the '='.
 * users/cdb records:
 *   - simple: key "!" local NUL, wildcard: key "!" prefix (no NUL, so the
 *     two never meet); A-Z in the key are lower-cased (ASCII only);
 *   - data: the text after the first ':' up to the sixth ':' after it, with
 *     the five ':' inside turned into NUL: "user\0uid\0gid\0home\0dash\0ext";
 *     anything after the sixth ':' is dropped;
 *   - duplicates are all stored; a reader finds the first;
 *   - last, the record with the empty key holds the "wildchars": the last
 *     byte of every non-empty wildcard prefix, each once, in order of first
 *     appearance, as written (not lower-cased).
 * Lookup is qmail-lspawn's: with K = "!" lower(local) NUL, it tries K, then
 * each shorter K[0..i) from i = strlen(local) + 1 down to 1 whose last byte
 * is a wildchar, plus always "!" alone (the "+:" catch-all). The first found
 * wins. Because wildchars keep their case and K is lower-cased, a prefix
 * ending in A-Z never matches, in qmail-lspawn as here.
 */
#ifndef SQ_ASSIGN_H
#define SQ_ASSIGN_H

#include <stddef.h>

#include "util/path.h"
#include "util/sbuf.h"

/* Sizes of the fields, each including its NUL. qmail has no limits; a
 * longer field is refused (ENAMETOOLONG) rather than cut. */
#define ASSIGN_LOCAL_MAX 512
#define ASSIGN_USER_MAX 128
#define ASSIGN_HOME_MAX SQ_PATH_MAX
#define ASSIGN_DASH_MAX 64
#define ASSIGN_EXT_MAX 1024
/* uid and gid are decimal, at most this ((uid_t)-1 means "unchanged"). */
#define ASSIGN_ID_MAX 4294967294UL
/* A bound for callers reading users/assign into an sbuf (the editors
 * grow the text up to that sbuf's own max). */
#define ASSIGN_FILE_MAX (64UL * 1024 * 1024)

struct assign_entry {
	char type;      /* '+' wildcard; '=' simple (from a file: any other
	                 * first byte, which qmail-newu also reads as simple) */
	char local[ASSIGN_LOCAL_MAX];   /* the local part, or wildcard prefix */
	char user[ASSIGN_USER_MAX];
	unsigned long uid, gid;
	char home[ASSIGN_HOME_MAX];
	char dash[ASSIGN_DASH_MAX];     /* "" or "-" in practice */
	char ext[ASSIGN_EXT_MAX];       /* ext, or pre for a wildcard */
};

struct assign_list {
	struct assign_entry *v;
	size_t n;                       /* entries in v, in file order */
	size_t cap;
};

void assign_list_init(struct assign_list *l);
void assign_list_free(struct assign_list *l);

/* Parses users/assign text into out (emptied first). 0, or -1 with errno:
 * EINVAL a format error (qmail-newu's rules above; also a uid or gid that
 * is not 1-10 digits up to ASSIGN_ID_MAX, which qmail-newu does not check),
 * ENAMETOOLONG a field too long, ENOMEM. For EINVAL and ENAMETOOLONG
 * *badline is the 1-based number of the bad line; a missing end line is
 * reported on the line after the last. Fields keep their case. */
int assign_parse(const char *text, size_t len, struct assign_list *out,
                 size_t *badline);

/* Builds dirfd/cdbname (mode 0644, less the umask) from the text exactly
 * as qmail-newu does, crash-safely (temporary file, fsync, rename, fsync of
 * the directory). On any error, format errors included (EINVAL, with
 * *badline as for assign_parse), the old cdb is left untouched. Checks
 * only what qmail-newu checks. 0 or -1. */
int assign_build_cdb(const char *text, size_t len, int dirfd,
                     const char *cdbname, size_t *badline);

/* Replaces line with the assignment line for e, '\n' included: 0, or -1
 * with EINVAL for a type other than '=' or '+', a ':' or '\n' in a field,
 * a field without its NUL, or a uid/gid above ASSIGN_ID_MAX. */
int assign_format(const struct assign_entry *e, struct sbuf *line);

/* Inserts e's line just before the end line of text; an empty text
 * becomes that line and ".\n". Every other byte stays as it was. -1 with
 * EEXIST if an assignment already has the same cdb key (same type,
 * local equal but for A-Z case), EINVAL if text is not valid for
 * qmail-newu or e cannot be formatted, EMSGSIZE if text would outgrow its
 * max. 0 on success; text is unchanged on error. */
int assign_add(struct sbuf *text, const struct assign_entry *e);

/* Removes every simple assignment (any line not starting with '+', as
 * qmail-newu reads them) whose cdb key is that of local: all of them, so
 * that no duplicate takes over. Every other byte stays as it was. 0, or
 * -1 with ENOENT (none; also for an empty text), EINVAL (text not valid
 * for qmail-newu), ENOMEM. */
int assign_remove(struct sbuf *text, const char *local);
/* The same for the given type: '=' as above, '+' the wildcard prefix. */
int assign_remove_type(struct sbuf *text, char type, const char *local);

/* Looks local up in the users/cdb at cdbpath as qmail-lspawn does.
 * 1 found: e->type is '=' for the simple key, '+' for a wildcard;
 * e->local is the key matched without its '!' (and NUL), so lower-cased:
 * the whole local part, or the wildcard prefix; e->ext is the stored ext,
 * or for a wildcard the stored pre followed by the rest of local after the
 * prefix in its original case (what qmail-lspawn passes to qmail-local).
 * 0: no assignment, or no cdb (qmail then asks qmail-getpw).
 * -1: errno EPROTO for a cdb without the wildchars record (qmail-lspawn
 * fails temporarily there too) or data that is not six fields with decimal
 * uid and gid; ENAMETOOLONG for a field or local too long; or the error
 * of open/read. */
int assign_lookup(const char *cdbpath, const char *local,
                  struct assign_entry *e);

#endif
