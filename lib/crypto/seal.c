/*
 * seal - S/MIME authEnveloped-data seal and open. See seal.h, sq-sealed(5).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "crypto/seal.h"

/*
 * A filter BIO that counts what is read through it and enforces a limit.
 * It also remembers a read error: OpenSSL's S/MIME streaming treats a
 * failed read like the end of input, which would seal a truncated message
 * and call it a success.
 */
struct meter {
	uint64_t max;           /* octets the input may have */
	uint64_t octets;
	uint64_t bare_lf;       /* LFs not preceded by CR */
	int last_cr;
	int failed;             /* read error or limit passed */
	int error;              /* errno of the failure */
	const unsigned char *pre; /* bytes read ahead, served first */
	size_t prelen;
};

static void meter_count(struct meter *m, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && !m->last_cr)
			m->bare_lf++;
		m->last_cr = p[i] == '\r';
	}
	m->octets += n;
}

/* Reads through to the next BIO with read or gets (MIME headers). */
static int meter_pull(BIO *b, char *out, int outl, int line)
{
	struct meter *m = BIO_get_data(b);
	BIO *next = BIO_next(b);
	if (!next || m->failed)
		return -1;
	int n;
	BIO_clear_retry_flags(b);
	errno = 0;
	if (m->prelen && !line && outl > 0) {
		n = m->prelen < (size_t)outl ? (int)m->prelen : outl;
		memcpy(out, m->pre, (size_t)n);
		m->pre += n;
		m->prelen -= (size_t)n;
	} else {
		n = line ? BIO_gets(next, out, outl) : BIO_read(next, out, outl);
		BIO_copy_next_retry(b);
	}
	if (n < 0 && !BIO_should_retry(b)) {
		m->failed = 1;
		m->error = errno ? errno : EIO;
	} else if (n > 0) {
		meter_count(m, (const unsigned char *)out, (size_t)n);
		if (m->octets > m->max) {
			m->failed = 1;
			m->error = EMSGSIZE;
			return -1;
		}
	}
	return n;
}

static int meter_read(BIO *b, char *out, int outl)
{
	return meter_pull(b, out, outl, 0);
}

static int meter_gets(BIO *b, char *out, int size)
{
	return meter_pull(b, out, size, 1);
}

static int meter_write(BIO *b, const char *in, int inl)
{
	BIO *next = BIO_next(b);
	return next ? BIO_write(next, in, inl) : -1;
}

static long meter_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	BIO *next = BIO_next(b);
	return next ? BIO_ctrl(next, cmd, num, ptr) : 0;
}

static int meter_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* A sink BIO that appends to an sbuf. */
static int sink_write(BIO *b, const char *in, int inl)
{
	struct sbuf *out = BIO_get_data(b);
	if (inl < 0 || sbuf_put(out, in, (size_t)inl) < 0)
		return -1;
	return inl;
}

