/*
 * check_pksreply - the PKS client's reading of replies without a PKS:
 * parsing and validation on canned JSON, RFC 3339 times, percent-encoding,
 * status mapping, and key selection with real certificates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/pki.h"
#include "client/pksreply.h"
#include "util/sbuf.h"
#include "testutil.h"

/* --- reply parsing -------------------------------------------------------- */

static const uint32_t HASH = 0x93e896f4;

static int parse(const char *json, int want_pdk, struct pks_keys *k,
                 char *why, size_t whylen)
{
	return pks_parse_keys(json, strlen(json), HASH, want_pdk, k, why,
	                      whylen);
}

/* A reply that must be refused, with a reason that mentions what. */
static void refused(const char *json, int want_pdk, const char *what)
{
	struct pks_keys k = { 7, (struct pks_key *)&k };
	char why[256] = "";
	ck_assert_msg(parse(json, want_pdk, &k, why, sizeof why) == -1,
	              "accepted: %s", json);
	ck_assert_uint_eq(k.n, 0);
	ck_assert_ptr_null(k.key);
	ck_assert_msg(strstr(why, what) != NULL, "reason \"%s\" for %s", why,
	              json);
}

START_TEST(keys_reply_gives_rows_versions_and_peks)
{
	struct pks_keys k;
	char why[256] = "";
	const char *json = "{\"hash\":\"93e896f4\",\"keys\":["
		"{\"row\":123,\"version\":1,\"pek\":\"-----BEGIN A\\n\"},"
		"{\"row\":9007199254740991,\"version\":4294967295,"
		"\"pek\":\"B\",\"extra\":[1,2]}],\"future\":true}";
	ck_assert_int_eq(parse(json, 0, &k, why, sizeof why), 0);
	ck_assert_uint_eq(k.n, 2);
	ck_assert_uint_eq(k.key[0].row, 123);
	ck_assert_uint_eq(k.key[0].version, 1);
	ck_assert_str_eq(k.key[0].pek, "-----BEGIN A\n");
	ck_assert_ptr_null(k.key[0].pdk);
	ck_assert_uint_eq(k.key[1].row, PKS_ROW_MAX);
	ck_assert_uint_eq(k.key[1].version, 4294967295u);
	ck_assert_int_eq(k.key[1].locked_until, 0);
	pks_keys_free(&k);
	ck_assert_uint_eq(k.n, 0);
	ck_assert_ptr_null(k.key);
}
END_TEST

START_TEST(pdk_reply_gives_each_pdk_or_the_lock_time)
{
	struct pks_keys k;
	char why[256] = "";
	const char *json = "{\"hash\":\"93e896f4\",\"keys\":["
		"{\"row\":1,\"version\":1,\"pek\":\"P1\",\"pdk\":\"D1\"},"
		"{\"row\":2,\"version\":2,\"pek\":\"P2\",\"pdk\":\"D2\","
		"\"locked_until\":null},"
		"{\"row\":3,\"version\":3,\"pek\":\"P3\","
		"\"locked_until\":\"2026-11-27T16:00:00Z\"}]}";
	ck_assert_int_eq(parse(json, 1, &k, why, sizeof why), 0);
	ck_assert_uint_eq(k.n, 3);
	ck_assert_str_eq(k.key[0].pdk, "D1");
	ck_assert_str_eq(k.key[1].pdk, "D2");
	ck_assert_int_eq(k.key[1].locked_until, 0);
	ck_assert_ptr_null(k.key[2].pdk);
	ck_assert_int_eq(k.key[2].locked_until, 1795795200);
	pks_keys_free(&k);
}
END_TEST

START_TEST(pdks_in_a_pek_reply_are_not_kept)
{
	struct pks_keys k;
	char why[256] = "";
	ck_assert_int_eq(parse("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,"
	                       "\"version\":1,\"pek\":\"P\",\"pdk\":\"D\"}]}",
	                       0, &k, why, sizeof why), 0);
	ck_assert_ptr_null(k.key[0].pdk);
	pks_keys_free(&k);
}
END_TEST

