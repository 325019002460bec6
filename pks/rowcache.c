/*
 * rowcache - the PEKs a pksd worker has opened, by row id (rowcache.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rowcache.h"

int rowcache_init(struct rowcache *c)
{
	c->clock = 0;
	c->slot = calloc(ROWCACHE_SLOTS, sizeof *c->slot);
	return c->slot ? 0 : -1;
}

void rowcache_fini(struct rowcache *c)
{
	for (size_t i = 0; c->slot && i < ROWCACHE_SLOTS; i++)
		free(c->slot[i].pek);
	free(c->slot);
	c->slot = NULL;
}

/* Row ids are random, but a mix keeps ids that differ only in their high
 * bits (or a test's 1, 2, 3) apart. */
size_t rowcache_home(uint64_t row)
{
	row ^= row >> 33;
	row *= 0xff51afd7ed558ccdULL;
	row ^= row >> 33;
	return (size_t)row & (ROWCACHE_SLOTS - 1);
}

static struct rowcache_entry *slot_of(struct rowcache *c, uint64_t row,
                                      unsigned way)
{
	return &c->slot[(rowcache_home(row) + way) & (ROWCACHE_SLOTS - 1)];
}

static struct rowcache_entry *find(struct rowcache *c, uint64_t row)
{
	for (unsigned w = 0; w < ROWCACHE_WAYS; w++) {
		struct rowcache_entry *e = slot_of(c, row, w);
		if (e->pek && e->row == row)
			return e;
	}
	return NULL;
}

const struct rowcache_entry *rowcache_get(struct rowcache *c, uint64_t row,
                                          const unsigned char *digest)
{
	struct rowcache_entry *e = find(c, row);
	if (!e || memcmp(e->digest, digest, ROWCACHE_DIGEST))
		return NULL;
	e->used = ++c->clock;
	return e;
}

/* The slot for a new row: an empty one in its window, else the least
 * recently used. */
static struct rowcache_entry *victim(struct rowcache *c, uint64_t row)
{
	struct rowcache_entry *oldest = slot_of(c, row, 0);
	for (unsigned w = 0; w < ROWCACHE_WAYS; w++) {
		struct rowcache_entry *e = slot_of(c, row, w);
		if (!e->pek)
			return e;
		if (e->used < oldest->used)
			oldest = e;
	}
	return oldest;
}

int rowcache_put(struct rowcache *c, uint64_t row,
                 const unsigned char *digest, const char *pek,
                 const char *address)
{
	size_t peklen = strlen(pek), addrlen = strlen(address);
	char *block = malloc(peklen + addrlen + 2);
	if (!block)
		return -1;
	memcpy(block, pek, peklen + 1);
	memcpy(block + peklen + 1, address, addrlen + 1);
	struct rowcache_entry *e = find(c, row);
	if (!e)
		e = victim(c, row);
	free(e->pek);
	e->row = row;
	e->used = ++c->clock;
	memcpy(e->digest, digest, ROWCACHE_DIGEST);
	e->pek = block;
	e->address = block + peklen + 1;
	return 0;
}
