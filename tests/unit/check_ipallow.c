/* check_ipallow - source-address allow-lists. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "net/ipallow.h"
#include "testutil.h"

static struct sockaddr_storage peer(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &in4->sin_addr) == 1)
		in4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1)
		in6->sin6_family = AF_INET6;
	else
		ck_abort_msg("bad test address %s", text);
	return ss;
}

static int admits(const struct ipallow *l, const char *text)
{
	struct sockaddr_storage ss = peer(text);
	return ipallow_match(l, (struct sockaddr *)&ss);
}

START_TEST(entries_parse_and_bad_ones_are_refused)
{
	struct ipnet n;
	ck_assert_int_eq(ipnet_parse("127.0.0.1", &n), 0);
	ck_assert_uint_eq(n.prefix, 32);
	ck_assert_int_eq(ipnet_parse("10.1.0.0/16", &n), 0);
	ck_assert_uint_eq(n.prefix, 16);
	ck_assert_int_eq(ipnet_parse("fd00:5::/64", &n), 0);
	ck_assert_int_eq(n.family, AF_INET6);
	ck_assert_int_eq(ipnet_parse("0.0.0.0/0", &n), 0);
	const char *bad[] = { "", "10.1.2.3/16", "10.0.0.0/33", "::/129",
	                      "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1",
	                      "host.example.org", "10.0.0.1 # x", "256.0.0.1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		ck_assert_msg(ipnet_parse(bad[i], &n) == -1, "%s accepted", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
	}
}
END_TEST

START_TEST(list_matches_addresses_and_prefixes)
{
	char *dir = make_tmpdir();
	const char text[] = "# application hosts\n127.0.0.1\n10.1.0.0/16\n"
	                    "fd00:5::/64\n::1\n";
	write_file(dir, "pksallow", text, sizeof text - 1);
	struct control ctl;
	struct ipallow l;
	size_t bad;
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	ck_assert_int_eq(ipallow_load(&l, &ctl, "pksallow", &bad), 1);
	ck_assert_uint_eq(l.n, 4);
	ck_assert_int_eq(admits(&l, "127.0.0.1"), 1);
	ck_assert_int_eq(admits(&l, "127.0.0.2"), 0);
	ck_assert_int_eq(admits(&l, "10.1.255.7"), 1);
	ck_assert_int_eq(admits(&l, "10.2.0.1"), 0);
	ck_assert_int_eq(admits(&l, "fd00:5::42"), 1);
	ck_assert_int_eq(admits(&l, "fd00:6::42"), 0);
	ck_assert_int_eq(admits(&l, "::1"), 1);
	ck_assert_int_eq(admits(&l, "::ffff:127.0.0.1"), 1);
	ck_assert_int_eq(admits(&l, "::ffff:127.0.0.2"), 0);
	ipallow_free(&l);
	control_close(&ctl);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(missing_list_admits_nobody_and_bad_line_is_an_error)
{
	char *dir = make_tmpdir();
	struct control ctl;
	struct ipallow l;
	size_t bad;
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	ck_assert_int_eq(ipallow_load(&l, &ctl, "pksallow", &bad), 0);
	ck_assert_int_eq(admits(&l, "127.0.0.1"), 0);
	const char text[] = "127.0.0.1\n10.0.0.1/8\n";
	write_file(dir, "pksallow", text, sizeof text - 1);
	ck_assert_int_eq(ipallow_load(&l, &ctl, "pksallow", &bad), -1);
	ck_assert_uint_eq(bad, 2);
	ck_assert_uint_eq(l.n, 0);
	control_close(&ctl);
	rm_rf(dir);
	free(dir);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("ipallow");
	TCase *tc = tcase_create("ipallow");
	tcase_add_test(tc, entries_parse_and_bad_ones_are_refused);
	tcase_add_test(tc, list_matches_addresses_and_prefixes);
	tcase_add_test(tc, missing_list_admits_nobody_and_bad_line_is_an_error);
	suite_add_tcase(s, tc);
	return s;
}
