/*
 * clientauth - the secrets of the key store's API clients: a record of
 * the client table (salt BINARY(16), secret_hash BINARY(32)) made and
 * checked by lib/crypto/clientsecret: the store keeps only
 * SHA-256(salt || secret) with a 16-octet random salt, compared in
 * constant time.
 */
#ifndef SQ_CLIENTAUTH_H
#define SQ_CLIENTAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/clientsecret.h"
#include "db.h"

#define CLIENT_SECRET_LEN CLIENTSECRET_LEN

/* A new client record for role with a random id and secret; the secret
 * (NUL-terminated) goes to secret, for the operator, once. 0 or -1 (no
 * random octets). */
int client_new(struct client_rec *c, int role, const char *note,
               char secret[CLIENT_SECRET_LEN + 1]);

/* 1 if secret (len octets) is c's secret, else 0. */
int client_verify(const struct client_rec *c, const char *secret, size_t len);

#endif