START_TEST(empty_key_list_is_an_empty_answer)
{
	struct pks_keys k;
	char why[256] = "";
	ck_assert_int_eq(parse("{\"hash\":\"93e896f4\",\"keys\":[]}", 0, &k,
	                       why, sizeof why), 0);
	ck_assert_uint_eq(k.n, 0);
	pks_keys_free(&k);
}
END_TEST

START_TEST(reply_for_another_hash_is_refused)
{
	refused("{\"hash\":\"93e896f5\",\"keys\":[]}", 0, "hash");
	refused("{\"hash\":\"93E896F4\",\"keys\":[]}", 0, "hash");
	refused("{\"keys\":[]}", 0, "hash");
	refused("{\"hash\":2481493748,\"keys\":[]}", 0, "hash");
}
END_TEST

START_TEST(rows_outside_1_to_2_pow_53_are_refused)
{
	static const char *rows[] = { "0", "-1", "9007199254740992",
		"18446744073709551616", "\"1\"", "1.0", "1e3", "true", "null" };
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char json[256];
		snprintf(json, sizeof json, "{\"hash\":\"93e896f4\",\"keys\":["
		         "{\"row\":%s,\"version\":1,\"pek\":\"P\"}]}", rows[i]);
		/* jansson itself refuses an integer past 64 bits. */
		refused(json, 0, i == 3 ? "JSON" : "row");
	}
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"version\":1,"
	        "\"pek\":\"P\"}]}", 0, "row");
}
END_TEST

START_TEST(versions_below_1_or_past_32_bits_are_refused)
{
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":0,"
	        "\"pek\":\"P\"}]}", 0, "version");
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,"
	        "\"version\":4294967296,\"pek\":\"P\"}]}", 0, "version");
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"pek\":\"P\"}]}",
	        0, "version");
}
END_TEST

START_TEST(pek_and_pdk_must_be_non_empty_strings)
{
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1}]}",
	        0, "pek");
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1,"
	        "\"pek\":7}]}", 0, "pek");
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1,"
	        "\"pek\":\"\"}]}", 0, "pek");
	/* the second row breaks: the first row's copies must not leak */
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1,"
	        "\"pek\":\"P\",\"pdk\":\"D\"},{\"row\":2,\"version\":1,"
	        "\"pek\":\"P\"}]}", 1, "pdk");
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1,"
	        "\"pek\":\"P\",\"pdk\":[\"D\"]}]}", 1, "pdk");
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1,"
	        "\"pek\":\"P\",\"pdk\":\"D\",\"locked_until\":\"soon\"}]}", 1,
	        "locked_until");
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1,"
	        "\"pek\":\"P\",\"locked_until\":1795795200}]}", 1,
	        "locked_until");
}
END_TEST

START_TEST(a_login_attempt_carries_a_cache_pepper)
{
	struct pks_keys k;
	char why[200];
	static const char hex[] = "00112233445566778899aabbccddeeff"
	                          "0123456789abcdef0123456789abcdef";
	char json[512];
	snprintf(json, sizeof json, "{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,"
	         "\"version\":1,\"pek\":\"P\",\"pdk\":\"D\",\"cache_pepper\":"
	         "\"%s\"},{\"row\":2,\"version\":2,\"pek\":\"P\",\"pdk\":\"D\"}]}",
	         hex);
	ck_assert_int_eq(pks_parse_keys(json, strlen(json), 0x93e896f4, 1, &k,
	                                why, sizeof why), 0);
	ck_assert_int_eq(k.key[0].has_pepper, 1);
	ck_assert_int_eq(k.key[0].pepper[0], 0x00);
	ck_assert_int_eq(k.key[0].pepper[1], 0x11);
	ck_assert_int_eq(k.key[0].pepper[31], 0xef);
	ck_assert_int_eq(k.key[1].has_pepper, 0); /* an older pksd: no cache */
	pks_keys_free(&k);
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1,"
	        "\"pek\":\"P\",\"pdk\":\"D\",\"cache_pepper\":\"00\"}]}", 1,
	        "cache_pepper");
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1,"
	        "\"pek\":\"P\",\"pdk\":\"D\",\"cache_pepper\":\"00112233445566778899"
	        "AABBCCDDEEFF0123456789abcdef0123456789abcdef\"}]}", 1,
	        "cache_pepper");
}
END_TEST

