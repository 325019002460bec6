/*
 * conninfo - per-connection records for pksd's logs. See conninfo.h.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>

#include "conninfo.h"
#include "util/log.h"

struct conninfo {
	char peer[INET6_ADDRSTRLEN];    /* empty: refused, logged already */
	time_t start;
	unsigned long timeout;
	unsigned long requests;
};

/* The ex_data slot: set once at start-up, like OpenSSL's own indexes. */
static int slot = -1;

static void conninfo_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
                          int idx, long argl, void *argp)
{
	struct conninfo *ci = ptr;
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (!ci)
		return;
	long age = (long)(time(NULL) - ci->start);
	if (ci->requests == 0 && *ci->peer && age >= (long)ci->timeout)
		log_msg(SQLOG_WARN, "%s: no complete request within %lu s; "
		        "connection closed", ci->peer, ci->timeout);
	free(ci);
}

int conninfo_init(void)
{
	slot = SSL_get_ex_new_index(0, NULL, NULL, NULL, conninfo_free);
	return slot < 0 ? -1 : 0;
}

int conninfo_attach(SSL *ssl, unsigned long timeout)
{
	struct conninfo *ci = calloc(1, sizeof *ci);
	if (!ci)
		return -1;
	ci->start = time(NULL);
	ci->timeout = timeout;
	if (!SSL_set_ex_data(ssl, slot, ci)) {
		free(ci);
		return -1;
	}
	return 0;
}

void conninfo_set_peer(const SSL *ssl, const char *peer)
{
	struct conninfo *ci = SSL_get_ex_data(ssl, slot);
	if (ci)
		snprintf(ci->peer, sizeof ci->peer, "%s", peer);
}

void conninfo_count(struct bufferevent *bev)
{
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	struct conninfo *ci = ssl ? SSL_get_ex_data(ssl, slot) : NULL;
	if (ci)
		ci->requests++;
}