static long sink_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b, (void)num, (void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int seal_bio_type(int *index, int kind)
{
	if (*index <= 0)
		*index = BIO_get_new_index();
	return *index > 0 ? *index | kind : -1;
}

/* The BIO methods are made per call, trivially cheap next to the
 * public-key operation every call does anyway; their type numbers are
 * not (seal_bio_type). */
static BIO *meter_new(BIO_METHOD **meth, struct meter *m)
{
	static int index;
	int type = seal_bio_type(&index, BIO_TYPE_FILTER);
	*meth = type < 0 ? NULL : BIO_meth_new(type, "sq-meter");
	if (!*meth || !BIO_meth_set_read(*meth, meter_read) ||
	    !BIO_meth_set_gets(*meth, meter_gets) ||
	    !BIO_meth_set_write(*meth, meter_write) ||
	    !BIO_meth_set_ctrl(*meth, meter_ctrl) ||
	    !BIO_meth_set_create(*meth, meter_create))
		return NULL;
	BIO *b = BIO_new(*meth);
	if (b)
		BIO_set_data(b, m);
	return b;
}

static BIO *sink_new(BIO_METHOD **meth, struct sbuf *out)
{
	static int index;
	int type = seal_bio_type(&index, BIO_TYPE_SOURCE_SINK);
	*meth = type < 0 ? NULL : BIO_meth_new(type, "sq-sbuf-sink");
	if (!*meth || !BIO_meth_set_write(*meth, sink_write) ||
	    !BIO_meth_set_ctrl(*meth, sink_ctrl) ||
	    !BIO_meth_set_create(*meth, meter_create))
		return NULL;
	BIO *b = BIO_new(*meth);
	if (b)
		BIO_set_data(b, out);
	return b;
}

/* An AuthEnvelopedData for pek with the RFC 5753 SHA-256 KDF. */
static CMS_ContentInfo *seal_prepare(X509 *pek, unsigned stream)
{
	const unsigned flags = CMS_BINARY | CMS_PARTIAL | stream;
	/* AES-256-GCM, named: OpenSSL's default would be 3DES-CBC. */
	CMS_ContentInfo *cms = CMS_encrypt(NULL, NULL, EVP_aes_256_gcm(), flags);
	CMS_RecipientInfo *ri =
		cms ? CMS_add1_recipient_cert(cms, pek, CMS_KEY_PARAM) : NULL;
	EVP_PKEY_CTX *pctx = ri ? CMS_RecipientInfo_get0_pkey_ctx(ri) : NULL;
	if (!pctx || CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_AGREE ||
	    EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0) {
		CMS_ContentInfo_free(cms);
		return NULL;
	}
	return cms;
}

/* Reads the first bytes of the message: OpenSSL 3.0 fails to stream an
 * empty content, so an empty message is sealed in one piece. */
static ssize_t read_ahead(int fd, unsigned char *buf, size_t n)
{
	ssize_t r;
	while ((r = read(fd, buf, n)) < 0 && errno == EINTR)
		;
	return r;
}

/* Seals what src gives (after the pre octets already read from it) into
 * outfd; empty says the message has no octets at all. */
static int seal_source(BIO *src, const unsigned char *pre, size_t prelen,
                       int empty, int outfd, X509 *pek, uint64_t max_in,
                       struct seal_size *size)
{
	struct meter m = { .max = max_in, .pre = pre, .prelen = prelen };
	unsigned stream = empty ? 0 : CMS_STREAM;
	BIO_METHOD *meth = NULL;
	BIO *in = meter_new(&meth, &m);
	BIO *out = BIO_new(BIO_f_buffer());
	BIO *fdout = BIO_new_fd(outfd, BIO_NOCLOSE);
	CMS_ContentInfo *cms = seal_prepare(pek, stream);
	int ok = 0;

	if (in && src && out && fdout && cms) {
		BIO_push(in, src);
		BIO_push(out, fdout);
		src = fdout = NULL; /* freed with their chains */
		errno = 0;
		ok = (stream || CMS_final(cms, in, NULL, CMS_BINARY) == 1) &&
		     i2d_CMS_bio_stream(out, cms, in, CMS_BINARY | stream) == 1 &&
		     BIO_flush(out) == 1;
		if (!ok && errno == 0)
			errno = EIO;
	}
	if (m.failed) {
		ok = 0;
		errno = m.error;
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s",
		               m.error == EMSGSIZE ? "message over the size limit"
		                                   : strerror(m.error));
	}
	if (ok && size) {
		size->octets = m.octets;
		size->crlf_octets = m.octets + m.bare_lf;
	}
	int saved = errno;
	CMS_ContentInfo_free(cms);
	BIO_free_all(in);
	BIO_free_all(out);
	BIO_free(src);
	BIO_free(fdout);
	BIO_meth_free(meth);
	errno = saved;
	return ok ? 0 : -1;
}

