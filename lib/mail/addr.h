/*
 * addr - mail address normalisation and the 32-bit address hash that names
 * a subscriber's keys in the Paired Key Store. The exact algorithm, with
 * test vectors, is in sq-addrhash(5).
 */
#ifndef SQ_ADDR_H
#define SQ_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define ADDR_LOCAL_MAX 64       /* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255     /* RFC 5321 4.5.3.1.2 */
#define ADDR_MAX 254            /* a path is 256 octets with its <> */

enum addr_error {
	ADDR_OK = 0,
	ADDR_EMPTY,             /* nothing, or no local part / domain */
	ADDR_TOO_LONG,          /* a part, or the whole, is over its limit */
	ADDR_NO_AT,             /* no '@' */
	ADDR_BAD_LOCAL,         /* not a dot-atom (quoted strings refused) */
	ADDR_BAD_DOMAIN         /* not a host name of LDH labels */
};

/* Normalises addr (len bytes) into out (at least ADDR_MAX + 1 bytes):
 * lower-cased ASCII, one trailing dot of the domain removed. Returns
 * ADDR_OK or the first problem found; out is then the empty string. */
enum addr_error addr_normalize(const char *addr, size_t len, char *out);

/* A short English reason for an addr_error. */
const char *addr_strerror(enum addr_error e);

/* The first four octets of SHA-256(normalised address), big-endian. */
uint32_t addr_hash(const char *normalized);

/* The hash as 8 lower-case hex digits and a NUL, as used in PKS paths. */
void addr_hash_hex(uint32_t hash, char out[9]);

#endif
