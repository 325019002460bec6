/*
 * throttle - how fast passwords may be tried against an address over
 * POP3 (pksd(8), LOGIN THROTTLING). The decisions only: the store keeps
 * the state in login_throttle and calls these inside one transaction.
 *
 * Two counters per address: one per client network (the /24 of an IPv4
 * client, the /64 of an IPv6 one) and one for the address as a whole.
 * An attempt is counted as a failure before the PDK is served, and a
 * success takes it back, so a guess that is never reported still counts
 * and concurrent sessions cannot overtake the count. Each counter has a
 * budget of free failures, then waits that double from 1 second up to a
 * cap: long for a network (an hour), short for the address (a minute),
 * so that one network cannot lock the owner out from another. The
 * address's wait does not apply to a network the address logged in
 * from recently ("known"): the owner's usual networks stay open during
 * a distributed attack.
 */
#ifndef SQ_THROTTLE_H
#define SQ_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define THROTTLE_NET_MAX 64     /* "unknown", "*", an IPv4 /24 or IPv6 /64 */
#define THROTTLE_ADDRESS "*"    /* the network name of the address's row */
#define THROTTLE_UNKNOWN "unknown" /* a client that sent no IP */

struct throttle_conf {
	unsigned net_free;      /* failures from one network before waits */
	unsigned net_max;       /* its longest wait, seconds; a counter quiet
	                         * this long after its wait is forgiven */
	unsigned addr_free;     /* failures of the address before waits */
	unsigned addr_max;      /* its longest wait, seconds */
	unsigned known_seconds; /* a network stays known this long after a
	                         * success from it */
};

/* One row of login_throttle, times in Unix seconds. */
struct throttle_state {
	unsigned failures;
	int64_t not_before;     /* no attempt before this */
	int64_t last_failure;
	int64_t last_success;
};

/* The wait after the nth failure with budget free: none up to free, then
 * 1, 2, 4 ... seconds, at most max. */
unsigned throttle_delay(unsigned n, unsigned free, unsigned max);

/* The network of a client IP (text) into net: "a.b.c.0/24" for IPv4 (also
 * when mapped into IPv6), "x:x:x:x::/64" for IPv6, THROTTLE_UNKNOWN for
 * "". 0, or -1 for text that is not an IP address. */
int throttle_network(const char *ip, char net[THROTTLE_NET_MAX]);

/* An attempt at now, against the rows of its network and its address:
 * 0 when allowed, both then counted as failed (updated in place); or the
 * seconds to wait, nothing changed. */
int64_t throttle_attempt(const struct throttle_conf *c,
                         struct throttle_state *net,
                         struct throttle_state *addr, int64_t now);

/* A right password from the network: its failures (the attempt that
 * succeeded among them) are taken back from both rows, and the network
 * is known from now. */
void throttle_success(const struct throttle_conf *c,
                      struct throttle_state *net,
                      struct throttle_state *addr, int64_t now);

#endif
