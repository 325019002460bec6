/*
 * sealsplit - a binary sealed entity taken apart where it lies: its CMS
 * structure, parsed without the encrypted content (a few hundred
 * octets), and that content, read in place. A parse of the whole entity
 * (d2i) copies the content, so a large message would be held twice, and
 * more while OpenSSL's copy grows; sq-lspawn only needs the recipients,
 * and sq-pop3d decrypts from the entity it fetched.
 *
 * Only the layout seal.c writes (i2d_CMS_bio_stream): ContentInfo, its
 * [0], the AuthEnvelopedData and its authEncryptedContentInfo each of
 * indefinite length, the content a primitive [0] or a constructed one of
 * primitive OCTET STRINGs. Anything else is refused, and its callers
 * parse it whole (seal_parse), as older maildirs' S/MIME form is.
 */
#ifndef SQ_SEALSPLIT_H
#define SQ_SEALSPLIT_H

#include <stddef.h>

#include <openssl/cms.h>

#include "util/sbuf.h"

struct sealsplit {
	CMS_ContentInfo *cms;           /* the structure, content detached */
	const unsigned char *content;   /* the [0] element, in the entity */
	size_t content_len;
};

/* Splits the entity (len octets, no size line), which must stay in
 * place while the split is used. 0, or -1 (nothing to free). */
int sealsplit_parse(const char *entity, size_t len, struct sealsplit *s);

/* The same, or when the entity does not split (any other form), the
 * whole entity parsed by seal_parse: content is then NULL and the
 * structure holds its own copy. 0, or -1 when neither parses. */
int sealsplit_take(const char *entity, size_t len, struct sealsplit *s);

void sealsplit_free(struct sealsplit *s);

/* Passes one BER element at *p (a constructed one through its contents,
 * to its end-of-contents octets when its length is indefinite): 0 with
 * *p past it, or -1 when it is not well formed within end. depth: 0. */
int sealsplit_ber_skip(const unsigned char **p, const unsigned char *end,
                       int depth);

/* Opens the entity (split or whole) with the PDK and its certificate as
 * seal_open_cms does (the same checks, the tag verified before
 * anything is appended to out). 0, or -1. */
int sealsplit_open(const struct sealsplit *s, EVP_PKEY *pdk, X509 *cert,
                   struct sbuf *out);

#endif
