/*
 * fuzzder - a structure-aware mutator for inputs that are DER (or BER)
 * encoded CMS: libFuzzer only sees the edges of our own code, not
 * OpenSSL's, so it has no guide through the CMS structure. This mutator
 * parses the input into its TLV tree, picks one element and changes that
 * element alone (its content mutated by libFuzzer, its tag, the element
 * removed, repeated, or replaced by another element's content, e.g. one
 * OID for another), and encodes the tree again with every enclosing
 * length recomputed. The result is still well-formed, so the change
 * reaches the field's own check (the version, the algorithm, the
 * ephemeral key, the wrapped key, the IV, the tag, the ciphertext)
 * instead of the first length check. One time in four it leaves the
 * bytes to libFuzzer, so that malformed encodings stay fuzzed too.
 * Used by the seal_open, sealcheck, pek and pdk targets through
 * FUZZDER_CUSTOM_MUTATOR, for inputs whose first byte is 0x30.
 */
#ifndef SQ_FUZZDER_H
#define SQ_FUZZDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/sbuf.h"

#define DER_NODES 512
#define DER_DEPTH 32

/* libFuzzer's own mutation: weak, since the replay build has none (and
 * never calls the custom mutator). */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max)
	__attribute__((weak));

struct der_node {
	uint8_t tag;
	const uint8_t *content;
	size_t len;
	int first, next;        /* first child, next sibling; -1 for none */
};

struct der_tree {
	struct der_node n[DER_NODES];
	int count;
};

/* The length at p (up to end): 0 and *len, 1 for indefinite, -1. */
static inline int der_length(const uint8_t **p, const uint8_t *end,
                             size_t *len)
{
	if (*p >= end)
		return -1;
	uint8_t b = *(*p)++;
	if (b < 0x80) {
		*len = b;
		return 0;
	}
	if (b == 0x80)
		return 1;
	size_t k = b & 0x7f, v = 0;
	if (k > sizeof v || (size_t)(end - *p) < k)
		return -1;
	while (k--)
		v = v << 8 | *(*p)++;
	*len = v;
	return 0;
}

static inline int der_parse_list(struct der_tree *t, const uint8_t **p,
                                 const uint8_t *end, int depth,
                                 int indefinite);

/* One element at *p; its index, or -1 if it does not parse. */
static inline int der_parse_one(struct der_tree *t, const uint8_t **p,
                                const uint8_t *end, int depth)
{
	if (t->count == DER_NODES || depth > DER_DEPTH || *p >= end ||
	    (**p & 0x1f) == 0x1f)
		return -1; /* no room, too deep, or a multi-octet tag */
	int i = t->count++;
	struct der_node *n = &t->n[i];
	n->tag = *(*p)++;
	n->first = n->next = -1;
	size_t len = 0;
	int indef = der_length(p, end, &len);
	if (indef < 0 || (!indef && len > (size_t)(end - *p)) ||
	    (indef && !(n->tag & 0x20)))
		return -1;
	n->content = *p;
	const uint8_t *cend = indef ? end : *p + len;
	if (n->tag & 0x20) {
		const uint8_t *q = *p;
		n->first = der_parse_list(t, &q, cend, depth + 1, indef);
		if (n->first == -2)
			return -1;
		len = (size_t)(q - *p) - (indef ? 2 : 0);
		*p = q;
	} else {
		*p += len;
	}
	n->len = len;
	return i;
}

/* Elements up to end (or the end-of-contents octets): the first one's
 * index, -1 for none, -2 if they do not parse. */
static inline int der_parse_list(struct der_tree *t, const uint8_t **p,
                                 const uint8_t *end, int depth,
                                 int indefinite)
{
	int first = -1, last = -1;
	for (;;) {
		if (indefinite && end - *p >= 2 && (*p)[0] == 0 && (*p)[1] == 0) {
			*p += 2;
			return first;
		}
		if (*p >= end)
			return indefinite ? -2 : first;
		int i = der_parse_one(t, p, end, depth);
		if (i < 0)
			return -2;
		if (last >= 0)
			t->n[last].next = i;
		else
			first = i;
		last = i;
	}
}

/* The change to make while encoding. */
enum der_edit { DER_CONTENT, DER_TAG, DER_DROP, DER_REPEAT, DER_EDITS };

struct der_out {
	uint8_t *buf;
	size_t len, max;
	int target;             /* the element changed */
	enum der_edit edit;
	uint8_t tag;
	const uint8_t *content; /* DER_CONTENT: the element's new content */
	size_t clen;
};

