/* check_home - the instance root. */
#include <stdlib.h>
#include <string.h>

#include "auto_home.h"
#include "util/home.h"
#include "testutil.h"

START_TEST(default_is_conf_home)
{
	unsetenv("SQ_HOME");
	ck_assert_str_eq(sq_home(), SQ_HOME);
}
END_TEST

START_TEST(sq_home_overrides_for_a_test_instance)
{
	char p[64];
	setenv("SQ_HOME", "/tmp/instance", 1);
	ck_assert_str_eq(sq_home(), "/tmp/instance");
	ck_assert_int_eq(sq_path(p, sizeof p, "control"), 0);
	ck_assert_str_eq(p, "/tmp/instance/control");
	ck_assert_int_eq(sq_path(p, 10, "control"), -1);
}
END_TEST

START_TEST(relative_sq_home_is_ignored)
{
	setenv("SQ_HOME", "instance", 1);
	ck_assert_str_eq(sq_home(), SQ_HOME);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("home");
	TCase *tc = tcase_create("home");
	tcase_add_test(tc, default_is_conf_home);
	tcase_add_test(tc, sq_home_overrides_for_a_test_instance);
	tcase_add_test(tc, relative_sq_home_is_ignored);
	suite_add_tcase(s, tc);
	return s;
}
