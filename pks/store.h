/*
 * store - the key store's operations, between the HTTP layer (pksd) and
 * the database (db): rows are opened and sealed here, addresses matched
 * against the certificates inside them, and every change made in one
 * transaction. The address a row belongs to is known only from its sealed
 * PEK certificate: the database itself holds no address.
 */
#ifndef SQ_STORE_H
#define SQ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "mail/addr.h"
#include "db.h"
#include "keyring.h"
#include "rowcache.h"
#include "rowseal.h"
#include "throttle.h"

enum store_result {
	STORE_OK = 0,
	STORE_NOTFOUND,         /* 404 */
	STORE_TAKEN,            /* 409: the address has keys already */
	STORE_INVALID,          /* 422: a PEK or PDK that cannot be right */
	STORE_DOWN,             /* 503: the database is unreachable */
	STORE_UNREADABLE,       /* 503: a row of the hash does not open */
	STORE_THROTTLED,        /* 429: a login that must wait */
	STORE_FAIL              /* 500: anything else, logged */
};

/* The per-row lockout of login-failure (ses-passwd), and the throttle of
 * POP3 logins (throttle.h). */
struct lockout {
	unsigned backoff_after; /* failures before delays start */
	unsigned lock_after;    /* failures that lock the row */
	unsigned lock_seconds;  /* the lock, and the longest delay */
	struct throttle_conf throttle;
};

struct store {
	struct db *db;
	struct keyring *keys;
	X509 *ca;                       /* verifies PEKs given to create */
	struct lockout lockout;
	struct rowcache cache;          /* PEKs are public: safe to keep */
	unsigned long broken_rows;      /* rows that failed to open */
	char error[256];                /* why the last STORE_FAIL */
};

struct key_out {
	uint64_t row;
	uint32_t version;
	char *pek;
	char *pdk;                      /* login rows only; wiped when freed */
	unsigned char pepper[LOGIN_PEPPER_LEN]; /* login attempts only */
	int has_pepper;
	char address[ADDR_MAX + 1];
	int64_t locked_until;           /* 0: not locked */
};

struct key_list {
	size_t n;
	struct key_out *key;
};
void key_list_free(struct key_list *l);

int store_init(struct store *s, struct db *db, struct keyring *keys, X509 *ca,
               const struct lockout *lockout);
void store_fini(struct store *s);

/* All rows of a hash; with want_pdk, the wrapped PDKs too (withheld from
 * rows under a login lock). A row that fails to open is counted in
 * s->broken_rows and logged, and the whole answer is STORE_UNREADABLE:
 * serving the others could hand out an older key in place of a newest
 * version that was tampered with. */
int store_keys(struct store *s, uint32_t hash, int want_pdk,
               struct key_list *out);

int store_create(struct store *s, const char *address, const char *pek,
                 const char *pdk, int new_version, uint32_t *hash,
                 uint64_t *row, uint32_t *version);
int store_replace_pdk(struct store *s, uint32_t hash, uint64_t row,
                      const char *pdk, uint32_t *version);
int store_delete_address(struct store *s, const char *address,
                         unsigned *deleted);
int store_available(struct store *s, const char *address, int *available);
int store_login_failure(struct store *s, uint32_t hash, uint64_t row,
                        unsigned *failures, int64_t *locked_until);
int store_login_success(struct store *s, uint32_t hash, uint64_t row);

/* A POP3 login's fetch of the wrapped PDKs of hash by a client of network
 * (throttle_network). In one transaction the rows of the hash are locked
 * (one login of an address at a time), the throttle is asked and, if it
 * allows, the attempt is counted as a failure; only after the commit are
 * the rows opened and served, as store_keys serves them but without the
 * row lockout. STORE_THROTTLED with *wait seconds: nothing counted,
 * nothing served. A hash without rows is STORE_NOTFOUND and counts
 * nothing. */
int store_login_attempt(struct store *s, uint32_t hash, const char *network,
                        struct key_list *out, int64_t *wait);
/* The right password from network: takes its failures back (from the
 * address's count too) and makes the network known. */
int store_login_succeeded(struct store *s, uint32_t hash,
                          const char *network);

#endif
