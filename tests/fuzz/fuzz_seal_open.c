/* fuzz_seal_open - opening untrusted S/MIME: never crashes, and either
 * fails with nothing appended or yields plaintext. */
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "fuzz.h"
#include "fuzzkeys.h"
#include "crypto/pki.h"
#include "crypto/seal.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf plain;
	sbuf_init(&plain, 1 << 20);
	BIO *in = BIO_new_mem_buf(data, (int)size);
	if (seal_open_bio(in, 1 << 20, key, pek, &plain) < 0 && plain.len != 0)
		abort();
	BIO_free(in);
	sbuf_free(&plain);
	ERR_clear_error();
	return 0;
}
