/*
 * saslplain - SASL PLAIN in strict base64. See saslplain.h.
 */
#include <errno.h>
#include <string.h>

#include "mail/saslplain.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_encode(const void *in, size_t n, struct sbuf *out)
{
	const unsigned char *p = in;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		size_t left = n - i;
		if (left > 1)
			v |= (unsigned)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		char q[4] = {
			alphabet[v >> 18 & 63], alphabet[v >> 12 & 63],
			left > 1 ? alphabet[v >> 6 & 63] : '=',
			left > 2 ? alphabet[v & 63] : '=',
		};
		if (sbuf_put(out, q, 4) < 0)
			return -1;
	}
	return 0;
}

static int b64_value(char c)
{
	const char *at = c ? strchr(alphabet, c) : NULL;
	return at ? (int)(at - alphabet) : -1;
}

/* One quantum of four characters; pad is how many '=' end it (0-2). */
static int quantum(const char *q, int pad, struct sbuf *out)
{
	int v[4] = { 0, 0, 0, 0 };
	for (int i = 0; i < 4 - pad; i++)
		if ((v[i] = b64_value(q[i])) < 0)
			return -1;
	unsigned bits = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 |
	                (unsigned)v[2] << 6 | (unsigned)v[3];
	/* the bits the padding leaves over must be zero: one encoding only */
	if ((pad == 1 && (bits & 0xff)) || (pad == 2 && (bits & 0xffff)))
		return -1;
	unsigned char o[3] = { bits >> 16 & 255, bits >> 8 & 255, bits & 255 };
	return sbuf_put(out, o, (size_t)(3 - pad));
}

int b64_decode(const char *in, size_t len, struct sbuf *out)
{
	if (len % 4) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < len; i += 4) {
		int pad = 0;
		if (i + 4 == len)
			pad = in[i + 3] != '=' ? 0 : in[i + 2] == '=' ? 2 : 1;
		if (quantum(in + i, pad, out) < 0) {
			if (errno != ENOMEM && errno != EMSGSIZE)
				errno = EINVAL;
			return -1;
		}
	}
	return 0;
}

/* Splits buf at its two NULs. */
static int split(struct sbuf *buf, struct sasl_plain *out)
{
	const char *p = buf->s, *end = buf->s + buf->len;
	const char *nul1 = memchr(p, '\0', buf->len);
	const char *nul2 = nul1 ? memchr(nul1 + 1, '\0',
	                                 (size_t)(end - nul1 - 1)) : NULL;
	if (!nul2 || memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)))
		return -1;
	out->authzid = p;
	out->authzid_len = (size_t)(nul1 - p);
	out->authcid = nul1 + 1;
	out->authcid_len = (size_t)(nul2 - nul1 - 1);
	out->passwd = nul2 + 1;
	out->passwd_len = (size_t)(end - nul2 - 1);
	if (out->authzid_len > SASL_FIELD_MAX || out->authcid_len == 0 ||
	    out->authcid_len > SASL_FIELD_MAX || out->passwd_len == 0 ||
	    out->passwd_len > SASL_FIELD_MAX)
		return -1;
	return 0;
}

int sasl_plain_decode(const char *b64, size_t len, struct sbuf *buf,
                      struct sasl_plain *out)
{
	memset(out, 0, sizeof *out);
	sbuf_reset(buf);
	buf->secret = 1;
	if (len > SASL_PLAIN_B64_MAX || b64_decode(b64, len, buf) < 0 ||
	    buf->len == 0 || split(buf, out) < 0) {
		sbuf_reset(buf);
		memset(out, 0, sizeof *out);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int sasl_plain_encode(const char *authzid, const char *authcid,
                      const char *passwd, struct sbuf *out)
{
	struct sbuf raw;
	size_t z = strlen(authzid), c = strlen(authcid), p = strlen(passwd);
	if (z > SASL_FIELD_MAX || c == 0 || c > SASL_FIELD_MAX || p == 0 ||
	    p > SASL_FIELD_MAX) {
		errno = EINVAL;
		return -1;
	}
	sbuf_init_secret(&raw, SASL_PLAIN_RAW_MAX);
	int r = sbuf_put(&raw, authzid, z + 1) == 0 &&
	        sbuf_put(&raw, authcid, c + 1) == 0 &&
	        sbuf_put(&raw, passwd, p) == 0 &&
	        b64_encode(raw.s, raw.len, out) == 0 ? 0 : -1;
	sbuf_free(&raw);
	return r;
}
