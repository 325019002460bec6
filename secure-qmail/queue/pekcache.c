/*
 * pekcache - verified PEKs by address, with a TTL. See pekcache.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fail.h"
#include "util/log.h"
#include "queue/pekcache.h"
#include "crypto/pki.h"

int pekcache_init(struct pekcache *c, struct pks_client *pks, X509 *ca,
                  unsigned ttl)
{
	memset(c, 0, sizeof *c);
	c->slot = calloc(PEKCACHE_SLOTS, sizeof *c->slot);
	c->pks = pks;
	c->ca = ca;
	c->ttl = ttl;
	return c->slot ? 0 : -1;
}

void pekcache_fini(struct pekcache *c)
{
	for (size_t i = 0; c->slot && i < PEKCACHE_SLOTS; i++)
		X509_free(c->slot[i].pek);
	free(c->slot);
	c->slot = NULL;
}

/* Asks the PKS and keeps the row pks_select chooses. A row that names
 * the address but fails the check (another CA, expired, wrong usages) is
 * never "no key": mail to a subscriber must not bounce because the store
 * was tampered with or our CA differs from its, so it is an ALERT and a
 * temporary failure when no good row remains. */
static int fetch(struct pekcache *c, const char *address, X509 **pek)
{
	struct pks_keys keys;
	char hex[9], why[200];
	size_t suspect;
	*pek = NULL;
	uint32_t hash = addr_hash(address);
	addr_hash_hex(hash, hex);
	int r = pks_get_peks(c->pks, hash, &keys);
	if (r == PKS_NOT_FOUND)
		return PEK_NONE;
	if (r != PKS_OK)
		return fail_why(c->error, sizeof c->error, PEK_TEMP, "PKS: %s",
		                pks_client_error(c->pks));
	long i = pks_select_checked(&keys, c->ca, address, &suspect, why,
	                            sizeof why);
	if (i >= 0)
		*pek = pki_cert_from_pem(keys.key[i].pek, strlen(keys.key[i].pek));
	pks_keys_free(&keys);
	if (suspect)
		log_msg(SQLOG_ALERT, "address hash %s: the PKS served %zu key%s "
		        "that fail%s the CA and address check (%s)%s", hex,
		        suspect, suspect == 1 ? "" : "s", suspect == 1 ? "s" : "",
		        why, i >= 0 ? "; sealing for the key that passes"
		                    : "; mail for it is deferred");
	if (i < 0 && suspect)
		return fail_why(c->error, sizeof c->error, PEK_TEMP,
		                "the PKS's key for address hash %s fails the "
		                "CA check", hex);
	if (i >= 0 && !*pek)
		return fail_why(c->error, sizeof c->error, PEK_TEMP,
		                "cannot parse a verified PEK");
	return *pek ? PEK_OK : PEK_NONE;
}

int pekcache_get(struct pekcache *c, const char *address, X509 **pek)
{
	struct pekcache_entry *e = &c->slot[addr_hash(address) % PEKCACHE_SLOTS];
	time_t now = time(NULL);
	if (e->expires > now && strcmp(e->address, address) == 0) {
		*pek = e->pek;
		return e->pek ? PEK_OK : PEK_NONE;
	}
	X509 *fresh;
	int r = fetch(c, address, &fresh);
	if (r == PEK_TEMP)
		return r; /* never cached: the next message asks again */
	X509_free(e->pek);
	e->pek = fresh;
	snprintf(e->address, sizeof e->address, "%s", address);
	/* "no key" is remembered briefly: a subscriber provisioned a moment
	 * later must not wait a whole TTL for mail */
	e->expires = now + (fresh || c->ttl < 10 ? c->ttl : 10);
	*pek = fresh;
	return r;
}