static inline int der_put(struct der_out *o, const void *p, size_t n)
{
	if (n > o->max - o->len)
		return -1;
	memmove(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

static inline int der_put_header(struct der_out *o, uint8_t tag, size_t len)
{
	uint8_t h[2 + sizeof len];
	size_t k = 0;
	h[k++] = tag;
	if (len < 0x80) {
		h[k++] = (uint8_t)len;
	} else {
		size_t bytes = 0;
		for (size_t v = len; v; v >>= 8)
			bytes++;
		h[k++] = (uint8_t)(0x80 | bytes);
		while (bytes--)
			h[k++] = (uint8_t)(len >> (8 * bytes));
	}
	return der_put(o, h, k);
}

static inline int der_encode(const struct der_tree *t, int i,
                             struct der_out *o);

/* An element's content: its children encoded, or its octets. Written
 * after a header of the largest size, then moved into place. */
static inline int der_encode_one(const struct der_tree *t, int i,
                                 struct der_out *o, uint8_t tag)
{
	const struct der_node *n = &t->n[i];
	size_t at = o->len;
	if (der_put_header(o, tag, SIZE_MAX) < 0)
		return -1;
	size_t body = o->len;
	int r = 0;
	if (i == o->target && o->edit == DER_CONTENT)
		r = der_put(o, o->content, o->clen);
	else if (n->first >= 0)
		for (int c = n->first; r == 0 && c >= 0; c = t->n[c].next)
			r = der_encode(t, c, o);
	else
		r = der_put(o, n->content, n->len);
	if (r < 0)
		return -1;
	size_t len = o->len - body;
	o->len = at;
	if (der_put_header(o, tag, len) < 0)
		return -1;
	memmove(o->buf + o->len, o->buf + body, len);
	o->len += len;
	return 0;
}

static inline int der_encode(const struct der_tree *t, int i,
                             struct der_out *o)
{
	uint8_t tag = t->n[i].tag;
	if (i == o->target && o->edit == DER_DROP)
		return 0;
	if (i == o->target && o->edit == DER_TAG)
		tag = o->tag;
	if (der_encode_one(t, i, o, tag) < 0)
		return -1;
	if (i == o->target && o->edit == DER_REPEAT)
		return der_encode_one(t, i, o, tag);
	return 0;
}

/* The mutation itself; the new size, or 0 to leave it to libFuzzer. */
static inline size_t der_mutate(uint8_t *data, size_t size, size_t max,
                                unsigned seed)
{
	static struct der_tree t;
	static uint8_t content[65536], out[1 << 17];
	const uint8_t *p = data;
	t.count = 0;
	if (der_parse_one(&t, &p, data + size, 0) != 0 || t.count < 2)
		return 0;
	srand(seed);
	struct der_out o = { out, 0, max < sizeof out ? max : sizeof out,
	                     1 + rand() % (t.count - 1), rand() % DER_EDITS,
	                     0, content, 0 };
	const struct der_node *n = &t.n[o.target];
	if (o.edit == DER_TAG) {
		static const uint8_t tags[] = { 0x02, 0x04, 0x05, 0x06, 0x30,
		                                0x31, 0xa0, 0xa1, 0x80, 0x81 };
		o.tag = tags[rand() % sizeof tags];
	} else if (o.edit == DER_CONTENT && rand() % 4 == 0) {
		/* another element's content: an OID, a key, an IV in its place */
		const struct der_node *m = &t.n[rand() % t.count];
		o.clen = m->len < sizeof content ? m->len : sizeof content;
		memcpy(content, m->content, o.clen);
	} else if (o.edit == DER_CONTENT) {
		o.clen = n->len < sizeof content ? n->len : sizeof content;
		memcpy(content, n->content, o.clen);
		o.clen = LLVMFuzzerMutate(content, o.clen, sizeof content / 4);
	}
	if (der_encode(&t, 0, &o) < 0 || o.len == 0)
		return 0;
	memcpy(data, out, o.len);
	return o.len;
}

/* Appends der as PEM with label ("CERTIFICATE") to out: the text form
 * the parsers take, made here so that the fuzzer works on the DER. 0,
 * or -1 when out is full. */
static inline int fuzzder_pem(const uint8_t *der, size_t size,
                              const char *label, struct sbuf *out)
{
	unsigned char line[80];
	if (sbuf_printf(out, "-----BEGIN %s-----\n", label) < 0)
		return -1;
	for (size_t off = 0; off < size; off += 48) {
		size_t n = size - off < 48 ? size - off : 48;
		int w = EVP_EncodeBlock(line, der + off, (int)n);
		if (sbuf_put(out, line, (size_t)w) < 0 || sbuf_putc(out, '\n') < 0)
			return -1;
	}
	return sbuf_printf(out, "-----END %s-----\n", label) < 0 ? -1 : 0;
}

/* The custom mutator of a target whose DER inputs begin with 0x30. */
#define FUZZDER_CUSTOM_MUTATOR                                                \
	size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, \
	                               unsigned seed);                         \
	size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, \
	                               unsigned seed)                          \
	{                                                                      \
		size_t n = size && data[0] == 0x30 && seed % 4                     \
		           ? der_mutate(data, size, max, seed) : 0;                \
		return n ? n : LLVMFuzzerMutate(data, size, max);                  \
	}

#endif
