/* check_pki - key pairs, the instance CA and PEK certificates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crypto/pki.h"
#include "testutil.h"

static EVP_PKEY *ca_key, *user_key;
static X509 *ca;

static void setup(void)
{
	ca_key = pki_keygen();
	user_key = pki_keygen();
	ca = pki_ca_create(ca_key, "secure-qmail test CA", PKI_CA_DAYS);
	ck_assert_ptr_nonnull(ca);
}

static void teardown(void)
{
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(user_key);
}

START_TEST(issued_pek_verifies_for_its_address)
{
	char why[128] = "";
	X509 *pek = pki_issue_pek(ca_key, ca, user_key, "john.smith@example.org",
	                          PKI_PEK_DAYS);
	ck_assert_ptr_nonnull(pek);
	ck_assert_int_eq(pki_verify_pek(pek, ca, "john.smith@example.org", why,
	                                sizeof why), 1);
	ck_assert_int_eq(X509_check_email(pek, "john.smith@example.org", 0, 0),
	                 1);
	ck_assert_int_eq(X509_check_ca(ca), 1);
	ck_assert_int_eq(X509_check_ca(pek), 0);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(pek), user_key), 1);
	X509_free(pek);
}
END_TEST

START_TEST(pek_for_another_address_is_refused)
{
	char why[128] = "";
	X509 *pek = pki_issue_pek(ca_key, ca, user_key, "john.smith@example.org",
	                          PKI_PEK_DAYS);
	ck_assert_int_eq(pki_verify_pek(pek, ca, "johnsmith@example.org", why,
	                                sizeof why), 0);
	ck_assert_str_eq(why, "subject does not name the address");
	X509_free(pek);
}
END_TEST

/* A certificate whose subjectAltName names the address but whose subject
 * names another one (re-signed by the CA: a mistaken or forged issue) is
 * refused: both must name it. */
START_TEST(pek_whose_subject_names_another_address_is_refused)
{
	char why[128] = "";
	X509 *pek = pki_issue_pek(ca_key, ca, user_key, "john.smith@example.org",
	                          PKI_PEK_DAYS);
	X509_NAME *name = X509_get_subject_name(pek);
	int at = X509_NAME_get_index_by_NID(name, NID_pkcs9_emailAddress, -1);
	ck_assert_int_ge(at, 0);
	X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, at));
	ck_assert_int_eq(X509_NAME_add_entry_by_NID(name, NID_pkcs9_emailAddress,
	        MBSTRING_ASC, (const unsigned char *)"mallory@example.org", -1,
	        -1, 0), 1);
	ck_assert_int_gt(X509_sign(pek, ca_key, EVP_sha256()), 0);
	ck_assert_int_eq(X509_check_email(pek, "john.smith@example.org", 0, 0),
	                 1);
	ck_assert_int_eq(pki_verify_pek(pek, ca, "john.smith@example.org", why,
	                                sizeof why), 0);
	ck_assert_str_eq(why, "subject does not name the address");
	X509_free(pek);
}
END_TEST

START_TEST(pek_from_another_ca_is_refused)
{
	char why[128] = "";
	EVP_PKEY *rogue_key = pki_keygen();
	X509 *rogue = pki_ca_create(rogue_key, "secure-qmail test CA", 30);
	X509 *pek = pki_issue_pek(rogue_key, rogue, user_key, "a@example.org",
	                          30);
	ck_assert_int_eq(pki_verify_pek(pek, ca, "a@example.org", why,
	                                sizeof why), 0);
	ck_assert_ptr_nonnull(strstr(why, "issuer"));
	X509_free(pek);
	X509_free(rogue);
	EVP_PKEY_free(rogue_key);
}
END_TEST

START_TEST(expired_pek_is_refused)
{
	char why[128] = "";
	X509 *pek = pki_issue_pek(ca_key, ca, user_key, "a@example.org", -1);
	ck_assert_int_eq(pki_verify_pek(pek, ca, "a@example.org", why,
	                                sizeof why), 0);
	ck_assert_str_eq(why, "certificate has expired");
	X509_free(pek);
}
END_TEST

START_TEST(pek_that_is_not_p256_is_refused)
{
	char why[128] = "";
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	X509 *pek = pki_issue_pek(ca_key, ca, p384, "a@example.org", 30);
	ck_assert_int_eq(pki_verify_pek(pek, ca, "a@example.org", why,
	                                sizeof why), 0);
	ck_assert_str_eq(why, "not an EC P-256 key");
	X509_free(pek);
	EVP_PKEY_free(p384);
}
END_TEST

/* A CA-signed certificate for a@example.org with the given key usage. */
static X509 *issue_with_usage(const char *usage)
{
	X509 *pek = pki_issue_pek(ca_key, ca, user_key, "a@example.org", 30);
	int at = X509_get_ext_by_NID(pek, NID_key_usage, -1);
	X509_EXTENSION_free(X509_delete_ext(pek, at));
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
	                                          usage);
	X509_add_ext(pek, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(pek, ca_key, EVP_sha256());
	return pek;
}

START_TEST(pek_without_key_agreement_is_refused)
{
	char why[128] = "";
	X509 *pek = issue_with_usage("critical,digitalSignature");
	ck_assert_int_eq(pki_verify_pek(pek, ca, "a@example.org", why,
	                                sizeof why), 0);
	ck_assert_str_eq(why, "key usage lacks keyAgreement");
	X509_free(pek);
	pek = issue_with_usage("critical,keyAgreement");
	ck_assert_int_eq(pki_verify_pek(pek, ca, "a@example.org", NULL, 0), 1);
	X509_free(pek);
}
END_TEST

