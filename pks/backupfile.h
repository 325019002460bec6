/*
 * backupfile - the PKS backup file, pks-backup(5): the payload (the PKS
 * keys, the schema version and every row of the key store) sealed under
 * an operator's passphrase.
 *
 * Nothing here is new cryptography: scrypt (RFC 7914, libgcrypt's
 * gcry_kdf_derive, r = 8) turns the passphrase and a random 32-octet salt
 * into 48 octets: the first 32 are an AES-256-GCM key, the next 16 a check
 * value kept in the header, so that a wrong passphrase is told apart from
 * a damaged file. AES-256-GCM seals the whole payload with the whole
 * header as associated data and the tag last: a change to any octet, a
 * cut or an appended octet makes the file refused, and nothing of the
 * payload is parsed before the tag has been checked.
 *
 * The payload is built and read with the put and get functions below
 * (big-endian integers, lengths before bytes); pks-ctl decides what goes
 * in it, in the order pks-backup(5) gives.
 */
#ifndef SQ_BACKUPFILE_H
#define SQ_BACKUPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "keyring.h"
#include "util/sbuf.h"

#define BACKUP_MAGIC "SQPKSBAK"
#define BACKUP_FORMAT 1
#define BACKUP_KDF_SCRYPT 1
#define BACKUP_SALT_LEN 32
#define BACKUP_NONCE_LEN 12
#define BACKUP_CHECK_LEN 16
#define BACKUP_TAG_LEN 16
/* magic(8) format(1) kdf(1) log2 N(1) r(1) p(1) reserved(3) salt(32)
 * check(16) nonce(12) payload length(8) */
#define BACKUP_HEADER_LEN (8 + 8 + BACKUP_SALT_LEN + BACKUP_CHECK_LEN + \
	BACKUP_NONCE_LEN + 8)
/* The largest payload written or read: one GCM message, held in memory. */
#define BACKUP_PAYLOAD_MAX ((size_t)1 << 30)
#define BACKUP_FILE_MAX (BACKUP_HEADER_LEN + BACKUP_PAYLOAD_MAX + BACKUP_TAG_LEN)

/* scrypt's cost: N = 2^log_n (memory 128 * 8 * N octets), p lanes. What
 * pks-ctl writes; a reader accepts log_n 10 to 20 and p 1 to 16, which
 * bounds the memory and time a file can make it spend. */
#define BACKUP_LOG_N 17
#define BACKUP_P 1
#define BACKUP_LOG_N_MIN 10
#define BACKUP_LOG_N_MAX 20
#define BACKUP_P_MAX 16

enum backup_result {
	BACKUP_OK = 0,
	BACKUP_FAIL = -1,       /* out of memory, or the crypto library */
	BACKUP_MALFORMED = -2,  /* not a backup, another format, a bad cost */
	BACKUP_PASSPHRASE = -3, /* the check value differs: wrong passphrase */
	BACKUP_TAMPERED = -4    /* the tag does not verify: changed or cut */
};

/* A reason for a backup_result, for the operator. */
const char *backup_strerror(int result);

/* scrypt(pass, salt, N = 2^log_n, r = 8, p) into out (n octets); 0 or -1. */
int backup_kdf(const void *pass, size_t passlen, const unsigned char *salt,
               size_t saltlen, unsigned log_n, unsigned p, unsigned char *out,
               size_t n);

/* Appends the sealed file for payload (n octets) to out, with a fresh salt
 * and nonce: BACKUP_OK or BACKUP_FAIL. */
int backup_seal(const void *pass, size_t passlen, unsigned log_n, unsigned p,
                const void *payload, size_t n, struct sbuf *out);

/* Opens a whole file (n octets): the payload is appended to payload (a
 * secret sbuf: it holds the PKS keys) only if everything verifies. */
int backup_open(const void *pass, size_t passlen, const void *file, size_t n,
                struct sbuf *payload);

/* ---- the payload's encoding ------------------------------------------- */

/* Appends to b; 0 or -1 (the sbuf's limit, or memory). */
int bput_u8(struct sbuf *b, unsigned v);
int bput_u16(struct sbuf *b, unsigned v);
int bput_u32(struct sbuf *b, uint32_t v);
int bput_u64(struct sbuf *b, uint64_t v);
/* A length (u32) and then the octets. */
int bput_bytes(struct sbuf *b, const void *data, size_t n);

/* A reader over a payload: every get fails (-1) once the reader has failed
 * (it ran past the end, or a length was over its bound), so a caller may
 * check once after a group of gets. */
struct breader {
	const unsigned char *p;
	size_t len, pos;
	int failed;
};
void breader_init(struct breader *r, const void *data, size_t n);
int bget_u8(struct breader *r, unsigned *v);
int bget_u16(struct breader *r, unsigned *v);
int bget_u32(struct breader *r, uint32_t *v);
int bget_u64(struct breader *r, uint64_t *v);
/* A length (u32) of at most max octets and then the octets, which *data
 * points to inside the payload. */
int bget_bytes(struct breader *r, const unsigned char **data, size_t *n,
               size_t max);
/* 1 when the reader has consumed every octet and never failed. */
int breader_done(const struct breader *r);

/* ---- the payload: what a backup holds --------------------------------- */

struct backup_data {
	int64_t made;                   /* Unix seconds */
	uint32_t schema;                /* the schema version of the rows */
	int have[KEY_SLOTS];
	struct pkskey key[KEY_SLOTS];   /* the key files, by slot */
	struct client_rec *client;
	size_t nclient;
	struct keyrows rows;            /* times in microseconds */
	struct login_rec *login;
	size_t nlogin;
};

/* Appends d's payload to out (a secret sbuf); 0 or -1. */
int backup_encode(const struct backup_data *d, struct sbuf *out);

/* Reads a payload into d (freed with backup_data_free, even after a
 * failure): 0, or -1 if it is malformed, over a bound or has octets left
 * over, or names a key twice or a key whose id is not that of its private
 * half. */
int backup_decode(struct backup_data *d, const void *payload, size_t n);

/* The slot of d that holds key id, or -1: every row must name one. */
int backup_key_slot(const struct backup_data *d, uint32_t id);

/* Frees what backup_decode allocated (the keys are wiped). */
void backup_data_free(struct backup_data *d);

#endif
