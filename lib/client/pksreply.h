/*
 * pksreply - what the PKS client (pksclient.h) makes of pksd's answers,
 * and what it puts into a request path: the key rows of a reply, read
 * strictly with every bound checked, RFC 3339 times, the mapping of HTTP
 * statuses to results, percent-encoding, and the choice of the right key
 * among rows that share a hash. No I/O: pure functions on text, so the
 * tests and the fuzzer can feed them anything a server could send.
 */
#ifndef SQ_PKSREPLY_H
#define SQ_PKSREPLY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "util/sbuf.h"

#define PKS_ROW_MAX ((UINT64_C(1) << 53) - 1)  /* exact in a JSON double */

enum pks_result {
	PKS_OK = 0,
	PKS_NOT_FOUND,   /* 404: no such key/row/address — a definite answer */
	PKS_CONFLICT,    /* 409 */
	PKS_REFUSED,     /* 400, 401, 403, 413, 422: our request or our credentials are wrong */
	PKS_LOCKED,      /* 429: login backoff/lockout */
	PKS_TEMP = -1    /* cannot tell: connect/TLS/timeout errors, 5xx, unparsable reply */
};

#define PKS_PEPPER_LEN 32

struct pks_key {
	uint64_t row;           /* 1 to PKS_ROW_MAX */
	unsigned version;       /* >= 1 */
	char *pek;              /* PEM certificate, not yet verified */
	char *pdk;              /* wrapped PDK (PEM); NULL unless asked and served */
	time_t locked_until;    /* 0 if not locked */
	/* a login attempt's "cache_pepper" (sq-checkpw(8), LOGIN CACHE) */
	unsigned char pepper[PKS_PEPPER_LEN];
	int has_pepper;
};
struct pks_keys {
	size_t n;
	struct pks_key *key;
};
/* Wipes the PDK strings before freeing; leaves k empty. */
void pks_keys_free(struct pks_keys *k);

/* From rows answered for a hash (several addresses can share one: 32-bit
 * hashes collide), keep those whose PEK certificate verifies against ca for
 * address (pki_verify_pek), and return the index of the one with the highest
 * version (on a tie, the highest row), or -1 if none. This is how a caller
 * picks the right key. */
long pks_select(const struct pks_keys *keys, X509 *ca, const char *address);

/* pks_select, and *suspect counts the rows that fail the check without
 * being another address's (a certificate that does not parse, names no
 * single address, or names this one but does not chain to ca, has expired
 * or lacks the key usages): a store that serves such a row was tampered
 * with or has a CA other than ours. why (may be NULL) gets the first such
 * row's reason, naming its row number, never the address. */
long pks_select_checked(const struct pks_keys *keys, X509 *ca,
                        const char *address, size_t *suspect, char *why,
                        size_t whylen);

/* The pieces below are exposed for the tests and pkscli. */

/* Parses a 200 reply of GET /v1/keys/{hash}[/pdk]: the reply's hash must
 * be hash; with want_pdk each row must carry "pdk" unless it is locked.
 * 0 with out filled, or -1 with a reason and out empty. */
int pks_parse_keys(const char *json, size_t len, uint32_t hash, int want_pdk,
                   struct pks_keys *out, char *why, size_t whylen);

/* Parses "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (RFC 3339, UTC only), fraction
 * dropped. 0, or -1 for anything else or a time not after 1970. */
int pks_parse_time(const char *s, time_t *out);

/* Appends s (n bytes) with every byte outside A-Za-z0-9-._~ written as
 * %XX, fit for one path segment. 0, or -1 (out full). */
int pks_pct_encode(const char *s, size_t n, struct sbuf *out);

/* The result an HTTP status maps to when it is not the call's success
 * status: any 2xx gives PKS_OK (the caller decides), unknown ones PKS_TEMP. */
enum pks_result pks_status_result(long status);

/* A short name for a result: "ok", "not_found", "conflict", "refused",
 * "locked", "temporary". */
const char *pks_result_name(enum pks_result r);

/* The pieces below serve pksclient.c, which reads the replies of its other
 * calls with them. The readers return -1 (or NULL) with a reason in why
 * (why may be NULL) that never quotes the reply: it may hold a PDK. */

/* The text as a JSON object, duplicate keys refused; the caller
 * json_decrefs it. */
json_t *pks_json_load_object(const char *text, size_t len, char *why,
                             size_t whylen);
/* Member name of obj, an integer from min to max, into *out. */
int pks_json_get_int(json_t *obj, const char *name, json_int_t min,
                     json_int_t max, json_int_t *out, char *why,
                     size_t whylen);
/* Member name of obj, absent or null (*out 0) or a time as
 * pks_parse_time reads it. */
int pks_json_get_time(json_t *obj, const char *name, time_t *out, char *why,
                      size_t whylen);
/* Member "hash" of root must be hash as addr_hash_hex writes it. */
int pks_json_check_hash(json_t *root, uint32_t hash, char *why,
                        size_t whylen);
/* Clears s in place if it is a string (a wrapped PDK), before the tree
 * that holds it is freed. */
void pks_json_wipe_string(json_t *s);

/* {"error": code, "message": text} of a failure reply, each copied with
 * anything but printable ASCII as '?'; 0, or -1 when the body is not such
 * an object. */
int pks_parse_error(const char *text, size_t len, char *code, size_t codelen,
                    char *msg, size_t msglen);

#endif
