/*
 * tcprules - the access rules tcpserver follows (-x), read from the cdb
 * that tcprules(1) compiles from a file such as control/tcp.smtp, so a
 * server that accepts its own connections (sq-smtpd -l) keeps the rules
 * an administrator already has.
 *
 * The lookup is tcpserver's without name or ident lookups: the client's
 * address, then each of its prefixes that ends in "." (IPv4) or ":"
 * (IPv6), longest first, then the empty key (the default rule). The
 * first key found decides. A value that begins with "D" denies; any
 * other allows and carries the variables to set, each "+NAME=value"
 * ending in a NUL.
 */
#ifndef SQ_TCPRULES_H
#define SQ_TCPRULES_H

#include "util/sbuf.h"

#define TCPRULES_VALUE_MAX 4096

enum tcprules_verdict {
	TCPRULES_ERROR = -1,    /* no cdb (ENOENT), unreadable, or corrupt */
	TCPRULES_DENY = 0,
	TCPRULES_ALLOW = 1
};

/* The rule for ip (a numeric address) in the cdb at path. When allowed,
 * env holds the rule's variables as "NAME=value" strings, each with its
 * NUL (env->len 0 for none); a malformed entry is an error (EPROTO). */
enum tcprules_verdict tcprules_check(const char *path, const char *ip,
                                     struct sbuf *env);

#endif
