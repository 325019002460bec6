/*
 * rowcache - the PEKs a pksd worker has opened, by row id, so that a PEK
 * lookup opens a sealed row (the DRS and blob decryption, the X.509
 * parse) only once. PEKs and addresses are public: nothing here is
 * secret. An entry is served only while the database's copy of its row
 * is unchanged: the caller passes the digest of the row as read now
 * (store.c, row_digest) and a different digest is a miss.
 *
 * Open addressing: a row may sit in any of ROWCACHE_WAYS slots from the
 * one its id hashes to, and a full window gives up its least recently
 * used entry. 10 000 rows all stay (about 14 000 do before the first is
 * pushed out); a direct-mapped table of 16 384 slots, as this replaced,
 * kept only about 60 % of 10 000, and a PEK lookup of a row pushed out
 * costs an open of its seal, about ten lookups' worth of CPU.
 */
#ifndef SQ_ROWCACHE_H
#define SQ_ROWCACHE_H

#include <stddef.h>
#include <stdint.h>

#define ROWCACHE_SLOTS 32768    /* a power of two */
#define ROWCACHE_WAYS 16
#define ROWCACHE_DIGEST 32

struct rowcache_entry {
	uint64_t row;
	uint64_t used;                  /* the cache's clock at the last hit */
	unsigned char digest[ROWCACHE_DIGEST];
	char *pek;                      /* NUL, then the address: one block */
	const char *address;
};

struct rowcache {
	struct rowcache_entry *slot;
	uint64_t clock;
};

int rowcache_init(struct rowcache *c);
void rowcache_fini(struct rowcache *c);

/* The entry of row whose digest is digest, or NULL. */
const struct rowcache_entry *rowcache_get(struct rowcache *c, uint64_t row,
                                          const unsigned char *digest);

/* Remembers row's pek and address under digest: 0, or -1 out of memory
 * (the cache is unchanged). */
int rowcache_put(struct rowcache *c, uint64_t row,
                 const unsigned char *digest, const char *pek,
                 const char *address);

/* The first slot of row's window. */
size_t rowcache_home(uint64_t row);

#endif
