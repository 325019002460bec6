/*
 * saslplain - the SASL PLAIN message (RFC 4616) in base64 (RFC 4648
 * section 4), as AUTH PLAIN carries it in SMTP/LMTP (RFC 4954) and POP3
 * (RFC 5034): [authzid] NUL authcid NUL passwd.
 *
 * The decoder is strict, since its input comes from the network: the
 * alphabet only, no white space, padding to a multiple of four and zero
 * bits in what the padding leaves over, so a message has exactly one
 * encoding. The password ends up in a secret sbuf only.
 */
#ifndef SQ_SASLPLAIN_H
#define SQ_SASLPLAIN_H

#include <stddef.h>

#include "util/sbuf.h"

#define SASL_FIELD_MAX 255              /* RFC 4616: each part */
#define SASL_PLAIN_RAW_MAX (3 * SASL_FIELD_MAX + 2)
#define SASL_PLAIN_B64_MAX 1024         /* SASL_PLAIN_RAW_MAX in base64 */

/* Appends the base64 of n octets at in to out; 0 or -1. */
int b64_encode(const void *in, size_t n, struct sbuf *out);
/* Appends the octets that len characters of strict base64 stand for;
 * 0, or -1 (EINVAL for anything not canonical base64). */
int b64_decode(const char *in, size_t len, struct sbuf *out);

struct sasl_plain {
	const char *authzid, *authcid, *passwd;  /* NUL-terminated, into buf */
	size_t authzid_len, authcid_len, passwd_len;
};

/* Decodes a PLAIN message given in base64 into buf and points out's
 * parts into it. buf is initialised by the caller with a limit of at
 * least SASL_PLAIN_RAW_MAX, emptied first and made secret (it holds the
 * password). authcid and passwd must be 1 to 255 octets, authzid at most
 * 255, none holding a NUL. 0, or -1 (EINVAL). */
int sasl_plain_decode(const char *b64, size_t len, struct sbuf *buf,
                      struct sasl_plain *out);

/* The base64 PLAIN message for the three parts, appended to out (which
 * the caller makes secret); 0 or -1 (EINVAL if a part is too long or
 * authcid or passwd is empty). */
int sasl_plain_encode(const char *authzid, const char *authcid,
                      const char *passwd, struct sbuf *out);

#endif
