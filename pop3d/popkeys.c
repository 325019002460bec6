/*
 * popkeys - the unlocked keys and opening sealed messages. See popkeys.h.
 */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "popkeys.h"
#include "crypto/pdk.h"
#include "crypto/seal.h"
#include "crypto/sealsplit.h"
#include "util/secretfd.h"

int popkeys_parse(struct popkeys *k, const char *pem, size_t len)
{
	memset(k, 0, sizeof *k);
	if (len > INT_MAX)
		return -1;
	pdk_secure_heap();
	BIO *in = BIO_new_mem_buf(pem, (int)len);
	if (!in)
		return -1;
	int ok = 1;
	while (ok && k->n < POPKEYS_MAX) {
		X509 *cert = PEM_read_bio_X509(in, NULL, NULL, NULL);
		if (!cert)
			break;
		EVP_PKEY *pdk = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
		if (!pdk) {
			X509_free(cert);
			ok = 0;
			break;
		}
		k->cert[k->n] = cert;
		k->pdk[k->n++] = pdk;
	}
	ERR_clear_error(); /* the end of the input: no further PEM block */
	BIO_free(in);
	if (!ok || k->n == 0) {
		popkeys_free(k);
		return -1;
	}
	return 0;
}

int popkeys_take(struct popkeys *k, int fd)
{
	struct sbuf pem;
	sbuf_init_secret(&pem, POPKEYS_PEM_MAX);
	int r = secret_take(fd, &pem) == 0 && pem.len > 0
	        ? popkeys_parse(k, pem.s, pem.len) : -1;
	sbuf_free(&pem);
	return r;
}

void popkeys_free(struct popkeys *k)
{
	for (size_t i = 0; i < k->n; i++) {
		X509_free(k->cert[i]);
		EVP_PKEY_free(k->pdk[i]);
	}
	k->n = 0;
}

/* A binary entity, opened where it lies: held once, beside its
 * plaintext. -2 when it does not split (another form). */
static int open_split(const struct popkeys *k, struct sbuf *sealed,
                      struct sbuf *out)
{
	struct sealsplit split;
	size_t start = seal_entity_start(sealed->s, sealed->len);
	if (sealsplit_parse(sealed->s + start, sealed->len - start,
	                    &split) < 0)
		return -2;
	int r = -1;
	for (size_t i = 0; r < 0 && i < k->n; i++)
		r = sealsplit_open(&split, k->pdk[i], k->cert[i], out);
	sealsplit_free(&split);
	sbuf_free(sealed);
	return r;
}

int popkeys_open(const struct popkeys *k, struct sbuf *sealed,
                 struct sbuf *out)
{
	int r = sealed->s ? open_split(k, sealed, out) : -2;
	if (r != -2) {
		if (r == 0)
			ERR_clear_error(); /* the versions tried before */
		return r;
	}
	CMS_ContentInfo *cms = seal_parse_sealed(sealed);
	r = -1;
	for (size_t i = 0; cms && r < 0 && i < k->n; i++)
		r = seal_open_cms(cms, k->pdk[i], k->cert[i], out);
	if (r == 0)
		ERR_clear_error(); /* the versions tried before */
	CMS_ContentInfo_free(cms);
	return r;
}
