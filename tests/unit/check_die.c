/* check_die - exit codes with enhanced status codes. */
#include <string.h>

#include "util/die.h"
#include "util/log.h"
#include "testutil.h"

START_TEST(enhanced_status_syntax)
{
	ck_assert_int_eq(enh_valid("4.3.0"), 1);
	ck_assert_int_eq(enh_valid("5.1.1"), 1);
	ck_assert_int_eq(enh_valid("2.0.0"), 1);
	ck_assert_int_eq(enh_valid("5.999.999"), 1);
	ck_assert_int_eq(enh_valid("3.0.0"), 0);
	ck_assert_int_eq(enh_valid("4.3"), 0);
	ck_assert_int_eq(enh_valid("4.3.0 "), 0);
	ck_assert_int_eq(enh_valid("4.1000.0"), 0);
	ck_assert_int_eq(enh_valid("4..0"), 0);
	ck_assert_int_eq(enh_valid(""), 0);
	ck_assert_int_eq(enh_valid(NULL), 0);
}
END_TEST

static void temp(void *arg)
{
	(void)arg;
	log_init("sq-seal");
	die_temp("4.3.0", "unable to reach the PKS: %s", "timeout");
}

static void perm(void *arg)
{
	(void)arg;
	log_init("sq-seal");
	die_perm("5.1.1", "no key for %s", "x@example.org");
}

static void bad_code(void *arg)
{
	(void)arg;
	die_perm("4.3.0\n", "oops");
}

static void nomem(void *arg)
{
	(void)arg;
	die_nomem();
}

START_TEST(die_temp_exits_111_with_the_code_in_the_log)
{
	char out[512];
	ck_assert_int_eq(run_capture(temp, NULL, out, sizeof out), 111);
	ck_assert_ptr_nonnull(strstr(out,
		"]: fatal: unable to reach the PKS: timeout (#4.3.0)\n"));
}
END_TEST

START_TEST(die_perm_exits_100)
{
	char out[512];
	ck_assert_int_eq(run_capture(perm, NULL, out, sizeof out), 100);
	ck_assert_ptr_nonnull(strstr(out, "no key for x@example.org (#5.1.1)"));
}
END_TEST

START_TEST(malformed_code_becomes_the_generic_one)
{
	char out[512];
	ck_assert_int_eq(run_capture(bad_code, NULL, out, sizeof out), 100);
	ck_assert_ptr_nonnull(strstr(out, "oops (#5.0.0)\n"));
}
END_TEST

START_TEST(out_of_memory_is_temporary)
{
	char out[512];
	ck_assert_int_eq(run_capture(nomem, NULL, out, sizeof out), 111);
	ck_assert_ptr_nonnull(strstr(out, "out of memory (#4.3.0)"));
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("die");
	TCase *tc = tcase_create("die");
	tcase_add_test(tc, enhanced_status_syntax);
	tcase_add_test(tc, die_temp_exits_111_with_the_code_in_the_log);
	tcase_add_test(tc, die_perm_exits_100);
	tcase_add_test(tc, malformed_code_becomes_the_generic_one);
	tcase_add_test(tc, out_of_memory_is_temporary);
	suite_add_tcase(s, tc);
	return s;
}
