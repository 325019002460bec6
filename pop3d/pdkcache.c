/*
 * pdkcache - the login cache's table, its sealing, and its client. See
 * pdkcache.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "net/unixsock.h"
#include "pdkcache.h"

int pdkcache_init(struct pdkcache *c, size_t cap, time_t ttl)
{
	c->e = calloc(cap ? cap : 1, sizeof *c->e);
	c->cap = cap;
	c->ttl = ttl;
	return c->e ? 0 : -1;
}

void pdkcache_fini(struct pdkcache *c)
{
	if (c->e)
		OPENSSL_cleanse(c->e, c->cap * sizeof *c->e);
	free(c->e);
	c->e = NULL;
	c->cap = 0;
}

static void forget(struct pdkcache_entry *e)
{
	OPENSSL_cleanse(e, sizeof *e); /* expires 0: free */
}

/* The entry's name, authenticated with its content. */
static void name_of(uint64_t row, const unsigned char *digest,
                    unsigned char out[8 + PDKCACHE_DIGEST_LEN])
{
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)(row >> (56 - 8 * i));
	memcpy(out + 8, digest, PDKCACHE_DIGEST_LEN);
}

/* AES-256-GCM of n octets from in to out under key, the entry's name as
 * associated data; sealing fills tag, opening checks it. 0 or -1. */
static int gcm(int seal, const unsigned char *key, const unsigned char *nonce,
               const unsigned char *name, const unsigned char *in, size_t n,
               unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int len, ok = x && n <= PDKCACHE_PDK_MAX &&
	    EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, key, nonce, seal) == 1 &&
	    (seal || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1) &&
	    EVP_CipherUpdate(x, NULL, &len, name, 8 + PDKCACHE_DIGEST_LEN) == 1 &&
	    EVP_CipherUpdate(x, out, &len, in, (int)n) == 1 &&
	    EVP_CipherFinal_ex(x, out + len, &len) == 1 &&
	    (!seal || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(x);
	return ok ? 0 : -1;
}

static struct pdkcache_entry *find(struct pdkcache *c, uint64_t row,
                                   const unsigned char *digest, time_t now)
{
	for (size_t i = 0; i < c->cap; i++) {
		struct pdkcache_entry *e = &c->e[i];
		if (e->expires && e->expires <= now)
			forget(e);
		if (e->expires && e->row == row &&
		    !memcmp(e->digest, digest, PDKCACHE_DIGEST_LEN))
			return e;
	}
	return NULL;
}

/* A free slot, else the entry that expires first. */
static struct pdkcache_entry *slot(struct pdkcache *c)
{
	struct pdkcache_entry *best = c->cap ? &c->e[0] : NULL;
	for (size_t i = 0; i < c->cap && best->expires; i++)
		if (c->e[i].expires < best->expires)
			best = &c->e[i];
	return best;
}

int pdkcache_put(struct pdkcache *c, uint64_t row,
                 const unsigned char digest[PDKCACHE_DIGEST_LEN],
                 const unsigned char key[PDKCACHE_KEY_LEN], const char *pdk,
                 size_t n, time_t now)
{
	unsigned char name[8 + PDKCACHE_DIGEST_LEN];
	struct pdkcache_entry *e = find(c, row, digest, now);
	if (!e)
		e = slot(c);
	if (!e || n > PDKCACHE_PDK_MAX || c->ttl <= 0)
		return -1;
	forget(e);
	name_of(row, digest, name);
	if (RAND_bytes(e->nonce, sizeof e->nonce) != 1 ||
	    gcm(1, key, e->nonce, name, (const unsigned char *)pdk, n, e->sealed,
	        e->tag) < 0) {
		forget(e);
		return -1;
	}
	e->row = row;
	memcpy(e->digest, digest, PDKCACHE_DIGEST_LEN);
	e->len = n;
	e->expires = now + c->ttl;
	return 0;
}

