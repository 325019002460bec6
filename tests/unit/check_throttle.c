/*
 * check_throttle - login throttling decisions without a database: the
 * delay schedule, client networks, and an attempt or a success against
 * the rows of a network and of the address (pksd(8), LOGIN THROTTLING).
 */
#include <stdio.h>
#include <string.h>

#include "throttle.h"
#include "testutil.h"

/* net_free, net_max, addr_free, addr_max, known_seconds */
static const struct throttle_conf C = { 5, 3600, 50, 60, 86400 };
static const int64_t NOW = 1700000000;

/* --- the delay schedule ---------------------------------------------------- */

START_TEST(no_delay_within_the_budget_then_doubling_to_the_cap)
{
	static const unsigned want[] = { 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32,
	                                 64, 128, 256, 512, 1024, 2048, 3600,
	                                 3600 };
	for (unsigned n = 0; n < sizeof want / sizeof want[0]; n++)
		ck_assert_msg(throttle_delay(n, 5, 3600) == want[n],
		              "failure %u: %u s, want %u", n,
		              throttle_delay(n, 5, 3600), want[n]);
	ck_assert_uint_eq(throttle_delay(1000000, 5, 3600), 3600);
	ck_assert_uint_eq(throttle_delay(36, 5, 3600), 3600);  /* 1 << 30 */
	ck_assert_uint_eq(throttle_delay(37, 5, 3600), 3600);  /* past 32 bits */
	ck_assert_uint_eq(throttle_delay(1, 0, 60), 1);
	ck_assert_uint_eq(throttle_delay(60, 50, 60), 60);
}
END_TEST

/* --- networks -------------------------------------------------------------- */

