/*
 * encrypt_local - the encryption stage of local delivery (the job the
 * design calls sq-encrypt-local): make sure a queued message is sealed
 * for the one subscriber it is being delivered to, and name the mailbox.
 *
 * The keys of an address are every PEK version the PKS holds for it that
 * the instance CA issued for that address (pks_select's test, applied to
 * each). A message the SMTP receiver sealed passes only if one of its
 * recipient infos names one of those certificates: mail sealed to an older
 * version still goes to the same mailbox, and a copy sealed for someone
 * else never does. Anything not sealed yet (a failure notice, mail queued
 * by a local program) is sealed now with the newest version. Fails closed:
 * without the keys there is no delivery, never plaintext sent on.
 */
#ifndef SQ_ENCRYPT_LOCAL_H
#define SQ_ENCRYPT_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "mail/maildir.h"
#include "client/pksclient.h"
#include "util/sbuf.h"

struct el_keys {
	uint32_t hash;
	uint64_t mailbox_row;   /* the address's first row: its mailbox */
	X509 **cert;
	size_t n, newest;
	int cached;             /* from el_keys_get's cache, not the PKS */
};

enum el_result { EL_OK = 0, EL_NOKEY = 1, EL_PERM = 2, EL_TEMP = -1 };

/* Every verified PEK of the normalised address. EL_OK; EL_NOKEY when the
 * PKS has none that verifies; EL_TEMP when it cannot be asked (why says
 * why). k is empty unless EL_OK. */
enum el_result el_keys_fetch(struct pks_client *pks, X509 *ca,
                             const char *address, struct el_keys *k,
                             char *why, size_t whylen);
void el_keys_free(struct el_keys *k);

/* The verified keys of the addresses a delivery worker served lately,
 * each kept ttl seconds (control/pekcachetime) in a slot of its own by
 * the address's hash: every delivery asked the PKS before, which cost
 * more than sealing. Only keys are kept, never "no key". */
struct el_cache {
	struct el_cache_slot *slot;
	size_t n;
	unsigned long ttl;      /* 0: every lookup asks the PKS */
};

/* n slots; 0, or -1 (ENOMEM). */
int el_cache_init(struct el_cache *c, size_t n, unsigned long ttl);
void el_cache_free(struct el_cache *c);

/* el_keys_fetch through the cache: a copy of the address's keys when they
 * are younger than the ttl and fresh is 0 (k->cached then set), else
 * fetched and, when EL_OK, kept. A caller whose cached keys do not open
 * a message (el_prepare's EL_PERM) asks again with fresh: the address
 * may have a key version newer than the copy. */
enum el_result el_keys_get(struct el_cache *c, struct pks_client *pks,
                           X509 *ca, const char *address, int fresh,
                           struct el_keys *k, char *why, size_t whylen);

/* The mailbox id of the keys' address (maildir_id_format). */
void el_mailbox(const struct el_keys *k, char id[MAILDIR_ID_SIZE]);

/* 1 if the sealed message (len octets, its size line first, as
 * sealcheck passes it) has a recipient info for one of k's certificates,
 * 0 if not, -1 if it cannot be parsed. */
int el_sealed_for(const char *msg, size_t len, const struct el_keys *k);

/* What is to be stored for the keys' owner: *out points at msg itself
 * when it is already sealed for them, or at a copy sealed now into
 * sealed (with the size line); *plainsize is the size POP3 will list.
 * EL_PERM (sealed, but not for them), EL_TEMP (a crypto failure). */
enum el_result el_prepare(const char *msg, size_t len,
                          const struct el_keys *k, struct sbuf *sealed,
                          const char **out, size_t *outlen,
                          unsigned long long *plainsize, char *why,
                          size_t whylen);

#endif
