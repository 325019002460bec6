/*
 * seal - messages at rest as S/MIME authEnveloped-data (RFC 8551, CMS
 * AuthEnvelopedData RFC 5083) with AES-256-GCM content encryption (RFC
 * 5084) and ECDH P-256 key agreement with the SHA-256 X9.63 KDF and
 * AES-256 key wrap (RFC 5753). The format is in sq-sealed(5).
 *
 * At rest the entity is the CMS ContentInfo in binary (BER, indefinite
 * lengths); S/MIME's base64 is made only where a message is served sealed
 * (seal_to_smime). Sealing streams: the plaintext is read once from a
 * descriptor and the entity written as it goes, in memory bounded
 * whatever the message size. Opening needs the whole entity (the tag
 * comes last) and releases plaintext only after the GCM tag has been
 * verified; it takes either form, so messages stored as S/MIME by older
 * versions still open.
 */
#ifndef SQ_SEAL_H
#define SQ_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/sbuf.h"

/* The plaintext's size, counted while sealing. crlf_octets is the size the
 * message has with every bare LF sent as CRLF: what POP3 LIST reports. */
struct seal_size {
	uint64_t octets;
	uint64_t crlf_octets;
};

/* Seals everything readable from infd for the holder of pek and writes the
 * entity (BER) to outfd (not fsynced: that is the caller's ordering).
 * Input beyond max_in octets fails (EMSGSIZE); max_in 0 is refused
 * (EINVAL): every read is bounded. 0 on success; -1 on a read or write
 * error (errno) or a crypto error. */
int seal_fd(int infd, int outfd, X509 *pek, uint64_t max_in,
            struct seal_size *size);

/* The line a sealed message in the queue or in transfer to the EDH
 * begins with, before the entity: "X-SQ-Plaintext-Size: N", N the
 * crlf_octets below. The stores put N in the maildir name, for POP3 LIST,
 * and keep the entity alone (sq-sealed(5)). */
#define SEAL_SIZE_HEADER "X-SQ-Plaintext-Size"

/* The first octet of an entity in binary: a ContentInfo is a SEQUENCE. */
#define SEAL_DER_FIRST 0x30

/* The same for a message already in memory (n octets at data): a sealer
 * that makes one copy for each of several recipients. It writes the
 * SEAL_SIZE_HEADER line first, which seal_fd, streaming, cannot. */
int seal_mem(const void *data, size_t n, int outfd, X509 *pek,
             struct seal_size *size);

/* Where the binary entity starts in data (len octets) that begins with
 * the SEAL_SIZE_HEADER line: just after that line; 0 when data is not a
 * size line followed by a binary entity (an entity alone, or the S/MIME
 * form older versions stored, which keeps its size line). */
size_t seal_entity_start(const char *data, size_t len);

/* The CMS structure of an entity (len octets) in either form: binary when
 * it starts with SEAL_DER_FIRST (nothing may follow it), else S/MIME.
 * NULL if it does not parse. */
CMS_ContentInfo *seal_parse(const char *entity, size_t len);

/* The entity (either form) as S/MIME 4.0, appended to out: for clients
 * that are served a message sealed. 0, or -1 (nothing appended). */
int seal_to_smime(const char *entity, size_t len, struct sbuf *out);

/* Opens an authEnveloped-data entity (binary or S/MIME, with or without
 * the size line) read from in (at most max_in
 * octets of it; 0 is refused) with the PDK and its certificate, and appends the
 * plaintext to out only once the tag has verified. Refuses anything that
 * is not authEnveloped-data, including unauthenticated enveloped-data.
 * 0 on success, -1 on failure (nothing appended). After a failure of
 * either direction, OpenSSL's error queue says why (see pki_errstr). */
int seal_open_bio(BIO *in, uint64_t max_in, EVP_PKEY *pdk, X509 *cert,
                  struct sbuf *out);

/* The two halves of opening, for a message held once in memory and
 * tried with several keys: seal_parse_sealed parses the message in
 * sealed (either form, with or without the size line) and frees sealed,
 * whose octets the structure no longer needs (NULL if it does not
 * parse); seal_open_cms checks and decrypts it as above. */
CMS_ContentInfo *seal_parse_sealed(struct sbuf *sealed);
int seal_open_cms(CMS_ContentInfo *cms, EVP_PKEY *pdk, X509 *cert,
                  struct sbuf *out);
/* The same for a structure whose encrypted content was taken out of it,
 * read from content (sealsplit.h). */
int seal_open_detached(CMS_ContentInfo *cms, BIO *content, EVP_PKEY *pdk,
                       X509 *cert, struct sbuf *out);
int seal_open_fd(int infd, uint64_t max_in, EVP_PKEY *pdk, X509 *cert,
                 struct sbuf *out);

/* The type of one kind of our BIOs (kind: BIO_TYPE_FILTER or _SOURCE_SINK)
 * with its number from *index, taken once per process; -1 if none is
 * left. BIO_get_new_index() gives a new number on every call, without
 * bound in OpenSSL 3.0: taken per message, a long-lived worker's numbers
 * come to equal OpenSSL's own types (BIO_TYPE_MEM, BIO_TYPE_CIPHER) and
 * to carry their flag bits, and BIO_find_type() can take ours for one. */
int seal_bio_type(int *index, int kind);

#endif
