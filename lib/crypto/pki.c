/*
 * pki - key pairs and certificates. See pki.h.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "mail/addr.h"
#include "util/fail.h"
#include "crypto/pki.h"

EVP_PKEY *pki_keygen(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* 159 random bits: positive, unique in practice (RFC 5280 allows 20 octets). */
static int set_random_serial(X509 *cert)
{
	unsigned char raw[20];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return 0;
	raw[0] &= 0x7f;
	raw[0] |= 0x40; /* never a leading zero octet */
	BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
	int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
	BN_free(bn);
	return ok;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = ext && X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A version 3 certificate for key with subject CN=cn, valid from now. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, int days)
{
	X509 *cert = X509_new();
	X509_NAME *name = cert ? X509_get_subject_name(cert) : NULL;
	if (!cert || !X509_set_version(cert, X509_VERSION_3) ||
	    !set_random_serial(cert) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -300) ||
	    !X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_pubkey(cert, key)) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

X509 *pki_ca_create(EVP_PKEY *key, const char *name, int days)
{
	X509 *cert = new_cert(key, name, days);
	if (!cert || !X509_set_issuer_name(cert, X509_get_subject_name(cert)) ||
	    !add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(cert, cert, NID_subject_key_identifier, "hash") ||
	    !X509_sign(cert, key, EVP_sha256())) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

X509 *pki_issue_pek(EVP_PKEY *ca_key, X509 *ca_cert, EVP_PKEY *subject_key,
                    const char *address, int days)
{
	char san[300];
	if (snprintf(san, sizeof san, "email:%s", address) >= (int)sizeof san)
		return NULL;
	/* The subject names the address in its emailAddress attribute (up
	 * to 255 characters, RFC 5280 ub-emailaddress-length), and the
	 * subjectAltName does too; pki_verify_pek checks both. X.509 caps a
	 * CN at 64 characters (ub-common-name): a longer address's CN is its
	 * hash. */
	char cn[ADDR_MAX + 1];
	if (strlen(address) <= 64)
		snprintf(cn, sizeof cn, "%s", address);
	else
		addr_hash_hex(addr_hash(address), cn);
	X509 *cert = new_cert(subject_key, cn, days);
	if (!cert ||
	    !X509_NAME_add_entry_by_NID(X509_get_subject_name(cert),
	                                NID_pkcs9_emailAddress, MBSTRING_ASC,
	                                (const unsigned char *)address, -1, -1,
	                                0) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(ca_cert)) ||
	    !add_ext(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, ca_cert, NID_key_usage, "critical,keyAgreement") ||
	    !add_ext(cert, ca_cert, NID_ext_key_usage, "emailProtection") ||
	    !add_ext(cert, ca_cert, NID_subject_alt_name, san) ||
	    !add_ext(cert, ca_cert, NID_subject_key_identifier, "hash") ||
	    !add_ext(cert, ca_cert, NID_authority_key_identifier, "keyid") ||
	    !X509_sign(cert, ca_key, EVP_sha256())) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

X509 *pki_issue_server(EVP_PKEY *ca_key, X509 *ca_cert, EVP_PKEY *key,
                       const char *const *names, size_t n, int days)
{
	char san[2048] = "";
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ip[16];
		int is_ip = inet_pton(AF_INET, names[i], ip) == 1 ||
		            inet_pton(AF_INET6, names[i], ip) == 1;
		int w = snprintf(san + used, sizeof san - used, "%s%s:%s",
		                 i ? "," : "", is_ip ? "IP" : "DNS", names[i]);
		if (w < 0 || (size_t)w >= sizeof san - used ||
		    (strpbrk(names[i], ",:") && !is_ip))
			return NULL;
		used += (size_t)w;
	}
	X509 *cert = n ? new_cert(key, names[0], days) : NULL;
	if (!cert ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(ca_cert)) ||
	    !add_ext(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, ca_cert, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(cert, ca_cert, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(cert, ca_cert, NID_subject_alt_name, san) ||
	    !add_ext(cert, ca_cert, NID_authority_key_identifier, "keyid") ||
	    !X509_sign(cert, ca_key, EVP_sha256())) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

static int is_p256(X509 *cert)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	char group[32];
	return pub && EVP_PKEY_is_a(pub, "EC") &&
	       EVP_PKEY_get_group_name(pub, group, sizeof group, NULL) &&
	       strcmp(group, "prime256v1") == 0;
}

/* Whether the attribute nid of name occurs exactly once and is the
 * address; -1 when it does not occur at all. */
static int name_entry_is(X509_NAME *name, int nid, const char *address)
{
	int at = X509_NAME_get_index_by_NID(name, nid, -1);
	if (at < 0)
		return -1;
	if (X509_NAME_get_index_by_NID(name, nid, at) >= 0)
		return 0;
	const ASN1_STRING *v =
	        X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
	size_t n = strlen(address);
	return v && (size_t)ASN1_STRING_length(v) == n &&
	       memcmp(ASN1_STRING_get0_data(v), address, n) == 0;
}

/* Whether the subject names the address: its emailAddress attribute, or,
 * in a certificate issued before there was one, its CN. */
static int subject_names(X509 *cert, const char *address)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int r = name_entry_is(name, NID_pkcs9_emailAddress, address);
	return r >= 0 ? r : name_entry_is(name, NID_commonName, address) == 1;
}

