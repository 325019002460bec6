/* fuzz_addr - address normalisation: never crashes, always idempotent. */
#include <stdlib.h>
#include <string.h>

#include "mail/addr.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[ADDR_MAX + 1], again[ADDR_MAX + 1];
	if (addr_normalize((const char *)data, size, out) != ADDR_OK) {
		if (out[0] != '\0')
			abort();
		return 0;
	}
	if (strlen(out) > ADDR_MAX ||
	    addr_normalize(out, strlen(out), again) != ADDR_OK ||
	    strcmp(out, again) != 0)
		abort();
	(void)addr_hash(out);
	return 0;
}
