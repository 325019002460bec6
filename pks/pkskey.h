/*
 * pkskey - the PKS's own key pair, which seals every row's Dynamic Row
 * Secret. An X25519 pair through libgcrypt; the private half lives in
 * libgcrypt's secure (locked, wiped) memory and, at rest, in a file that
 * only pksd's user may read (mode 0400). Rotation adds a "next" key; a row
 * names the key that sealed it by a 32-bit key id.
 */
#ifndef SQ_PKSKEY_H
#define SQ_PKSKEY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PKSKEY_LEN 32

struct pkskey {
	uint32_t id;                    /* first 4 octets of SHA-256(pub) */
	unsigned char pub[PKSKEY_LEN];
	unsigned char *priv;            /* PKSKEY_LEN octets, secure memory */
};

/* Initialises libgcrypt (version check, secure memory). Once per process,
 * before anything else uses it; 0 or -1. */
int pks_crypto_init(void);

/* A fresh pair from GCRY_VERY_STRONG_RANDOM; 0 or -1. */
int pkskey_generate(struct pkskey *k);

/* Writes dirfd/name crash-safely, mode 0400, owned by uid:gid (-1 keeps
 * ours) before it appears under its name, so pksd never sees a key file
 * it cannot read; 0 or -1. */
int pkskey_save(const struct pkskey *k, int dirfd, const char *name,
                uid_t uid, gid_t gid);

/* Reads dirfd/name, which must be mode 0400 exactly (else EPERM) and owned
 * by owner (else EACCES): 1, 0 (no such file) or -1 (those, unreadable or
 * malformed). */
int pkskey_load(struct pkskey *k, int dirfd, const char *name, uid_t owner);

/* k from a private half (PKSKEY_LEN octets, copied into secure memory),
 * as a backup carries it; 0 or -1. */
int pkskey_from_priv(struct pkskey *k, const unsigned char *priv);

void pkskey_free(struct pkskey *k);

/* X25519(scalar, point), or with point NULL the base point; 0, or -1 if
 * the result is the all-zero value of a low-order point. */
int x25519(unsigned char out[PKSKEY_LEN], const unsigned char *scalar,
           const unsigned char *point);

#endif
