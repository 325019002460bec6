/* check_session - the verb of a command line is upper-cased and bounded,
 * and its argument starts after one space. */
#include <stdio.h>
#include <string.h>

#include "session.h"
#include "testutil.h"

/* The argument is copied out: the session's line is freed here. */
static const char *verb_of(const char *line, char *verb, size_t n)
{
	static char arg[EDH_LINE_MAX + 1];
	struct edh_session s;
	memset(&s, 0, sizeof s);
	sbuf_init_secret(&s.line, EDH_LINE_MAX + 2);
	ck_assert_int_eq(sbuf_puts(&s.line, line), 0);
	snprintf(arg, sizeof arg, "%s", session_verb(&s, verb, n));
	sbuf_free(&s.line);
	return arg;
}

START_TEST(the_verb_is_upper_cased_and_the_argument_follows)
{
	char verb[8];
	ck_assert_str_eq(verb_of("lhlo ah.example", verb, sizeof verb),
	                 "ah.example");
	ck_assert_str_eq(verb, "LHLO");
	ck_assert_str_eq(verb_of("QUIT", verb, sizeof verb), "");
	ck_assert_str_eq(verb, "QUIT");
	ck_assert_str_eq(verb_of("Mailbox  x", verb, sizeof verb), " x");
	ck_assert_str_eq(verb, "MAILBOX");
	ck_assert_str_eq(verb_of("", verb, sizeof verb), "");
	ck_assert_str_eq(verb, "");
}
END_TEST

START_TEST(a_verb_too_long_for_any_command_is_empty)
{
	char verb[8];
	ck_assert_str_eq(verb_of("MAILBOXES x", verb, sizeof verb), "x");
	ck_assert_str_eq(verb, "");
	ck_assert_str_eq(verb_of("QUITQUIT", verb, sizeof verb), "");
	ck_assert_str_eq(verb, "");
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("verb");
	tcase_add_test(tc, the_verb_is_upper_cased_and_the_argument_follows);
	tcase_add_test(tc, a_verb_too_long_for_any_command_is_empty);
	suite_add_tcase(s, tc);
	return s;
}