START_TEST(malformed_json_is_refused)
{
	refused("", 0, "JSON");
	refused("<html>404</html>", 0, "JSON");
	refused("{\"hash\":\"93e896f4\",\"keys\":[]} x", 0, "JSON");
	refused("[{\"hash\":\"93e896f4\"}]", 0, "object");
	refused("{\"hash\":\"93e896f4\",\"hash\":\"93e896f4\",\"keys\":[]}", 0,
	        "JSON");
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1,"
	        "\"pek\":\"P\\u0000Q\"}]}", 0, "JSON");
	refused("{\"hash\":\"93e896f4\",\"keys\":{}}", 0, "keys");
	refused("{\"hash\":\"93e896f4\"}", 0, "keys");
	refused("{\"hash\":\"93e896f4\",\"keys\":[1]}", 0, "object");
	/* a truncated body: the tail of the reply was lost */
	refused("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,\"version\":1,"
	        "\"pek\":\"-----BEGIN CERT", 0, "JSON");
}
END_TEST

/* A parse error must not quote the reply: it may hold a wrapped PDK. */
START_TEST(parse_errors_do_not_quote_the_reply)
{
	struct pks_keys k;
	char why[256] = "";
	ck_assert_int_eq(parse("{\"hash\":\"93e896f4\",\"keys\":[{\"row\":1,"
	                       "\"version\":1,\"pek\":\"P\",\"pdk\":\"SECRETPDK"
	                       "\n\"}]}", 1, &k, why, sizeof why), -1);
	ck_assert_ptr_null(strstr(why, "SECRET"));
}
END_TEST

START_TEST(rfc3339_utc_times_parse_and_others_do_not)
{
	static const char *bad[] = { "", "2026-11-27T16:00:00",
		"2026-11-27 16:00:00Z", "2026-11-27T16:00:00+00:00",
		"2026-11-27T16:00:00Zx", "2026-13-01T00:00:00Z",
		"2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
		"2026-11-27T24:00:00Z", "2026-11-27T16:60:00Z",
		"1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z",
		"2026-11-27T16:00:00.Z", "+026-11-27T16:00:00Z",
		"2026-1-27T16:00:00Z" };
	time_t t = 42;
	ck_assert_int_eq(pks_parse_time("2026-11-27T16:00:00Z", &t), 0);
	ck_assert_int_eq(t, 1795795200);
	ck_assert_int_eq(pks_parse_time("2026-11-27t16:00:00.999z", &t), 0);
	ck_assert_int_eq(t, 1795795200);
	ck_assert_int_eq(pks_parse_time("2028-02-29T00:00:01Z", &t), 0);
	ck_assert_int_eq(t, 1835395201);
	ck_assert_int_eq(pks_parse_time("1970-01-01T00:00:01Z", &t), 0);
	ck_assert_int_eq(t, 1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t = 42;
		ck_assert_msg(pks_parse_time(bad[i], &t) == -1, "accepted %s",
		              bad[i]);
		ck_assert_int_eq(t, 42);
	}
}
END_TEST

START_TEST(percent_encoding_keeps_only_unreserved_bytes)
{
	struct sbuf b;
	const char in[] = "Az09-._~/%+@ :?#\x7f\x80\xff";
	sbuf_init(&b, 1000);
	ck_assert_int_eq(pks_pct_encode(in, sizeof in - 1, &b), 0);
	ck_assert_str_eq(b.s, "Az09-._~%2F%25%2B%40%20%3A%3F%23%7F%80%FF");
	sbuf_free(&b);
	sbuf_init(&b, 4); /* "a%40b" is 5 bytes */
	ck_assert_int_eq(pks_pct_encode("a@b", 3, &b), -1);
	sbuf_free(&b);
}
END_TEST

