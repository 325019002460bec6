/*
 * api - the key store's REST API. See api.h and pksd(8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "mail/addr.h"
#include "api.h"
#include "apireq.h"
#include "clientauth.h"
#include "conninfo.h"
#include "util/log.h"

struct call {
	struct api *api;
	struct evhttp_request *req;
	const struct client_rec *client;
	char peer[64];
	const char *route;              /* the pattern: logged, never the path */
	char *param[API_PARAMS_MAX];    /* decoded {placeholders}, in order */
	int nparam;
	json_t *body;
	int status;
};

/* ---- replies ----------------------------------------------------------- */

static void reply_json(struct call *c, int status, json_t *doc)
{
	struct evbuffer *out = evbuffer_new();
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (out && text) {
		evbuffer_add(out, text, strlen(text));
		evbuffer_add(out, "\n", 1);
	}
	if (text) { /* may hold wrapped PDKs */
		explicit_bzero(text, strlen(text));
		free(text);
	}
	json_decref(doc);
	c->status = status;
	evhttp_send_reply(c->req, status, NULL, out);
	if (out)
		evbuffer_free(out);
}

static void reply_error(struct call *c, int status, const char *code,
                        const char *message)
{
	reply_json(c, status, json_pack("{s:s, s:s}", "error", code, "message",
	                                message));
}

static int http_status(int store_result)
{
	switch (store_result) {
	case STORE_OK: return 200;
	case STORE_NOTFOUND: return 404;
	case STORE_TAKEN: return 409;
	case STORE_INVALID: return 422;
	case STORE_DOWN: return 503;
	case STORE_UNREADABLE: return 503;
	case STORE_THROTTLED: return 429;
	default: return 500;
	}
}

static void reply_store_error(struct call *c, int r, const char *notfound)
{
	static const struct { int r; const char *code, *msg; } map[] = {
		{ STORE_TAKEN, "address_taken", "the address has keys already" },
		{ STORE_INVALID, "invalid_key",
		  "the PEK does not verify for the address, or the PDK is not "
		  "a wrapped key" },
		{ STORE_DOWN, "database_unavailable", "try again later" },
		{ STORE_UNREADABLE, "row_unreadable",
		  "a key row of the hash does not open; try again later" },
		{ STORE_FAIL, "internal_error", "see the pksd log" },
	};
	if (r == STORE_NOTFOUND) {
		reply_error(c, 404, notfound, "not found");
		return;
	}
	if (r == STORE_FAIL)
		log_msg(SQLOG_ALERT, "%s %s: %s", c->peer, c->route,
		        c->api->store->error);
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (map[i].r == r) {
			reply_error(c, http_status(r), map[i].code, map[i].msg);
			return;
		}
	reply_error(c, 500, "internal_error", "see the pksd log");
}

/* The rows of hash; a login attempt's with each row's cache pepper. */
static json_t *keys_json(uint32_t hash, const struct key_list *l)
{
	char hex[9];
	addr_hash_hex(hash, hex);
	json_t *keys = json_array();
	for (size_t i = 0; keys && i < l->n; i++) {
		const struct key_out *k = &l->key[i];
		json_t *o = json_pack("{s:I, s:I, s:s}", "row", (json_int_t)k->row,
		                      "version", (json_int_t)k->version,
		                      "pek", k->pek);
		if (o && k->pdk)
			json_object_set_new(o, "pdk", json_string(k->pdk));
		if (o && k->has_pepper) {
			char pepper[2 * LOGIN_PEPPER_LEN + 1];
			for (size_t j = 0; j < LOGIN_PEPPER_LEN; j++)
				snprintf(pepper + 2 * j, 3, "%02x", k->pepper[j]);
			json_object_set_new(o, "cache_pepper", json_string(pepper));
			explicit_bzero(pepper, sizeof pepper);
		}
		if (o && k->locked_until) {
			char when[32];
			time_t t = (time_t)k->locked_until;
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
			json_object_set_new(o, "locked_until", json_string(when));
		}
		json_array_append_new(keys, o);
	}
	return json_pack("{s:s, s:o}", "hash", hex, "keys", keys);
}

