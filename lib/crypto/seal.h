/*
 * seal - messages at rest as S/MIME authEnveloped-data (RFC 8551, CMS
 * AuthEnvelopedData RFC 5083) with AES-256-GCM content encryption (RFC
 * 5084) and ECDH P-256 key agreement with the SHA-256 X9.63 KDF and
 * AES-256 key wrap (RFC 5753). The format is in sq-sealed(5).
 *
 * Sealing streams: the plaintext is read once from a descriptor and the
 * S/MIME entity written as it goes, in memory bounded whatever the message
 * size. Opening needs the whole entity (the tag comes last) and releases
 * plaintext only after the GCM tag has been verified.
 */
#ifndef SQ_SEAL_H
#define SQ_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
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
 * S/MIME entity to outfd (not fsynced: that is the caller's ordering).
 * Input beyond max_in octets fails (EMSGSIZE); max_in 0 is refused
 * (EINVAL): every read is bounded. 0 on success; -1 on a read or write
 * error (errno) or a crypto error. */
int seal_fd(int infd, int outfd, X509 *pek, uint64_t max_in,
            struct seal_size *size);

/* The header line a stored sealed message begins with, before the entity:
 * "X-SQ-Plaintext-Size: N", N the crlf_octets below. The stores put it in
 * the maildir name, for POP3 LIST (sq-sealed(5)). */
#define SEAL_SIZE_HEADER "X-SQ-Plaintext-Size"

/* The same for a message already in memory (n octets at data): a sealer
 * that makes one copy for each of several recipients. It writes the
 * SEAL_SIZE_HEADER line first, which seal_fd, streaming, cannot. */
int seal_mem(const void *data, size_t n, int outfd, X509 *pek,
             struct seal_size *size);

/* Opens an S/MIME authEnveloped-data entity read from in (at most max_in
 * octets of it; 0 is refused) with the PDK and its certificate, and appends the
 * plaintext to out only once the tag has verified. Refuses anything that
 * is not authEnveloped-data, including unauthenticated enveloped-data.
 * 0 on success, -1 on failure (nothing appended). After a failure of
 * either direction, OpenSSL's error queue says why (see pki_errstr). */
int seal_open_bio(BIO *in, uint64_t max_in, EVP_PKEY *pdk, X509 *cert,
                  struct sbuf *out);
int seal_open_fd(int infd, uint64_t max_in, EVP_PKEY *pdk, X509 *cert,
                 struct sbuf *out);

#endif
