/*
 * ipallow - source-address allow-lists (control files such as pksallow):
 * one IPv4 or IPv6 address or CIDR prefix per line, e.g.
 *   192.0.2.10
 *   10.1.0.0/16
 *   fd00:5::/64
 * An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) matches the IPv4 entries.
 * A missing file admits nobody.
 */
#ifndef SQ_IPALLOW_H
#define SQ_IPALLOW_H

#include <stddef.h>
#include <sys/socket.h>

#include "util/control.h"

struct ipnet {
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network order; IPv4 in the first 4 */
	unsigned prefix;        /* bits that must match */
};

struct ipallow {
	size_t n;
	struct ipnet *nets;
};

/* Parses one entry; 0, or -1 (EINVAL) for anything malformed, including
 * host bits set past the prefix (10.1.2.3/16 is refused as a likely typo). */
int ipnet_parse(const char *text, struct ipnet *out);

/* Loads the list from a control file: 1, 0 (no file: empty list, admits
 * nobody) or -1 (unreadable, or a bad line: its number in *badline). */
int ipallow_load(struct ipallow *list, struct control *ctl, const char *name,
                 size_t *badline);
void ipallow_free(struct ipallow *list);

/* 1 if the peer address is admitted, else 0. */
int ipallow_match(const struct ipallow *list, const struct sockaddr *sa);

#endif
