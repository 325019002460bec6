/* check_saslplain - strict base64 and the SASL PLAIN message (RFC 4616),
 * with the RFC 4648 test vectors. */
#include <errno.h>
#include <string.h>

#include "mail/saslplain.h"
#include "testutil.h"

START_TEST(base64_matches_rfc4648_vectors)
{
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct sbuf e, d;
		sbuf_init(&e, 64);
		sbuf_init(&d, 64);
		ck_assert_int_eq(b64_encode(v[i][0], strlen(v[i][0]), &e), 0);
		ck_assert_str_eq(e.s ? e.s : "", v[i][1]);
		ck_assert_int_eq(b64_decode(v[i][1], strlen(v[i][1]), &d), 0);
		ck_assert_str_eq(d.s ? d.s : "", v[i][0]);
		sbuf_free(&e);
		sbuf_free(&d);
	}
}
END_TEST

START_TEST(base64_refuses_anything_not_canonical)
{
	static const char *const bad[] = {
		"Zg=", "Zg", "Zm9", "Zg==Zg==", "Z===", "====", "Zh==", "Zm9=",
		"Zm9v\n", " Zm9v", "Zm 9v", "Zm-v", "Zm_v", "Zm9v=", "=Zm9",
		"Zg=a",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sbuf d;
		sbuf_init(&d, 64);
		errno = 0;
		ck_assert_msg(b64_decode(bad[i], strlen(bad[i]), &d) == -1,
		              "accepted %s", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		sbuf_free(&d);
	}
}
END_TEST

START_TEST(plain_round_trips_and_splits_in_three)
{
	struct sbuf b64, buf;
	struct sasl_plain p;
	sbuf_init_secret(&b64, 2048);
	sbuf_init(&buf, SASL_PLAIN_RAW_MAX);
	ck_assert_int_eq(sasl_plain_encode("1a2b3c4d-17", "123456", "s3cret",
	                                   &b64), 0);
	ck_assert_int_eq(sasl_plain_decode(b64.s, b64.len, &buf, &p), 0);
	ck_assert_int_eq(buf.secret, 1);
	ck_assert_str_eq(p.authzid, "1a2b3c4d-17");
	ck_assert_str_eq(p.authcid, "123456");
	ck_assert_str_eq(p.passwd, "s3cret");
	ck_assert_uint_eq(p.passwd_len, 6);
	sbuf_reset(&b64);
	ck_assert_int_eq(sasl_plain_encode("", "42", "pw", &b64), 0);
	/* RFC 4616 section 4: "\0tim\0tanstaaftanstaaf" */
	ck_assert_int_eq(sasl_plain_decode("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", 28,
	                                   &buf, &p), 0);
	ck_assert_uint_eq(p.authzid_len, 0);
	ck_assert_str_eq(p.authcid, "tim");
	ck_assert_str_eq(p.passwd, "tanstaaftanstaaf");
	sbuf_free(&b64);
	sbuf_free(&buf);
}
END_TEST

/* The PLAIN message of raw (n octets), decoded: the result. */
static int decode_raw(const char *raw, size_t n)
{
	struct sbuf b64, buf;
	struct sasl_plain p;
	sbuf_init(&b64, 4096);
	sbuf_init(&buf, SASL_PLAIN_RAW_MAX);
	ck_assert_int_eq(b64_encode(raw, n, &b64), 0);
	p.passwd = "x";
	int r = sasl_plain_decode(b64.s ? b64.s : "", b64.len, &buf, &p);
	if (r < 0)
		ck_assert_ptr_null(p.passwd);
	sbuf_free(&b64);
	sbuf_free(&buf);
	return r;
}

START_TEST(malformed_plain_messages_are_refused)
{
	ck_assert_int_eq(decode_raw("a\0b\0c", 5), 0);
	ck_assert_int_eq(decode_raw("", 0), -1);
	ck_assert_int_eq(decode_raw("abc", 3), -1);          /* no NUL */
	ck_assert_int_eq(decode_raw("a\0bc", 4), -1);        /* one NUL */
	ck_assert_int_eq(decode_raw("a\0b\0c\0d", 7), -1);   /* three */
	ck_assert_int_eq(decode_raw("a\0\0c", 4), -1);       /* no authcid */
	ck_assert_int_eq(decode_raw("a\0b\0", 4), -1);       /* no passwd */
	char big[600];
	memset(big, 'p', sizeof big);
	big[0] = '\0';
	big[2] = '\0';
	ck_assert_int_eq(decode_raw(big, 3 + 255), 0);
	ck_assert_int_eq(decode_raw(big, 3 + 256), -1);      /* passwd > 255 */
	struct sbuf buf;
	struct sasl_plain p;
	sbuf_init(&buf, SASL_PLAIN_RAW_MAX);
	ck_assert_int_eq(sasl_plain_decode("*", 1, &buf, &p), -1);
	ck_assert_int_eq(sasl_plain_decode("=", 1, &buf, &p), -1);
	sbuf_free(&buf);
	struct sbuf out;
	sbuf_init(&out, 4096);
	ck_assert_int_eq(sasl_plain_encode("", "", "pw", &out), -1);
	ck_assert_int_eq(sasl_plain_encode("", "id", "", &out), -1);
	sbuf_free(&out);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("saslplain");
	TCase *tc = tcase_create("saslplain");
	tcase_add_test(tc, base64_matches_rfc4648_vectors);
	tcase_add_test(tc, base64_refuses_anything_not_canonical);
	tcase_add_test(tc, plain_round_trips_and_splits_in_three);
	tcase_add_test(tc, malformed_plain_messages_are_refused);
	suite_add_tcase(s, tc);
	return s;
}
