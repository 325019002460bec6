/*
 * pksclient - the client of pksd, the Paired Key Store's HTTPS REST
 * service (API v1): sealers fetch PEKs, sq-pkslogin fetches wrapped PDKs
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
 *
 * The configuration (pksconfig.h) and the reading of replies and choice of
 * key (pksreply.h) are modules of their own, included here.
 */
#ifndef SQ_PKSCLIENT_H
#define SQ_PKSCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "util/control.h"
#include "client/pksconfig.h"
#include "client/pksreply.h"
#include "util/sbuf.h"

#define PKS_REPLY_MAX (1024 * 1024)     /* a longer reply is PKS_TEMP */

/* One CURL easy handle reused for keep-alive. The client keeps no copy of
 * the secret (libcurl does); the caller may wipe cfg at once. NULL when out
 * of memory or when libcurl refuses an option (too old a libcurl). */
struct pks_client;
struct pks_client *pks_client_new(const struct pks_config *cfg);
void pks_client_free(struct pks_client *c);
/* The reason for the last result other than PKS_OK, human readable, never
 * the secret, e.g. "HTTP 503: database_unavailable (...)". */
const char *pks_client_error(const struct pks_client *c);

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
/* A POP3 login (pksd(8), LOGIN THROTTLING): the wrapped PDKs of hash for
 * a client at client_ip (TCPREMOTEIP; NULL or "" when unknown), counted
 * by the key store as a failed attempt before it serves them; PKS_LOCKED
 * (429) when the login must wait: no PDK, nothing counted. The reply is
 * left as pksd sent it, in reply (a secret sbuf: it holds wrapped PDKs
 * and their cache peppers), for sq-pkslogin(8) to pass on and its client
 * to read with pks_parse_keys(..., want_pdk 1). */
enum pks_result pks_login_attempt(struct pks_client *c, uint32_t hash,
                                  const char *client_ip, struct sbuf *reply);
/* The password was right: takes the attempt (and the client network's
 * earlier failures) back. */
enum pks_result pks_login_succeeded(struct pks_client *c, uint32_t hash,
                                    const char *client_ip);

#endif
