/*
 * sealcheck - is this a sealed message? What the Email Database Host asks
 * of everything it is handed before it stores a single octet: the line
 *   X-SQ-Plaintext-Size: N
 * (the plaintext's size that the sealer writes and POP3 LIST reports),
 * then a CMS entity whose content type is id-ct-authEnvelopedData (RFC
 * 5083), in binary right after that line, or, as older versions wrote it,
 * as S/MIME with the line in front of its MIME headers (sq-sealed(5)).
 * The EDH holds no key: it checks the form, not the tag.
 */
#ifndef SQ_SEALCHECK_H
#define SQ_SEALCHECK_H

#include <stddef.h>

#define SEALCHECK_PLAIN_MAX (1ULL << 40)
#define SEALCHECK_HEADER_MAX 16384      /* octets of the header block */

/* 0 only if data (len octets) is such a message; the size goes to
 * *plainsize and, if entity is not NULL, where the part to store begins
 * to *entity: the binary entity after its line, or 0 for the S/MIME form,
 * kept whole. -1 otherwise, errno EINVAL when the X-SQ-Plaintext-Size
 * line is missing, repeated, malformed or after a MIME header (or the
 * header block is), EBADMSG when the entity is not authEnveloped-data
 * (plain text, enveloped-data, signed-data, garbage, octets after it). */
int sealcheck(const char *data, size_t len, unsigned long long *plainsize,
              size_t *entity);

/* The header check alone: the header block (up to the first empty line,
 * lines ending in LF or CRLF) must carry exactly one X-SQ-Plaintext-Size
 * field, unfolded, before any MIME-Version or Content-* field, its value
 * decimal without sign or leading zero and at most SEALCHECK_PLAIN_MAX.
 * 0, or -1 (EINVAL). */
int sealcheck_header(const char *data, size_t len,
                     unsigned long long *plainsize);

#endif