int seal_fd(int infd, int outfd, X509 *pek, uint64_t max_in,
            struct seal_size *size)
{
	if (max_in == 0) { /* every read is bounded: no "unlimited" */
		errno = EINVAL;
		return -1;
	}
	unsigned char first[4096];
	ssize_t got = read_ahead(infd, first, sizeof first);
	if (got < 0)
		return -1;
	return seal_source(BIO_new_fd(infd, BIO_NOCLOSE), first, (size_t)got,
	                   got == 0, outfd, pek, max_in, size);
}

/* The size line in front of the entity (sq-sealed(5)). */
static int write_size_header(int fd, const void *data, size_t n)
{
	struct meter m = { 0 };
	char line[64];
	meter_count(&m, data, n);
	int len = snprintf(line, sizeof line, SEAL_SIZE_HEADER ": %llu\n",
	                   (unsigned long long)(m.octets + m.bare_lf));
	for (int off = 0; off < len;) {
		ssize_t w = write(fd, line + off, (size_t)(len - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (int)w;
	}
	return 0;
}

int seal_mem(const void *data, size_t n, int outfd, X509 *pek,
             struct seal_size *size)
{
	if (n > INT_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (write_size_header(outfd, n ? data : "", n) < 0)
		return -1;
	return seal_source(BIO_new_mem_buf(n ? data : "", (int)n), NULL, 0, n == 0,
	                   outfd, pek, n, size);
}

/* ---- the parameters a message must carry to be opened ------------------- */

/* A DER element read from [p, end): its tag and class, its content. */
struct der {
	const unsigned char *p, *end;
};

static int der_next(struct der *d, int *tag, int *cls, struct der *content)
{
	const unsigned char *p = d->p;
	long n;
	if (p >= d->end)
		return -1;
	int r = ASN1_get_object(&p, &n, tag, cls, d->end - d->p);
	if ((r & 0x80) || (r & 1) || n > d->end - p) /* bad, or indefinite */
		return -1;
	content->p = p;
	content->end = p + n;
	d->p = p + n;
	return 0;
}

/* The next element, which must be universal tag want. */
static int der_want(struct der *d, int want, struct der *content)
{
	int tag, cls;
	return der_next(d, &tag, &cls, content) == 0 &&
	       cls == V_ASN1_UNIVERSAL && tag == want ? 0 : -1;
}

static int der_is(const struct der *d, const unsigned char *v, size_t n)
{
	return (size_t)(d->end - d->p) == n && memcmp(d->p, v, n) == 0;
}

/* The content algorithm: AES-256-GCM with a 12-octet nonce and a
 * 16-octet ICV (GCMParameters, RFC 5084), as seal_prepare writes it. */
static int gcm_params_ok(struct der *eci)
{
	static const unsigned char icv16[] = { 0x10 };
	const ASN1_OBJECT *gcm = OBJ_nid2obj(NID_aes_256_gcm);
	struct der type, alg, oid, params, nonce, icv;
	return der_want(eci, V_ASN1_OBJECT, &type) == 0 &&
	       der_want(eci, V_ASN1_SEQUENCE, &alg) == 0 &&
	       der_want(&alg, V_ASN1_OBJECT, &oid) == 0 &&
	       der_is(&oid, OBJ_get0_data(gcm), OBJ_length(gcm)) &&
	       der_want(&alg, V_ASN1_SEQUENCE, &params) == 0 &&
	       der_want(&params, V_ASN1_OCTET_STRING, &nonce) == 0 &&
	       nonce.end - nonce.p == 12 &&
	       der_want(&params, V_ASN1_INTEGER, &icv) == 0 &&
	       der_is(&icv, icv16, sizeof icv16);
}

/* AuthEnvelopedData (RFC 5083): version, [0] originatorInfo?,
 * recipientInfos, authEncryptedContentInfo, [1] authAttrs?, mac. */
static int auth_enveloped_ok(struct der *aed)
{
	struct der e;
	int tag, cls;
	if (der_want(aed, V_ASN1_INTEGER, &e) < 0 ||
	    der_next(aed, &tag, &cls, &e) < 0)
		return 0;
	if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0 &&
	    der_next(aed, &tag, &cls, &e) < 0)
		return 0;
	if (cls != V_ASN1_UNIVERSAL || tag != V_ASN1_SET ||
	    der_want(aed, V_ASN1_SEQUENCE, &e) < 0 || !gcm_params_ok(&e) ||
	    der_next(aed, &tag, &cls, &e) < 0)
		return 0;
	if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 1 &&
	    der_next(aed, &tag, &cls, &e) < 0)
		return 0;
	return cls == V_ASN1_UNIVERSAL && tag == V_ASN1_OCTET_STRING &&
	       e.end - e.p == 16;
}

/* Whether the message's tag is GCM's full 16 octets, under AES-256-GCM
 * with its 12-octet nonce. OpenSSL takes the mac's own length as the tag
 * length, down to one octet: a message changed in its ciphertext (GCM is
 * counter mode: a flipped bit flips the plaintext's) and given a 1-octet
 * mac would open once in 256 tries. Checked on the DER OpenSSL parsed. */
static int full_tag(CMS_ContentInfo *cms)
{
	unsigned char *der = NULL;
	/* encoded without the encrypted content, which it does not look
	 * at: a large message is not copied once more */
	ASN1_OCTET_STRING **content = CMS_get0_content(cms);
	ASN1_OCTET_STRING *held = content ? *content : NULL;
	if (content)
		*content = NULL;
	int len = i2d_CMS_ContentInfo(cms, &der);
	if (content)
		*content = held;
	struct der top = { der, der + (len > 0 ? len : 0) }, ci, x, aed;
	int tag, cls;
	int ok = len > 0 && der_want(&top, V_ASN1_SEQUENCE, &ci) == 0 &&
	         der_want(&ci, V_ASN1_OBJECT, &x) == 0 &&
	         der_next(&ci, &tag, &cls, &x) == 0 &&
	         cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0 &&
	         der_want(&x, V_ASN1_SEQUENCE, &aed) == 0 &&
	         auth_enveloped_ok(&aed);
	OPENSSL_free(der);
	return ok;
}

CMS_ContentInfo *seal_parse(const char *entity, size_t len)
{
	if (len > INT_MAX)
		return NULL;
	if (len && (unsigned char)entity[0] == SEAL_DER_FIRST) {
		const unsigned char *p = (const unsigned char *)entity;
		CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
		if (cms && p != (const unsigned char *)entity + len) {
			CMS_ContentInfo_free(cms); /* octets after the entity */
			return NULL;
		}
		return cms;
	}
	BIO *in = BIO_new_mem_buf(entity, (int)len);
	CMS_ContentInfo *cms = in ? SMIME_read_CMS(in, NULL) : NULL;
	BIO_free(in);
	return cms;
}

size_t seal_entity_start(const char *data, size_t len)
{
	static const char field[] = SEAL_SIZE_HEADER ":";
	const char *nl = memchr(data, '\n', len);
	if (len < sizeof field || !nl ||
	    strncasecmp(data, field, sizeof field - 1) != 0 ||
	    (size_t)(nl + 1 - data) >= len ||
	    (unsigned char)nl[1] != SEAL_DER_FIRST)
		return 0;
	return (size_t)(nl + 1 - data);
}

int seal_to_smime(const char *entity, size_t len, struct sbuf *out)
{
	BIO_METHOD *meth = NULL;
	BIO *sink = sink_new(&meth, out);
	CMS_ContentInfo *cms = seal_parse(entity, len);
	size_t had = out->len;
	int ok = sink && cms &&
	         SMIME_write_CMS(sink, cms, NULL, CMS_BINARY) == 1;
	if (!ok)
		sbuf_truncate(out, had);
	CMS_ContentInfo_free(cms);
	BIO_free(sink);
	BIO_meth_free(meth);
	return ok ? 0 : -1;
}

/* Everything in reads into buf, at most max octets: 0, or -1 with the
 * meter saying why. */
static int read_bounded(BIO *in, struct meter *m, struct sbuf *buf)
{
	BIO_METHOD *meth = NULL;
	BIO *metered = meter_new(&meth, m);
	char chunk[16384];
	int n = -1;
	if (metered) {
		BIO_push(metered, in);
		while ((n = BIO_read(metered, chunk, sizeof chunk)) > 0)
			if (sbuf_put(buf, chunk, (size_t)n) < 0) {
				m->failed = 1;
				m->error = ENOMEM;
				break;
			}
		BIO_pop(metered); /* in stays the caller's */
	}
	BIO_free(metered);
	BIO_meth_free(meth);
	return metered && !m->failed ? 0 : -1;
}

int seal_open_cms(CMS_ContentInfo *cms, EVP_PKEY *pdk, X509 *cert,
                  struct sbuf *out)
{
	return seal_open_detached(cms, NULL, pdk, cert, out);
}

int seal_open_detached(CMS_ContentInfo *cms, BIO *content, EVP_PKEY *pdk,
                       X509 *cert, struct sbuf *out)
{
	BIO_METHOD *sink_meth = NULL;
	BIO *sink = sink_new(&sink_meth, out);
	size_t had = out->len;
	const char *why = NULL;
	if (!sink)
		why = "out of memory";
	/* Only authenticated encryption: enveloped-data has no tag to check. */
	else if (OBJ_obj2nid(CMS_get0_type(cms)) !=
	         NID_id_smime_ct_authEnvelopedData)
		why = "not authEnveloped-data";
	else if (!full_tag(cms))
		why = "not AES-256-GCM with a 12-octet nonce and 16-octet tag";
	else if (CMS_decrypt(cms, pdk, cert, content, sink, CMS_BINARY) != 1)
		why = "cannot decrypt: not for this key, or tampered with";
	if (why) {
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s", why);
		sbuf_truncate(out, had); /* the tag fails after plaintext */
	}
	BIO_free(sink);
	BIO_meth_free(sink_meth);
	return why ? -1 : 0;
}

CMS_ContentInfo *seal_parse_sealed(struct sbuf *sealed)
{
	size_t start = seal_entity_start(sealed->s ? sealed->s : "",
	                                 sealed->len);
	CMS_ContentInfo *cms = seal_parse(sealed->s ? sealed->s + start : "",
	                                  sealed->len - start);
	sbuf_free(sealed); /* the parsed structure holds what it needs */
	if (!cms)
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s",
		               "not a CMS entity (DER or S/MIME)");
	return cms;
}

