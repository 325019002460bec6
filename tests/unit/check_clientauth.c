/* check_clientauth - API client secrets: random, salted, hashed. */
#include <stdlib.h>
#include <string.h>

#include "clientauth.h"
#include "pkskey.h"
#include "testutil.h"

static void setup(void)
{
	if (pks_crypto_init() < 0)
		abort();
}

START_TEST(new_client_verifies_only_its_own_secret)
{
	struct client_rec c;
	char secret[CLIENT_SECRET_LEN + 1];
	ck_assert_int_eq(client_new(&c, ROLE_LOGIN, "pop3 on ah1", secret), 0);
	ck_assert_uint_ne(c.id, 0);
	ck_assert_int_eq(c.role, ROLE_LOGIN);
	ck_assert_str_eq(c.note, "pop3 on ah1");
	ck_assert_uint_eq(strlen(secret), CLIENT_SECRET_LEN);
	ck_assert_uint_eq(strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
	                         "nopqrstuvwxyz0123456789-_"), CLIENT_SECRET_LEN);
	ck_assert_int_eq(client_verify(&c, secret, strlen(secret)), 1);
	secret[5] ^= 1;
	ck_assert_int_eq(client_verify(&c, secret, strlen(secret)), 0);
	secret[5] ^= 1;
	ck_assert_int_eq(client_verify(&c, secret, strlen(secret) - 1), 0);
	ck_assert_int_eq(client_verify(&c, "", 0), 0);
	/* only the salted hash is kept: the secret is nowhere in the record */
	ck_assert_ptr_null(memmem(&c, sizeof c, secret, 8));
}
END_TEST

START_TEST(two_clients_differ_in_id_secret_and_salt)
{
	struct client_rec a, b;
	char sa[CLIENT_SECRET_LEN + 1], sb[CLIENT_SECRET_LEN + 1];
	client_new(&a, ROLE_DELIVER, "", sa);
	client_new(&b, ROLE_DELIVER, "", sb);
	ck_assert_uint_ne(a.id, b.id);
	ck_assert_str_ne(sa, sb);
	ck_assert_int_ne(memcmp(a.salt, b.salt, sizeof a.salt), 0);
	ck_assert_int_eq(client_verify(&a, sb, strlen(sb)), 0);
}
END_TEST

START_TEST(roles_have_names)
{
	ck_assert_int_eq(role_parse("deliver"), ROLE_DELIVER);
	ck_assert_int_eq(role_parse("provision"), ROLE_PROVISION);
	ck_assert_int_eq(role_parse("admin"), 0);
	ck_assert_str_eq(role_name(ROLE_LOGIN), "login");
	ck_assert_str_eq(role_name(42), "unknown");
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("clientauth");
	TCase *tc = tcase_create("clientauth");
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_add_test(tc, new_client_verifies_only_its_own_secret);
	tcase_add_test(tc, two_clients_differ_in_id_secret_and_salt);
	tcase_add_test(tc, roles_have_names);
	suite_add_tcase(s, tc);
	return s;
}
