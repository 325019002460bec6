/* fuzz_pksreply - the PKS client's parsers of untrusted server replies and
 * credential files: never crash, and a refused reply leaves nothing. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "client/pksconfig.h"
#include "client/pksreply.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pks_keys keys;
	char why[256], secret[PKS_SECRET_MAX + 1];
	uint32_t id;
	time_t t;
	for (int want_pdk = 0; want_pdk <= 1; want_pdk++) {
		if (pks_parse_keys((const char *)data, size, 0x93e896f4, want_pdk,
		                   &keys, why, sizeof why) < 0 &&
		    (keys.n != 0 || keys.key != NULL))
			abort();
		pks_keys_free(&keys);
	}
	(void)pks_parse_credentials((const char *)data, size, &id, secret, why,
	                            sizeof why);
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
		(void)pks_parse_time(s, &t);
		free(s);
	}
	return 0;
}
