/*
 * rowseal - Dynamic Row Secrets and sealed rows. See rowseal.h, pksd(8).
 */
#include <string.h>

#include <gcrypt.h>

#include "rowseal.h"

#define DRS_FORMAT 1
static const char drs_info[] = "secure-qmail pks drs v1";
static const char row_label[] = "secure-qmail pks row v1";

/* The associated data of every seal of a row: label, hash, row, version. */
static size_t row_ad(const struct row_id *id, unsigned char ad[64])
{
	size_t n = sizeof row_label;
	memcpy(ad, row_label, n);
	for (int i = 3; i >= 0; i--)
		ad[n++] = (unsigned char)(id->hash >> (8 * i));
	for (int i = 7; i >= 0; i--)
		ad[n++] = (unsigned char)(id->row >> (8 * i));
	for (int i = 3; i >= 0; i--)
		ad[n++] = (unsigned char)(id->version >> (8 * i));
	return n;
}

/* AES-256-GCM in one call; decrypting checks the tag. 0 or -1. */
static int gcm(int encrypt, const unsigned char key[32],
               const unsigned char nonce[GCM_NONCE_LEN], const void *ad,
               size_t adlen, const void *in, size_t n, void *out,
               unsigned char tag[GCM_TAG_LEN])
{
	gcry_cipher_hd_t h;
	if (gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM,
	                     GCRY_CIPHER_SECURE))
		return -1;
	int bad = gcry_cipher_setkey(h, key, 32) ||
	          gcry_cipher_setiv(h, nonce, GCM_NONCE_LEN) ||
	          gcry_cipher_authenticate(h, ad, adlen);
	if (!bad && encrypt)
		bad = gcry_cipher_encrypt(h, out, n, in, n) ||
		      gcry_cipher_gettag(h, tag, GCM_TAG_LEN);
	else if (!bad)
		bad = gcry_cipher_decrypt(h, out, n, in, n) ||
		      gcry_cipher_checktag(h, tag, GCM_TAG_LEN);
	gcry_cipher_close(h);
	return bad ? -1 : 0;
}

static int hmac_sha256(const void *key, size_t keylen, const void *a,
                       size_t alen, const void *b, size_t blen,
                       unsigned char out[32])
{
	gcry_mac_hd_t h;
	size_t len = 32;
	if (gcry_mac_open(&h, GCRY_MAC_HMAC_SHA256, GCRY_MAC_FLAG_SECURE, NULL))
		return -1;
	int bad = gcry_mac_setkey(h, key, keylen) || gcry_mac_write(h, a, alen) ||
	          (blen && gcry_mac_write(h, b, blen)) ||
	          gcry_mac_read(h, out, &len);
	gcry_mac_close(h);
	return bad ? -1 : 0;
}

/* The key that wraps a DRS: HKDF-SHA256 (RFC 5869, one output block) of
 * the X25519 shared secret, salted with the ephemeral and static public
 * keys. libgcrypt 1.10 has HMAC but no HKDF call. */
static int wrap_key(const unsigned char shared[32],
                    const unsigned char eph_pub[32],
                    const unsigned char pks_pub[32], unsigned char kek[32])
{
	unsigned char salt[64], prk[32], info[sizeof drs_info + 1];
	memcpy(salt, eph_pub, 32);
	memcpy(salt + 32, pks_pub, 32);
	memcpy(info, drs_info, sizeof drs_info);
	info[sizeof drs_info] = 0x01;
	int r = hmac_sha256(salt, sizeof salt, shared, 32, NULL, 0, prk) ||
	        hmac_sha256(prk, sizeof prk, info, sizeof info, NULL, 0, kek);
	explicit_bzero(prk, sizeof prk);
	return r ? -1 : 0;
}

static int drs_seal(const struct pkskey *key, const unsigned char *drs,
                    const unsigned char *ad, size_t adlen,
                    unsigned char out[SEALED_DRS_LEN])
{
	unsigned char *eph = gcry_malloc_secure(32 + 32 + 32);
	if (!eph)
		return -1;
	unsigned char *shared = eph + 32, *kek = eph + 64;
	unsigned char *p = out;
	*p++ = DRS_FORMAT;
	for (int i = 3; i >= 0; i--)
		*p++ = (unsigned char)(key->id >> (8 * i));
	unsigned char *eph_pub = p, *nonce = p + 32, *ct = nonce + GCM_NONCE_LEN;
	gcry_randomize(eph, 32, GCRY_STRONG_RANDOM);
	gcry_create_nonce(nonce, GCM_NONCE_LEN);
	int r = x25519(eph_pub, eph, NULL) < 0 ||
	        x25519(shared, eph, key->pub) < 0 ||
	        wrap_key(shared, eph_pub, key->pub, kek) < 0 ||
	        gcm(1, kek, nonce, ad, adlen, drs, DRS_LEN, ct, ct + DRS_LEN);
	gcry_free(eph); /* wiped */
	return r ? -1 : 0;
}