START_TEST(statuses_map_to_results)
{
	ck_assert_int_eq(pks_status_result(200), PKS_OK);
	ck_assert_int_eq(pks_status_result(201), PKS_OK);
	ck_assert_int_eq(pks_status_result(404), PKS_NOT_FOUND);
	ck_assert_int_eq(pks_status_result(409), PKS_CONFLICT);
	static const long refusals[] = { 400, 401, 403, 413, 422 };
	for (size_t i = 0; i < 5; i++)
		ck_assert_int_eq(pks_status_result(refusals[i]), PKS_REFUSED);
	ck_assert_int_eq(pks_status_result(429), PKS_LOCKED);
	static const long temps[] = { 0, 100, 301, 302, 405, 408, 500, 502,
	                              503, 504, 599, 999 };
	for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++)
		ck_assert_int_eq(pks_status_result(temps[i]), PKS_TEMP);
	ck_assert_str_eq(pks_result_name(PKS_TEMP), "temporary");
	ck_assert_str_eq(pks_result_name(PKS_NOT_FOUND), "not_found");
}
END_TEST

/* --- key selection -------------------------------------------------------- */

static EVP_PKEY *ca_key, *rogue_key;
static X509 *ca, *rogue;

static void pki_setup(void)
{
	ca_key = pki_keygen();
	rogue_key = pki_keygen();
	ca = pki_ca_create(ca_key, "secure-qmail test CA", PKI_CA_DAYS);
	rogue = pki_ca_create(rogue_key, "secure-qmail test CA", PKI_CA_DAYS);
	ck_assert_ptr_nonnull(ca);
	ck_assert_ptr_nonnull(rogue);
}

static void pki_teardown(void)
{
	X509_free(ca);
	X509_free(rogue);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(rogue_key);
}

/* A PEK for address issued by issuer, as PEM in a fresh string. */
static char *pek_pem(EVP_PKEY *issuer_key, X509 *issuer, const char *address)
{
	struct sbuf pem;
	EVP_PKEY *key = pki_keygen();
	X509 *cert = pki_issue_pek(issuer_key, issuer, key, address, 30);
	sbuf_init(&pem, 65536);
	ck_assert_ptr_nonnull(cert);
	ck_assert_int_eq(pki_cert_to_pem(cert, &pem), 0);
	X509_free(cert);
	EVP_PKEY_free(key);
	return pem.s;
}

static void add_key(struct pks_keys *k, uint64_t row, unsigned version,
                    char *pek)
{
	k->key = realloc(k->key, (k->n + 1) * sizeof *k->key);
	ck_assert_ptr_nonnull(k->key);
	k->key[k->n++] = (struct pks_key){ .row = row, .version = version,
	                                   .pek = pek };
}

START_TEST(select_picks_the_newest_key_certified_for_the_address)
{
	struct pks_keys k = { 0, NULL };
	/* john.smith and another address under one hash, in scrambled order;
	 * the foreign CA's key has the highest version of all */
	add_key(&k, 10, 9, pek_pem(ca_key, ca, "johnsmith@example.org"));
	add_key(&k, 11, 1, pek_pem(ca_key, ca, "john.smith@example.org"));
	add_key(&k, 12, 7, pek_pem(rogue_key, rogue, "john.smith@example.org"));
	add_key(&k, 13, 2, pek_pem(ca_key, ca, "john.smith@example.org"));
	add_key(&k, 14, 8, strdup("-----BEGIN CERTIFICATE-----\nnonsense\n"));
	add_key(&k, 15, 1, pek_pem(ca_key, ca, "john.smith@example.org"));
	ck_assert_int_eq(pks_select(&k, ca, "john.smith@example.org"), 3);
	/* the address is normalised before it is compared */
	ck_assert_int_eq(pks_select(&k, ca, "John.Smith@EXAMPLE.org."), 3);
	ck_assert_int_eq(pks_select(&k, ca, "johnsmith@example.org"), 0);
	ck_assert_int_eq(pks_select(&k, rogue, "john.smith@example.org"), 2);
	ck_assert_int_eq(pks_select(&k, ca, "nobody@example.org"), -1);
	ck_assert_int_eq(pks_select(&k, ca, "not an address"), -1);
	pks_keys_free(&k);
}
END_TEST

START_TEST(select_breaks_a_version_tie_by_the_higher_row)
{
	struct pks_keys k = { 0, NULL };
	add_key(&k, 20, 1, pek_pem(ca_key, ca, "a@example.org"));
	add_key(&k, 21, 1, pek_pem(ca_key, ca, "a@example.org"));
	add_key(&k, 19, 1, pek_pem(ca_key, ca, "a@example.org"));
	ck_assert_int_eq(pks_select(&k, ca, "a@example.org"), 1);
	pks_keys_free(&k);
}
END_TEST