int pki_verify_pek(X509 *cert, X509 *ca, const char *address, char *why,
                   size_t whylen)
{
	if (!subject_names(cert, address))
		return fail_why(why, whylen, 0,
		                "subject does not name the address");
	if (!is_p256(cert))
		return fail_why(why, whylen, 0, "not an EC P-256 key");
	if (!(X509_get_key_usage(cert) & KU_KEY_AGREEMENT))
		return fail_why(why, whylen, 0, "key usage lacks keyAgreement");
	if (!(X509_get_extended_key_usage(cert) & XKU_SMIME))
		return fail_why(why, whylen, 0,
		                "extended key usage lacks emailProtection");

	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int r = -1;
	if (store && ctx && X509_STORE_add_cert(store, ca) &&
	    X509_STORE_CTX_init(ctx, store, cert, NULL)) {
		X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
		/* the chain check also matches rfc822Name against address */
		if (X509_VERIFY_PARAM_set1_email(param, address, strlen(address))) {
			r = X509_verify_cert(ctx) == 1;
			if (!r)
				fail_why(why, whylen, 0, "%s",
				         X509_verify_cert_error_string(
				                 X509_STORE_CTX_get_error(ctx)));
		}
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return r;
}

int pki_cert_address(X509 *cert, char *out)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name,
	                                        NULL, NULL);
	int found = 0, r = -1;
	out[0] = '\0';
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type != GEN_EMAIL)
			continue;
		const ASN1_STRING *a = g->d.rfc822Name;
		found++;
		r = addr_normalize((const char *)ASN1_STRING_get0_data(a),
		                   (size_t)ASN1_STRING_length(a), out) == ADDR_OK
		    ? 0 : -1;
	}
	GENERAL_NAMES_free(names);
	if (found != 1) {
		out[0] = '\0';
		return -1;
	}
	return r;
}

X509 *pki_cert_from_pem(const char *pem, size_t len)
{
	if (len > INT_MAX)
		return NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return cert;
}

/* Copies everything written to a memory BIO into out. */
static int bio_to_sbuf(BIO *b, struct sbuf *out)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	return n >= 0 && sbuf_copy(out, data, (size_t)n) == 0;
}

int pki_cert_to_pem(X509 *cert, struct sbuf *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	int ok = b && PEM_write_bio_X509(b, cert) && bio_to_sbuf(b, out);
	BIO_free(b);
	return ok ? 0 : -1;
}

int pki_key_to_pem(EVP_PKEY *key, struct sbuf *out)
{
	BIO *b = BIO_new(BIO_s_secmem());
	int ok = b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL,
	                                       NULL) &&
	         bio_to_sbuf(b, out);
	BIO_free(b);
	return ok ? 0 : -1;
}

/* A certificate or key file is read whole, but no more than this: one is a
 * few kilobytes, and a CA file holds a handful. */
#define PKI_FILE_MAX (1024 * 1024)

/* Reads path into b (at most PKI_FILE_MAX octets) as a memory BIO. */
static BIO *bounded_file(const char *path, struct sbuf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	int r = sbuf_read_fd(b, fd);
	close(fd);
	return r < 0 || b->len > INT_MAX ? NULL
	                                 : BIO_new_mem_buf(b->s ? b->s : "",
	                                                   (int)b->len);
}

X509 *pki_cert_load(const char *path)
{
	struct sbuf pem;
	sbuf_init(&pem, PKI_FILE_MAX);
	BIO *b = bounded_file(path, &pem);
	X509 *cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	sbuf_free(&pem);
	return cert;
}

/* Refuses encrypted keys instead of prompting on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return 0;
}

EVP_PKEY *pki_key_load(const char *path)
{
	struct sbuf pem;
	sbuf_init_secret(&pem, PKI_FILE_MAX);
	BIO *b = bounded_file(path, &pem);
	EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)
	                  : NULL;
	BIO_free(b);
	sbuf_free(&pem);
	return key;
}

const char *pki_errstr(char *buf, size_t len)
{
	size_t used = 0;
	unsigned long e;
	const char *data;
	int flags;
	buf[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		char one[256];
		ERR_error_string_n(e, one, sizeof one);
		int n = snprintf(buf + used, len - used, "%s%s%s%s",
		                 used ? "; " : "", one,
		                 (flags & ERR_TXT_STRING) ? ": " : "",
		                 (flags & ERR_TXT_STRING) ? data : "");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	ERR_clear_error();
	if (!buf[0])
		snprintf(buf, len, "unknown OpenSSL error");
	return buf;
}
