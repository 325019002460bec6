/* fuzz_pdk - unwrapping an untrusted wrapped PDK: never crashes, never
 * computes a KDF beyond the bound. An input that begins like DER (0x30)
 * is the PKCS#8 EncryptedPrivateKeyInfo itself, made PEM here and
 * mutated field by field (fuzzder.h): the KDF's parameters, the cipher,
 * the salt and IV are each reached without spoiling the base64. */
#include <stdlib.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "fuzzder.h"
#include "fuzzerr.h"
#include "crypto/pdk.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

FUZZDER_CUSTOM_MUTATOR

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf pem;
	sbuf_init(&pem, 4 * size + 4096);
	if (size && data[0] == 0x30) {
		if (fuzzder_pem(data, size, "ENCRYPTED PRIVATE KEY", &pem) < 0)
			abort();
		data = (const uint8_t *)pem.s;
		size = pem.len;
	}
	EVP_PKEY *key = pdk_unwrap((const char *)data, size, "fuzz", 4);
	EVP_PKEY_free(key);
	fuzzerr_count(); /* and so cleared */
	sbuf_free(&pem);
	return 0;
}
