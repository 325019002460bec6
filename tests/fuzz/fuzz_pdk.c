/* fuzz_pdk - unwrapping an untrusted wrapped PDK: never crashes, never
 * computes a KDF beyond the bound. */
#include <openssl/err.h>

#include "fuzz.h"
#include "crypto/pdk.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *key = pdk_unwrap((const char *)data, size, "fuzz", 4);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return 0;
}
