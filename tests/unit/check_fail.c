/* check_fail - "format a reason, return a code": the code comes back
 * whatever the buffer, the reason fits or is cut with its NUL, and a
 * caller without a buffer gets only the code. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "util/fail.h"
#include "testutil.h"

START_TEST(the_reason_is_written_and_the_code_returned)
{
	char why[64];
	ck_assert_int_eq(fail_why(why, sizeof why, -1, "control/%s: %s", "me",
	                          strerror(ENOENT)), -1);
	ck_assert_str_eq(why, "control/me: No such file or directory");
	ck_assert_int_eq(fail_why(why, sizeof why, 111, "PKS: %d", 503), 111);
	ck_assert_str_eq(why, "PKS: 503");
	ck_assert_int_eq(fail_why(why, sizeof why, 0, "%s", ""), 0);
	ck_assert_str_eq(why, "");
}
END_TEST

START_TEST(an_exact_fit_is_whole_and_a_longer_reason_is_cut)
{
	char why[8 + 4];
	memset(why, 'x', sizeof why);
	/* 7 characters and the NUL: exactly 8 octets */
	ck_assert_int_eq(fail_why(why, 8, -1, "%s", "1234567"), -1);
	ck_assert_str_eq(why, "1234567");
	ck_assert_int_eq(why[8], 'x');
	memset(why, 'x', sizeof why);
	ck_assert_int_eq(fail_why(why, 8, -1, "%s%d", "12345678", 9), -1);
	ck_assert_str_eq(why, "1234567");
	ck_assert_int_eq(why[8], 'x');      /* nothing past the buffer */
}
END_TEST

START_TEST(no_buffer_means_only_the_code)
{
	char why[4] = "abc";
	ck_assert_int_eq(fail_why(NULL, 0, 7, "%s", "ignored"), 7);
	ck_assert_int_eq(fail_why(NULL, 16, 7, "%s", "ignored"), 7);
	ck_assert_int_eq(fail_why(why, 0, 7, "%s", "ignored"), 7);
	ck_assert_str_eq(why, "abc");
}
END_TEST

/* A formatter of its own, as a module with a va_list passes it on. */
static int relay(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int relay(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfail_why(why, whylen, 42, fmt, ap);
	va_end(ap);
	return r;
}

START_TEST(the_va_list_form_does_the_same)
{
	char why[16];
	ck_assert_int_eq(relay(why, sizeof why, "row %u: %s", 7u, "gone"), 42);
	ck_assert_str_eq(why, "row 7: gone");
	ck_assert_int_eq(relay(why, 4, "%s", "truncated"), 42);
	ck_assert_str_eq(why, "tru");
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("fail");
	TCase *tc = tcase_create("fail");
	tcase_add_test(tc, the_reason_is_written_and_the_code_returned);
	tcase_add_test(tc, an_exact_fit_is_whole_and_a_longer_reason_is_cut);
	tcase_add_test(tc, no_buffer_means_only_the_code);
	tcase_add_test(tc, the_va_list_form_does_the_same);
	suite_add_tcase(s, tc);
	return s;
}