/* ---- handlers ---------------------------------------------------------- */

static void get_health(struct call *c)
{
	if (db_ping(c->api->store->db) != DB_OK) {
		reply_error(c, 503, "database_unavailable", "try again later");
		return;
	}
	reply_json(c, 200, json_pack("{s:s}", "status", "ok"));
}

static void get_keys(struct call *c, int want_pdk)
{
	uint32_t hash;
	struct key_list l;
	if (api_param_hash(c->param[0], &hash) < 0) {
		reply_error(c, 400, "invalid_hash", "a hash is 8 lower-case hex digits");
		return;
	}
	int r = store_keys(c->api->store, hash, want_pdk, &l);
	if (r != STORE_OK) {
		reply_store_error(c, r, "no_such_key");
		return;
	}
	reply_json(c, 200, keys_json(hash, &l));
	key_list_free(&l);
}

static void get_peks(struct call *c)
{
	get_keys(c, 0);
}

static void get_pdks(struct call *c)
{
	get_keys(c, 1);
}

/* {"address", "pek", "pdk"} and nothing else. */
static int key_body(struct call *c, char *address, const char **pek,
                    const char **pdk)
{
	int r = api_key_body(c->body, address, pek, pdk);
	if (r == -1)
		reply_error(c, 400, "invalid_body",
		            "expected {\"address\", \"pek\", \"pdk\"} strings");
	else if (r < 0)
		reply_error(c, 400, "invalid_address", "not a valid address");
	return r < 0 ? -1 : 0;
}

static void create_key(struct call *c, int new_version)
{
	char address[ADDR_MAX + 1], hex[9];
	const char *pek, *pdk;
	uint32_t hash, version;
	uint64_t row;
	if (key_body(c, address, &pek, &pdk) < 0)
		return;
	if (new_version) {
		uint32_t want;
		if (api_param_hash(c->param[0], &want) < 0) {
			reply_error(c, 400, "invalid_hash",
			            "a hash is 8 lower-case hex digits");
			return;
		}
		if (want != addr_hash(address)) {
			reply_error(c, 422, "hash_mismatch",
			            "the address does not have this hash");
			return;
		}
	}
	int r = store_create(c->api->store, address, pek, pdk, new_version,
	                     &hash, &row, &version);
	if (r != STORE_OK) {
		reply_store_error(c, r, "no_such_address");
		return;
	}
	addr_hash_hex(hash, hex);
	reply_json(c, 201, json_pack("{s:s, s:I, s:I}", "hash", hex, "row",
	                             (json_int_t)row, "version",
	                             (json_int_t)version));
}

static void post_keys(struct call *c)
{
	create_key(c, 0);
}

static void post_version(struct call *c)
{
	create_key(c, 1);
}

/* {hash} and {row} of the path. */
static int hash_row(struct call *c, uint32_t *hash, uint64_t *row)
{
	if (api_param_hash(c->param[0], hash) < 0 || api_param_row(c->param[1], row) < 0) {
		reply_error(c, 400, "invalid_path", "bad hash or row");
		return -1;
	}
	return 0;
}

static void put_pdk(struct call *c)
{
	uint32_t hash, version;
	uint64_t row;
	const char *pdk;
	if (hash_row(c, &hash, &row) < 0)
		return;
	if (api_pdk_body(c->body, &pdk) < 0) {
		reply_error(c, 400, "invalid_body", "expected {\"pdk\": string}");
		return;
	}
	int r = store_replace_pdk(c->api->store, hash, row, pdk, &version);
	if (r != STORE_OK) {
		reply_store_error(c, r, "no_such_row");
		return;
	}
	reply_json(c, 200, json_pack("{s:I, s:I}", "row", (json_int_t)row,
	                             "version", (json_int_t)version));
}

