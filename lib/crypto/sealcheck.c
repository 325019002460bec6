/*
 * sealcheck - refuse whatever is not a sealed message. See sealcheck.h.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "crypto/seal.h"
#include "crypto/sealcheck.h"
#include "crypto/sealsplit.h"

#define FIELD "X-SQ-Plaintext-Size"

/* One header line: [p, eol) without its line end. */
struct hline {
	const char *p;
	size_t len;
};

/* The next line at *pos; 1, 0 at the end of the block's limit, -1 for a
 * CR that does not end a line. */
static int next_line(const char *data, size_t len, size_t *pos,
                     struct hline *l)
{
	size_t limit = len < SEALCHECK_HEADER_MAX ? len : SEALCHECK_HEADER_MAX;
	const char *start = data + *pos;
	const char *nl = memchr(start, '\n', limit - *pos);
	if (!nl)
		return 0;
	l->p = start;
	l->len = (size_t)(nl - start);
	if (l->len && l->p[l->len - 1] == '\r')
		l->len--;
	if (memchr(l->p, '\r', l->len))
		return -1;
	*pos = (size_t)(nl - data) + 1;
	return 1;
}

/* The value of our field: white space, then digits to the end. */
static int parse_size(const char *v, size_t n, unsigned long long *out)
{
	unsigned long long size = 0;
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	if (n == 0 || n > 13 || (v[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		size = size * 10 + (unsigned)(v[i] - '0');
	}
	if (size > SEALCHECK_PLAIN_MAX)
		return -1;
	*out = size;
	return 0;
}

/* A field name: printable ASCII but ':' (RFC 5322 ftext). */
static size_t field_name(const struct hline *l)
{
	size_t n = 0;
	while (n < l->len && l->p[n] > 32 && l->p[n] < 127 && l->p[n] != ':')
		n++;
	return n > 0 && n < l->len && l->p[n] == ':' ? n : 0;
}

static int is_mime_field(const char *name, size_t n)
{
	return (n == 12 && strncasecmp(name, "MIME-Version", 12) == 0) ||
	       (n > 8 && strncasecmp(name, "Content-", 8) == 0);
}

int sealcheck_header(const char *data, size_t len,
                     unsigned long long *plainsize)
{
	struct hline l;
	size_t pos = 0;
	int found = 0, mime = 0, fields = 0, last_ours = 0, r;
	unsigned long long size = 0;
	while ((r = next_line(data, len, &pos, &l)) == 1 && l.len > 0) {
		if (l.p[0] == ' ' || l.p[0] == '\t') {
			if (last_ours || !fields)
				goto bad; /* our field is never folded */
			continue;
		}
		size_t n = field_name(&l);
		if (n == 0)
			goto bad;
		last_ours = n == sizeof FIELD - 1 &&
		            strncasecmp(l.p, FIELD, n) == 0;
		if (last_ours && (found++ || mime ||
		                  parse_size(l.p + n + 1, l.len - n - 1, &size) < 0))
			goto bad;
		mime |= is_mime_field(l.p, n);
		fields++;
	}
	if (r != 1 || !found) /* no end of the block, or no field */
		goto bad;
	*plainsize = size;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* The binary form's first line: our field alone, then the entity. */
static int size_line(const char *data, size_t len, unsigned long long *size)
{
	struct hline l;
	size_t pos = 0;
	size_t n = next_line(data, len, &pos, &l) == 1 ? field_name(&l) : 0;
	return n == sizeof FIELD - 1 && strncasecmp(l.p, FIELD, n) == 0
	       ? parse_size(l.p + n + 1, l.len - n - 1, size) : -1;
}

/* A binary entity checked without copying it (a parse would hold the
 * message twice): one well-formed BER element, nothing after it, a
 * SEQUENCE whose first element is the OID of authEnveloped-data. What
 * it carries is checked when it is opened. */
static int is_auth_enveloped_ber(const unsigned char *der, size_t len)
{
	static const unsigned char oid[] = { 0x06, 0x0b, 0x2a, 0x86, 0x48,
		0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17 };
	const unsigned char *p = der, *q = der;
	long n;
	int tag, cls;
	if (len > LONG_MAX || sealsplit_ber_skip(&p, der + len, 0) < 0 ||
	    p != der + len)
		return 0;
	int r = ASN1_get_object(&q, &n, &tag, &cls, (long)len);
	return !(r & 0x80) && (r & V_ASN1_CONSTRUCTED) &&
	       tag == V_ASN1_SEQUENCE && cls == V_ASN1_UNIVERSAL &&
	       (size_t)(der + len - q) >= sizeof oid &&
	       memcmp(q, oid, sizeof oid) == 0;
}

/* 1 if the entity parses (either form) and its CMS type is
 * authEnveloped-data. */
static int is_auth_enveloped(const char *entity, size_t len)
{
	if (len && (unsigned char)entity[0] == SEAL_DER_FIRST) {
		int ok = is_auth_enveloped_ber((const unsigned char *)entity,
		                               len);
		ERR_clear_error();
		return ok;
	}
	CMS_ContentInfo *cms = seal_parse(entity, len);
	int ok = cms && OBJ_obj2nid(CMS_get0_type(cms)) ==
	                NID_id_smime_ct_authEnvelopedData;
	CMS_ContentInfo_free(cms);
	ERR_clear_error(); /* a refusal is an answer, not an error to keep */
	return ok;
}

int sealcheck(const char *data, size_t len, unsigned long long *plainsize,
              size_t *entity)
{
	unsigned long long size;
	size_t start = data ? seal_entity_start(data, len) : 0;
	if (!data || (start ? size_line(data, len, &size)
	                    : sealcheck_header(data, len, &size)) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (!is_auth_enveloped(data + start, len - start)) {
		errno = EBADMSG;
		return -1;
	}
	*plainsize = size;
	if (entity)
		*entity = start;
	return 0;
}
