/* check_addr - address normalisation and the 32-bit address hash. */
#include <stdio.h>
#include <string.h>

#include "mail/addr.h"
#include "testutil.h"

static enum addr_error norm(const char *in, char *out)
{
	return addr_normalize(in, strlen(in), out);
}

START_TEST(case_and_trailing_dot_are_normalised)
{
	char out[ADDR_MAX + 1];
	ck_assert_int_eq(norm("John.Smith@Example.ORG.", out), ADDR_OK);
	ck_assert_str_eq(out, "john.smith@example.org");
	ck_assert_int_eq(norm("o'brien+tag@mx-1.example.co.uk", out), ADDR_OK);
	ck_assert_str_eq(out, "o'brien+tag@mx-1.example.co.uk");
	ck_assert_int_eq(norm("x@localhost", out), ADDR_OK);
}
END_TEST

START_TEST(dots_are_significant)
{
	char a[ADDR_MAX + 1], b[ADDR_MAX + 1];
	ck_assert_int_eq(norm("john.smith@example.org", a), ADDR_OK);
	ck_assert_int_eq(norm("johnsmith@example.org", b), ADDR_OK);
	ck_assert_str_ne(a, b);
	ck_assert_uint_ne(addr_hash(a), addr_hash(b));
}
END_TEST

START_TEST(invalid_addresses_are_refused)
{
	static const struct {
		const char *in;
		enum addr_error want;
	} bad[] = {
		{ "", ADDR_EMPTY },
		{ "@example.org", ADDR_EMPTY },
		{ "john@", ADDR_EMPTY },
		{ "john@.", ADDR_EMPTY },
		{ "john.example.org", ADDR_NO_AT },
		{ ".john@example.org", ADDR_BAD_LOCAL },
		{ "john.@example.org", ADDR_BAD_LOCAL },
		{ "jo..hn@example.org", ADDR_BAD_LOCAL },
		{ "\"john smith\"@example.org", ADDR_BAD_LOCAL },
		{ "jo hn@example.org", ADDR_BAD_LOCAL },
		{ "a@b@example.org", ADDR_BAD_LOCAL },
		{ "j\xc3\xb6rg@example.org", ADDR_BAD_LOCAL },
		{ "john@-example.org", ADDR_BAD_DOMAIN },
		{ "john@example-.org", ADDR_BAD_DOMAIN },
		{ "john@exa_mple.org", ADDR_BAD_DOMAIN },
		{ "john@example..org", ADDR_BAD_DOMAIN },
		{ "john@[192.0.2.1]", ADDR_BAD_DOMAIN },
		{ "john@example.org..", ADDR_BAD_DOMAIN },
	};
	char out[ADDR_MAX + 1];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(norm(bad[i].in, out) == bad[i].want,
		              "%s: got %s", bad[i].in,
		              addr_strerror(norm(bad[i].in, out)));
		ck_assert_str_eq(out, "");
	}
}
END_TEST

START_TEST(embedded_nul_is_refused)
{
	char out[ADDR_MAX + 1];
	ck_assert_int_eq(addr_normalize("jo\0hn@example.org", 17, out),
	                 ADDR_BAD_LOCAL);
	ck_assert_int_eq(addr_normalize("john@exam\0ple.org", 17, out),
	                 ADDR_BAD_DOMAIN);
}
END_TEST

START_TEST(length_limits_of_rfc5321)
{
	char in[400], out[ADDR_MAX + 1];
	memset(in, 'a', 64);
	strcpy(in + 64, "@example.org");
	ck_assert_int_eq(norm(in, out), ADDR_OK);
	memset(in, 'a', 65);
	strcpy(in + 65, "@example.org");
	ck_assert_int_eq(norm(in, out), ADDR_TOO_LONG);

	/* 64 + 1 + 189 = 254 octets: the longest mailbox */
	memset(in, 'a', 64);
	in[64] = '@';
	char *d = in + 65;
	for (int i = 0; i < 3; i++, d += 62) {
		memset(d, 'b', 61);
		d[61] = '.';
	}
	memset(d, 'c', 3);
	d[3] = '\0';
	ck_assert_uint_eq(strlen(in), 254);
	ck_assert_int_eq(norm(in, out), ADDR_OK);
	strcat(in, "c");
	ck_assert_int_eq(norm(in, out), ADDR_TOO_LONG);

	char label[80];
	memset(label, 'x', 64);
	strcpy(label + 64, ".org");
	snprintf(in, sizeof in, "a@%s", label);
	ck_assert_int_eq(norm(in, out), ADDR_BAD_DOMAIN);
}
END_TEST

/* Vectors: printf %s ADDR | sha256sum | cut -c1-8 (see sq-addrhash(5)). */
START_TEST(hash_matches_the_documented_vectors)
{
	static const struct {
		const char *addr;
		uint32_t hash;
		const char *hex;
	} v[] = {
		{ "john.smith@example.org", 0x93e896f4, "93e896f4" },
		{ "johnsmith@example.org", 0x508683a5, "508683a5" },
		{ "postmaster@example.org", 0x6c8fd880, "6c8fd880" },
		{ "a@b", 0x7508d8b5, "7508d8b5" },
		{ "x@localhost", 0x660f083a, "660f083a" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char hex[9];
		ck_assert_uint_eq(addr_hash(v[i].addr), v[i].hash);
		addr_hash_hex(v[i].hash, hex);
		ck_assert_str_eq(hex, v[i].hex);
	}
	char out[ADDR_MAX + 1];
	ck_assert_int_eq(norm("John.Smith@EXAMPLE.org.", out), ADDR_OK);
	ck_assert_uint_eq(addr_hash(out), 0x93e896f4);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("addr");
	tcase_add_test(tc, case_and_trailing_dot_are_normalised);
	tcase_add_test(tc, dots_are_significant);
	tcase_add_test(tc, invalid_addresses_are_refused);
	tcase_add_test(tc, embedded_nul_is_refused);
	tcase_add_test(tc, length_limits_of_rfc5321);
	tcase_add_test(tc, hash_matches_the_documented_vectors);
	suite_add_tcase(s, tc);
	return s;
}
