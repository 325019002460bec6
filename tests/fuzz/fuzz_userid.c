/* fuzz_userid - a person's name typed by an operator: the transliteration
 * never crashes, and what it makes is a local part of at most 64 octets
 * that never ends in '.' or '-'. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "userid.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1), local[ADDR_LOCAL_MAX + 1], why[256];
	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (userid_from_name(name, local, sizeof local, why, sizeof why) ==
	    USERID_OK) {
		size_t n = strlen(local);
		if (n == 0 || n > ADDR_LOCAL_MAX || local[n - 1] == '.' ||
		    local[n - 1] == '-')
			abort();
	}
	free(name);
	return 0;
}