START_TEST(networks_are_the_ipv4_24_and_the_ipv6_64)
{
	static const char *const cases[][2] = {
		{ "127.3.3.3", "127.3.3.0/24" },
		{ "192.0.2.255", "192.0.2.0/24" },
		{ "::ffff:198.51.100.7", "198.51.100.0/24" },
		{ "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
		{ "2001:DB8:1:2::9", "2001:db8:1:2::/64" },
		{ "::1", "::/64" },
		{ "", THROTTLE_UNKNOWN },
	};
	char net[THROTTLE_NET_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(throttle_network(cases[i][0], net), 0);
		ck_assert_str_eq(net, cases[i][1]);
	}
	static const char *const bad[] = { "127.3.3", "1.2.3.4/24", "host",
	                                   "1.2.3.4 ", "*", "::g", "unknown" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(throttle_network(bad[i], net) < 0, "%s taken", bad[i]);
}
END_TEST

/* --- attempts -------------------------------------------------------------- */

/* n attempts at now: how many were allowed (and counted). */
static unsigned attempts(struct throttle_state *net, struct throttle_state *addr,
                         unsigned n, int64_t now)
{
	unsigned allowed = 0;
	for (unsigned i = 0; i < n; i++)
		allowed += throttle_attempt(&C, net, addr, now) == 0;
	return allowed;
}

/* Every allowed attempt is counted on both rows before anything else;
 * a refused one changes nothing and says how long to wait. */
START_TEST(an_allowed_attempt_is_counted_a_refused_one_is_not)
{
	struct throttle_state net = { 0 }, addr = { 0 };
	ck_assert_uint_eq(attempts(&net, &addr, 40, NOW), 6);
	ck_assert_uint_eq(net.failures, 6);
	ck_assert_uint_eq(addr.failures, 6);
	ck_assert_int_eq(net.not_before, NOW + 1);
	ck_assert_int_eq(net.last_failure, NOW);
	struct throttle_state before = net;
	ck_assert_int_eq(throttle_attempt(&C, &net, &addr, NOW), 1);
	ck_assert_mem_eq(&net, &before, sizeof net);
	ck_assert_uint_eq(attempts(&net, &addr, 5, NOW + 1), 1);
	ck_assert_int_eq(net.not_before, NOW + 1 + 2);
	ck_assert_int_eq(throttle_attempt(&C, &net, &addr, NOW + 2), 1);
}
END_TEST

/* A network's failures do not make the owner wait on another network,
 * however many: the address's own budget is far larger. */
START_TEST(one_networks_failures_leave_another_network_open)
{
	struct throttle_state bad = { 0 }, good = { 0 }, addr = { 0 };
	for (int i = 0; i < 12; i++) /* each as soon as the last wait ended */
		ck_assert_int_eq(throttle_attempt(&C, &bad, &addr,
		                                  bad.not_before ? bad.not_before
		                                                 : NOW), 0);
	int64_t t = bad.last_failure;
	ck_assert_uint_eq(bad.failures, 12);
	ck_assert_int_eq(bad.not_before, t + 64);
	ck_assert_int_eq(throttle_attempt(&C, &bad, &addr, t + 1), 63);
	ck_assert_int_eq(throttle_attempt(&C, &good, &addr, t + 1), 0);
	throttle_success(&C, &good, &addr, t + 1);
	ck_assert_uint_eq(good.failures, 0);
	ck_assert_int_eq(good.last_success, t + 1);
	ck_assert_int_gt(throttle_attempt(&C, &bad, &addr, t + 2), 0);
}
END_TEST

/* Past its budget the address makes every unknown network wait, at most
 * addr_max; a network the address logged in from recently does not. */
START_TEST(the_address_budget_slows_new_networks_not_known_ones)
{
	struct throttle_state addr = { 0 }, known = { 0 };
	throttle_success(&C, &known, &addr, NOW - 100);
	for (unsigned i = 0; i < 51; i++) { /* each from a network of its own */
		struct throttle_state fresh = { 0 };
		ck_assert_int_eq(throttle_attempt(&C, &fresh, &addr, NOW), 0);
	}
	struct throttle_state fresh = { 0 };
	int64_t wait = throttle_attempt(&C, &fresh, &addr, NOW);
	ck_assert_int_eq(wait, 1);
	ck_assert_uint_eq(fresh.failures, 0);
	ck_assert_int_eq(throttle_attempt(&C, &known, &addr, NOW), 0);
	addr.failures = 1000;
	addr.not_before = NOW + 3600; /* never beyond the cap when counted */
	ck_assert_int_eq(throttle_attempt(&C, &known, &addr, NOW), 0);
	ck_assert_int_eq(addr.not_before, NOW + 60);
	known.last_success = NOW - 86400; /* no longer known */
	ck_assert_int_eq(throttle_attempt(&C, &known, &addr, NOW), 60);
}
END_TEST

/* A success takes back its network's failures from the address too,
 * never more than the address has; others' failures stay. */
START_TEST(a_success_takes_back_only_its_networks_failures)
{
	struct throttle_state a = { 0 }, b = { 0 }, addr = { 0 };
	ck_assert_uint_eq(attempts(&a, &addr, 3, NOW), 3);
	ck_assert_uint_eq(attempts(&b, &addr, 4, NOW), 4);
	throttle_success(&C, &b, &addr, NOW);
	ck_assert_uint_eq(addr.failures, 3);
	ck_assert_uint_eq(a.failures, 3);
	ck_assert_uint_eq(b.failures, 0);
	ck_assert_int_eq(b.not_before, 0);
	b.failures = 9;
	throttle_success(&C, &b, &addr, NOW);
	ck_assert_uint_eq(addr.failures, 0);
}
END_TEST

/* Failures are forgiven net_max after the last wait ended, on both
 * rows; not before, or waiting out the longest wait would give a fresh
 * budget. */
START_TEST(old_failures_are_forgiven)
{
	struct throttle_state net = { 0 }, addr = { 0 };
	ck_assert_uint_eq(attempts(&net, &addr, 20, NOW), 6);
	ck_assert_int_eq(throttle_attempt(&C, &net, &addr, NOW + 3600), 0);
	ck_assert_uint_eq(net.failures, 7);
	ck_assert_int_eq(net.not_before, NOW + 3602);
	ck_assert_int_eq(throttle_attempt(&C, &net, &addr, NOW + 3602 + 3599),
	                 0);
	ck_assert_uint_eq(net.failures, 8);
	int64_t end = net.not_before;
	ck_assert_int_eq(throttle_attempt(&C, &net, &addr, end + 3600), 0);
	ck_assert_uint_eq(net.failures, 1);
	ck_assert_uint_eq(addr.failures, 1);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("throttle");
	tcase_add_test(tc, no_delay_within_the_budget_then_doubling_to_the_cap);
	tcase_add_test(tc, networks_are_the_ipv4_24_and_the_ipv6_64);
	tcase_add_test(tc, an_allowed_attempt_is_counted_a_refused_one_is_not);
	tcase_add_test(tc, one_networks_failures_leave_another_network_open);
	tcase_add_test(tc, the_address_budget_slows_new_networks_not_known_ones);
	tcase_add_test(tc, a_success_takes_back_only_its_networks_failures);
	tcase_add_test(tc, old_failures_are_forgiven);
	suite_add_tcase(s, tc);
	return s;
}
