/*
 * checkpw - the checkpassword input and unlocking PDKs. See checkpw.h.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "mail/addr.h"
#include "checkpw.h"
#include "util/fail.h"
#include "crypto/pdk.h"
#include "crypto/pki.h"
#include "pdkcache.h"
#include "pkslogin.h"

/* How long a login waits for the cache before it unwraps with scrypt. */
#define CACHE_WAIT_MS 200

/* A P-256 key wrapped (pdk_wrap, our scrypt cost) with a password nobody
 * types: unknown addresses pay one unwrap of it, as known ones do. */
static const char DECOY[] =
	"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
	"MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSsGAQQB2kcECzAcBBCnmrrSWRicHgI62b63\n"
	"/FYeAgJAAAIBCAIBBTAdBglghkgBZQMEASoEECKXnT2VjCjANvtyalWq0JgEgZA1\n"
	"Mf/wixj8eBIZF9QCs5qSWCPjAT9Q77BfykS44SVFS6corQJtXmVKgaXSZVHqR4S5\n"
	"ElbCuKUs8c7LwEblFuOQIr2U80Yxub2rsarVfWxiccbRHSdRHTA5JfqviSb49129\n"
	"/fZwX9fKAZ5hqKDHYugwaH0J9CenIHLtYJctK0QWE7reUs8WgnQiYaw00yQFcus=\n"
	"-----END ENCRYPTED PRIVATE KEY-----\n";

int checkpw_parse(const char *in, size_t len, const char **user,
                  const char **password)
{
	if (len > CHECKPW_INPUT_MAX)
		return -1;
	const char *end = in + len;
	const char *u = in, *unul = memchr(u, '\0', len);
	if (!unul || unul == u)
		return -1;
	const char *p = unul + 1;
	const char *pnul = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
	if (!pnul || pnul == p)
		return -1;
	*user = u;
	*password = p;
	return 0;
}

void checkpw_unlocked_free(struct checkpw_unlocked *u)
{
	sbuf_free(&u->pem); /* a secret sbuf: wiped */
}

static void decoy(const char *password)
{
	EVP_PKEY *k = pdk_unwrap(DECOY, sizeof DECOY - 1, password,
	                         strlen(password));
	EVP_PKEY_free(k);
}

/* key's PDK (PEM) from the login cache into pem, if the cache has it
 * under this login's key (ck) and it is the private half of cert: 1;
 * else 0 with pem empty. It goes on as the cache gave it: parsing it
 * once, for the check, is the cost; encoding it again is not needed. */
static int from_cache(const char *cache, const struct pks_key *key,
                      const unsigned char *digest, const unsigned char *ck,
                      X509 *cert, struct sbuf *pem)
{
	EVP_PKEY *pdk = NULL;
	if (pdkcache_ask(cache, key->row, digest, ck, CACHE_WAIT_MS, pem) &&
	    pem->len <= INT_MAX) {
		BIO *b = BIO_new_mem_buf(pem->s, (int)pem->len);
		pdk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	}
	/* not this row's key: as good as a miss */
	int ok = pdk && X509_check_private_key(cert, pdk) == 1;
	EVP_PKEY_free(pdk);
	if (!ok)
		sbuf_reset(pem);
	ERR_clear_error();
	return ok;
}

/* key's PDK unwrapped with the password (scrypt) into pem, if it is the
 * private half of cert: 1; else 0. */
static int unwrapped(const struct pks_key *key, const char *password,
                     X509 *cert, struct sbuf *pem)
{
	EVP_PKEY *pdk = pdk_unwrap(key->pdk, strlen(key->pdk), password,
	                           strlen(password));
	int ok = pdk && X509_check_private_key(cert, pdk) == 1 &&
	         pki_key_to_pem(pdk, pem) == 0;
	EVP_PKEY_free(pdk);
	return ok;
}

/* One version: -1 when its PEK is not the CA's for the address (another
 * address with the same hash, or a forged row), 1 when the password
 * opened it (certificate and key appended to out->pem), 0 when not. The
 * login cache (cache, the socket's path; NULL: none) is asked first and
 * told of a PDK that only scrypt opened. */
