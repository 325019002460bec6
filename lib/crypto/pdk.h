/*
 * pdk - the Private Decryption Key at rest: PKCS#8 EncryptedPrivateKeyInfo
 * (RFC 5958) in PEM, PBES2 (RFC 8018) with scrypt (RFC 7914) as the key
 * derivation and AES-256-CBC as the cipher. See sq-pdk(5) for the format
 * and why these parameters.
 */
#ifndef SQ_PDK_H
#define SQ_PDK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/sbuf.h"

/* scrypt cost: N = 2^14, r = 8, p = 5. About 16 MiB, inside the 32 MiB
 * OpenSSL's PKCS#8 decoder allows, and OWASP's equal of N = 2^17, p = 1. */
#define PDK_SCRYPT_N ((uint64_t)1 << 14)
#define PDK_SCRYPT_R 8
#define PDK_SCRYPT_P 5
/* The most N * r * p an unwrap will compute: 4 times our own cost. */
#define PDK_SCRYPT_COST_MAX (PDK_SCRYPT_N * PDK_SCRYPT_R * PDK_SCRYPT_P * 4)
#define PDK_SALT_LEN 16         /* OpenSSL's default is only 8 */
#define PDK_PEM_MAX 8192        /* a wrapped P-256 key is about 600 bytes */

/* OpenSSL's secure heap (CRYPTO_secure_malloc_init), for the private
 * scalars of the keys decoded after it: mlock'ed within RLIMIT_MEMLOCK and
 * MADV_DONTDUMP. 64 KiB holds POPKEYS_MAX P-256 keys many times over. */
#define PDK_SECURE_HEAP (64 * 1024)

/* Sets up the secure heap once per process; pdk_unwrap and sq-pop3d's
 * popkeys_parse call it before they decode a key. 0, or -1 (logged once)
 * when OpenSSL could not set it up: keys then live on the ordinary heap.
 * An arena that could not be locked is still used, with one warning. */
int pdk_secure_heap(void);

/* Wraps key with the password into PEM in out; 0 or -1. */
int pdk_wrap(EVP_PKEY *key, const char *password, size_t pwlen,
             struct sbuf *out);

/* Unwraps a PEM EncryptedPrivateKeyInfo; the key, or NULL when the
 * password is wrong or the input is not a wrapped key. Untrusted input:
 * at most PDK_PEM_MAX bytes are looked at. */
EVP_PKEY *pdk_unwrap(const char *pem, size_t len, const char *password,
                     size_t pwlen);

#endif
