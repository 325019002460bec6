/*
 * pksclient - the client of pksd, the Paired Key Store's HTTPS REST
 * service (API v1): sealers fetch PEKs, sq-checkpw fetches wrapped PDKs
 * and reports login results, the provisioning tools create, re-key and
 * delete.
 *
 * One client holds one libcurl easy handle, so consecutive calls reuse one
 * TLS connection and a long-lived program pays the handshake once. The
 * server is trusted through the instance CA (control/ca.pem) alone, never
 * the system's CA store; every request carries HTTP Basic credentials read
 * from a control file. Replies are parsed strictly: a reply of the wrong
 * shape is PKS_TEMP, never "no such key", so a broken PKS can delay mail
 * but not bounce it. Even a well-formed PEK is not taken on the store's
 * word: pks_select keeps only certificates the CA issued for the address.
 * Not thread-safe: one client per thread.
 */
#ifndef SQ_PKSCLIENT_H
#define SQ_PKSCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "control.h"
#include "sbuf.h"

#define PKS_URL_DEFAULT "https://127.0.0.1:7443"
#define PKS_TIMEOUT_DEFAULT 10          /* seconds, control/timeoutpks */
#define PKS_CONNECT_TIMEOUT_DEFAULT 5   /* seconds, control/timeoutpksconnect */
#define PKS_TIMEOUT_MAX 3600            /* seconds; larger is a typo */
#define PKS_SECRET_MAX 127              /* bytes of a client secret */
#define PKS_REPLY_MAX (1024 * 1024)     /* a longer reply is PKS_TEMP */
#define PKS_ROW_MAX ((UINT64_C(1) << 53) - 1)  /* exact in a JSON double */

enum pks_result {
	PKS_OK = 0,
	PKS_NOT_FOUND,   /* 404: no such key/row/address — a definite answer */
	PKS_CONFLICT,    /* 409 */
	PKS_REFUSED,     /* 400, 401, 403, 413, 422: our request or our credentials are wrong */
	PKS_LOCKED,      /* 429: login backoff/lockout */
	PKS_TEMP = -1    /* cannot tell: connect/TLS/timeout errors, 5xx, unparsable reply */
};

struct pks_config {
	char url[256];          /* base URL, https only, no trailing '/' */
	char cafile[4096];      /* the instance CA, the only trust anchor */
	uint32_t client_id;     /* HTTP Basic user */
	char secret[128];       /* HTTP Basic password; empty: send none */
	long connect_timeout_ms;
	long timeout_ms;        /* whole request; <= 0 means the default */
};

/* Reads control/pksurl (default PKS_URL_DEFAULT), control/timeoutpks and
 * control/timeoutpksconnect (seconds, 1 to PKS_TIMEOUT_MAX) through ctl;
 * the CA file is ctldir/ca.pem, which must be readable now; credname names
 * a control file holding "ID:SECRET" on one line (mode 0400 in
 * production). Returns 0, or -1 with a reason in why (never the secret);
 * on failure cfg is wiped. */
int pks_config_load(struct pks_config *cfg, struct control *ctl,
                    const char *ctldir, const char *credname, char *why,
                    size_t whylen);
/* Wipes the whole config, secret included. */
void pks_config_wipe(struct pks_config *cfg);

/* The parser behind the credential file, for text already in memory:
 * control-file rules (comments, trailing blanks) and exactly one value
 * line "ID:SECRET", ID a decimal below 2^32, SECRET 1 to PKS_SECRET_MAX
 * printable ASCII bytes without spaces. 0, or -1 with a reason. */
int pks_parse_credentials(const char *text, size_t len, uint32_t *id,
                          char secret[PKS_SECRET_MAX + 1], char *why,
                          size_t whylen);

/* One CURL easy handle reused for keep-alive. The client keeps no copy of
 * the secret (libcurl does); the caller may wipe cfg at once. NULL when out
 * of memory or when libcurl refuses an option (too old a libcurl). */
struct pks_client;
struct pks_client *pks_client_new(const struct pks_config *cfg);
void pks_client_free(struct pks_client *c);
/* The reason for the last result other than PKS_OK, human readable, never
 * the secret, e.g. "HTTP 503: database_unavailable (...)". */
const char *pks_client_error(const struct pks_client *c);

struct pks_key {
	uint64_t row;           /* 1 to PKS_ROW_MAX */
	unsigned version;       /* >= 1 */
	char *pek;              /* PEM certificate, not yet verified */
	char *pdk;              /* wrapped PDK (PEM); NULL unless asked and served */
	time_t locked_until;    /* 0 if not locked */
};
struct pks_keys {
	size_t n;
	struct pks_key *key;
};
/* Wipes the PDK strings before freeing; leaves k empty. */
void pks_keys_free(struct pks_keys *k);

/* The calls. Addresses are normalised here (sq-addrhash(5)) before they
 * are sent or hashed; an invalid one is PKS_REFUSED without a request, as
 * is a row outside 1 to PKS_ROW_MAX. Scalar output pointers may be NULL;
 * a struct pks_keys *out may not, and is overwritten (empty unless
 * PKS_OK). On any other result than PKS_OK scalar outputs are untouched. */
enum pks_result pks_health(struct pks_client *c);
enum pks_result pks_get_peks(struct pks_client *c, uint32_t hash,
                             struct pks_keys *out);
enum pks_result pks_get_pdks(struct pks_client *c, uint32_t hash,
                             struct pks_keys *out);
enum pks_result pks_create(struct pks_client *c, const char *address,
                           const char *pek, const char *pdk, uint64_t *row,
                           unsigned *version);
enum pks_result pks_new_version(struct pks_client *c, const char *address,
                                const char *pek, const char *pdk,
                                uint64_t *row, unsigned *version);
enum pks_result pks_replace_pdk(struct pks_client *c, uint32_t hash,
                                uint64_t row, const char *pdk);
enum pks_result pks_delete_address(struct pks_client *c, const char *address,
                                   unsigned *deleted);
enum pks_result pks_availability(struct pks_client *c, const char *address,
                                 int *available);
enum pks_result pks_login_failure(struct pks_client *c, uint32_t hash,
                                  uint64_t row, unsigned *failures,
                                  time_t *locked_until);
enum pks_result pks_login_success(struct pks_client *c, uint32_t hash,
                                  uint64_t row);

/* From rows answered for a hash (several addresses can share one: 32-bit
 * hashes collide), keep those whose PEK certificate verifies against ca for
 * address (pki_verify_pek), and return the index of the one with the highest
 * version (on a tie, the highest row), or -1 if none. This is how a caller
 * picks the right key. */
long pks_select(const struct pks_keys *keys, X509 *ca, const char *address);

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

#endif
