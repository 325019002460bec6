/*
 * sealsplit - a binary sealed entity taken apart where it lies. See
 * sealsplit.h.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>

#include "crypto/seal.h"
#include "crypto/sealsplit.h"

#define BER_DEPTH 32
#define INDEFINITE (V_ASN1_CONSTRUCTED | 1) /* ASN1_get_object's answer */

int sealsplit_ber_skip(const unsigned char **p, const unsigned char *end,
                       int depth)
{
	const unsigned char *q = *p;
	long len;
	int tag, cls;
	if (depth > BER_DEPTH || q >= end)
		return -1;
	int r = ASN1_get_object(&q, &len, &tag, &cls, end - q);
	if (r & 0x80)
		return -1;
	if (r == INDEFINITE) {
		while (end - q < 2 || q[0] || q[1])
			if (sealsplit_ber_skip(&q, end, depth + 1) < 0)
				return -1;
		*p = q + 2;
		return 0;
	}
	if (len > end - q)
		return -1;
	const unsigned char *stop = q + len;
	while ((r & V_ASN1_CONSTRUCTED) && q < stop)
		if (sealsplit_ber_skip(&q, stop, depth + 1) < 0)
			return -1;
	*p = stop;
	return 0;
}

/* The tag and class of the element at p, and whether ASN1_get_object
 * takes its header: 0, or -1. */
static int peek(const unsigned char *p, const unsigned char *end, int *tag,
                int *cls, int *form)
{
	long len;
	*form = ASN1_get_object(&p, &len, tag, cls, end - p);
	return *form & 0x80 ? -1 : 0;
}

/* Steps into the element at *p: constructed, of indefinite length, of
 * the tag and class wanted. */
static int enter(const unsigned char **p, const unsigned char *end,
                 int want_tag, int want_cls)
{
	long len;
	int tag, cls;
	const unsigned char *q = *p;
	if (q >= end ||
	    ASN1_get_object(&q, &len, &tag, &cls, end - q) != INDEFINITE ||
	    tag != want_tag || cls != want_cls)
		return -1;
	*p = q;
	return 0;
}

/* The encrypted content's chunks, from the contents of a constructed
 * [0] at *p: primitive OCTET STRINGs up to the end-of-contents octets.
 * How many octets the next chunk has, 0 at the end (*p past it), or -1;
 * *p is then at the chunk's first octet. */
static long next_chunk(const unsigned char **p, const unsigned char *end)
{
	long len;
	int tag, cls;
	const unsigned char *q = *p;
	if (end - q >= 2 && q[0] == 0 && q[1] == 0) {
		*p = q + 2;
		return 0;
	}
	if (q >= end || ASN1_get_object(&q, &len, &tag, &cls, end - q) != 0 ||
	    tag != V_ASN1_OCTET_STRING || cls != V_ASN1_UNIVERSAL ||
	    len > end - q || len == 0)
		return -1;
	*p = q;
	return len;
}

/* Where the [0] encryptedContent lies, between *start and *stop, with
 * every layer around it of indefinite length. */
static int find_content(const unsigned char *der, const unsigned char *end,
                        const unsigned char **start,
                        const unsigned char **stop)
{
	const unsigned char *p = der;
	int tag, cls, form;
	if (enter(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) < 0 ||
	    sealsplit_ber_skip(&p, end, 0) < 0 ||         /* contentType */
	    enter(&p, end, 0, V_ASN1_CONTEXT_SPECIFIC) < 0 ||
	    enter(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) < 0 ||
	    sealsplit_ber_skip(&p, end, 0) < 0 ||         /* version */
	    peek(p, end, &tag, &cls, &form) < 0)
		return -1;
	if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0 && /* originatorInfo */
	    sealsplit_ber_skip(&p, end, 0) < 0)
		return -1;
	if (sealsplit_ber_skip(&p, end, 0) < 0 ||         /* recipientInfos */
	    enter(&p, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL) < 0 ||
	    sealsplit_ber_skip(&p, end, 0) < 0 ||         /* contentType */
	    sealsplit_ber_skip(&p, end, 0) < 0 ||         /* algorithm */
	    peek(p, end, &tag, &cls, &form) < 0 ||
	    cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0)
		return -1;
	*start = p;
	if (sealsplit_ber_skip(&p, end, 0) < 0)
		return -1;
	*stop = p;
	if (form != INDEFINITE)         /* primitive, or definite: read whole */
		return form == 0 ? 0 : -1;
	const unsigned char *q = *start;
	long n;
	ASN1_get_object(&q, &n, &tag, &cls, p - q); /* read by peek */
	while ((n = next_chunk(&q, p)) > 0)
		q += n;
	return n == 0 && q == p ? 0 : -1;
}

