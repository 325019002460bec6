/*
 * pekcache - the sealing daemon's cache of verified PEKs, by address, for
 * control/pekcachetime seconds. PEKs are public, so caching them costs no
 * secrecy; it saves a key store request for every message to a busy
 * recipient. A certificate is cached only after pks_select verified its
 * chain to the instance CA and its address. A key the store serves for
 * the address that fails that check is an ALERT in the log and, when no
 * good key remains, PEK_TEMP: never PEK_NONE, which bounces mail.
 */
#ifndef SQ_PEKCACHE_H
#define SQ_PEKCACHE_H

#include <time.h>

#include <openssl/x509.h>

#include "mail/addr.h"
#include "client/pksclient.h"

#define PEKCACHE_SLOTS 4096

struct pekcache_entry {
	char address[ADDR_MAX + 1];
	X509 *pek;              /* NULL: the address has no key (cached too) */
	time_t expires;
};

struct pekcache {
	struct pekcache_entry *slot;
	unsigned ttl;
	struct pks_client *pks;
	X509 *ca;
	char error[300];
};

enum pek_result { PEK_OK = 0, PEK_NONE = 1, PEK_TEMP = -1 };

int pekcache_init(struct pekcache *c, struct pks_client *pks, X509 *ca,
                  unsigned ttl);
void pekcache_fini(struct pekcache *c);

/* The verified PEK of a normalised address (owned by the cache: valid
 * until the next call), PEK_NONE when the PKS has no key for it, or
 * PEK_TEMP (c->error says why, naming the address by its hash) when it
 * cannot tell or its only keys fail the check. */
int pekcache_get(struct pekcache *c, const char *address, X509 **pek);

#endif