START_TEST(select_on_no_rows_or_only_foreign_rows_is_minus_1)
{
	struct pks_keys k = { 0, NULL };
	ck_assert_int_eq(pks_select(&k, ca, "a@example.org"), -1);
	add_key(&k, 1, 1, pek_pem(rogue_key, rogue, "a@example.org"));
	add_key(&k, 2, 1, NULL);
	ck_assert_int_eq(pks_select(&k, ca, "a@example.org"), -1);
	pks_keys_free(&k);
}
END_TEST

START_TEST(select_checked_counts_keys_for_the_address_that_fail)
{
	struct pks_keys k = { 0, NULL };
	char why[128];
	size_t suspect = 99;
	/* another address's row under the same hash is no alarm */
	add_key(&k, 1, 1, pek_pem(ca_key, ca, "b@example.org"));
	ck_assert_int_eq(pks_select_checked(&k, ca, "a@example.org", &suspect,
	                                    why, sizeof why), -1);
	ck_assert_uint_eq(suspect, 0);
	ck_assert_str_eq(why, "");
	/* a foreign CA's key for the address is, and says which row */
	add_key(&k, 2, 5, pek_pem(rogue_key, rogue, "a@example.org"));
	ck_assert_int_eq(pks_select_checked(&k, ca, "a@example.org", &suspect,
	                                    why, sizeof why), -1);
	ck_assert_uint_eq(suspect, 1);
	ck_assert_ptr_nonnull(strstr(why, "row 2: "));
	ck_assert_ptr_null(strstr(why, "a@example.org"));
	/* so is a row that is no certificate; a good key is still chosen */
	add_key(&k, 3, 1, strdup("-----BEGIN CERTIFICATE-----\nnonsense\n"));
	add_key(&k, 4, 1, pek_pem(ca_key, ca, "a@example.org"));
	ck_assert_int_eq(pks_select_checked(&k, ca, "A@Example.org", &suspect,
	                                    NULL, 0), 3);
	ck_assert_uint_eq(suspect, 2);
	pks_keys_free(&k);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("pksreply");
	TCase *parse_tc = tcase_create("parse");
	tcase_add_test(parse_tc, keys_reply_gives_rows_versions_and_peks);
	tcase_add_test(parse_tc, pdk_reply_gives_each_pdk_or_the_lock_time);
	tcase_add_test(parse_tc, pdks_in_a_pek_reply_are_not_kept);
	tcase_add_test(parse_tc, empty_key_list_is_an_empty_answer);
	tcase_add_test(parse_tc, reply_for_another_hash_is_refused);
	tcase_add_test(parse_tc, rows_outside_1_to_2_pow_53_are_refused);
	tcase_add_test(parse_tc, versions_below_1_or_past_32_bits_are_refused);
	tcase_add_test(parse_tc, pek_and_pdk_must_be_non_empty_strings);
	tcase_add_test(parse_tc, malformed_json_is_refused);
	tcase_add_test(parse_tc, parse_errors_do_not_quote_the_reply);
	tcase_add_test(parse_tc, rfc3339_utc_times_parse_and_others_do_not);
	tcase_add_test(parse_tc, percent_encoding_keeps_only_unreserved_bytes);
	tcase_add_test(parse_tc, statuses_map_to_results);
	tcase_add_test(parse_tc, a_login_attempt_carries_a_cache_pepper);
	suite_add_tcase(s, parse_tc);

	TCase *sel_tc = tcase_create("select");
	tcase_add_checked_fixture(sel_tc, pki_setup, pki_teardown);
	tcase_add_test(sel_tc, select_picks_the_newest_key_certified_for_the_address);
	tcase_add_test(sel_tc, select_breaks_a_version_tie_by_the_higher_row);
	tcase_add_test(sel_tc, select_on_no_rows_or_only_foreign_rows_is_minus_1);
	tcase_add_test(sel_tc, select_checked_counts_keys_for_the_address_that_fail);
	suite_add_tcase(s, sel_tc);
	return s;
}
