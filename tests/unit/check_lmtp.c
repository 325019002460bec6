/* check_lmtp - RCPT TO:<MAILBOX> is the only recipient form edhd takes:
 * syntax errors and well-formed non-mailboxes are told apart. */
#include <string.h>

#include "lmtp.h"
#include "mail/maildir.h"
#include "testutil.h"

START_TEST(a_mailbox_id_in_angle_brackets_is_accepted)
{
	char box[MAILDIR_ID_SIZE];
	ck_assert_int_eq(lmtp_rcpt_parse("TO:<1a2b3c4d-17>", box), 0);
	ck_assert_str_eq(box, "1a2b3c4d-17");
	ck_assert_int_eq(lmtp_rcpt_parse("to:<00000000-9223372036854775807>",
	                                 box), 0);
	ck_assert_str_eq(box, "00000000-9223372036854775807");
}
END_TEST

START_TEST(bad_syntax_is_minus_one)
{
	char box[MAILDIR_ID_SIZE];
	const char *bad[] = { "", "TO:", "TO:1a2b3c4d-17", "TO: <1a2b3c4d-17>",
	                      "TO:<1a2b3c4d-17> SIZE=1", "FROM:<1a2b3c4d-17>",
	                      "TO:<1a2b3c4d-17", "TO:<>>x", "T" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(lmtp_rcpt_parse(bad[i], box) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(a_path_that_is_no_mailbox_is_minus_two)
{
	char box[MAILDIR_ID_SIZE];
	const char *notbox[] = { "TO:<>", "TO:<a@example.org>",
	                         "TO:<1A2B3C4D-17>", "TO:<1a2b3c4d-017>",
	                         "TO:<1a2b3c4d-0>", "TO:<postmaster>",
	                         "TO:<1a2b3c4d-99999999999999999999999>",
	                         "TO:<1a2b3c4d-9223372036854775808>" };
	for (size_t i = 0; i < sizeof notbox / sizeof *notbox; i++)
		ck_assert_msg(lmtp_rcpt_parse(notbox[i], box) == -2, "%s",
		              notbox[i]);
}
END_TEST

START_TEST(the_delivery_id_parameter_is_taken_out_of_mail)
{
	char rest[600], did[MAILDIR_UID_MAX + 1];
	ck_assert_int_eq(lmtp_mail_did("FROM:<> SIZE=12 XDELIVERY-ID="
	                               "1700000000.M000042Q9.ah", rest,
	                               sizeof rest, did), 0);
	ck_assert_str_eq(rest, "FROM:<> SIZE=12");
	ck_assert_str_eq(did, "1700000000.M000042Q9.ah");
	ck_assert_int_eq(lmtp_mail_did("FROM:<a@b> xdelivery-id=1.M000001Q2.h "
	                               "BODY=8BITMIME", rest, sizeof rest, did),
	                 0);
	ck_assert_str_eq(rest, "FROM:<a@b> BODY=8BITMIME");
	ck_assert_str_eq(did, "1.M000001Q2.h");
	ck_assert_int_eq(lmtp_mail_did("FROM:<>", rest, sizeof rest, did), 0);
	ck_assert_str_eq(rest, "FROM:<>");
	ck_assert_str_eq(did, "");
	const char *bad[] = { "FROM:<> XDELIVERY-ID=", "FROM:<> XDELIVERY-ID=x",
	                      "FROM:<> XDELIVERY-ID=1.M000001Q2.h "
	                      "XDELIVERY-ID=1.M000001Q3.h",
	                      "FROM:<> XDELIVERY-ID=1.M000001Q2.h/../x" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(lmtp_mail_did(bad[i], rest, sizeof rest, did) == -1,
		              "%s", bad[i]);
	ck_assert_int_eq(lmtp_mail_did("FROM:<> SIZE=1", rest, 8, did), -2);
}
END_TEST

START_TEST(bdat_takes_a_size_and_an_optional_last)
{
	unsigned long long n = 7;
	int last = 7;
	ck_assert_int_eq(lmtp_bdat_parse("0 LAST", &n, &last), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(last, 1);
	ck_assert_int_eq(lmtp_bdat_parse("123456789012 last", &n, &last), 0);
	ck_assert_uint_eq(n, 123456789012ULL);
	ck_assert_int_eq(last, 1);
	ck_assert_int_eq(lmtp_bdat_parse("4096", &n, &last), 0);
	ck_assert_uint_eq(n, 4096);
	ck_assert_int_eq(last, 0);
	static const char *const bad[] = { "", " 5", "5 ", "-5", "+5", "5x",
		"1234567890123", "5 LASTS", "5  LAST", "5 LAST x", "0x10" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(lmtp_bdat_parse(bad[i], &n, &last) == -1,
		              "took \"%s\"", bad[i]);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("lmtp");
	TCase *tc = tcase_create("rcpt");
	tcase_add_test(tc, a_mailbox_id_in_angle_brackets_is_accepted);
	tcase_add_test(tc, bad_syntax_is_minus_one);
	tcase_add_test(tc, a_path_that_is_no_mailbox_is_minus_two);
	tcase_add_test(tc, the_delivery_id_parameter_is_taken_out_of_mail);
	tcase_add_test(tc, bdat_takes_a_size_and_an_optional_last);
	suite_add_tcase(s, tc);
	return s;
}
