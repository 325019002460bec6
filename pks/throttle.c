/*
 * throttle - login throttling decisions. See throttle.h.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "throttle.h"

unsigned throttle_delay(unsigned n, unsigned free, unsigned max)
{
	if (n <= free)
		return 0;
	unsigned shift = n - free - 1;
	unsigned d = shift >= 31 ? max : 1u << shift;
	return d < max ? d : max;
}

static int v4_network(const unsigned char *a, char net[THROTTLE_NET_MAX])
{
	snprintf(net, THROTTLE_NET_MAX, "%u.%u.%u.0/24", a[0], a[1], a[2]);
	return 0;
}

int throttle_network(const char *ip, char net[THROTTLE_NET_MAX])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	                                          0xff, 0xff };
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	if (!*ip) {
		snprintf(net, THROTTLE_NET_MAX, "%s", THROTTLE_UNKNOWN);
		return 0;
	}
	if (inet_pton(AF_INET, ip, a) == 1)
		return v4_network(a, net);
	if (inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	if (memcmp(a, mapped, sizeof mapped) == 0)
		return v4_network(a + 12, net);
	memset(a + 8, 0, 8);
	if (!inet_ntop(AF_INET6, a, text, sizeof text))
		return -1;
	snprintf(net, THROTTLE_NET_MAX, "%s/64", text);
	return 0;
}

/* Failures are forgiven once the counter has been quiet for quiet
 * seconds after its last wait ended: a counter must not grow forever from
 * a few typing mistakes a week, and an attacker who waits out the longest
 * wait must not find a fresh budget (not_before is never before the last
 * failure, so it dates the end of the wait). */
static void forgive(struct throttle_state *s, unsigned quiet, int64_t now)
{
	if (s->failures && s->not_before + (int64_t)quiet <= now) {
		s->failures = 0;
		s->not_before = 0;
	}
}

static int known(const struct throttle_conf *c, const struct throttle_state *net,
                 int64_t now)
{
	return net->last_success &&
	       net->last_success + (int64_t)c->known_seconds > now;
}

static void count(struct throttle_state *s, unsigned free, unsigned max,
                  int64_t now)
{
	s->failures++;
	s->last_failure = now;
	s->not_before = now + throttle_delay(s->failures, free, max);
}

int64_t throttle_attempt(const struct throttle_conf *c,
                         struct throttle_state *net,
                         struct throttle_state *addr, int64_t now)
{
	forgive(net, c->net_max, now);
	forgive(addr, c->net_max, now);
	int64_t wait = net->not_before - now;
	if (!known(c, net, now) && addr->not_before - now > wait)
		wait = addr->not_before - now;
	if (wait > 0)
		return wait;
	count(net, c->net_free, c->net_max, now);
	count(addr, c->addr_free, c->addr_max, now);
	return 0;
}

void throttle_success(const struct throttle_conf *c,
                      struct throttle_state *net,
                      struct throttle_state *addr, int64_t now)
{
	addr->failures -= net->failures < addr->failures ? net->failures
	                                                 : addr->failures;
	if (addr->failures <= c->addr_free)
		addr->not_before = 0;
	net->failures = 0;
	net->not_before = 0;
	net->last_success = now;
}
