/*
 * clientsecret - the secrets of our servers' clients, pksd's and edhd's:
 * 32 random octets written as CLIENTSECRET_LEN base64url characters, of
 * which the server keeps only a 16-octet random salt and
 * SHA-256(salt || secret). The secret's own entropy makes a slow hash
 * unnecessary; the hash is compared in constant time. One implementation,
 * with OpenSSL's libcrypto, for both servers.
 *
 * Where salt and hash rest is the server's own stored format, read by its
 * own code, and both are this same hash: pksd's MariaDB table client,
 * salt BINARY(16) and secret_hash BINARY(32) (pks/db.c, pks-ctl client
 * add); edhd's control/edhclients, both in lower-case hex on the client's
 * line (edh/clientfile.c, edh-ctl add; sq-edh(5)).
 */
#ifndef SQ_CLIENTSECRET_H
#define SQ_CLIENTSECRET_H

#include <stddef.h>
#include <stdint.h>

#define CLIENTSECRET_LEN 43     /* 256 bits and more, in base64url */
#define CLIENTSECRET_SALT 16
#define CLIENTSECRET_HASH 32

/* A fresh secret (NUL-terminated, for the operator, once), a fresh salt
 * and their hash. 0, or -1 (EIO: no random octets); secret is then "". */
int clientsecret_new(char secret[CLIENTSECRET_LEN + 1],
                     unsigned char salt[CLIENTSECRET_SALT],
                     unsigned char hash[CLIENTSECRET_HASH]);

/* hash = SHA-256(salt || the len octets of secret); all zero, which no
 * secret hashes to, if libcrypto fails. */
void clientsecret_hash(const unsigned char salt[CLIENTSECRET_SALT],
                       const char *secret, size_t len,
                       unsigned char hash[CLIENTSECRET_HASH]);

/* 1 if secret (len octets) hashes with salt to hash, else 0, in time
 * independent of where they differ. With salt and hash NULL (an unknown
 * client) the same work is done and 0 returned, so that timing does not
 * tell a known client from an unknown one. */
int clientsecret_verify(const unsigned char *salt, const unsigned char *hash,
                        const char *secret, size_t len);

/* A random client id, never 0. 0, or -1 (EIO). */
int clientsecret_id(uint32_t *id);

#endif
