/*
 * clientfile - the clients of edhd, control/edhclients (mode 0400, edhd's
 * user): one line per client
 *   ID ROLE SALT HASH [NOTE]
 * ID a random 32-bit decimal (1 to 4294967295, no leading zero), ROLE
 * "deliver" (LMTP) or "retrieve" (POP3), SALT 16 random octets and HASH
 * SHA-256(SALT || secret), both in lower-case hex, NOTE free printable
 * text for the operator. The secret and its hash are made and checked by
 * lib/crypto/clientsecret (the same hash as pksd's client table, stored
 * there in binary); this file's reader and writer are the hex format's.
 * The credential a client holds is "ID:SECRET" (edh-ctl(8)).
 */
#ifndef SQ_CLIENTFILE_H
#define SQ_CLIENTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/clientsecret.h"
#include "util/sbuf.h"

#define EDH_SECRET_LEN CLIENTSECRET_LEN
#define EDH_NOTE_MAX 200
#define EDH_CLIENTS_FILE "edhclients"

enum edh_role { EDH_ROLE_DELIVER = 1, EDH_ROLE_RETRIEVE = 2 };

struct edh_client {
	uint32_t id;
	int role;
	unsigned char salt[CLIENTSECRET_SALT];
	unsigned char hash[CLIENTSECRET_HASH];
	char note[EDH_NOTE_MAX + 1];
};

struct edh_clients {
	struct edh_client *v;
	size_t n;
};

/* "deliver" or "retrieve" to its role, anything else 0; and back. */
int edh_role_parse(const char *s);
const char *edh_role_name(int role);

/* A client id: decimal, 1 to 4294967295, no sign or leading zero, len
 * octets at s. 0 or -1 (EINVAL). */
int edh_client_id_parse(const char *s, size_t len, uint32_t *id);

/* Parses the file's text (control file syntax, sq-control(5)); a line
 * that is malformed or repeats an id makes the whole file invalid: -1,
 * EINVAL, its number among the value lines in *badline. 0 on success. */
int edh_clients_parse(const char *text, size_t len, struct edh_clients *out,
                      size_t *badline);

/* Reads and parses dirfd/name: 1, 0 when it does not exist (no clients),
 * -1 (errno; EINVAL with *badline for a bad line). */
int edh_clients_load(int dirfd, const char *name, struct edh_clients *out,
                     size_t *badline);
void edh_clients_free(struct edh_clients *c);

/* The client with this id, or NULL. */
const struct edh_client *edh_clients_find(const struct edh_clients *c,
                                          uint32_t id);

/* A new client for role with an id not in existing (may be NULL) and a
 * fresh secret, written (NUL-terminated) to secret for the operator,
 * once. note must be printable ASCII. 0 or -1. */
int edh_client_new(struct edh_client *c, int role, const char *note,
                   const struct edh_clients *existing,
                   char secret[EDH_SECRET_LEN + 1]);

/* 1 if secret (len octets) is c's secret, else 0, in time independent of
 * where they differ. With c NULL (an unknown id) the same work is done
 * and 0 returned, so that timing does not tell ids apart. */
int edh_client_verify(const struct edh_client *c, const char *secret,
                      size_t len);

/* Appends c's line (with its "\n") to out. 0 or -1. */
int edh_client_format(const struct edh_client *c, struct sbuf *out);

#endif
