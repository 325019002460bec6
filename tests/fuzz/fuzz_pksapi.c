/* fuzz_pksapi - what pksd's API reads from a request before the store:
 * the input is an HTTP request (request line, headers, empty line, body);
 * its target goes through libevent's URI parser as evhttp does, then
 * apireq's routing, the Authorization header through the Basic parser,
 * the path parameters through the checks their handler applies, and the
 * body, where the endpoint has one, through the strict JSON loader and
 * the endpoint's shape. The database stays out: the store is not
 * reached. Never crashes; a route found fits the method and its
 * pattern; what a parser accepts prints back as it came (a hash, a row),
 * or is normalised (an address). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "apireq.h"
#include "fuzz.h"

#define SECRET_MAX 129          /* api.c's buffer */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

static enum evhttp_cmd_type method_of(const char *m)
{
	static const struct { const char *name; enum evhttp_cmd_type t; } map[] = {
		{ "GET", EVHTTP_REQ_GET }, { "POST", EVHTTP_REQ_POST },
		{ "PUT", EVHTTP_REQ_PUT }, { "DELETE", EVHTTP_REQ_DELETE },
		{ "HEAD", EVHTTP_REQ_HEAD }, { "PATCH", EVHTTP_REQ_PATCH },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(m, map[i].name))
			return map[i].t;
	return EVHTTP_REQ_OPTIONS;
}

/* The value of header name in the header block, spaces trimmed as
 * evhttp trims them, into out; NULL if absent. */
static const char *header(char *headers, const char *name, char *out,
                          size_t n)
{
	size_t k = strlen(name);
	for (char *l = headers; l && *l; ) {
		char *eol = strchr(l, '\n');
		size_t len = eol ? (size_t)(eol - l) : strlen(l);
		if (len > k && l[k] == ':' && !strncasecmp(l, name, k)) {
			const char *v = l + k + 1;
			size_t vl = len - k - 1;
			while (vl && (*v == ' ' || *v == '\t'))
				v++, vl--;
			while (vl && isspace((unsigned char)v[vl - 1]))
				vl--;
			snprintf(out, n, "%.*s", (int)vl, v);
			return out;
		}
		l = eol ? eol + 1 : NULL;
	}
	return NULL;
}

static int placeholders(const char *pattern)
{
	int n = 0;
	for (const char *b = strchr(pattern, '{'); b; b = strchr(b + 1, '{'))
		n++;
	return n;
}

static void check_params(int ep, char **param)
{
	const char *pattern = api_routes[ep].pattern;
	char addr[ADDR_MAX + 1], again[ADDR_MAX + 1], back[32];
	uint32_t hash;
	uint64_t row;
	int i = 0;
	for (const char *b = strchr(pattern, '{'); b; b = strchr(b + 1, '{'), i++) {
		const char *v = param[i];
		if (!strncmp(b, "{hash}", 6) && api_param_hash(v, &hash) == 0) {
			snprintf(back, sizeof back, "%08" PRIx32, hash);
			if (strcmp(back, v))
				abort();
		} else if (!strncmp(b, "{row}", 5) && api_param_row(v, &row) == 0) {
			snprintf(back, sizeof back, "%" PRIu64, row);
			if (row == 0 || row >= (uint64_t)1 << 53 || strcmp(back, v))
				abort();
		} else if (!strncmp(b, "{address}", 9) &&
		           api_param_address(v, addr) == 0 &&
		           (api_param_address(addr, again) < 0 || strcmp(addr, again))) {
			abort();
		}
	}
}

static void check_body(int ep, const char *body, size_t len)
{
	char addr[ADDR_MAX + 1], again[ADDR_MAX + 1];
	const char *pek, *pdk;
	json_error_t err;
	json_t *doc = api_body_load(body, len, &err);
	if (doc && json_is_object(doc)) {
		if ((ep == API_POST_KEYS || ep == API_POST_VERSION) &&
		    api_key_body(doc, addr, &pek, &pdk) == 0 &&
		    (!pek || !pdk || api_param_address(addr, again) < 0 ||
		     strcmp(addr, again)))
			abort();
		if (ep == API_PUT_PDK && api_pdk_body(doc, &pdk) == 0 && !pdk)
			abort();
	}
	json_decref(doc);
}

/* One request: headers and body split off, then what api_handle reads. */
static void request(char *text, size_t size)
{
	char method[16], target[2048], auth[512], secret[SECRET_MAX];
	char *param[API_PARAMS_MAX];
	int nparam = 0, path_ok;
	uint32_t id;
	char *end = strstr(text, "\r\n\r\n");
	size_t bodyoff = end ? (size_t)(end - text) + 4 : size;
	if (end)
		*end = '\0';
	if (sscanf(text, "%15s %2047s", method, target) != 2)
		return;
	struct evhttp_uri *uri = evhttp_uri_parse_with_flags(target,
	                                                     EVHTTP_URI_NONCONFORMANT);
	if (!uri)
		return;
	int ep = api_route_find(evhttp_uri_get_path(uri), method_of(method), param,
	                        &nparam, &path_ok);
	if (ep >= 0) {
		if (api_routes[ep].method != method_of(method) ||
		    nparam != placeholders(api_routes[ep].pattern))
			abort();
		for (int i = 0; i < nparam; i++)
			if (!param[i][0] || strlen(param[i]) > 512)
				abort();
		check_params(ep, param);
		if (api_routes[ep].has_body)
			check_body(ep, text + bodyoff, size - bodyoff);
	}
	api_params_free(param, &nparam);
	if (header(text, "Authorization", auth, sizeof auth) &&
	    api_basic_credentials(auth, &id, secret, sizeof secret) == 0 &&
	    (id == 0 || strlen(secret) >= sizeof secret || !secret[0]))
		abort();
	evhttp_uri_free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a NUL-terminated copy: the request line and headers are text */
	char *text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	request(text, size);
	free(text);
	return 0;
}
