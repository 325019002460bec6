/* fuzz_pek - parsing and verifying an untrusted PEK certificate (as read
 * from the key store): never crashes, and only our CA's certificate for
 * the address passes. An input that begins like DER (0x30) is the
 * certificate's DER, made PEM here and mutated field by field
 * (fuzzder.h). */
#include <stdlib.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "fuzzder.h"
#include "fuzzerr.h"
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

FUZZDER_CUSTOM_MUTATOR

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf pem;
	sbuf_init(&pem, 4 * size + 4096);
	if (size && data[0] == 0x30) {
		if (fuzzder_pem(data, size, "CERTIFICATE", &pem) < 0)
			abort();
		data = (const uint8_t *)pem.s;
		size = pem.len;
	}
	X509 *cert = pki_cert_from_pem((const char *)data, size);
	if (cert) {
		char why[128];
		(void)pki_verify_pek(cert, ca, "fuzz@example.org", why,
		                     sizeof why);
		X509_free(cert);
	}
	fuzzerr_count(); /* and so cleared */
	sbuf_free(&pem);
	return 0;
}