int seal_open_bio(BIO *in, uint64_t max_in, EVP_PKEY *pdk, X509 *cert,
                  struct sbuf *out)
{
	if (max_in == 0) { /* every read is bounded: no "unlimited" */
		ERR_raise_data(ERR_LIB_USER, ERR_R_PASSED_INVALID_ARGUMENT,
		               "no size limit given");
		return -1;
	}
	struct meter m = { .max = max_in };
	struct sbuf sealed;
	sbuf_init(&sealed, max_in);
	if (read_bounded(in, &m, &sealed) < 0) {
		sbuf_free(&sealed);
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s",
		               m.error == EMSGSIZE
		               ? "sealed message over the size limit"
		               : "read error");
		return -1;
	}
	CMS_ContentInfo *cms = seal_parse_sealed(&sealed);
	int r = cms ? seal_open_cms(cms, pdk, cert, out) : -1;
	CMS_ContentInfo_free(cms);
	return r;
}

int seal_open_fd(int infd, uint64_t max_in, EVP_PKEY *pdk, X509 *cert,
                 struct sbuf *out)
{
	BIO *in = BIO_new_fd(infd, BIO_NOCLOSE);
	int r = in ? seal_open_bio(in, max_in, pdk, cert, out) : -1;
	BIO_free(in);
	return r;
}
