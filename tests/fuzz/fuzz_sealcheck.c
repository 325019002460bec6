/* fuzz_sealcheck - the EDH's gate: never crashes, and whatever passes has
 * a well-formed size line and a size within bounds. An input that begins
 * like DER is the CMS structure (fuzzcms.h), checked in both forms: after
 * the size line as it travels, and as S/MIME with the MIME headers of a
 * message older versions stored, so that the CMS type check is what the
 * fuzzer works on, one field at a time (fuzzder.h). */
#include <stdlib.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "fuzzcms.h"
#include "fuzzder.h"
#include "crypto/sealcheck.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

FUZZDER_CUSTOM_MUTATOR

static void check(const char *p, size_t size)
{
	unsigned long long plain = 0, again = 0;
	size_t entity = 0;
	if (sealcheck(p, size, &plain, &entity) == 0 &&
	    (plain > SEALCHECK_PLAIN_MAX || entity >= size ||
	     (entity == 0 && (sealcheck_header(p, size, &again) < 0 ||
	                      again != plain))))
		abort();
	if (ERR_peek_error())
		abort(); /* a refusal leaves nothing queued */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf msg;
	if (!fuzzcms_is_der(data, size)) {
		check((const char *)data, size);
		return 0;
	}
	sbuf_init(&msg, 4 * size + 4096);
	/* both forms: the binary entity after its line, and S/MIME */
	if (sbuf_printf(&msg, "X-SQ-Plaintext-Size: %zu\n", size) < 0 ||
	    sbuf_put(&msg, data, size) < 0)
		abort();
	check(msg.s, msg.len);
	sbuf_reset(&msg);
	if (sbuf_printf(&msg, "X-SQ-Plaintext-Size: %zu\n", size) < 0 ||
	    fuzzcms_wrap(data, size, &msg) < 0)
		abort();
	check(msg.s, msg.len);
	sbuf_free(&msg);
	return 0;
}
