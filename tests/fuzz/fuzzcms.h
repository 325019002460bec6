/*
 * fuzzcms - structure for the sealed-message targets: an input that
 * begins like DER (a SEQUENCE, 0x30) is taken as the CMS ContentInfo
 * itself and wrapped here into the S/MIME entity the sealer writes
 * (sq-sealed(5)): the MIME headers and the base64 body. A byte the
 * fuzzer flips then changes a field of the CMS structure (a length, an
 * OID, the ephemeral key, the IV, the tag) instead of spoiling the
 * base64, and the parser, the key agreement and the tag check are
 * reached. Any other input is used as it is, so the MIME layer stays
 * fuzzed too. tests/helpers/fuzz-seeds writes valid DER seeds, and
 * fuzzder.h's mutator changes one of their fields at a time.
 */
#ifndef SQ_FUZZCMS_H
#define SQ_FUZZCMS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/sbuf.h"

#define FUZZCMS_HEADER \
	"MIME-Version: 1.0\n" \
	"Content-Disposition: attachment; filename=\"smime.p7m\"\n" \
	"Content-Type: application/pkcs7-mime; " \
	"smime-type=authEnveloped-data; name=\"smime.p7m\"\n" \
	"Content-Transfer-Encoding: base64\n\n"

/* The plaintexts tests/helpers/fuzz-seeds seals for the DER seeds: an
 * input that opens must open to one of them, however its structure was
 * changed (AES-GCM authenticates the content: a change to it, or to how
 * it is read, fails the tag). */
static const char *const fuzzcms_plaintexts[][2] = {
	{ "empty", "" },
	{ "short", "Subject: hi\n\nhello\n" },
	{ "crlf", "Subject: crlf\r\n\r\nline one\r\nline two\r\n" },
	{ "dots", "Subject: dots\n\n.\n..\n.x\n" },
};

static inline int fuzzcms_known(const char *p, size_t len)
{
	for (size_t i = 0; i < sizeof fuzzcms_plaintexts /
	                       sizeof fuzzcms_plaintexts[0]; i++)
		if (strlen(fuzzcms_plaintexts[i][1]) == len &&
		    !memcmp(fuzzcms_plaintexts[i][1], p, len))
			return 1;
	return 0;
}

static inline int fuzzcms_is_der(const uint8_t *data, size_t size)
{
	return size > 0 && data[0] == 0x30;
}

/* Appends the S/MIME entity of der to out: 64 base64 characters a line,
 * as OpenSSL writes them. 0, or -1 when out is full. */
static inline int fuzzcms_wrap(const uint8_t *der, size_t size,
                               struct sbuf *out)
{
	unsigned char line[80];
	if (sbuf_puts(out, FUZZCMS_HEADER) < 0)
		return -1;
	for (size_t off = 0; off < size; off += 48) {
		size_t n = size - off < 48 ? size - off : 48;
		int w = EVP_EncodeBlock(line, der + off, (int)n);
		if (sbuf_put(out, line, (size_t)w) < 0 || sbuf_putc(out, '\n') < 0)
			return -1;
	}
	return 0;
}

#endif
