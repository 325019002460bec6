/* check_pdkcache - the login cache's table: an entry opens only with the
 * key it was put under, three wrong keys forget it, it expires, and its
 * name is the row and the wrapped PDK's digest. */
#include <check.h>
#include <string.h>

#include "pdkcache.h"
#include "testutil.h"

static const char PDK[] = "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n"
                          "-----END PRIVATE KEY-----\n";
static unsigned char digest[PDKCACHE_DIGEST_LEN], key[PDKCACHE_KEY_LEN];
static struct pdkcache c;
static struct sbuf out;

static void setup(void)
{
	ck_assert_int_eq(pdkcache_init(&c, 4, 100), 0);
	pdkcache_digest("wrapped PDK of row 7", digest);
	ck_assert_int_eq(pdkcache_login_key((const unsigned char *)"pepper", 6,
	                                    7, "right password", key), 0);
	sbuf_init_secret(&out, PDKCACHE_PDK_MAX);
}

static void teardown(void)
{
	pdkcache_fini(&c);
	sbuf_free(&out);
}

START_TEST(an_entry_opens_with_its_key_until_it_expires)
{
	ck_assert_int_eq(pdkcache_put(&c, 7, digest, key, PDK, sizeof PDK - 1,
	                              1000), 0);
	/* what the table holds is not the PDK */
	ck_assert_ptr_null(memmem(c.e, c.cap * sizeof *c.e, "PRIVATE KEY", 11));
	ck_assert_int_eq(pdkcache_get(&c, 7, digest, key, 1099, &out), 1);
	ck_assert_uint_eq(out.len, sizeof PDK - 1);
	ck_assert_int_eq(memcmp(out.s, PDK, out.len), 0);
	sbuf_reset(&out);
	ck_assert_int_eq(pdkcache_get(&c, 7, digest, key, 1100, &out), 0);
	ck_assert_uint_eq(out.len, 0);
}
END_TEST

START_TEST(the_name_is_the_row_and_the_wrapped_pdk)
{
	unsigned char other[PDKCACHE_DIGEST_LEN];
	pdkcache_digest("the PDK wrapped under a new password", other);
	ck_assert_int_eq(pdkcache_put(&c, 7, digest, key, PDK, sizeof PDK - 1,
	                              1000), 0);
	ck_assert_int_eq(pdkcache_get(&c, 7, other, key, 1001, &out), 0);
	ck_assert_int_eq(pdkcache_get(&c, 8, digest, key, 1001, &out), 0);
	ck_assert_int_eq(pdkcache_get(&c, 7, digest, key, 1001, &out), 1);
}
END_TEST

START_TEST(three_wrong_keys_forget_the_entry)
{
	unsigned char wrong[PDKCACHE_KEY_LEN];
	ck_assert_int_eq(pdkcache_login_key((const unsigned char *)"pepper", 6,
	                                    7, "wrong password", wrong), 0);
	ck_assert_int_ne(memcmp(wrong, key, sizeof key), 0);
	ck_assert_int_eq(pdkcache_put(&c, 7, digest, key, PDK, sizeof PDK - 1,
	                              1000), 0);
	for (int i = 0; i < PDKCACHE_TRIES - 1; i++)
		ck_assert_int_eq(pdkcache_get(&c, 7, digest, wrong, 1001, &out), 0);
	ck_assert_int_eq(pdkcache_get(&c, 7, digest, key, 1001, &out), 1);
	ck_assert_int_eq(pdkcache_get(&c, 7, digest, wrong, 1001, &out), 0);
	sbuf_reset(&out);
	ck_assert_int_eq(pdkcache_get(&c, 7, digest, key, 1001, &out), 0);
	ck_assert_uint_eq(out.len, 0);
}
END_TEST

START_TEST(the_key_needs_pepper_row_and_password)
{
	unsigned char k2[PDKCACHE_KEY_LEN];
	const unsigned char *p = (const unsigned char *)"pepper";
	ck_assert_int_eq(pdkcache_login_key(p, 6, 7, "right password", k2), 0);
	ck_assert_int_eq(memcmp(k2, key, sizeof key), 0);
	ck_assert_int_eq(pdkcache_login_key((const unsigned char *)"peppeR", 6,
	                                    7, "right password", k2), 0);
	ck_assert_int_ne(memcmp(k2, key, sizeof key), 0);
	ck_assert_int_eq(pdkcache_login_key(p, 6, 8, "right password", k2), 0);
	ck_assert_int_ne(memcmp(k2, key, sizeof key), 0);
	ck_assert_int_eq(pdkcache_login_key(p, 6, 7, "right passworD", k2), 0);
	ck_assert_int_ne(memcmp(k2, key, sizeof key), 0);
}
END_TEST

START_TEST(a_full_table_gives_up_the_entry_expiring_first)
{
	unsigned char d[PDKCACHE_DIGEST_LEN] = {0};
	for (uint64_t row = 1; row <= 5; row++) {
		d[0] = (unsigned char)row;
		ck_assert_int_eq(pdkcache_put(&c, row, d, key, PDK, sizeof PDK - 1,
		                              1000 + (time_t)row), 0);
	}
	d[0] = 1; /* the first in, the first to expire: gone */
	ck_assert_int_eq(pdkcache_get(&c, 1, d, key, 1010, &out), 0);
	for (uint64_t row = 2; row <= 5; row++) {
		d[0] = (unsigned char)row;
		ck_assert_int_eq(pdkcache_get(&c, row, d, key, 1010, &out), 1);
	}
	static char big[PDKCACHE_PDK_MAX + 1];
	ck_assert_int_eq(pdkcache_put(&c, 9, d, key, big, sizeof big, 1000), -1);
}
END_TEST

START_TEST(a_cache_with_no_time_keeps_nothing)
{
	struct pdkcache off;
	ck_assert_int_eq(pdkcache_init(&off, 4, 0), 0);
	ck_assert_int_eq(pdkcache_put(&off, 7, digest, key, PDK, sizeof PDK - 1,
	                              1000), -1);
	ck_assert_int_eq(pdkcache_get(&off, 7, digest, key, 1000, &out), 0);
	pdkcache_fini(&off);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("pdkcache");
	TCase *tc = tcase_create("pdkcache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, an_entry_opens_with_its_key_until_it_expires);
	tcase_add_test(tc, the_name_is_the_row_and_the_wrapped_pdk);
	tcase_add_test(tc, three_wrong_keys_forget_the_entry);
	tcase_add_test(tc, the_key_needs_pepper_row_and_password);
	tcase_add_test(tc, a_full_table_gives_up_the_entry_expiring_first);
	tcase_add_test(tc, a_cache_with_no_time_keeps_nothing);
	suite_add_tcase(s, tc);
	return s;
}
