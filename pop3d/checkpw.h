/*
 * checkpw - the work of sq-checkpw(8), apart from its process plumbing:
 * the checkpassword input, and unlocking an address's PDKs with the
 * password.
 *
 * Unlocking fetches every wrapped PDK of the address through the login
 * relay (the key store's login role) as a login attempt from the
 * client's IP, which the key store counts as
 * a failure before it serves them and may refuse (throttling), keeps the
 * versions whose PEK the instance CA issued for the address and
 * unwraps each with the password. An address the key store does not know
 * costs one unwrap of a decoy key of the same scrypt cost, so the time a
 * login takes does not tell which addresses exist.
 */
#ifndef SQ_CHECKPW_H
#define SQ_CHECKPW_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "mail/maildir.h"
#include "client/pksreply.h"
#include "util/sbuf.h"

#define CHECKPW_INPUT_MAX 512   /* the checkpassword contract */

/* Splits the input "user\0password\0timestamp\0" (len octets, at most
 * CHECKPW_INPUT_MAX): user and password must be NUL-terminated and
 * non-empty; the timestamp may be missing. 0, or -1. */
int checkpw_parse(const char *in, size_t len, const char **user,
                  const char **password);

enum checkpw_result {
	CHECKPW_OK = 0,
	CHECKPW_WRONG = 1,      /* unknown address or wrong password */
	CHECKPW_LOCKED = 2,     /* the key store's throttle: try later */
	CHECKPW_TEMP = -1       /* cannot tell now */
};

struct checkpw_unlocked {
	uint32_t hash;
	uint64_t row;           /* the newest version that opened: the row
	                         * the key store counts logins against */
	char mailbox[MAILDIR_ID_SIZE];
	size_t versions;        /* how many opened */
	size_t cached;          /* how many of them the login cache had */
	struct sbuf pem;        /* secret: for each, certificate then key */
};

/* Where a login's helpers listen (paths of local sockets): the login
 * relay sq-pkslogin(8), which makes the key store calls (pkslogin.h,
 * waited for at most PKSLOGIN_WAIT_MS); the login cache sq-pdkcache(8)
 * (NULL: none; pdkcache.h). */
struct checkpw_sockets {
	const char *relay;
	const char *cache;
};

/* Tries the password on the PDKs of the normalised address, for a client
 * at client_ip (NULL or "" when unknown), through the relay and cache at
 * at. out->pem is initialised here (a secret sbuf); free it with
 * checkpw_unlocked_free. On CHECKPW_OK the caller reports the success
 * (pkslogin_succeeded). */
enum checkpw_result checkpw_unlock(const struct checkpw_sockets *at,
                                   X509 *ca, const char *address,
                                   const char *client_ip,
                                   const char *password,
                                   struct checkpw_unlocked *out, char *why,
                                   size_t whylen);
void checkpw_unlocked_free(struct checkpw_unlocked *u);

#endif
