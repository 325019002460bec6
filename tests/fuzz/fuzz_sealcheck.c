/* fuzz_sealcheck - the EDH's gate: never crashes, and whatever passes has
 * a well-formed size line and a size within bounds. */
#include <stdlib.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "crypto/sealcheck.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long long plain = 0, again = 0;
	const char *p = (const char *)data;
	if (sealcheck(p, size, &plain) == 0 &&
	    (sealcheck_header(p, size, &again) < 0 || again != plain ||
	     plain > SEALCHECK_PLAIN_MAX))
		abort();
	if (ERR_peek_error())
		abort(); /* a refusal leaves nothing queued */
	return 0;
}
