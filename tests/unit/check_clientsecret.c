/*
 * check_clientsecret - the one implementation of our servers' client
 * secrets: a new secret verifies and nothing else does, an unknown client
 * costs the same and never verifies, and the records the two stored
 * formats hold still verify: a row of pksd's client table as pks-ctl
 * wrote it with libgcrypt before this module, and a control/edhclients
 * line as edh-ctl wrote it.
 */
#include <stdlib.h>
#include <string.h>

#include "clientauth.h"
#include "clientfile.h"
#include "crypto/clientsecret.h"
#include "testutil.h"

/* A client of pksd, made by pks-ctl client add (pks/clientauth.c with
 * libgcrypt); salt and secret_hash are the table's BINARY columns. */
static const char pks_secret[] = "QEDGdFKsM_R1EW77UipF_u6uoQ_gr1kgJI3SgM-rEVX";
static const unsigned char pks_salt[16] = {
	0xab, 0x49, 0xe9, 0x29, 0xbe, 0x68, 0x19, 0xe4,
	0x61, 0x10, 0x86, 0xba, 0xb2, 0xce, 0x32, 0x2d };
static const unsigned char pks_hash[32] = {
	0xd8, 0x21, 0x21, 0x57, 0x84, 0xaa, 0x0d, 0xb3,
	0x62, 0x8b, 0xf5, 0x82, 0x0a, 0x4d, 0x42, 0x6a,
	0x42, 0x47, 0xa5, 0x29, 0x26, 0x00, 0xb9, 0xc6,
	0x41, 0x00, 0x53, 0x00, 0x88, 0x5b, 0x20, 0x79 };

/* A client of edhd, made by edh-ctl add (edh/clientfile.c with OpenSSL),
 * and the credential it printed. */
static const char edh_file[] =
	"# ID ROLE SALT HASH NOTE, written by edh-ctl\n"
	"3950463298 deliver 9e9ca6cf76e3a7552aa62c5cabc22538 "
	"44d5c2c843eaec1752e361e8e791ad7e527dc78a2f85ef3c1e77786f559e35c1 "
	"ah1 vector\n";
static const char edh_secret[] = "5yN9EEGGLyNTmAfGxV2euWuME-u1W703sLPN1Hd653r";

START_TEST(a_new_secret_verifies_and_nothing_else_does)
{
	char secret[CLIENTSECRET_LEN + 1], other[CLIENTSECRET_LEN + 2];
	unsigned char salt[CLIENTSECRET_SALT], hash[CLIENTSECRET_HASH];
	ck_assert_int_eq(clientsecret_new(secret, salt, hash), 0);
	ck_assert_uint_eq(strlen(secret), CLIENTSECRET_LEN);
	ck_assert_uint_eq(strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
	                         "nopqrstuvwxyz0123456789-_"), CLIENTSECRET_LEN);
	ck_assert_int_eq(clientsecret_verify(salt, hash, secret,
	                                     CLIENTSECRET_LEN), 1);
	/* truncated, longer, empty, one character changed */
	ck_assert_int_eq(clientsecret_verify(salt, hash, secret,
	                                     CLIENTSECRET_LEN - 1), 0);
	memcpy(other, secret, CLIENTSECRET_LEN);
	other[CLIENTSECRET_LEN] = 'A';
	other[CLIENTSECRET_LEN + 1] = '\0';
	ck_assert_int_eq(clientsecret_verify(salt, hash, other,
	                                     CLIENTSECRET_LEN + 1), 0);
	ck_assert_int_eq(clientsecret_verify(salt, hash, "", 0), 0);
	other[CLIENTSECRET_LEN] = '\0';
	other[0] = other[0] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(clientsecret_verify(salt, hash, other,
	                                     CLIENTSECRET_LEN), 0);
	/* another salt, the same secret */
	salt[0] ^= 1;
	ck_assert_int_eq(clientsecret_verify(salt, hash, secret,
	                                     CLIENTSECRET_LEN), 0);
}
END_TEST

START_TEST(an_unknown_client_never_verifies)
{
	unsigned char zero_salt[CLIENTSECRET_SALT] = { 0 };
	unsigned char zero_hash[CLIENTSECRET_HASH] = { 0 };
	ck_assert_int_eq(clientsecret_verify(NULL, NULL, pks_secret,
	                                     strlen(pks_secret)), 0);
	ck_assert_int_eq(clientsecret_verify(NULL, NULL, "", 0), 0);
	/* an all-zero hash is what a failed computation leaves: no match */
	ck_assert_int_eq(clientsecret_verify(zero_salt, zero_hash, "", 0), 0);
}
END_TEST

