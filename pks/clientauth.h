/*
 * clientauth - the secrets of the key store's API clients. A client's
 * secret is 32 random octets written as 43 base64url characters; the store
 * keeps only SHA-256(salt || secret) with a 16-octet random salt. The
 * secret's own entropy makes a slow hash unnecessary; comparison is in
 * constant time.
 */
#ifndef SQ_CLIENTAUTH_H
#define SQ_CLIENTAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define CLIENT_SECRET_LEN 43

/* A new client record for role with a random id and secret; the secret
 * (NUL-terminated) goes to secret, for the operator, once. 0 or -1. */
int client_new(struct client_rec *c, int role, const char *note,
               char secret[CLIENT_SECRET_LEN + 1]);

/* 1 if secret (len octets) is c's secret, else 0. */
int client_verify(const struct client_rec *c, const char *secret, size_t len);

#endif
