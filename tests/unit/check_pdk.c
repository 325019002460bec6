/* check_pdk - the PDK wrapped with a password (PKCS#8, PBES2, scrypt). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "crypto/pdk.h"
#include "crypto/pki.h"
#include "testutil.h"

static EVP_PKEY *key;
static struct sbuf wrapped;
static const char pw[] = "correct horse battery staple";

/* Wrapping costs a scrypt run: do it once for the test case. */
static void setup(void)
{
	key = pki_keygen();
	sbuf_init(&wrapped, PDK_PEM_MAX);
	if (pdk_wrap(key, pw, strlen(pw), &wrapped) != 0)
		abort();
}

static void teardown(void)
{
	EVP_PKEY_free(key);
	sbuf_free(&wrapped);
}

START_TEST(right_password_unwraps_the_same_key)
{
	ck_assert_ptr_nonnull(strstr(wrapped.s,
	                             "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	EVP_PKEY *back = pdk_unwrap(wrapped.s, wrapped.len, pw, strlen(pw));
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(EVP_PKEY_eq(back, key), 1);
	EVP_PKEY_free(back);
}
END_TEST

START_TEST(unwrapped_key_lives_in_the_secure_heap)
{
	EVP_PKEY *back = pdk_unwrap(wrapped.s, wrapped.len, pw, strlen(pw));
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(CRYPTO_secure_malloc_initialized(), 1);
	ck_assert_uint_gt(CRYPTO_secure_used(), 0);
	EVP_PKEY_free(back);
}
END_TEST

START_TEST(wrong_password_unwraps_nothing)
{
	ck_assert_ptr_null(pdk_unwrap(wrapped.s, wrapped.len, "correct horse",
	                              13));
	ck_assert_ptr_null(pdk_unwrap(wrapped.s, wrapped.len, "", 0));
}
END_TEST

START_TEST(format_is_pbes2_scrypt_aes256_with_a_16_byte_salt)
{
	BIO *b = BIO_new_mem_buf(wrapped.s, (int)wrapped.len);
	X509_SIG *enc = PEM_read_bio_PKCS8(b, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(enc);
	const X509_ALGOR *alg;
	const ASN1_OCTET_STRING *digest;
	X509_SIG_get0(enc, &alg, &digest);
	ck_assert_int_eq(OBJ_obj2nid(alg->algorithm), NID_pbes2);
	PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
	                                            alg->parameter);
	ck_assert_int_eq(OBJ_obj2nid(pbe2->keyfunc->algorithm), NID_id_scrypt);
	ck_assert_int_eq(OBJ_obj2nid(pbe2->encryption->algorithm),
	                 NID_aes_256_cbc);
	SCRYPT_PARAMS *sp = ASN1_TYPE_unpack_sequence(
		ASN1_ITEM_rptr(SCRYPT_PARAMS), pbe2->keyfunc->parameter);
	uint64_t n, r, p;
	ASN1_INTEGER_get_uint64(&n, sp->costParameter);
	ASN1_INTEGER_get_uint64(&r, sp->blockSize);
	ASN1_INTEGER_get_uint64(&p, sp->parallelizationParameter);
	ck_assert_uint_eq(n, 16384);
	ck_assert_uint_eq(r, 8);
	ck_assert_uint_eq(p, 5);
	ck_assert_int_eq(ASN1_STRING_length(sp->salt), 16);
	SCRYPT_PARAMS_free(sp);
	PBE2PARAM_free(pbe2);
	X509_SIG_free(enc);
	BIO_free(b);
}
END_TEST

START_TEST(two_wraps_of_one_key_differ)
{
	struct sbuf again;
	sbuf_init(&again, PDK_PEM_MAX);
	ck_assert_int_eq(pdk_wrap(key, pw, strlen(pw), &again), 0);
	ck_assert_str_ne(again.s, wrapped.s); /* fresh salt and IV */
	sbuf_free(&again);
}
END_TEST

/* pw-wrapped PEM of key with PBKDF2 (n_log2 0) or with scrypt N=2^n_log2,
 * r=8 and p. */
static void wrap_other(int scrypt_n_log2, uint64_t p, struct sbuf *out)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	X509_SIG *enc;
	if (scrypt_n_log2) {
		X509_ALGOR *alg = PKCS5_pbe2_set_scrypt(
			EVP_aes_256_cbc(), NULL, 0, NULL,
			(uint64_t)1 << scrypt_n_log2, 8, p);
		enc = PKCS8_set0_pbe(pw, (int)strlen(pw), p8, alg);
	} else {
		enc = PKCS8_encrypt(-1, EVP_aes_256_cbc(), pw, (int)strlen(pw),
		                    NULL, 0, 2048, p8);
	}
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_PKCS8(b, enc);
	char *data;
	long n = BIO_get_mem_data(b, &data);
	sbuf_copy(out, data, (size_t)n);
	BIO_free(b);
	X509_SIG_free(enc);
	PKCS8_PRIV_KEY_INFO_free(p8);
}

START_TEST(kdf_other_than_bounded_scrypt_is_refused)
{
	struct sbuf other;
	sbuf_init(&other, PDK_PEM_MAX);
	wrap_other(0, 0, &other); /* PBKDF2: a store must not pick the KDF */
	ck_assert_uint_gt(other.len, 0);
	ck_assert_ptr_null(pdk_unwrap(other.s, other.len, pw, strlen(pw)));
	/* p = 21: over 4 times our cost; a store must not make logins spin */
	wrap_other(14, 21, &other);
	ck_assert_uint_gt(other.len, 0);
	ck_assert_ptr_null(pdk_unwrap(other.s, other.len, pw, strlen(pw)));
	wrap_other(10, 1, &other); /* cheaper than ours is still a valid key */
	EVP_PKEY *back = pdk_unwrap(other.s, other.len, pw, strlen(pw));
	ck_assert_ptr_nonnull(back);
	EVP_PKEY_free(back);
	sbuf_free(&other);
}
END_TEST

START_TEST(garbage_and_oversized_input_unwrap_nothing)
{
	static char big[PDK_PEM_MAX + 1];
	ck_assert_ptr_null(pdk_unwrap("garbage", 7, pw, strlen(pw)));
	ck_assert_ptr_null(pdk_unwrap(wrapped.s, wrapped.len - 40, pw,
	                              strlen(pw)));
	memset(big, 'A', sizeof big);
	ck_assert_ptr_null(pdk_unwrap(big, sizeof big, pw, strlen(pw)));
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("pdk");
	TCase *tc = tcase_create("pdk");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, right_password_unwraps_the_same_key);
	tcase_add_test(tc, wrong_password_unwraps_nothing);
	tcase_add_test(tc, format_is_pbes2_scrypt_aes256_with_a_16_byte_salt);
	tcase_add_test(tc, two_wraps_of_one_key_differ);
	tcase_add_test(tc, kdf_other_than_bounded_scrypt_is_refused);
	tcase_add_test(tc, garbage_and_oversized_input_unwrap_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("secureheap");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unwrapped_key_lives_in_the_secure_heap);
	suite_add_tcase(s, tc);
	return s;
}