static void delete_address(struct call *c)
{
	char address[ADDR_MAX + 1];
	unsigned deleted;
	if (api_param_address(c->param[0], address) < 0) {
		reply_error(c, 400, "invalid_address", "not a valid address");
		return;
	}
	int r = store_delete_address(c->api->store, address, &deleted);
	if (r != STORE_OK) {
		reply_store_error(c, r, "no_such_address");
		return;
	}
	reply_json(c, 200, json_pack("{s:I}", "deleted", (json_int_t)deleted));
}

static void get_availability(struct call *c)
{
	char address[ADDR_MAX + 1];
	int available;
	if (api_param_address(c->param[0], address) < 0) {
		reply_error(c, 400, "invalid_address", "not a valid address");
		return;
	}
	int r = store_available(c->api->store, address, &available);
	if (r != STORE_OK) {
		reply_store_error(c, r, "no_such_address");
		return;
	}
	reply_json(c, 200, json_pack("{s:s, s:b}", "address", address,
	                             "available", available));
}

static void post_login_failure(struct call *c)
{
	uint32_t hash;
	uint64_t row;
	unsigned failures;
	int64_t until;
	if (hash_row(c, &hash, &row) < 0)
		return;
	int r = store_login_failure(c->api->store, hash, row, &failures, &until);
	if (r != STORE_OK) {
		reply_store_error(c, r, "no_such_row");
		return;
	}
	json_t *lock = json_null();
	if (until) {
		char when[32];
		time_t t = (time_t)until;
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		lock = json_string(when);
	}
	log_msg(SQLOG_INFO, "%s login failure %u on row %llu%s", c->peer,
	        failures, (unsigned long long)row, until ? ", locked" : "");
	reply_json(c, 200, json_pack("{s:I, s:o}", "failures",
	                             (json_int_t)failures, "locked_until", lock));
}

static void post_login_success(struct call *c)
{
	uint32_t hash;
	uint64_t row;
	if (hash_row(c, &hash, &row) < 0)
		return;
	int r = store_login_success(c->api->store, hash, row);
	if (r != STORE_OK) {
		reply_store_error(c, r, "no_such_row");
		return;
	}
	reply_json(c, 200, json_pack("{s:i}", "failures", 0));
}

/* {hash} of the path and the network of {"client": IP} in the body: the
 * client's address as its TCP peer told the login program, or "" when it
 * does not know it. */
static int hash_network(struct call *c, uint32_t *hash,
                        char net[THROTTLE_NET_MAX])
{
	const char *ip;
	if (api_param_hash(c->param[0], hash) < 0) {
		reply_error(c, 400, "invalid_hash", "a hash is 8 lower-case hex digits");
		return -1;
	}
	if (!c->body || json_unpack(c->body, "{s:s !}", "client", &ip) < 0 ||
	    throttle_network(ip, net) < 0) {
		reply_error(c, 400, "invalid_body",
		            "expected {\"client\": an IP address or \"\"}");
		return -1;
	}
	return 0;
}

/* 429 with Retry-After: the wait, never whether a password was right. */
static void reply_throttled(struct call *c, int64_t wait)
{
	char secs[24];
	snprintf(secs, sizeof secs, "%lld", (long long)wait);
	evhttp_add_header(evhttp_request_get_output_headers(c->req),
	                  "Retry-After", secs);
	reply_json(c, 429, json_pack("{s:s, s:s, s:I}", "error", "throttled",
	                             "message", "too many failed logins; try "
	                             "again later", "retry_after",
	                             (json_int_t)wait));
}

