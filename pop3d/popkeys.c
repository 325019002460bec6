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

int popkeys_open(const struct popkeys *k, struct sbuf *sealed,
                 struct sbuf *out)
{
	struct sealsplit split;
	const char *data = sealed->s ? sealed->s : "";
	size_t start = seal_entity_start(data, sealed->len);
	if (sealsplit_take(data + start, sealed->len - start, &split) < 0) {
		sbuf_free(sealed);
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s",
		               "not a CMS entity (DER or S/MIME)");
		return -1;
	}
	/* split, it is opened where it lies (held once, beside its
	 * plaintext); parsed whole, the structure holds its own copy */
	if (!split.content)
		sbuf_free(sealed);
	int r = -1;
	for (size_t i = 0; r < 0 && i < k->n; i++)
		r = sealsplit_open(&split, k->pdk[i], k->cert[i], out);
	if (r == 0)
		ERR_clear_error(); /* the versions tried before */
	sealsplit_free(&split);
	sbuf_free(sealed);
	return r;
}