int row_login_pepper(const struct pkskey *key, uint64_t row, const char *pdk,
                     size_t pdklen, unsigned char out[LOGIN_PEPPER_LEN])
{
	static const char label[] = "secure-qmail login cache pepper v1";
	unsigned char msg[sizeof label + 8];
	memcpy(msg, label, sizeof label);
	for (int i = 0; i < 8; i++)
		msg[sizeof label + (size_t)i] = (unsigned char)(row >> (56 - 8 * i));
	return hmac_sha256(key->priv, PKSKEY_LEN, msg, sizeof msg, pdk, pdklen,
	                   out);
}

uint32_t row_drs_key_id(const unsigned char *s, size_t len)
{
	if (len != SEALED_DRS_LEN || s[0] != DRS_FORMAT)
		return 0;
	return (uint32_t)s[1] << 24 | (uint32_t)s[2] << 16 |
	       (uint32_t)s[3] << 8 | s[4];
}

static int drs_open(const struct pkskey *key, const unsigned char *s,
                    size_t len, const unsigned char *ad, size_t adlen,
                    unsigned char *drs)
{
	if (row_drs_key_id(s, len) != key->id)
		return -1;
	const unsigned char *eph_pub = s + 5, *nonce = eph_pub + 32;
	const unsigned char *ct = nonce + GCM_NONCE_LEN;
	unsigned char *tmp = gcry_malloc_secure(64);
	if (!tmp)
		return -1;
	unsigned char tag[GCM_TAG_LEN];
	memcpy(tag, ct + DRS_LEN, GCM_TAG_LEN);
	int r = x25519(tmp, key->priv, eph_pub) < 0 ||
	        wrap_key(tmp, eph_pub, key->pub, tmp + 32) < 0 ||
	        gcm(0, tmp + 32, nonce, ad, adlen, ct, DRS_LEN, drs, tag);
	gcry_free(tmp);
	return r ? -1 : 0;
}

int row_open_drs(const struct pkskey *key, const struct row_id *id,
                 const unsigned char *sealed_drs, size_t drslen,
                 unsigned char drs[DRS_LEN])
{
	unsigned char ad[64];
	size_t adlen = row_ad(id, ad);
	return drs_open(key, sealed_drs, drslen, ad, adlen, drs);
}

int row_seal(const struct pkskey *key, const struct row_id *id,
             const void *plain, size_t n, struct sbuf *blob,
             unsigned char sealed_drs[SEALED_DRS_LEN])
{
	unsigned char ad[64];
	size_t adlen = row_ad(id, ad);
	unsigned char *drs = gcry_malloc_secure(DRS_LEN);
	if (!drs)
		return -1;
	/* The DRS is key material: the very strong level, as DESIGN asks. */
	gcry_randomize(drs, DRS_LEN, GCRY_VERY_STRONG_RANDOM);
	sbuf_reset(blob);
	unsigned char tag[GCM_TAG_LEN];
	unsigned char *nonce = (unsigned char *)sbuf_grow(blob, n + BLOB_OVERHEAD);
	int r = nonce ? 0 : -1;
	if (r == 0) {
		gcry_create_nonce(nonce, GCM_NONCE_LEN);
		r = gcm(1, drs, nonce, ad, adlen, plain, n, nonce + GCM_NONCE_LEN,
		        tag);
		memcpy(nonce + GCM_NONCE_LEN + n, tag, GCM_TAG_LEN);
	}
	if (r == 0)
		r = drs_seal(key, drs, ad, adlen, sealed_drs);
	gcry_free(drs);
	return r ? -1 : 0;
}

int row_open(const struct pkskey *key, const struct row_id *id,
             const void *blob, size_t bloblen, const unsigned char *sealed_drs,
             size_t drslen, struct sbuf *plain)
{
	unsigned char ad[64];
	size_t adlen = row_ad(id, ad);
	if (bloblen < BLOB_OVERHEAD)
		return -1;
	size_t n = bloblen - BLOB_OVERHEAD;
	const unsigned char *b = blob;
	unsigned char *drs = gcry_malloc_secure(DRS_LEN);
	unsigned char *out = gcry_malloc_secure(n ? n : 1);
	unsigned char tag[GCM_TAG_LEN];
	int r = -1;
	if (drs && out) {
		memcpy(tag, b + GCM_NONCE_LEN + n, GCM_TAG_LEN);
		r = drs_open(key, sealed_drs, drslen, ad, adlen, drs) < 0 ||
		    gcm(0, drs, b, ad, adlen, b + GCM_NONCE_LEN, n, out, tag) < 0 ||
		    sbuf_put(plain, out, n) < 0 ? -1 : 0;
	}
	gcry_free(out);
	gcry_free(drs);
	return r;
}
