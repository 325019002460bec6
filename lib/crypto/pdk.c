/*
 * pdk - wrap and unwrap the PDK with a password. See pdk.h, sq-pdk(5).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "crypto/pdk.h"
#include "util/log.h"

int pdk_secure_heap(void)
{
	static int warned;
	if (CRYPTO_secure_malloc_initialized())
		return 0;
	int r = CRYPTO_secure_malloc_init(PDK_SECURE_HEAP, 16);
	if (r == 1)
		return 0;
	if (!warned) {
		warned = 1;
		log_msg(SQLOG_WARN, r == 2
		        ? "cannot lock OpenSSL's secure heap (RLIMIT_MEMLOCK): "
		          "private keys may reach swap"
		        : "cannot set up OpenSSL's secure heap: private keys "
		          "may reach swap or a core");
	}
	return r == 2 ? 0 : -1;
}

int pdk_wrap(EVP_PKEY *key, const char *password, size_t pwlen,
             struct sbuf *out)
{
	if (pwlen > INT_MAX)
		return -1;
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char salt[PDK_SALT_LEN];
	if (RAND_bytes(salt, sizeof salt) != 1)
		return -1;
	/* The IV is made at random when none is given. */
	X509_ALGOR *alg = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), salt,
	                                        sizeof salt, NULL, PDK_SCRYPT_N,
	                                        PDK_SCRYPT_R, PDK_SCRYPT_P);
	X509_SIG *enc = NULL;
	if (p8 && alg)
		enc = PKCS8_set0_pbe(password, (int)pwlen, p8, alg);
	if (enc)
		alg = NULL; /* now owned by enc */
	BIO *b = BIO_new(BIO_s_mem());
	int ok = enc && b && PEM_write_bio_PKCS8(b, enc);
	if (ok) {
		char *data;
		long n = BIO_get_mem_data(b, &data);
		ok = n > 0 && sbuf_copy(out, data, (size_t)n) == 0;
	}
	BIO_free(b);
	X509_SIG_free(enc);
	X509_ALGOR_free(alg);
	PKCS8_PRIV_KEY_INFO_free(p8); /* clears the key octets */
	return ok ? 0 : -1;
}

/* 1 if enc uses PBES2 with scrypt at no more than PDK_SCRYPT_COST_MAX:
 * the store is not trusted to choose how long a login computes. */
static int kdf_acceptable(const X509_SIG *enc)
{
	const X509_ALGOR *alg;
	const ASN1_OCTET_STRING *digest;
	X509_SIG_get0(enc, &alg, &digest);
	if (OBJ_obj2nid(alg->algorithm) != NID_pbes2)
		return 0;
	PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
	                                            alg->parameter);
	SCRYPT_PARAMS *sp = NULL;
	if (pbe2 && OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_scrypt)
		sp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS),
		                               pbe2->keyfunc->parameter);
	uint64_t n = 0, r = 0, p = 0;
	int ok = sp && ASN1_INTEGER_get_uint64(&n, sp->costParameter) &&
	         ASN1_INTEGER_get_uint64(&r, sp->blockSize) &&
	         ASN1_INTEGER_get_uint64(&p, sp->parallelizationParameter) &&
	         n > 1 && r > 0 && p > 0 && n <= PDK_SCRYPT_COST_MAX &&
	         r <= PDK_SCRYPT_COST_MAX / n && p <= PDK_SCRYPT_COST_MAX / (n * r);
	SCRYPT_PARAMS_free(sp);
	PBE2PARAM_free(pbe2);
	return ok;
}

EVP_PKEY *pdk_unwrap(const char *pem, size_t len, const char *password,
                     size_t pwlen)
{
	if (len > PDK_PEM_MAX || pwlen > INT_MAX)
		return NULL;
	pdk_secure_heap();
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509_SIG *enc = b ? PEM_read_bio_PKCS8(b, NULL, NULL, NULL) : NULL;
	PKCS8_PRIV_KEY_INFO *p8 = enc && kdf_acceptable(enc)
		? PKCS8_decrypt(enc, password, (int)pwlen) : NULL;
	EVP_PKEY *key = p8 ? EVP_PKCS82PKEY(p8) : NULL;
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(enc);
	BIO_free(b);
	ERR_clear_error(); /* a wrong password is an answer, not an error */
	return key;
}
