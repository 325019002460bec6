/*
 * api - the key store's REST API (v1) on top of evhttp: authentication
 * (HTTP Basic with a 32-bit client id and its secret), roles, routing,
 * strict JSON, and the mapping of store results to HTTP statuses. The
 * endpoints are listed in pksd(8) and pks/openapi.yaml.
 */
#ifndef SQ_API_H
#define SQ_API_H

#include <event2/http.h>

#include "net/ipallow.h"
#include "store.h"

#define API_BODY_MAX 65536
#define CLIENT_CACHE_SLOTS 64
#define CLIENT_CACHE_SECONDS 5

struct client_cache_entry {
	struct client_rec rec;
	time_t fetched;
	int valid;
};

struct api {
	struct store *store;
	struct ipallow *allow;
	struct client_cache_entry clients[CLIENT_CACHE_SLOTS];
	unsigned long requests;
};

/* The evhttp general callback; arg is a struct api. */
void api_handle(struct evhttp_request *req, void *arg);

#endif
