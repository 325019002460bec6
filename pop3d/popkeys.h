/*
 * popkeys - the unlocked keys sq-checkpw(8) hands sq-pop3d on descriptor
 * 4 (for each key version: its PEM certificate, then its PEM private
 * key), and opening a sealed message with whichever of them it was
 * sealed for: after a password reset old mail stays sealed to an old
 * version (ses-passwd(8)).
 */
#ifndef SQ_POPKEYS_H
#define SQ_POPKEYS_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/sbuf.h"

#define POPKEYS_PEM_MAX (1 << 20)       /* descriptor 4's octets, at most */
#define POPKEYS_MAX 64                  /* key versions, at most */

struct popkeys {
	size_t n;
	X509 *cert[POPKEYS_MAX];
	EVP_PKEY *pdk[POPKEYS_MAX];
};

/* Parses len octets of PEM pairs. 0 with at least one pair, or -1. */
int popkeys_parse(struct popkeys *k, const char *pem, size_t len);

/* Reads descriptor fd to its end (then closes it), parses it and wipes
 * what was read. 0, or -1. */
int popkeys_take(struct popkeys *k, int fd);

void popkeys_free(struct popkeys *k);

/* Opens the sealed message in sealed, which it frees once parsed (a large
 * message is then not held three times), with the first key that can,
 * appending the plaintext to out (a secret buffer). 0, or -1 (OpenSSL's
 * error queue says why). */
int popkeys_open(const struct popkeys *k, struct sbuf *sealed,
                 struct sbuf *out);

#endif
