/*
 * localdom - the domains that are ours: control/locals, and the domains
 * of control/virtualdomains with their prefixes, reloaded when either
 * file changes (so a domain ses-adduser adds is ours at the next message).
 * What the sealer, the scheduler and local delivery agree on.
 */
#ifndef SQ_LOCALDOM_H
#define SQ_LOCALDOM_H

#include <time.h>

#include "util/control.h"
#include "util/sbuf.h"

struct localdom {
	struct control *ctl;
	struct sbuf list;       /* "domain" NUL "prefix" NUL ...; prefix ""
	                         * for a locals domain; NUL at the end */
	struct timespec mtime[2];
};

void localdom_init(struct localdom *l, struct control *ctl);
void localdom_free(struct localdom *l);

/* Rereads the files if they changed; 0, or -1 if one exists but cannot be
 * read. */
int localdom_reload(struct localdom *l);

/* 1 if address is ours (a bare local part is), 0 if not, -1 if the files
 * cannot be read. *prefix (if asked) gets the virtualdomains prefix, or
 * NULL for a locals domain or a bare local part. */
int localdom_match(struct localdom *l, const char *address,
                   const char **prefix);

/* The local name qmail-send gives an address of ours: "prefix-local" for
 * a virtual domain, the local part for a locals domain (users/cdb lookups
 * lower-case it). 1 with the name in out; 0 not ours; -1 the files cannot
 * be read; -2 the name does not fit in n octets (or holds a NUL). */
/* 1 if address is "postmaster" or postmaster@ some domain, in any case
 * (RFC 5321 4.5.1; whether the domain is ours is localdom_match's). */
int localdom_is_postmaster(const char *address);

#define LOCALDOM_NAME_MAX 600
int localdom_localname(struct localdom *l, const char *address, char *out,
                       size_t n);

#endif