static int try_key(const struct pks_key *key, X509 *ca, const char *address,
                   const char *password, const char *cache,
                   struct checkpw_unlocked *out)
{
	X509 *cert = key->pek ? pki_cert_from_pem(key->pek, strlen(key->pek))
	                      : NULL;
	if (!cert || !key->pdk || pki_verify_pek(cert, ca, address, NULL, 0) != 1) {
		X509_free(cert);
		return -1;
	}
	unsigned char ck[PDKCACHE_KEY_LEN], digest[PDKCACHE_DIGEST_LEN];
	int cacheable = cache && key->has_pepper &&
	                pdkcache_login_key(key->pepper, sizeof key->pepper,
	                                   key->row, password, ck) == 0;
	if (cacheable)
		pdkcache_digest(key->pdk, digest);
	struct sbuf pdk, pek; /* the pki encoders replace: one buffer each */
	sbuf_init_secret(&pdk, out->pem.max);
	sbuf_init(&pek, out->pem.max);
	int cached = cacheable && from_cache(cache, key, digest, ck, cert,
	                                     &pdk);
	int ok = (cached || unwrapped(key, password, cert, &pdk)) &&
	         pki_cert_to_pem(cert, &pek) == 0 &&
	         sbuf_put(&out->pem, pek.s, pek.len) == 0 &&
	         sbuf_put(&out->pem, pdk.s, pdk.len) == 0;
	out->cached += (size_t)(ok && cached);
	if (ok && cacheable && !cached && sbuf_putc(&pdk, '\0') == 0)
		pdkcache_tell(cache, key->row, digest, ck, pdk.s, CACHE_WAIT_MS);
	OPENSSL_cleanse(ck, sizeof ck);
	sbuf_free(&pdk);
	sbuf_free(&pek);
	X509_free(cert);
	return ok;
}

enum checkpw_result checkpw_unlock(const struct checkpw_sockets *at,
                                   X509 *ca, const char *address,
                                   const char *client_ip,
                                   const char *password,
                                   struct checkpw_unlocked *out, char *why,
                                   size_t whylen)
{
	char pkswhy[300];
	struct pks_keys keys;
	unsigned best = 0;
	uint64_t first = 0;
	memset(out, 0, sizeof *out);
	sbuf_init_secret(&out->pem, 64 * 1024);
	out->hash = addr_hash(address);
	int r = pkslogin_attempt(at->relay, PKSLOGIN_WAIT_MS, out->hash,
	                         client_ip, &keys, pkswhy, sizeof pkswhy);
	if (r == PKS_NOT_FOUND || r == PKS_REFUSED) {
		decoy(password);
		return fail_why(why, whylen, CHECKPW_WRONG, "no such address");
	}
	/* no PDK served, so nothing to say about the password: not a
	 * failure, only "not now" */
	if (r == PKS_LOCKED)
		return fail_why(why, whylen, CHECKPW_LOCKED,
		                "throttled by the key store: %s", pkswhy);
	if (r != PKS_OK)
		return fail_why(why, whylen, CHECKPW_TEMP, "PKS: %s", pkswhy);
	size_t verified = 0;
	for (size_t i = 0; i < keys.n; i++) {
		const struct pks_key *k = &keys.key[i];
		int opened = try_key(k, ca, address, password, at->cache, out);
		if (opened < 0)
			continue;
		verified++;
		if (!first || k->row < first)
			first = k->row; /* the mailbox: the address's first row */
		if (k->version >= best) { /* the row logins count against */
			best = k->version;
			out->row = k->row;
		}
		out->versions += (size_t)opened;
	}
	if (verified == 0)
		decoy(password);
	pks_keys_free(&keys);
	if (!out->versions)
		return fail_why(why, whylen, CHECKPW_WRONG, "%s",
		                verified ? "wrong password"
		                         : "no such address");
	maildir_id_format(out->mailbox, out->hash, first);
	return CHECKPW_OK;
}
