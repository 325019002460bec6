/* fuzz_backup - a PKS backup from an untrusted medium (pks-backup(5)).
 * The first octet chooses: odd, the rest is a whole file, opened with the
 * passphrase "fuzz" (the header and cost are refused before scrypt runs
 * past its bound; a refused file returns no payload); even, the rest is a
 * payload, decoded (never crashing, never allocating for a count the
 * input cannot hold), and what decodes encodes to what decodes again. */
#include <stdlib.h>

#include "backupfile.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char **argv[])
{
	(void)argc, (void)argv;
	if (pks_crypto_init() < 0)
		abort();
	return 0;
}

/* Decodes n octets; if they decode, encodes them again and decodes that. */
static void decode(const void *data, size_t n)
{
	struct backup_data d, again;
	struct sbuf out;
	if (backup_decode(&d, data, n) == 0) {
		sbuf_init_secret(&out, n + 1);
		if (backup_encode(&d, &out) < 0 ||
		    backup_decode(&again, out.s, out.len) < 0 ||
		    again.rows.n != d.rows.n || again.nclient != d.nclient ||
		    again.nlogin != d.nlogin || again.schema != d.schema)
			abort();
		backup_data_free(&again);
		sbuf_free(&out);
	}
	backup_data_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf payload;
	if (size == 0)
		return 0;
	if (!(data[0] & 1)) {
		decode(data + 1, size - 1);
		return 0;
	}
	sbuf_init_secret(&payload, 1 << 20);
	int r = backup_open("fuzz", 4, data + 1, size - 1, &payload);
	if (r != BACKUP_OK && payload.len != 0)
		abort();
	if (r == BACKUP_OK)
		decode(payload.s, payload.len);
	sbuf_free(&payload);
	return 0;
}
