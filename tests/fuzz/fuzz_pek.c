/* fuzz_pek - parsing and verifying an untrusted PEK certificate (as read
 * from the key store): never crashes, and only our CA's certificate for
 * the address passes. */
#include <stdlib.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "fuzzkeys.h"
#include "crypto/pki.h"

static X509 *ca;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	ca = pki_cert_from_pem(fuzz_ca_pem, sizeof fuzz_ca_pem - 1);
	if (!ca)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509 *cert = pki_cert_from_pem((const char *)data, size);
	if (cert) {
		char why[128];
		(void)pki_verify_pek(cert, ca, "fuzz@example.org", why,
		                     sizeof why);
		X509_free(cert);
	}
	ERR_clear_error();
	return 0;
}
