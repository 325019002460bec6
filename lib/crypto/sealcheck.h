/*
 * sealcheck - is this a sealed message? What the Email Database Host asks
 * of everything it is handed before it stores a single octet: an S/MIME
 * entity whose CMS content type is id-ct-authEnvelopedData (RFC 5083), and
 * in front of its MIME headers exactly one line
 *   X-SQ-Plaintext-Size: N
 * the plaintext's size that the sealer writes and POP3 LIST reports
 * (sq-sealed(5)). The EDH holds no key: it checks the form, not the tag.
 */
#ifndef SQ_SEALCHECK_H
#define SQ_SEALCHECK_H

#include <stddef.h>

#define SEALCHECK_PLAIN_MAX (1ULL << 40)
#define SEALCHECK_HEADER_MAX 16384      /* octets of the header block */

/* 0 only if data (len octets) is such an entity; the size goes to
 * *plainsize. -1 otherwise, errno EINVAL when the X-SQ-Plaintext-Size
 * line is missing, repeated, malformed or after a MIME header (or the
 * header block is), EBADMSG when the entity is not S/MIME
 * authEnveloped-data (plain text, enveloped-data, signed-data, garbage). */
int sealcheck(const char *data, size_t len, unsigned long long *plainsize);

/* The header check alone: the header block (up to the first empty line,
 * lines ending in LF or CRLF) must carry exactly one X-SQ-Plaintext-Size
 * field, unfolded, before any MIME-Version or Content-* field, its value
 * decimal without sign or leading zero and at most SEALCHECK_PLAIN_MAX.
 * 0, or -1 (EINVAL). */
int sealcheck_header(const char *data, size_t len,
                     unsigned long long *plainsize);

#endif
