/*
 * clientauth - API client secrets. See clientauth.h.
 */
#include <stdio.h>
#include <string.h>

#include <gcrypt.h>

#include "clientauth.h"

static void secret_hash(const unsigned char salt[16], const char *secret,
                        size_t len, unsigned char out[32])
{
	gcry_md_hd_t h;
	if (gcry_md_open(&h, GCRY_MD_SHA256, GCRY_MD_FLAG_SECURE)) {
		memset(out, 0, 32); /* matches nothing: the hash is never zero */
		return;
	}
	gcry_md_write(h, salt, 16);
	gcry_md_write(h, secret, len);
	memcpy(out, gcry_md_read(h, GCRY_MD_SHA256), 32);
	gcry_md_close(h);
}

int client_new(struct client_rec *c, int role, const char *note,
               char secret[CLIENT_SECRET_LEN + 1])
{
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33];
	memset(c, 0, sizeof *c);
	do
		gcry_randomize(&c->id, sizeof c->id, GCRY_STRONG_RANDOM);
	while (c->id == 0);
	c->role = role;
	snprintf(c->note, sizeof c->note, "%s", note ? note : "");
	gcry_randomize(raw, sizeof raw, GCRY_STRONG_RANDOM);
	/* 43 characters of 6 bits: 258 bits drawn, 256 and more used */
	for (int i = 0; i < CLIENT_SECRET_LEN; i++) {
		int bit = i * 6;
		unsigned v = (unsigned)raw[bit / 8] << 8 | raw[bit / 8 + 1];
		secret[i] = b64url[(v >> (10 - bit % 8)) & 63];
	}
	secret[CLIENT_SECRET_LEN] = '\0';
	gcry_create_nonce(c->salt, sizeof c->salt);
	secret_hash(c->salt, secret, CLIENT_SECRET_LEN, c->hash);
	explicit_bzero(raw, sizeof raw);
	return 0;
}

int client_verify(const struct client_rec *c, const char *secret, size_t len)
{
	unsigned char h[32];
	unsigned char diff = 0;
	secret_hash(c->salt, secret, len, h);
	for (size_t i = 0; i < sizeof h; i++)
		diff |= h[i] ^ c->hash[i];
	return diff == 0;
}