int pdkcache_get(struct pdkcache *c, uint64_t row,
                 const unsigned char digest[PDKCACHE_DIGEST_LEN],
                 const unsigned char key[PDKCACHE_KEY_LEN], time_t now,
                 struct sbuf *out)
{
	unsigned char name[8 + PDKCACHE_DIGEST_LEN], plain[PDKCACHE_PDK_MAX];
	struct pdkcache_entry *e = find(c, row, digest, now);
	if (!e)
		return 0;
	name_of(row, digest, name);
	int ok = gcm(0, key, e->nonce, name, e->sealed, e->len, plain,
	             e->tag) == 0 && sbuf_put(out, plain, e->len) == 0;
	OPENSSL_cleanse(plain, sizeof plain);
	if (!ok && ++e->tries >= PDKCACHE_TRIES)
		forget(e);
	return ok;
}

/* ---- the client ---------------------------------------------------------- */

int pdkcache_login_key(const unsigned char *pepper, size_t pepperlen,
                       uint64_t row, const char *password,
                       unsigned char key[PDKCACHE_KEY_LEN])
{
	static const char label[] = "secure-qmail pdk cache v1";
	unsigned char msg[sizeof label + 8 + 512];
	size_t plen = strlen(password);
	unsigned int len = PDKCACHE_KEY_LEN;
	if (plen > 512)
		return -1;
	memcpy(msg, label, sizeof label);
	for (int i = 0; i < 8; i++)
		msg[sizeof label + (size_t)i] = (unsigned char)(row >> (56 - 8 * i));
	memcpy(msg + sizeof label + 8, password, plen);
	int ok = HMAC(EVP_sha256(), pepper, (int)pepperlen, msg,
	              sizeof label + 8 + plen, key, &len) != NULL;
	OPENSSL_cleanse(msg, sizeof msg);
	return ok ? 0 : -1;
}

void pdkcache_digest(const char *wrapped, unsigned char out[PDKCACHE_DIGEST_LEN])
{
	SHA256((const unsigned char *)wrapped, strlen(wrapped), out);
}

/* Sends the request head and tail, reads the answer into reply (at most
 * n octets): its length, or -1. */
static ssize_t ask(const char *path, int timeout_ms, char op, uint64_t row,
                   const unsigned char *digest, const unsigned char *key,
                   const char *tail, size_t tail_len, unsigned char *reply,
                   size_t n)
{
	unsigned char req[PDKCACHE_REQ_HEAD + PDKCACHE_PDK_MAX];
	if (tail_len > PDKCACHE_PDK_MAX)
		return -1;
	req[0] = (unsigned char)op;
	for (int i = 0; i < 8; i++)
		req[1 + i] = (unsigned char)(row >> (56 - 8 * i));
	memcpy(req + 9, digest, PDKCACHE_DIGEST_LEN);
	memcpy(req + 9 + PDKCACHE_DIGEST_LEN, key, PDKCACHE_KEY_LEN);
	if (tail_len)
		memcpy(req + PDKCACHE_REQ_HEAD, tail, tail_len);
	int fd = unixsock_dial(path, timeout_ms);
	ssize_t got = fd < 0 ? -1 : send(fd, req, PDKCACHE_REQ_HEAD + tail_len,
	                                 MSG_NOSIGNAL);
	if (got == (ssize_t)(PDKCACHE_REQ_HEAD + tail_len))
		got = recv(fd, reply, n, 0);
	else
		got = -1;
	OPENSSL_cleanse(req, sizeof req);
	if (fd >= 0)
		close(fd);
	return got;
}

int pdkcache_ask(const char *socket_path, uint64_t row,
                 const unsigned char digest[PDKCACHE_DIGEST_LEN],
                 const unsigned char key[PDKCACHE_KEY_LEN], int timeout_ms,
                 struct sbuf *pdk)
{
	unsigned char reply[1 + PDKCACHE_PDK_MAX];
	ssize_t n = ask(socket_path, timeout_ms, 'G', row, digest, key, NULL, 0,
	                reply, sizeof reply);
	int hit = n > 1 && reply[0] == '+' &&
	          sbuf_put(pdk, reply + 1, (size_t)n - 1) == 0;
	OPENSSL_cleanse(reply, sizeof reply);
	return hit;
}

void pdkcache_tell(const char *socket_path, uint64_t row,
                   const unsigned char digest[PDKCACHE_DIGEST_LEN],
                   const unsigned char key[PDKCACHE_KEY_LEN], const char *pdk,
                   int timeout_ms)
{
	unsigned char reply[8];
	ask(socket_path, timeout_ms, 'P', row, digest, key, pdk, strlen(pdk),
	    reply, sizeof reply);
}
