/* check_popcmd - POP3 command lines and message numbers, strictly. */
#include <limits.h>
#include <string.h>

#include "popcmd.h"
#include "testutil.h"

static int parse(const char *text, size_t n, struct pop_cmd *c,
                 struct sbuf *b)
{
	sbuf_init(b, POP_LINE_MAX);
	ck_assert_int_eq(sbuf_copy(b, text, n), 0);
	return popcmd_parse(b, c);
}

START_TEST(keyword_and_argument)
{
	struct pop_cmd c;
	struct sbuf b;
	ck_assert_int_eq(parse("retr 12\r\n", 9, &c, &b), 0);
	ck_assert_str_eq(c.verb, "RETR");
	ck_assert_str_eq(c.arg, "12"); /* the line end is cut off */
	sbuf_free(&b);
	ck_assert_int_eq(parse("QUIT\n", 5, &c, &b), 0);
	ck_assert_str_eq(c.verb, "QUIT");
	ck_assert_str_eq(c.arg, "");
	sbuf_free(&b);
	/* a password is the rest of the line, spaces and all */
	ck_assert_int_eq(parse("PASS  two  words \r\n", 19, &c, &b), 0);
	ck_assert_str_eq(c.arg, " two  words ");
	sbuf_free(&b);
	ck_assert_int_eq(parse("Top 1 0", 7, &c, &b), 0);
	ck_assert_str_eq(c.verb, "TOP");
	sbuf_free(&b);
}
END_TEST

START_TEST(malformed_lines_are_refused)
{
	static const char *bad[] = { "", "\r\n", "QU\r\n", "QUITS\r\n",
	                             "QU1T\r\n", " QUIT\r\n", "QUIT\tx\r\n",
	                             "PASS a\rb\r\n", "LIST\x7f\r\n" };
	struct pop_cmd c;
	struct sbuf b;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_msg(parse(bad[i], strlen(bad[i]), &c, &b) == -1,
		              "case %zu", i);
		sbuf_free(&b);
	}
	ck_assert_int_eq(parse("USER a\0b\r\n", 10, &c, &b), -1);
	sbuf_free(&b);
}
END_TEST

START_TEST(numbers_are_strict)
{
	unsigned long n, m;
	ck_assert_int_eq(popcmd_number("1", 5, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(popcmd_number("5", 5, &n), 0);
	static const char *bad[] = { "", "0", "6", "01", "+1", "-1", "1 ",
	                             " 1", "1x", "99999999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(popcmd_number(bad[i], 5, &n) == -1, "case %zu", i);
	ck_assert_int_eq(popcmd_two_numbers("2 0", 5, &n, &m), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(m, 0);
	ck_assert_int_eq(popcmd_two_numbers("2 18446744073709551615", 5, &n,
	                                    &m), 0);
	ck_assert_uint_eq(m, ULONG_MAX);
	ck_assert_int_eq(popcmd_two_numbers("2", 5, &n, &m), -1);
	ck_assert_int_eq(popcmd_two_numbers("0 1", 5, &n, &m), -1);
	ck_assert_int_eq(popcmd_two_numbers("2  1", 5, &n, &m), -1);
	ck_assert_int_eq(popcmd_two_numbers("2 1 3", 5, &n, &m), -1);
	ck_assert_int_eq(popcmd_two_numbers("2 18446744073709551616", 5, &n,
	                                    &m), -1);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("popcmd");
	TCase *tc = tcase_create("popcmd");
	tcase_add_test(tc, keyword_and_argument);
	tcase_add_test(tc, malformed_lines_are_refused);
	tcase_add_test(tc, numbers_are_strict);
	suite_add_tcase(s, tc);
	return s;
}
