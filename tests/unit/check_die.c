/* check_die - exit codes with enhanced status codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void usage(void *arg)
{
	(void)arg;
	log_init("pks-ctl");
	die_usage("client add ROLE");
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

static void sys_temp(void *arg)
{
	(void)arg;
	log_init("sq-seal");
	die_sys_temp("unable to reach the PKS: %s", "timeout");
}

static void badarg(void *arg)
{
	(void)arg;
	log_init("pks-ctl");
	die_badarg("bad %s: %s", "row", "x");
}

static void nosuch(void *arg)
{
	(void)arg;
	log_init("edh-ctl");
	die_nosuch("no client %s", "42");
}

/* What follows "prog[pid]: " in a captured log line. */
static const char *after_pid(const char *line)
{
	const char *p = strstr(line, "]: ");
	ck_assert_ptr_nonnull(p);
	return p + 3;
}

START_TEST(die_sys_temp_is_die_temp_with_4_3_0)
{
	char out[512], same[512];
	ck_assert_int_eq(run_capture(sys_temp, NULL, out, sizeof out), 111);
	ck_assert_ptr_nonnull(strstr(out,
		"]: fatal: unable to reach the PKS: timeout (#4.3.0)\n"));
	ck_assert_int_eq(run_capture(temp, NULL, same, sizeof same), 111);
	ck_assert_str_eq(after_pid(out), after_pid(same));
}
END_TEST

START_TEST(die_badarg_exits_100_with_5_3_5)
{
	char out[512];
	ck_assert_int_eq(run_capture(badarg, NULL, out, sizeof out), 100);
	ck_assert_ptr_nonnull(strstr(out, "]: fatal: bad row: x (#5.3.5)\n"));
}
END_TEST

START_TEST(die_nosuch_exits_100_with_5_1_1)
{
	char out[512];
	ck_assert_int_eq(run_capture(nosuch, NULL, out, sizeof out), 100);
	ck_assert_ptr_nonnull(strstr(out, "]: fatal: no client 42 (#5.1.1)\n"));
}
END_TEST

START_TEST(die_usage_is_a_bad_argument)
{
	char out[512];
	ck_assert_int_eq(run_capture(usage, NULL, out, sizeof out), 100);
	ck_assert_ptr_nonnull(strstr(out,
		"]: fatal: usage: pks-ctl client add ROLE (#5.3.5)\n"));
}
END_TEST

static void root_refused(void *arg)
{
	log_init("pksd");
	if (arg)
		setenv("SQ_HOME", arg, 1);
	else
		unsetenv("SQ_HOME");
	die_if_root(arg != NULL, "run pksd as its own user (setuidgid)");
	fputs("still running\n", stderr);
}

START_TEST(root_is_refused_unless_a_test_instance_allows_it)
{
	char out[512];
	int st = run_capture(root_refused, NULL, out, sizeof out);
	if (geteuid() == 0) {
		ck_assert_int_eq(st, 111);
		ck_assert_ptr_nonnull(strstr(out, "]: fatal: refusing to run as "
			"root: run pksd as its own user (setuidgid) (#4.3.0)\n"));
	} else {
		ck_assert_int_eq(st, 0);
		ck_assert_str_eq(out, "still running\n");
	}
	/* test_ok and $SQ_HOME naming a test instance (root's own, for
	 * root: util/home.h): root or not, it goes on */
	char *dir = make_tmpdir();
	ck_assert_int_eq(run_capture(root_refused, dir, out, sizeof out), 0);
	ck_assert_str_eq(out, "still running\n");
	rm_rf(dir);
	free(dir);
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
	tcase_add_test(tc, die_sys_temp_is_die_temp_with_4_3_0);
	tcase_add_test(tc, die_badarg_exits_100_with_5_3_5);
	tcase_add_test(tc, die_nosuch_exits_100_with_5_1_1);
	tcase_add_test(tc, die_usage_is_a_bad_argument);
	tcase_add_test(tc, root_is_refused_unless_a_test_instance_allows_it);
	suite_add_tcase(s, tc);
	return s;
}