static void post_login_attempt(struct call *c)
{
	uint32_t hash;
	char net[THROTTLE_NET_MAX];
	struct key_list l;
	int64_t wait = 0;
	if (hash_network(c, &hash, net) < 0)
		return;
	int r = store_login_attempt(c->api->store, hash, net, &l, &wait);
	if (r == STORE_THROTTLED) {
		log_msg(SQLOG_INFO, "%s login attempt on hash %08lx from %s: "
		        "throttled, %lld s", c->peer, (unsigned long)hash, net,
		        (long long)wait);
		reply_throttled(c, wait);
		return;
	}
	if (r != STORE_OK) {
		reply_store_error(c, r, "no_such_key");
		return;
	}
	reply_json(c, 200, keys_json(hash, &l));
	key_list_free(&l);
}

static void post_login_succeeded(struct call *c)
{
	uint32_t hash;
	char net[THROTTLE_NET_MAX];
	if (hash_network(c, &hash, net) < 0)
		return;
	int r = store_login_succeeded(c->api->store, hash, net);
	if (r != STORE_OK) {
		reply_store_error(c, r, "no_such_key");
		return;
	}
	reply_json(c, 200, json_pack("{s:i}", "failures", 0));
}

/* ---- routing ----------------------------------------------------------- */

/* The handler of each endpoint of apireq.c's api_routes. */
static void (*const handlers[API_ENDPOINTS])(struct call *) = {
	[API_HEALTH] = get_health,
	[API_GET_PEKS] = get_peks,
	[API_GET_PDKS] = get_pdks,
	[API_POST_KEYS] = post_keys,
	[API_POST_VERSION] = post_version,
	[API_PUT_PDK] = put_pdk,
	[API_DELETE_ADDRESS] = delete_address,
	[API_AVAILABILITY] = get_availability,
	[API_LOGIN_FAILURE] = post_login_failure,
	[API_LOGIN_SUCCESS] = post_login_success,
	[API_LOGIN_ATTEMPT] = post_login_attempt,
	[API_LOGIN_SUCCEEDED] = post_login_succeeded,
};

static void free_params(struct call *c)
{
	api_params_free(c->param, &c->nparam);
}

/* Finds the route; *path_ok tells a known path with another method. */
static const struct api_route *route_for(struct call *c, int *path_ok)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(c->req));
	int i = api_route_find(path, evhttp_request_get_command(c->req),
	                       c->param, &c->nparam, path_ok);
	return i < 0 ? NULL : &api_routes[i];
}

/* ---- authentication ---------------------------------------------------- */

static const struct client_rec *client_lookup(struct api *api, uint32_t id,
                                              int *down)
{
	struct client_cache_entry *e = &api->clients[id % CLIENT_CACHE_SLOTS];
	time_t now = time(NULL);
	*down = 0;
	if (e->valid && e->rec.id == id && now - e->fetched < CLIENT_CACHE_SECONDS)
		return &e->rec;
	int r = db_client_get(api->store->db, id, &e->rec);
	e->valid = r == DB_OK;
	e->fetched = now;
	*down = r == DB_DOWN;
	return e->valid ? &e->rec : NULL;
}

/* 0 and c->client set, or -1 with the reply sent. */
static int authenticate(struct call *c)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(c->req);
	char secret[129];
	uint32_t id = 0;
	int down = 0;
	if (api_basic_credentials(evhttp_find_header(in, "Authorization"), &id,
	                      secret, sizeof secret) == 0) {
		const struct client_rec *rec = client_lookup(c->api, id, &down);
		if (rec && client_verify(rec, secret, strlen(secret)))
			c->client = rec;
		explicit_bzero(secret, sizeof secret);
	}
	if (c->client)
		return 0;
	if (down) {
		log_msg(SQLOG_WARN, "%s client %lu: database unavailable for %s",
		        c->peer, (unsigned long)id, c->route);
		reply_error(c, 503, "database_unavailable", "try again later");
		return -1;
	}
	log_msg(SQLOG_WARN, "%s client %lu: bad credentials for %s", c->peer,
	        (unsigned long)id, c->route);
	evhttp_add_header(evhttp_request_get_output_headers(c->req),
	                  "WWW-Authenticate", "Basic realm=\"pks\"");
	reply_error(c, 401, "unauthorized", "bad or missing credentials");
	return -1;
}

