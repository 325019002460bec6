/*
 * pdkcache - the login cache of sq-pdkcache(8): unlocked PDKs kept for a
 * while after a login, so that the next login of the same subscriber does
 * not pay the scrypt unwrap again, without letting anyone who reads the
 * cache open them or log in.
 *
 * An entry is named by the key store row and the SHA-256 of the wrapped
 * PDK the key store served for it, and holds the unlocked PDK (PEM)
 * sealed with AES-256-GCM under a key only a login can make:
 *
 *   K = HMAC-SHA256(pepper, "secure-qmail pdk cache v1" || row || password)
 *
 * where the pepper is the one the key store sends with every login
 * attempt (pksd(8)), computed from its own key. The cache keeps neither
 * K, the password nor the pepper: it opens an entry only for a caller who
 * brings K, and forgets the entry after PDKCACHE_TRIES wrong ones. A new
 * password wraps the PDK anew, so its digest, the entry's name, changes:
 * the old entry is never found again and expires.
 */
#ifndef SQ_PDKCACHE_H
#define SQ_PDKCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/sbuf.h"

#define PDKCACHE_KEY_LEN 32
#define PDKCACHE_DIGEST_LEN 32
#define PDKCACHE_PDK_MAX 512            /* a P-256 PKCS#8 PEM is ~250 */
#define PDKCACHE_TRIES 3                /* wrong keys before an entry goes */
#define PDKCACHE_SIZE_DEFAULT 4096      /* entries, 600 octets each */
#define PDKCACHE_TIME_DEFAULT 900       /* seconds an entry lives */
#define PDKCACHE_SOCKET "pdkcache/socket" /* under $SQ_HOME: a directory
                                           * of the POP3 user, 0700 */

struct pdkcache_entry {
	uint64_t row;
	unsigned char digest[PDKCACHE_DIGEST_LEN];
	time_t expires;                 /* 0: a free slot */
	unsigned tries;                 /* wrong keys so far */
	unsigned char nonce[12], tag[16];
	size_t len;
	unsigned char sealed[PDKCACHE_PDK_MAX];
};

struct pdkcache {
	struct pdkcache_entry *e;
	size_t cap;
	time_t ttl;
};

/* A cache of cap entries living ttl seconds each; 0, or -1. */
int pdkcache_init(struct pdkcache *c, size_t cap, time_t ttl);
void pdkcache_fini(struct pdkcache *c);

/* Keeps pdk (n octets) for row and digest under key, as of now; replaces
 * an entry of the same name, else takes a free slot, else the one that
 * expires first. 0, or -1 (too long, or a crypto failure). */
int pdkcache_put(struct pdkcache *c, uint64_t row,
                 const unsigned char digest[PDKCACHE_DIGEST_LEN],
                 const unsigned char key[PDKCACHE_KEY_LEN], const char *pdk,
                 size_t n, time_t now);

/* Appends the PDK of row and digest to out (a secret sbuf) if there is a
 * live entry and key opens it: 1; 0 otherwise (a wrong key counts
 * against the entry). */
int pdkcache_get(struct pdkcache *c, uint64_t row,
                 const unsigned char digest[PDKCACHE_DIGEST_LEN],
                 const unsigned char key[PDKCACHE_KEY_LEN], time_t now,
                 struct sbuf *out);

/* The requests on the socket, one datagram each (SOCK_SEQPACKET), the
 * answer '+' (with the PDK for a get) or '-':
 *   'G' row(8, big-endian) digest(32) key(32)
 *   'P' row(8) digest(32) key(32) pdk
 * The client side, for sq-checkpw: the key of a login, the digest of a
 * wrapped PDK, and the two requests (a cache that does not answer within
 * timeout_ms is a miss; a put is best effort). */
#define PDKCACHE_REQ_HEAD (1 + 8 + PDKCACHE_DIGEST_LEN + PDKCACHE_KEY_LEN)
int pdkcache_login_key(const unsigned char *pepper, size_t pepperlen,
                       uint64_t row, const char *password,
                       unsigned char key[PDKCACHE_KEY_LEN]);
void pdkcache_digest(const char *wrapped, unsigned char out[PDKCACHE_DIGEST_LEN]);
int pdkcache_ask(const char *socket_path, uint64_t row,
                 const unsigned char digest[PDKCACHE_DIGEST_LEN],
                 const unsigned char key[PDKCACHE_KEY_LEN], int timeout_ms,
                 struct sbuf *pdk);
void pdkcache_tell(const char *socket_path, uint64_t row,
                   const unsigned char digest[PDKCACHE_DIGEST_LEN],
                   const unsigned char key[PDKCACHE_KEY_LEN], const char *pdk,
                   int timeout_ms);

#endif
