/* check_dsn - delivery status notifications. */
#include <string.h>

#include "deliver/dsn.h"
#include "testutil.h"

START_TEST(status_codes_come_from_the_reason)
{
	char code[12];
	dsn_status("5.1.1 no such user", code);
	ck_assert_str_eq(code, "5.1.1");
	dsn_status("4.2.2 mailbox over quota", code);
	ck_assert_str_eq(code, "5.2.2");
	dsn_status("5.123.456", code);
	ck_assert_str_eq(code, "5.123.456");
	static const char *none[] = { "no code", "5.1 short", "5.1.1x", "6.1.1 x",
	                              "5.1234.1 x", "5..1 x", "", "5.1.", "." };
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
		dsn_status(none[i], code);
		ck_assert_msg(strcmp(code, "5.0.0") == 0, "case %zu", i);
	}
}
END_TEST

static const char failures[] = "Rjohn@example.org\0" "5.1.1 no such user\0"
                               "Rjane@example.org\0" "4.2.2 over quota\r\nX: y\0";

START_TEST(a_report_names_every_failure_and_stays_clean)
{
	struct sbuf out;
	struct dsn d = { "mx.example.org", "MAILER-DAEMON@mx.example.org",
	                 "alice@example.org", 1177, 1700000000, 1700003600,
	                 failures, sizeof failures - 1 };
	sbuf_init(&out, 1 << 20);
	ck_assert_int_eq(dsn_build(&d, &out), 0);
	ck_assert_int_eq(sbuf_putc(&out, '\0'), 0);
	const char *m = out.s;
	ck_assert_ptr_nonnull(strstr(m, "To: <alice@example.org>\n"));
	ck_assert_ptr_nonnull(strstr(m, "report-type=delivery-status"));
	ck_assert_ptr_nonnull(strstr(m, "Reporting-MTA: dns; mx.example.org\n"));
	ck_assert_ptr_nonnull(strstr(m, "Final-Recipient: rfc822; john@example.org\n"
	                                "Action: failed\nStatus: 5.1.1\n"));
	ck_assert_ptr_nonnull(strstr(m, "Status: 5.2.2\n"));
	ck_assert_ptr_nonnull(strstr(m, "Auto-Submitted: auto-replied\n"));
	/* the reason's CR LF cannot start a header of its own */
	ck_assert_ptr_null(strstr(m, "\nX: y"));
	ck_assert_ptr_null(strchr(m, '\r'));
	ck_assert_ptr_nonnull(strstr(m, "--sq-dsn-1177-1700003600--\n"));
	sbuf_free(&out);
}
END_TEST

START_TEST(malformed_records_are_refused)
{
	struct sbuf out;
	struct dsn d = { "me", "MAILER-DAEMON@me", "a@b", 1, 0, 0,
	                 "Xa@b\0r\0", 7 };
	sbuf_init(&out, 1 << 20);
	ck_assert_int_eq(dsn_build(&d, &out), -1);
	d.failures = "Ra@b\0no end";
	d.len = 11;
	sbuf_reset(&out);
	ck_assert_int_eq(dsn_build(&d, &out), -1);
	sbuf_free(&out);
}
END_TEST

START_TEST(the_header_section_stops_before_any_body_text)
{
	static const char m1[] = "Received: from x\n\tby y\nSubject: hi\r\n"
	                         "\nBODY-TEXT\n";
	ck_assert_uint_eq(dsn_header_section(m1, sizeof m1 - 1, 1 << 16),
	                  strlen("Received: from x\n\tby y\nSubject: hi\r\n"));
	/* no empty line: the first line that is no header field ends it */
	static const char m2[] = "Subject: a\nBODY-TEXT without a colon\nX: y\n";
	ck_assert_uint_eq(dsn_header_section(m2, sizeof m2 - 1, 1 << 16), 11);
	/* a field name with a space is no field; nor a line without an end */
	static const char m3[] = "Sub ject: a\n";
	ck_assert_uint_eq(dsn_header_section(m3, sizeof m3 - 1, 1 << 16), 0);
	static const char m4[] = "Subject: a\nTo: b";
	ck_assert_uint_eq(dsn_header_section(m4, sizeof m4 - 1, 1 << 16), 11);
	/* the bound cuts at a line end */
	ck_assert_uint_eq(dsn_header_section(m1, sizeof m1 - 1, 20), 17);
	ck_assert_uint_eq(dsn_header_section("", 0, 100), 0);
}
END_TEST

START_TEST(a_report_with_headers_has_a_third_part_and_no_body)
{
	struct sbuf out;
	static const char msg[] = "Subject: secret plans\r\nTo: x@y\r\n\r\n"
	                          "BODY-TEXT\r\n";
	struct dsn d = { "mx.example.org", "MAILER-DAEMON@mx.example.org",
	                 "alice@example.org", 7, 1700000000, 1700000000,
	                 failures, sizeof failures - 1 };
	sbuf_init(&out, 1 << 20);
	ck_assert_int_eq(dsn_build_headers(&d, msg, dsn_header_section(msg,
	                 sizeof msg - 1, 1 << 16), &out), 0);
	ck_assert_int_eq(sbuf_putc(&out, '\0'), 0);
	const char *m = out.s;
	ck_assert_ptr_nonnull(strstr(m, "\n--sq-dsn-7-1700000000\nContent-Type: "
	                                "text/rfc822-headers\n\nSubject: secret "
	                                "plans\nTo: x@y\n\n--sq-dsn-7-1700000000--"
	                                "\n"));
	ck_assert_ptr_nonnull(strstr(m, "The headers of your message follow"));
	ck_assert_ptr_null(strstr(m, "BODY-TEXT"));
	ck_assert_ptr_null(strchr(m, '\r'));
	sbuf_free(&out);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("dsn");
	TCase *tc = tcase_create("dsn");
	tcase_add_test(tc, status_codes_come_from_the_reason);
	tcase_add_test(tc, a_report_names_every_failure_and_stays_clean);
	tcase_add_test(tc, malformed_records_are_refused);
	tcase_add_test(tc, the_header_section_stops_before_any_body_text);
	tcase_add_test(tc, a_report_with_headers_has_a_third_part_and_no_body);
	suite_add_tcase(s, tc);
	return s;
}
