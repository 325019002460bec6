/* fuzz_seal_open - opening an untrusted stored message with the fixed
 * test key of fuzzkeys.h (the corpus is sealed for it, so the key
 * agreement and the GCM tag check are reached): never crashes, and either
 * fails with nothing appended or yields plaintext. An input that begins
 * like DER is the binary entity as stored (fuzzcms.h), mutated field by
 * field (fuzzder.h); one that opens gives one of the sealed plaintexts.
 * Any other input is taken as S/MIME, as older versions stored. An
 * input that sealsplit takes apart must open the same way split. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "fuzz.h"
#include "fuzzcms.h"
#include "fuzzder.h"
#include "fuzzerr.h"
#include "fuzzkeys.h"
#include "crypto/pki.h"
#include "crypto/seal.h"
#include "crypto/sealsplit.h"

static EVP_PKEY *key;
static X509 *pek;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	BIO *b = BIO_new_mem_buf(fuzz_key_pem, -1);
	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	pek = pki_cert_from_pem(fuzz_pek_pem, sizeof fuzz_pek_pem - 1);
	if (!key || !pek)
		abort();
	return 0;
}

FUZZDER_CUSTOM_MUTATOR

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf plain;
	sbuf_init(&plain, 1 << 20);
	/* DER as stored now, or S/MIME as older versions stored */
	BIO *in = BIO_new_mem_buf(data, (int)size);
	int r = seal_open_bio(in, 1 << 20, key, pek, &plain);
	if (r < 0 && plain.len != 0)
		abort();
	if (r == 0 && fuzzcms_is_der(data, size) &&
	    !fuzzcms_known(plain.s ? plain.s : "", plain.len))
		abort(); /* a changed structure opened to another plaintext */
	/* opened where it lies (sealsplit), the answer is the same */
	struct sealsplit split;
	if (sealsplit_parse((const char *)data, size, &split) == 0) {
		struct sbuf again;
		sbuf_init(&again, 1 << 20);
		int r2 = sealsplit_open(&split, key, pek, &again);
		if (r2 != r || again.len != plain.len ||
		    (r == 0 && again.len &&
		     memcmp(again.s, plain.s, plain.len) != 0))
			abort();
		sealsplit_free(&split);
		sbuf_free(&again);
	}
	BIO_free(in);
	sbuf_free(&plain);
	fuzzerr_count();
	return 0;
}
