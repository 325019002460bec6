/* check_checkpw - the checkpassword input, strictly. */
#include <string.h>

#include "checkpw.h"
#include "testutil.h"

#define IN(lit) lit, sizeof(lit) - 1

START_TEST(user_password_and_timestamp)
{
	const char *u, *p;
	ck_assert_int_eq(checkpw_parse(IN("a@b.example\0pw\0" "123\0"), &u, &p),
	                 0);
	ck_assert_str_eq(u, "a@b.example");
	ck_assert_str_eq(p, "pw");
	/* the timestamp may be missing, as some callers send none */
	ck_assert_int_eq(checkpw_parse(IN("a@b.example\0pw\0"), &u, &p), 0);
	ck_assert_str_eq(p, "pw");
}
END_TEST

START_TEST(misuse_is_refused)
{
	static const struct { const char *s; size_t n; } bad[] = {
		{ IN("") }, { IN("a@b.example") }, { IN("a@b.example\0") },
		{ IN("a@b.example\0pw") }, { IN("\0pw\0") }, { IN("a@b\0\0") },
	};
	const char *u, *p;
	char big[CHECKPW_INPUT_MAX + 1];
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(checkpw_parse(bad[i].s, bad[i].n, &u, &p) == -1,
		              "case %zu", i);
	memset(big, 'x', sizeof big);
	memcpy(big, "a@b\0pw\0", 7);
	ck_assert_int_eq(checkpw_parse(big, sizeof big, &u, &p), -1);
	ck_assert_int_eq(checkpw_parse(big, CHECKPW_INPUT_MAX, &u, &p), 0);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("checkpw");
	TCase *tc = tcase_create("checkpw");
	tcase_add_test(tc, user_password_and_timestamp);
	tcase_add_test(tc, misuse_is_refused);
	suite_add_tcase(s, tc);
	return s;
}
