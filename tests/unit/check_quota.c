/* check_quota - control/quota: the mailbox's line, else the default,
 * else no limit; an invalid file is never taken as "no limit". */
#include <errno.h>
#include <string.h>

#include "util/control.h"
#include "mail/quota.h"
#include "testutil.h"

static int lookup(const char *text, const char *box,
                  unsigned long long *limit, size_t *bad)
{
	struct sbuf lines;
	size_t n;
	sbuf_init(&lines, CONTROL_FILE_MAX);
	ck_assert_int_eq(control_split(text, strlen(text), &lines, &n), 0);
	*limit = 99;
	errno = 0;
	int r = quota_lookup(&lines, box, limit, bad);
	sbuf_free(&lines);
	return r;
}

START_TEST(the_mailbox_line_wins_over_the_default)
{
	unsigned long long limit;
	size_t bad;
	const char *q = "# sizes\n* 1000\n1a2b3c4d-17 5000\n00000000-1\t0\n";
	ck_assert_int_eq(lookup(q, "1a2b3c4d-17", &limit, &bad), 1);
	ck_assert_uint_eq(limit, 5000);
	ck_assert_int_eq(lookup(q, "1a2b3c4d-18", &limit, &bad), 1);
	ck_assert_uint_eq(limit, 1000);
	ck_assert_int_eq(lookup(q, "00000000-1", &limit, &bad), 1);
	ck_assert_uint_eq(limit, 0);
	ck_assert_int_eq(lookup("1a2b3c4d-17 5000\n", "1a2b3c4d-18", &limit,
	                        &bad), 0);
	ck_assert_uint_eq(limit, 99);
	ck_assert_int_eq(lookup("", "1a2b3c4d-18", &limit, &bad), 0);
	ck_assert_int_eq(lookup("* 4611686018427387904\n", "1a2b3c4d-18",
	                        &limit, &bad), 1);
}
END_TEST

START_TEST(an_invalid_file_is_refused_with_its_line)
{
	static const char *const bad[] = {
		"1a2b3c4d-17\n", "1a2b3c4d-17 \n", "1a2b3c4d-17 -5\n",
		"1a2b3c4d-17 05\n", "1a2b3c4d-17 5k\n", "1A2B3C4D-17 5\n",
		"1a2b3c4d-017 5\n", "** 5\n", "1a2b3c4d-17 5 6\n",
		"1a2b3c4d-17 4611686018427387905\n", "john@example.org 5\n",
		"1a2b3c4d-17 99999999999999999999999\n",
	};
	unsigned long long limit;
	size_t line;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(lookup(bad[i], "1a2b3c4d-17", &limit, &line) == -1,
		              "accepted %s", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_uint_eq(line, 1);
		ck_assert_uint_eq(limit, 99);
	}
	ck_assert_int_eq(lookup("* 1\n1a2b3c4d-1 2\n* 3\n", "x", &limit, &line),
	                 -1);
	ck_assert_uint_eq(line, 3);
	ck_assert_int_eq(lookup("1a2b3c4d-1 2\n00000000-1 1\n1a2b3c4d-1 2\n",
	                        "x", &limit, &line), -1);
	ck_assert_uint_eq(line, 3);
}
END_TEST

START_TEST(fits_counts_without_overflow)
{
	ck_assert(quota_fits(0, 100, 100));
	ck_assert(!quota_fits(1, 100, 100));
	ck_assert(!quota_fits(200, 0, 100));
	ck_assert(!quota_fits(0, 1, 0));
	ck_assert(quota_fits(0, 0, 0));
	ck_assert(!quota_fits(10, ~0ULL, QUOTA_MAX));
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("quota");
	TCase *tc = tcase_create("quota");
	tcase_add_test(tc, the_mailbox_line_wins_over_the_default);
	tcase_add_test(tc, an_invalid_file_is_refused_with_its_line);
	tcase_add_test(tc, fits_counts_without_overflow);
	suite_add_tcase(s, tc);
	return s;
}
