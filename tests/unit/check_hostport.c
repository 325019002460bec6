/* check_hostport - "HOST:PORT" of the control files, split strictly:
 * IPv6 only in brackets, a port from 1 to 65535 in plain decimal, a host
 * that fits. (Moved from check_edhclient with the parser.) */
#include "util/hostport.h"
#include "testutil.h"

START_TEST(host_and_port_are_split_strictly)
{
	char host[64], port[8];
	ck_assert_int_eq(hostport_parse("127.0.0.1:7024", host, sizeof host,
	                                port), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_str_eq(port, "7024");
	ck_assert_int_eq(hostport_parse("[::1]:65535", host, sizeof host,
	                                port), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_str_eq(port, "65535");
	ck_assert_int_eq(hostport_parse("edh.example.org:1", host,
	                                sizeof host, port), 0);
	ck_assert_str_eq(host, "edh.example.org");
	const char *bad[] = { "", ":7024", "127.0.0.1", "127.0.0.1:", "::1:7024",
	                      "[::1]7024", "[::1:7024", "h:0", "h:07024",
	                      "h:65536", "h:123456", "h:-1", "h:+1", "h:1x",
	                      "a b:1", "h/x:1", "[]:1" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(hostport_parse(bad[i], host, sizeof host,
		                             port) < 0, "%s", bad[i]);
	ck_assert_int_lt(hostport_parse("abcdefghij:1", host, 10, port), 0);
}
END_TEST


Suite *module_suite(void)
{
	Suite *s = suite_create("hostport");
	TCase *tc = tcase_create("hostport");
	tcase_add_test(tc, host_and_port_are_split_strictly);
	suite_add_tcase(s, tc);
	return s;
}
