/*
 * clientauth - API client secrets. See clientauth.h.
 */
#include <stdio.h>
#include <string.h>

#include "clientauth.h"
#include "crypto/clientsecret.h"

int client_new(struct client_rec *c, int role, const char *note,
               char secret[CLIENT_SECRET_LEN + 1])
{
	memset(c, 0, sizeof *c);
	c->role = role;
	snprintf(c->note, sizeof c->note, "%s", note ? note : "");
	return clientsecret_id(&c->id) < 0 ||
	       clientsecret_new(secret, c->salt, c->hash) < 0 ? -1 : 0;
}

int client_verify(const struct client_rec *c, const char *secret, size_t len)
{
	return clientsecret_verify(c->salt, c->hash, secret, len);
}
