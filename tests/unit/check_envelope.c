/* check_envelope - the qmail-queue envelope, parsed and formatted. */
#include <errno.h>
#include <string.h>

#include "receive/envelope.h"
#include "testutil.h"

#define PARSE(e, lit) envelope_parse((e), (lit), sizeof(lit) - 1)

START_TEST(a_formatted_envelope_parses_back)
{
	const char *rcpt[] = { "a@example.org", "b@example.org" };
	struct sbuf out;
	struct envelope e;
	sbuf_init(&out, 4096);
	ck_assert_int_eq(envelope_format(&out, "s@remote.example", rcpt, 2), 0);
	ck_assert_uint_eq(out.len, sizeof "Fs@remote.example\0Ta@example.org\0"
	                           "Tb@example.org\0" - 1 + 1);
	ck_assert_int_eq(envelope_parse(&e, out.s, out.len), 0);
	ck_assert_str_eq(e.sender, "s@remote.example");
	ck_assert_uint_eq(e.n, 2);
	ck_assert_str_eq(e.rcpt[0], "a@example.org");
	ck_assert_str_eq(e.rcpt[1], "b@example.org");
	envelope_free(&e);
	sbuf_free(&out);
}
END_TEST

START_TEST(the_null_sender_is_empty)
{
	struct envelope e;
	ck_assert_int_eq(PARSE(&e, "F\0Tpostmaster\0\0"), 0);
	ck_assert_str_eq(e.sender, "");
	ck_assert_str_eq(e.rcpt[0], "postmaster");
	envelope_free(&e);
}
END_TEST

START_TEST(malformed_envelopes_are_refused)
{
	static const struct { const char *s; size_t len; } bad[] = {
#define B(lit) { lit, sizeof(lit) - 1 }
		B(""), B("F"), B("Fa\0"), B("Fa\0\0"),          /* no recipient */
		B("Fa\0Tb\0"),                                  /* no final NUL */
		B("Xa\0Tb\0\0"),                                /* no F first */
		B("Fa\0Rb\0\0"),                                /* not T */
		B("Fa\0T\0\0"),                                 /* empty recipient */
		B("Fa\0Tb\0\0Tc\0\0"),                          /* after the end */
		B("Fa\0Tb"),                                    /* cut short */
#undef B
	};
	struct envelope e;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		ck_assert_msg(envelope_parse(&e, bad[i].s, bad[i].len) == -1 &&
		              errno == EINVAL, "case %zu", i);
		ck_assert_ptr_null(e.rcpt);
	}
}
END_TEST

START_TEST(an_overlong_address_is_told_apart)
{
	char data[ENVELOPE_ADDR_MAX + 16];
	size_t n = 0;
	memcpy(data, "Fa\0T", 4);
	n = 4;
	memset(data + n, 'x', ENVELOPE_ADDR_MAX + 1);
	n += ENVELOPE_ADDR_MAX + 1;
	data[n++] = '\0';
	data[n++] = '\0';
	struct envelope e;
	ck_assert_int_eq(envelope_parse(&e, data, n), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	/* one octet less is an address like any other */
	data[4 + ENVELOPE_ADDR_MAX] = '\0';
	ck_assert_int_eq(envelope_parse(&e, data, n - 1), 0);
	ck_assert_uint_eq(strlen(e.rcpt[0]), ENVELOPE_ADDR_MAX);
	envelope_free(&e);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("envelope");
	TCase *tc = tcase_create("envelope");
	tcase_add_test(tc, a_formatted_envelope_parses_back);
	tcase_add_test(tc, the_null_sender_is_empty);
	tcase_add_test(tc, malformed_envelopes_are_refused);
	tcase_add_test(tc, an_overlong_address_is_told_apart);
	suite_add_tcase(s, tc);
	return s;
}
