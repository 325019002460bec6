/* check_tcprules - tcpserver's access rules, from cdbs that tcprules(1)
 * compiled (so the format is the tool's, not our idea of it). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cdbfile.h"
#include "net/tcprules.h"
#include "testutil.h"

static char *dir;
static char cdb[4200];

/* Compiles rules with tcprules into dir/rules.cdb. */
static void compile(const char *rules)
{
	char cmd[9000];
	write_file(dir, "rules", rules, strlen(rules));
	snprintf(cmd, sizeof cmd, "tcprules %s/rules.cdb %s/rules.tmp "
	         "< %s/rules", dir, dir, dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
	dir = make_tmpdir();
	snprintf(cdb, sizeof cdb, "%s/rules.cdb", dir);
}

static void teardown(void)
{
	rm_rf(dir);
	free(dir);
}

static enum tcprules_verdict check(const char *ip, struct sbuf *env)
{
	return tcprules_check(cdb, ip, env);
}

START_TEST(the_longest_match_decides_then_the_default)
{
	struct sbuf env;
	sbuf_init(&env, TCPRULES_VALUE_MAX);
	compile("10.1.2.3:allow,RELAYCLIENT=\"\",NOTE=\"a b\"\n"
	        "10.1.2.:deny\n10.:allow,RELAYCLIENT=\"\"\n:allow\n");
	ck_assert_int_eq(check("10.1.2.3", &env), TCPRULES_ALLOW);
	ck_assert_uint_eq(env.len, sizeof "RELAYCLIENT=" + sizeof "NOTE=a b");
	ck_assert_str_eq(env.s, "RELAYCLIENT=");
	ck_assert_str_eq(env.s + sizeof "RELAYCLIENT=", "NOTE=a b");
	ck_assert_int_eq(check("10.1.2.4", &env), TCPRULES_DENY);
	ck_assert_int_eq(check("10.9.9.9", &env), TCPRULES_ALLOW);
	ck_assert_str_eq(env.s, "RELAYCLIENT=");
	/* "10.1.2.3" is no prefix of "10.1.2.30": prefixes end at a dot */
	ck_assert_int_eq(check("10.1.2.30", &env), TCPRULES_DENY);
	ck_assert_int_eq(check("192.0.2.1", &env), TCPRULES_ALLOW);
	ck_assert_uint_eq(env.len, 0);
	sbuf_free(&env);
}
END_TEST

START_TEST(no_rule_denies_and_no_file_is_an_error)
{
	struct sbuf env;
	sbuf_init(&env, TCPRULES_VALUE_MAX);
	compile("127.:allow\n");
	ck_assert_int_eq(check("192.0.2.1", &env), TCPRULES_DENY);
	compile("127.:allow\n:deny\n");
	ck_assert_int_eq(check("192.0.2.1", &env), TCPRULES_DENY);
	ck_assert_int_eq(check("127.0.0.1", &env), TCPRULES_ALLOW);
	unlink(cdb);
	errno = 0;
	ck_assert_int_eq(check("127.0.0.1", &env), TCPRULES_ERROR);
	ck_assert_int_eq(errno, ENOENT);
	write_file(dir, "rules.cdb", "not a cdb", 9);
	ck_assert_int_eq(check("127.0.0.1", &env), TCPRULES_ERROR);
	sbuf_free(&env);
}
END_TEST

/* A cdb made here: tcprules cannot write IPv6 keys or broken values. */
static void make(const char *key, const char *val, size_t vlen)
{
	struct cdbfile_writer w;
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(d, 0);
	ck_assert_int_eq(cdbfile_begin(&w, d, "rules.cdb", 0644), 0);
	ck_assert_int_eq(cdbfile_add(&w, key, strlen(key), val, vlen), 0);
	ck_assert_int_eq(cdbfile_commit(&w), 0);
	close(d);
}

START_TEST(ipv6_prefixes_end_at_a_colon_and_bad_values_are_errors)
{
	struct sbuf env;
	sbuf_init(&env, TCPRULES_VALUE_MAX);
	make("2001:db8:", "+RELAYCLIENT=", sizeof "+RELAYCLIENT=");
	ck_assert_int_eq(check("2001:db8::25", &env), TCPRULES_ALLOW);
	ck_assert_str_eq(env.s, "RELAYCLIENT=");
	ck_assert_int_eq(check("2001:db9::25", &env), TCPRULES_DENY);
	make("", "RELAYCLIENT=", sizeof "RELAYCLIENT="); /* no "+" */
	errno = 0;
	ck_assert_int_eq(check("192.0.2.1", &env), TCPRULES_ERROR);
	ck_assert_int_eq(errno, EPROTO);
	make("", "+RELAYCLIENT=", sizeof "+RELAYCLIENT=" - 1); /* no NUL */
	ck_assert_int_eq(check("192.0.2.1", &env), TCPRULES_ERROR);
	make("", "+=x", sizeof "+=x"); /* no name */
	ck_assert_int_eq(check("192.0.2.1", &env), TCPRULES_ERROR);
	sbuf_free(&env);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("tcprules");
	TCase *tc = tcase_create("tcprules");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, the_longest_match_decides_then_the_default);
	tcase_add_test(tc, no_rule_denies_and_no_file_is_an_error);
	tcase_add_test(tc, ipv6_prefixes_end_at_a_colon_and_bad_values_are_errors);
	suite_add_tcase(s, tc);
	return s;
}