START_TEST(secrets_salts_and_ids_differ)
{
	char a[CLIENTSECRET_LEN + 1], b[CLIENTSECRET_LEN + 1];
	unsigned char sa[CLIENTSECRET_SALT], sb[CLIENTSECRET_SALT];
	unsigned char ha[CLIENTSECRET_HASH], hb[CLIENTSECRET_HASH];
	uint32_t ia, ib;
	ck_assert_int_eq(clientsecret_new(a, sa, ha), 0);
	ck_assert_int_eq(clientsecret_new(b, sb, hb), 0);
	ck_assert_str_ne(a, b);
	ck_assert_int_ne(memcmp(sa, sb, sizeof sa), 0);
	ck_assert_int_eq(clientsecret_verify(sa, ha, b, strlen(b)), 0);
	ck_assert_int_eq(clientsecret_id(&ia), 0);
	ck_assert_int_eq(clientsecret_id(&ib), 0);
	ck_assert_uint_ne(ia, 0);
	ck_assert_uint_ne(ia, ib);
}
END_TEST

START_TEST(the_hash_is_sha256_of_salt_and_secret)
{
	unsigned char h[CLIENTSECRET_HASH];
	clientsecret_hash(pks_salt, pks_secret, strlen(pks_secret), h);
	ck_assert_int_eq(memcmp(h, pks_hash, sizeof h), 0);
}
END_TEST

START_TEST(a_pks_client_row_still_verifies)
{
	struct client_rec row;
	memset(&row, 0, sizeof row);
	row.id = 2023970983u;
	row.role = ROLE_DELIVER;
	memcpy(row.salt, pks_salt, sizeof row.salt);
	memcpy(row.hash, pks_hash, sizeof row.hash);
	ck_assert_int_eq(clientsecret_verify(row.salt, row.hash, pks_secret,
	                                     strlen(pks_secret)), 1);
	ck_assert_int_eq(client_verify(&row, pks_secret, strlen(pks_secret)), 1);
	ck_assert_int_eq(client_verify(&row, pks_secret,
	                               strlen(pks_secret) - 1), 0);
	ck_assert_int_eq(client_verify(&row, edh_secret, strlen(edh_secret)), 0);
}
END_TEST

START_TEST(an_edhclients_line_still_verifies)
{
	struct edh_clients list;
	size_t bad;
	ck_assert_int_eq(edh_clients_parse(edh_file, strlen(edh_file), &list,
	                                   &bad), 0);
	const struct edh_client *c = edh_clients_find(&list, 3950463298u);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->role, EDH_ROLE_DELIVER);
	ck_assert_int_eq(edh_client_verify(c, edh_secret, strlen(edh_secret)), 1);
	ck_assert_int_eq(clientsecret_verify(c->salt, c->hash, edh_secret,
	                                     strlen(edh_secret)), 1);
	ck_assert_int_eq(edh_client_verify(c, edh_secret, 12), 0);
	ck_assert_int_eq(edh_client_verify(c, pks_secret, strlen(pks_secret)),
	                 0);
	ck_assert_int_eq(edh_client_verify(NULL, edh_secret,
	                                   strlen(edh_secret)), 0);
	edh_clients_free(&list);
}
END_TEST

START_TEST(both_formats_hold_the_same_hash)
{
	/* a record made now, written in edhd's format, read back and
	 * checked as pksd checks a row */
	struct edh_client c;
	struct edh_clients list;
	struct client_rec row;
	struct sbuf text;
	char secret[CLIENTSECRET_LEN + 1];
	size_t bad;
	ck_assert_int_eq(edh_client_new(&c, EDH_ROLE_RETRIEVE, "", NULL,
	                                secret), 0);
	sbuf_init(&text, 4096);
	ck_assert_int_eq(edh_client_format(&c, &text), 0);
	ck_assert_int_eq(edh_clients_parse(text.s, text.len, &list, &bad), 0);
	memset(&row, 0, sizeof row);
	memcpy(row.salt, list.v[0].salt, sizeof row.salt);
	memcpy(row.hash, list.v[0].hash, sizeof row.hash);
	ck_assert_int_eq(client_verify(&row, secret, strlen(secret)), 1);
	edh_clients_free(&list);
	sbuf_free(&text);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("clientsecret");
	TCase *tc = tcase_create("clientsecret");
	tcase_add_test(tc, a_new_secret_verifies_and_nothing_else_does);
	tcase_add_test(tc, an_unknown_client_never_verifies);
	tcase_add_test(tc, secrets_salts_and_ids_differ);
	tcase_add_test(tc, the_hash_is_sha256_of_salt_and_secret);
	tcase_add_test(tc, a_pks_client_row_still_verifies);
	tcase_add_test(tc, an_edhclients_line_still_verifies);
	tcase_add_test(tc, both_formats_hold_the_same_hash);
	suite_add_tcase(s, tc);
	return s;
}
