/*
 * clientsecret - our servers' client secrets. See clientsecret.h.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/clientsecret.h"

int clientsecret_new(char secret[CLIENTSECRET_LEN + 1],
                     unsigned char salt[CLIENTSECRET_SALT],
                     unsigned char hash[CLIENTSECRET_HASH])
{
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33];
	secret[0] = '\0';
	if (RAND_priv_bytes(raw, sizeof raw) != 1 ||
	    RAND_bytes(salt, CLIENTSECRET_SALT) != 1) {
		OPENSSL_cleanse(raw, sizeof raw);
		errno = EIO;
		return -1;
	}
	/* 43 characters of 6 bits: 258 bits drawn, 256 and more used */
	for (int i = 0; i < CLIENTSECRET_LEN; i++) {
		int bit = i * 6;
		unsigned v = (unsigned)raw[bit / 8] << 8 | raw[bit / 8 + 1];
		secret[i] = b64url[(v >> (10 - bit % 8)) & 63];
	}
	secret[CLIENTSECRET_LEN] = '\0';
	OPENSSL_cleanse(raw, sizeof raw);
	clientsecret_hash(salt, secret, CLIENTSECRET_LEN, hash);
	return 0;
}

void clientsecret_hash(const unsigned char salt[CLIENTSECRET_SALT],
                       const char *secret, size_t len,
                       unsigned char hash[CLIENTSECRET_HASH])
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned n = 0;
	if (!h || !EVP_DigestInit_ex(h, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(h, salt, CLIENTSECRET_SALT) ||
	    !EVP_DigestUpdate(h, secret, len) ||
	    !EVP_DigestFinal_ex(h, hash, &n) || n != CLIENTSECRET_HASH)
		memset(hash, 0, CLIENTSECRET_HASH);
	EVP_MD_CTX_free(h);
}

int clientsecret_verify(const unsigned char *salt, const unsigned char *hash,
                        const char *secret, size_t len)
{
	static const unsigned char nosalt[CLIENTSECRET_SALT];
	static const unsigned char nohash[CLIENTSECRET_HASH];
	unsigned char h[CLIENTSECRET_HASH];
	int known = salt && hash;
	clientsecret_hash(known ? salt : nosalt, secret, len, h);
	int same = CRYPTO_memcmp(h, known ? hash : nohash, sizeof h) == 0;
	OPENSSL_cleanse(h, sizeof h);
	/* an all-zero hash is a failed computation, never a match */
	return known && same && CRYPTO_memcmp(hash, nohash, sizeof h) != 0;
}

int clientsecret_id(uint32_t *id)
{
	do {
		if (RAND_bytes((unsigned char *)id, sizeof *id) != 1) {
			errno = EIO;
			return -1;
		}
	} while (*id == 0);
	return 0;
}
