/*
 * rowseal - sealing a key-store row.
 *
 * Each row has its own Dynamic Row Secret (DRS): 32 octets from libgcrypt's
 * GCRY_VERY_STRONG_RANDOM, fresh on every write. The row's blob (the PEK
 * certificate and the wrapped PDK) is sealed with AES-256-GCM under the
 * DRS; the DRS is sealed to the PKS key pair (X25519 with an ephemeral key,
 * HKDF-SHA256, AES-256-GCM). Both seals take the row's address hash, row id
 * and key version as associated data, so a blob or DRS copied to another
 * row fails to open. Formats in pksd(8).
 */
#ifndef SQ_ROWSEAL_H
#define SQ_ROWSEAL_H

#include <stddef.h>
#include <stdint.h>

#include "pkskey.h"
#include "util/sbuf.h"

#define DRS_LEN 32
#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN 16
/* version(1) key id(4) ephemeral(32) nonce(12) DRS(32) tag(16) */
#define SEALED_DRS_LEN (1 + 4 + PKSKEY_LEN + GCM_NONCE_LEN + DRS_LEN + GCM_TAG_LEN)
#define BLOB_OVERHEAD (GCM_NONCE_LEN + GCM_TAG_LEN)

struct row_id {
	uint32_t hash;
	uint64_t row;
	uint32_t version;
};

/* Seals plain (n octets) for row id with a fresh DRS sealed to key:
 * blob = nonce || ciphertext || tag, and the sealed DRS. 0 or -1. */
int row_seal(const struct pkskey *key, const struct row_id *id,
             const void *plain, size_t n, struct sbuf *blob,
             unsigned char sealed_drs[SEALED_DRS_LEN]);

/* The id of the PKS key that sealed a DRS (0 for a malformed one). */
uint32_t row_drs_key_id(const unsigned char *sealed_drs, size_t len);

/* Opens a row: the DRS with key (which must be the one that sealed it),
 * then the blob, appending the plaintext to plain (a secret sbuf). 0, or -1
 * for anything tampered with, moved, or sealed under another key. */
int row_open(const struct pkskey *key, const struct row_id *id,
             const void *blob, size_t bloblen, const unsigned char *sealed_drs,
             size_t drslen, struct sbuf *plain);

/* The pepper of a login cache entry (sq-checkpw(8), LOGIN CACHE) for
 * the wrapped PDK pdk (pdklen octets) of row: HMAC-SHA256 under key's
 * private half of a label, the row and the wrapped PDK. It changes when
 * the PDK is wrapped again (a new password) or the PKS key rotates, and
 * nobody without the PKS key can compute it. 0 or -1. */
#define LOGIN_PEPPER_LEN 32
int row_login_pepper(const struct pkskey *key, uint64_t row, const char *pdk,
                     size_t pdklen, unsigned char out[LOGIN_PEPPER_LEN]);

/* Opens only the sealed DRS of row id into drs (the caller's secure
 * memory): for the tests, which check that every write has a fresh DRS.
 * 0, or -1 as row_open. */
int row_open_drs(const struct pkskey *key, const struct row_id *id,
                 const unsigned char *sealed_drs, size_t drslen,
                 unsigned char drs[DRS_LEN]);

#endif