START_TEST(tampered_pek_signature_is_refused)
{
	X509 *pek = pki_issue_pek(ca_key, ca, user_key, "a@example.org", 30);
	/* swap the key: same names and extensions, signature now wrong */
	EVP_PKEY *other = pki_keygen();
	X509_set_pubkey(pek, other);
	ck_assert_int_eq(pki_verify_pek(pek, ca, "a@example.org", NULL, 0), 0);
	EVP_PKEY_free(other);
	X509_free(pek);
}
END_TEST

START_TEST(pem_round_trips_and_garbage_is_refused)
{
	struct sbuf pem;
	sbuf_init(&pem, 65536);
	X509 *pek = pki_issue_pek(ca_key, ca, user_key, "a@example.org", 30);
	ck_assert_int_eq(pki_cert_to_pem(pek, &pem), 0);
	ck_assert_ptr_nonnull(strstr(pem.s, "BEGIN CERTIFICATE"));
	X509 *back = pki_cert_from_pem(pem.s, pem.len);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(X509_cmp(pek, back), 0);
	ck_assert_ptr_null(pki_cert_from_pem("garbage", 7));
	ck_assert_ptr_null(pki_cert_from_pem(pem.s, pem.len / 2));
	char err[256];
	ck_assert_ptr_nonnull(pki_errstr(err, sizeof err));
	ck_assert_str_ne(err, "");
	X509_free(back);
	X509_free(pek);
	sbuf_free(&pem);
}
END_TEST

/* A certificate issued before the subject had an emailAddress: its CN
 * names the address, or it is refused. */
START_TEST(older_pek_named_by_its_cn_only)
{
	char why[128] = "";
	X509 *pek = pki_issue_pek(ca_key, ca, user_key, "john.smith@example.org",
	                          PKI_PEK_DAYS);
	X509_NAME *name = X509_get_subject_name(pek);
	int at = X509_NAME_get_index_by_NID(name, NID_pkcs9_emailAddress, -1);
	X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, at));
	ck_assert_int_gt(X509_sign(pek, ca_key, EVP_sha256()), 0);
	ck_assert_int_eq(pki_verify_pek(pek, ca, "john.smith@example.org", why,
	                                sizeof why), 1);
	at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, at));
	X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_ASC,
	        (const unsigned char *)"mallory@example.org", -1, -1, 0);
	ck_assert_int_gt(X509_sign(pek, ca_key, EVP_sha256()), 0);
	ck_assert_int_eq(pki_verify_pek(pek, ca, "john.smith@example.org", why,
	                                sizeof why), 0);
	ck_assert_str_eq(why, "subject does not name the address");
	X509_free(pek);
}
END_TEST

/* Files are read with a bound: a valid certificate followed by more than
 * a mebibyte of anything is refused, not read on and on. */
START_TEST(oversized_certificate_file_is_refused)
{
	char *dir = make_tmpdir(), path[4096];
	struct sbuf pem;
	sbuf_init(&pem, 4 << 20);
	ck_assert_int_eq(pki_cert_to_pem(ca, &pem), 0);
	write_file(dir, "ca.pem", pem.s, pem.len);
	snprintf(path, sizeof path, "%s/ca.pem", dir);
	X509 *c = pki_cert_load(path);
	ck_assert_ptr_nonnull(c);
	X509_free(c);
	while (pem.len <= 1024 * 1024)
		ck_assert_int_eq(sbuf_puts(&pem, "# padding line of a file far too long\n"), 0);
	write_file(dir, "ca.pem", pem.s, pem.len);
	ck_assert_ptr_null(pki_cert_load(path));
	ERR_clear_error();
	rm_rf(dir);
	free(dir);
	sbuf_free(&pem);
}
END_TEST

START_TEST(key_files_load_and_encrypted_ones_never_prompt)
{
	char *dir = make_tmpdir(), path[4096];
	struct sbuf pem;
	sbuf_init_secret(&pem, 65536);
	ck_assert_int_eq(pki_key_to_pem(ca_key, &pem), 0);
	write_file(dir, "ca.key", pem.s, pem.len);
	snprintf(path, sizeof path, "%s/ca.key", dir);
	EVP_PKEY *k = pki_key_load(path);
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(EVP_PKEY_eq(k, ca_key), 1);
	EVP_PKEY_free(k);

	FILE *f = fopen(path, "w");
	PEM_write_PrivateKey(f, ca_key, EVP_aes_256_cbc(),
	                     (unsigned char *)"pw", 2, NULL, NULL);
	fclose(f);
	ck_assert_ptr_null(pki_key_load(path));
	ERR_clear_error();
	rm_rf(dir);
	free(dir);
	sbuf_free(&pem);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("pki");
	TCase *tc = tcase_create("pki");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, issued_pek_verifies_for_its_address);
	tcase_add_test(tc, pek_for_another_address_is_refused);
	tcase_add_test(tc, pek_whose_subject_names_another_address_is_refused);
	tcase_add_test(tc, pek_from_another_ca_is_refused);
	tcase_add_test(tc, expired_pek_is_refused);
	tcase_add_test(tc, pek_that_is_not_p256_is_refused);
	tcase_add_test(tc, pek_without_key_agreement_is_refused);
	tcase_add_test(tc, tampered_pek_signature_is_refused);
	tcase_add_test(tc, pem_round_trips_and_garbage_is_refused);
	tcase_add_test(tc, key_files_load_and_encrypted_ones_never_prompt);
	tcase_add_test(tc, oversized_certificate_file_is_refused);
	tcase_add_test(tc, older_pek_named_by_its_cn_only);
	suite_add_tcase(s, tc);
	return s;
}
