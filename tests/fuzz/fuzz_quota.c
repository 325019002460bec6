/* fuzz_quota - control/quota and control/edhclients: never crash, are
 * fast on a large file, and a limit found is within bounds. */
#include <stdlib.h>

#include "clientfile.h"
#include "util/control.h"
#include "fuzz.h"
#include "mail/quota.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf lines;
	struct edh_clients all;
	size_t n, bad;
	unsigned long long limit = 0;
	sbuf_init(&lines, CONTROL_FILE_MAX);
	if (control_split((const char *)data, size, &lines, &n) == 0) {
		int r = quota_lookup(&lines, "1a2b3c4d-17", &limit, &bad);
		if ((r == 1 && limit > QUOTA_MAX) || (r < 0 && bad == 0) ||
		    (r >= 0 && bad != 0))
			abort();
	}
	sbuf_free(&lines);
	if (edh_clients_parse((const char *)data, size, &all, &bad) == 0) {
		for (size_t i = 0; i < all.n; i++)
			if (all.v[i].id == 0 || !all.v[i].role ||
			    edh_clients_find(&all, all.v[i].id) != &all.v[i])
				abort();
		edh_clients_free(&all);
	}
	return 0;
}
