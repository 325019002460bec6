/* fuzz_saslplain - AUTH PLAIN from the network: never crashes; what
 * decodes has three parts within their limits and encodes back to the
 * very same text (one encoding per message). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mail/saslplain.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf buf, again;
	struct sasl_plain p;
	sbuf_init(&buf, SASL_PLAIN_RAW_MAX);
	sbuf_init(&again, 4096);
	if (sasl_plain_decode((const char *)data, size, &buf, &p) == 0) {
		if (p.authcid_len == 0 || p.passwd_len == 0 ||
		    p.authzid_len > SASL_FIELD_MAX ||
		    strlen(p.passwd) != p.passwd_len ||
		    sasl_plain_encode(p.authzid, p.authcid, p.passwd, &again) < 0 ||
		    again.len != size || memcmp(again.s, data, size) != 0)
			abort();
	}
	sbuf_free(&buf);
	sbuf_free(&again);
	return 0;
}
