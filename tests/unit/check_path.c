/* check_path - file names built under one limit: an exact fit works, one
 * octet more fails with ENAMETOOLONG and leaves "" rather than a shorter
 * name, and SQ_PATH_MAX bounds a name whatever the buffer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/home.h"
#include "util/path.h"
#include "testutil.h"

START_TEST(parts_are_joined_with_slashes)
{
	char p[64];
	ck_assert_int_eq(path_join(p, sizeof p, "/var/sq", "users", "cdb",
	                           NULL), 0);
	ck_assert_str_eq(p, "/var/sq/users/cdb");
	ck_assert_int_eq(path_join(p, sizeof p, "control", NULL), 0);
	ck_assert_str_eq(p, "control");
	ck_assert_int_eq(path_join(p, sizeof p, "", "ca.pem", NULL), 0);
	ck_assert_str_eq(p, "/ca.pem");
	const char *same = "ab";
	ck_assert_int_eq(path_join(p, sizeof p, same, same, NULL), 0);
	ck_assert_str_eq(p, "ab/ab");
	ck_assert_int_eq(path_fmt(p, sizeof p, "%s-cert.pem", "pksd"), 0);
	ck_assert_str_eq(p, "pksd-cert.pem");
	ck_assert_int_eq(path_fmt(p, sizeof p, "%s/%llu/%llu", "mess", 3ULL,
	                          26ULL), 0);
	ck_assert_str_eq(p, "mess/3/26");
}
END_TEST

START_TEST(an_exact_fit_works_and_one_more_octet_fails)
{
	char p[12];
	/* "/abc/ca.pem": 11 characters and the NUL, exactly 12 */
	ck_assert_int_eq(path_join(p, sizeof p, "/abc", "ca.pem", NULL), 0);
	ck_assert_str_eq(p, "/abc/ca.pem");
	errno = 0;
	ck_assert_int_eq(path_join(p, sizeof p, "/abcd", "ca.pem", NULL), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_str_eq(p, "");        /* never a shorter, other name */
	ck_assert_int_eq(path_fmt(p, sizeof p, "%s-cert.pem", "x"), 0);
	ck_assert_str_eq(p, "x-cert.pem");
	ck_assert_int_eq(path_fmt(p, sizeof p, "%s-cert.pem", "xyz"), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_str_eq(p, "");
	/* the separator counts too */
	ck_assert_int_eq(path_join(p, sizeof p, "abcde", "fghijk", NULL), -1);
	ck_assert_int_eq(path_join(p, sizeof p, "abcde", "fghij", NULL), 0);
	ck_assert_str_eq(p, "abcde/fghij");
}
END_TEST

START_TEST(no_room_at_all_fails)
{
	char p[1] = { 'x' };
	ck_assert_int_eq(path_join(p, 0, "a", NULL), -1);
	ck_assert_int_eq(p[0], 'x');    /* nothing written to no room */
	ck_assert_int_eq(path_join(p, 1, "a", NULL), -1);
	ck_assert_int_eq(p[0], '\0');
	ck_assert_int_eq(path_fmt(p, 0, "%s", ""), -1);
	ck_assert_int_eq(path_join(p, 1, "", NULL), 0);
	ck_assert_str_eq(p, "");
}
END_TEST

START_TEST(the_one_limit_holds_in_a_larger_buffer)
{
	size_t big = 2 * SQ_PATH_MAX;
	char *p = malloc(big), *part = malloc(SQ_PATH_MAX + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(part);
	/* "/" and SQ_PATH_MAX - 2 octets: SQ_PATH_MAX with the NUL */
	memset(part, 'a', SQ_PATH_MAX - 2);
	part[SQ_PATH_MAX - 2] = '\0';
	ck_assert_int_eq(path_join(p, big, "", part, NULL), 0);
	ck_assert_uint_eq(strlen(p), SQ_PATH_MAX - 1);
	part[SQ_PATH_MAX - 2] = 'a';
	part[SQ_PATH_MAX - 1] = '\0';
	ck_assert_int_eq(path_join(p, big, "", part, NULL), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_int_eq(path_fmt(p, big, "%s", part), 0);
	ck_assert_int_eq(path_fmt(p, big, "/%s", part), -1);
	free(part);
	free(p);
}
END_TEST

START_TEST(sq_path_is_a_join_under_the_home)
{
	char p[SQ_PATH_MAX], want[SQ_PATH_MAX];
	/* an instance root may follow (util/home.h): its own, made here */
	char *dir = make_tmpdir();
	size_t fits = strlen(dir) + 1 + 5 + 1;  /* dir, "/", 5 more, NUL */
	setenv("SQ_HOME", dir, 1);
	ck_assert_int_eq(sq_path(p, sizeof p, "control/ca.pem"), 0);
	snprintf(want, sizeof want, "%s/control/ca.pem", dir);
	ck_assert_str_eq(p, want);
	ck_assert_int_eq(sq_path(p, fits, "12345"), 0);
	ck_assert_int_eq(sq_path(p, fits, "123456"), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	unsetenv("SQ_HOME");
	rm_rf(dir);
	free(dir);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("path");
	TCase *tc = tcase_create("path");
	tcase_add_test(tc, parts_are_joined_with_slashes);
	tcase_add_test(tc, an_exact_fit_works_and_one_more_octet_fails);
	tcase_add_test(tc, no_room_at_all_fails);
	tcase_add_test(tc, the_one_limit_holds_in_a_larger_buffer);
	tcase_add_test(tc, sq_path_is_a_join_under_the_home);
	suite_add_tcase(s, tc);
	return s;
}