int sealsplit_parse(const char *entity, size_t len, struct sealsplit *s)
{
	const unsigned char *der = (const unsigned char *)entity, *start, *stop;
	const unsigned char *end = der + len, *after = der;
	memset(s, 0, sizeof *s);
	if (len == 0 || len > LONG_MAX || der[0] != SEAL_DER_FIRST ||
	    sealsplit_ber_skip(&after, end, 0) < 0 || after != end ||
	    find_content(der, end, &start, &stop) < 0)
		return -1;
	/* the entity with the [0] taken out: every layer around it has an
	 * indefinite length, so nothing else changes */
	size_t head = (size_t)(start - der), tail = (size_t)(end - stop);
	unsigned char *lean = malloc(head + tail ? head + tail : 1);
	if (!lean)
		return -1;
	memcpy(lean, der, head);
	memcpy(lean + head, stop, tail);
	const unsigned char *p = lean;
	s->cms = d2i_CMS_ContentInfo(NULL, &p, (long)(head + tail));
	int whole = s->cms && p == lean + head + tail;
	free(lean);
	if (!whole) {
		CMS_ContentInfo_free(s->cms);
		s->cms = NULL;
		return -1;
	}
	s->content = start;
	s->content_len = (size_t)(stop - start);
	return 0;
}

int sealsplit_take(const char *entity, size_t len, struct sealsplit *s)
{
	if (sealsplit_parse(entity, len, s) == 0)
		return 0;
	ERR_clear_error(); /* not the streamed layout: an answer, not an error */
	s->cms = seal_parse(entity, len);
	return s->cms ? 0 : -1;
}

void sealsplit_free(struct sealsplit *s)
{
	CMS_ContentInfo_free(s->cms);
	memset(s, 0, sizeof *s);
}

/* ---- the content, read in place ------------------------------------- */

struct reader {
	const unsigned char *p, *end;
	long left;              /* octets left in the current chunk */
	int chunked;
	int done;
};

static int reader_read(BIO *b, char *out, int outl)
{
	struct reader *r = BIO_get_data(b);
	while (r->left == 0 && !r->done) {
		if (!r->chunked) {
			r->done = 1;
			break;
		}
		r->left = next_chunk(&r->p, r->end);
		if (r->left < 0)
			return -1; /* checked when split: cannot happen */
		r->done = r->left == 0;
	}
	if (r->left == 0 || outl <= 0)
		return 0;
	int n = r->left < outl ? (int)r->left : outl;
	memcpy(out, r->p, (size_t)n);
	r->p += n;
	r->left -= n;
	return n;
}

static long reader_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	(void)ptr;
	struct reader *r = BIO_get_data(b);
	if (cmd == BIO_CTRL_EOF)
		return r->done && r->left == 0;
	return cmd == BIO_CTRL_FLUSH;
}

static int reader_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* A source BIO over the contents of the [0] element of s. */
static BIO *reader_new(BIO_METHOD **meth, const struct sealsplit *s,
                       struct reader *r)
{
	const unsigned char *p = s->content, *end = p + s->content_len;
	long len;
	int tag, cls;
	int form = ASN1_get_object(&p, &len, &tag, &cls, end - p);
	memset(r, 0, sizeof *r);
	r->p = p;
	r->end = end;
	r->chunked = form == INDEFINITE;
	r->left = r->chunked ? 0 : len;
	static int index;
	int type = seal_bio_type(&index, BIO_TYPE_SOURCE_SINK);
	*meth = type < 0 ? NULL : BIO_meth_new(type, "sq-sealsplit-content");
	if (!*meth || !BIO_meth_set_read(*meth, reader_read) ||
	    !BIO_meth_set_ctrl(*meth, reader_ctrl) ||
	    !BIO_meth_set_create(*meth, reader_create))
		return NULL;
	BIO *b = BIO_new(*meth);
	if (b)
		BIO_set_data(b, r);
	return b;
}

int sealsplit_open(const struct sealsplit *s, EVP_PKEY *pdk, X509 *cert,
                   struct sbuf *out)
{
	if (!s->content) /* parsed whole */
		return seal_open_detached(s->cms, NULL, pdk, cert, out);
	BIO_METHOD *meth = NULL;
	struct reader r;
	BIO *content = reader_new(&meth, s, &r);
	int rc = content ? seal_open_detached(s->cms, content, pdk, cert, out)
	                 : -1;
	BIO_free(content);
	BIO_meth_free(meth);
	return rc;
}
