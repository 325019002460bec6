/*
 * fuzzerr - OpenSSL is not instrumented, so libFuzzer sees only our own
 * few edges around it (seal_open 55, pek 21 after minutes). Each place in
 * OpenSSL that raised an error (its file, line and reason) counts here
 * instead, in a section libFuzzer reads as extra coverage counters: an
 * input that fails somewhere new is kept, and the fuzzer works its way
 * into the structure (the CMS, the certificate, the wrapped key) the way
 * edge coverage would lead it. The replay build has no libFuzzer: the
 * counters are then only written.
 */
#ifndef SQ_FUZZERR_H
#define SQ_FUZZERR_H

#include <stdint.h>

#include <openssl/err.h>

#define FUZZERR_SITES 4096

__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t fuzzerr_sites[FUZZERR_SITES];

/* Empties OpenSSL's error queue into the counters (instead of
 * ERR_clear_error). */
static inline void fuzzerr_count(void)
{
	const char *file, *func, *edata;
	int line, flags;
	unsigned long e;
	while ((e = ERR_get_error_all(&file, &line, &func, &edata, &flags))) {
		uint32_t h = 2166136261u; /* FNV-1a */
		for (const char *p = file ? file : ""; *p; p++)
			h = (h ^ (uint8_t)*p) * 16777619u;
		h = (h ^ (uint32_t)line) * 16777619u;
		h = (h ^ (uint32_t)ERR_GET_REASON(e)) * 16777619u;
		fuzzerr_sites[h % FUZZERR_SITES]++;
	}
}

#endif
