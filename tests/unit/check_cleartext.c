/* check_cleartext - where a POP3 password may come before TLS. */
#include <stdlib.h>
#include <string.h>

#include "cleartext.h"
#include "testutil.h"

static char *dir;
static struct control ctl;

static void setup(void)
{
	dir = make_tmpdir();
	ck_assert_int_eq(control_open(&ctl, dir), 0);
}

static void teardown(void)
{
	control_close(&ctl);
	rm_rf(dir);
	free(dir);
}

START_TEST(without_the_file_only_loopback)
{
	ck_assert_int_eq(cleartext_allowed(&ctl, "127.0.0.1"), 1);
	ck_assert_int_eq(cleartext_allowed(&ctl, "127.9.8.7"), 1);
	ck_assert_int_eq(cleartext_allowed(&ctl, "::1"), 1);
	ck_assert_int_eq(cleartext_allowed(&ctl, "::ffff:127.0.0.1"), 1);
	ck_assert_int_eq(cleartext_allowed(&ctl, "192.0.2.1"), 0);
	ck_assert_int_eq(cleartext_allowed(&ctl, "2001:db8::1"), 0);
	ck_assert_int_eq(cleartext_allowed(&ctl, NULL), 0);
	ck_assert_int_eq(cleartext_allowed(&ctl, "unknown"), 0);
}
END_TEST

START_TEST(the_file_names_the_networks)
{
	static const char text[] = "# the office\n192.0.2.0/24\n";
	write_file(dir, CLEARTEXT_CONTROL, text, sizeof text - 1);
	ck_assert_int_eq(cleartext_allowed(&ctl, "192.0.2.77"), 1);
	ck_assert_int_eq(cleartext_allowed(&ctl, "198.51.100.1"), 0);
	/* loopback only if listed */
	ck_assert_int_eq(cleartext_allowed(&ctl, "127.0.0.1"), 0);
	static const char none[] = "# nobody in the clear\n";
	write_file(dir, CLEARTEXT_CONTROL, none, sizeof none - 1);
	ck_assert_int_eq(cleartext_allowed(&ctl, "127.0.0.1"), 0);
}
END_TEST

START_TEST(a_malformed_file_refuses)
{
	static const char text[] = "192.0.2.0/24\nnot an address\n";
	write_file(dir, CLEARTEXT_CONTROL, text, sizeof text - 1);
	ck_assert_int_eq(cleartext_allowed(&ctl, "192.0.2.1"), -1);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("cleartext");
	TCase *tc = tcase_create("cleartext");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, without_the_file_only_loopback);
	tcase_add_test(tc, the_file_names_the_networks);
	tcase_add_test(tc, a_malformed_file_refuses);
	suite_add_tcase(s, tc);
	return s;
}