/* ---- the request --------------------------------------------------------- */

static void peer_of(struct evhttp_request *req, char *out, size_t n,
                    const struct sockaddr **sa)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *host = NULL;
	ev_uint16_t port = 0;
	*sa = conn ? evhttp_connection_get_addr(conn) : NULL;
	if (conn)
		evhttp_connection_get_peer(conn, &host, &port);
	snprintf(out, n, "%s", host ? host : "?");
}

static int read_body(struct call *c)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in);
	json_error_t err;
	/* evhttp itself answers a body over API_BODY_MAX with 413 */
	if (len == 0) {
		reply_error(c, 400, "invalid_json", "a JSON body is required");
		return -1;
	}
	unsigned char *data = evbuffer_pullup(in, -1);
	c->body = data ? api_body_load(data, len, &err) : NULL;
	if (!c->body || !json_is_object(c->body)) {
		/* position only: jansson's text quotes the input, which may
		 * hold an address or a key */
		log_msg(SQLOG_WARN, "%s %s: bad JSON%s at octet %d", c->peer,
		        c->route, c->body ? " (not an object)" : "",
		        c->body ? 0 : err.position);
		reply_error(c, 400, "invalid_json", "the body is not a JSON object");
		return -1;
	}
	return 0;
}

void api_handle(struct evhttp_request *req, void *arg)
{
	struct call c;
	const struct sockaddr *sa;
	int path_ok;
	memset(&c, 0, sizeof c);
	c.api = arg;
	c.req = req;
	c.route = "?";
	c.api->requests++;
	peer_of(req, c.peer, sizeof c.peer, &sa);
	if (evhttp_request_get_connection(req))
		conninfo_count(evhttp_connection_get_bufferevent(
			evhttp_request_get_connection(req)));
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* a HEAD reply must have no body: libevent would send one */
		evhttp_send_reply(req, 405, "Method Not Allowed", NULL);
		log_msg(SQLOG_WARN, "%s: HEAD refused", c.peer);
		return;
	}
	if (!sa || !ipallow_match(c.api->allow, sa)) {
		log_msg(SQLOG_WARN, "%s: address not allowed", c.peer);
		reply_error(&c, 403, "forbidden", "address not allowed");
		return;
	}
	const struct api_route *rt = route_for(&c, &path_ok);
	if (rt)
		c.route = rt->pattern;
	if (authenticate(&c) < 0)
		goto done;
	if (!rt) {
		log_msg(SQLOG_WARN, "%s client %lu: %s", c.peer,
		        (unsigned long)c.client->id,
		        path_ok ? "method not allowed" : "unknown path");
		reply_error(&c, path_ok ? 405 : 404, path_ok ? "method_not_allowed"
		            : "unknown_path", path_ok ? "method not allowed here"
		            : "no such endpoint");
		goto done;
	}
	if (!(rt->roles & API_ROLE(c.client->role))) {
		log_msg(SQLOG_WARN, "%s client %lu: role %s may not %s", c.peer,
		        (unsigned long)c.client->id, role_name(c.client->role),
		        rt->pattern);
		reply_error(&c, 403, "forbidden", "this client's role may not");
		goto done;
	}
	if (rt->has_body && read_body(&c) < 0)
		goto done;
	handlers[rt - api_routes](&c);
done:
	if (c.client)
		log_msg(SQLOG_INFO, "%s client %lu %s %s %d", c.peer,
		        (unsigned long)c.client->id,
		        rt ? (rt->method == EVHTTP_REQ_GET ? "GET" :
		              rt->method == EVHTTP_REQ_POST ? "POST" :
		              rt->method == EVHTTP_REQ_PUT ? "PUT" : "DELETE") : "-",
		        c.route, c.status);
	free_params(&c);
	json_decref(c.body);
}
