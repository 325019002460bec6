/*
 * pki - the instance's key pairs and certificates, on OpenSSL 3.
 *
 * Every subscriber key pair is EC P-256. The public half (PEK) is issued
 * as an X.509 certificate by the instance CA, subjectAltName rfc822Name
 * the normalised address (and the subject CN too when it fits X.509's 64
 * characters; a longer address's CN is its address hash), key usage
 * keyAgreement, extended key usage emailProtection. Sealers verify the chain
 * to the CA and the address before using a PEK, so a tampered key store
 * cannot substitute a key of its own.
 */
#ifndef SQ_PKI_H
#define SQ_PKI_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/sbuf.h"

#define PKI_CA_DAYS 7300
#define PKI_PEK_DAYS 3650

/* A fresh EC P-256 key pair, or NULL. */
EVP_PKEY *pki_keygen(void);

/* A self-signed CA certificate for key, subject CN=name. NULL on error. */
X509 *pki_ca_create(EVP_PKEY *key, const char *name, int days);

/* Issues the PEK certificate of address (already normalised) for the
 * public half of subject_key, signed by the CA. NULL on error. */
X509 *pki_issue_pek(EVP_PKEY *ca_key, X509 *ca_cert, EVP_PKEY *subject_key,
                    const char *address, int days);

/* Issues a TLS server certificate (pksd, edhd) for the public half of
 * key, naming each of names[0..n) in subjectAltName (IP addresses as IP,
 * the rest as DNS names; the first is also the CN). NULL on error. */
X509 *pki_issue_server(EVP_PKEY *ca_key, X509 *ca_cert, EVP_PKEY *key,
                       const char *const *names, size_t n, int days);

/* 1 if cert chains to ca, is valid now, is a P-256 keyAgreement /
 * emailProtection certificate and names address; 0 if not (reason in why,
 * which may be NULL); -1 on internal error. */
int pki_verify_pek(X509 *cert, X509 *ca, const char *address, char *why,
                   size_t whylen);

/* The address a PEK names: its one subjectAltName rfc822Name,
 * normalised into out (ADDR_MAX + 1 octets). 0, or -1 if there is not
 * exactly one, or it is not a valid address. */
int pki_cert_address(X509 *cert, char *out);

/* PEM in and out. The parsers read at most len bytes of untrusted input. */
X509 *pki_cert_from_pem(const char *pem, size_t len);
int pki_cert_to_pem(X509 *cert, struct sbuf *out);
X509 *pki_cert_load(const char *path);
/* An unencrypted PEM private key file (the CA's, mode 0400). */
EVP_PKEY *pki_key_load(const char *path);
int pki_key_to_pem(EVP_PKEY *key, struct sbuf *out);

/* Drains OpenSSL's error queue into one line in buf; returns buf. */
const char *pki_errstr(char *buf, size_t len);

#endif
