/*
 * apireq - the request's parse layer of the key store's API. See
 * apireq.h; api.c applies it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "apireq.h"
#include "db.h"

#define ANY_ROLE (API_ROLE(ROLE_DELIVER) | API_ROLE(ROLE_LOGIN) | \
                  API_ROLE(ROLE_PROVISION))

const struct api_route api_routes[API_ENDPOINTS] = {
	[API_HEALTH] = { EVHTTP_REQ_GET, "/v1/health", ANY_ROLE, 0 },
	[API_GET_PEKS] = { EVHTTP_REQ_GET, "/v1/keys/{hash}", ANY_ROLE, 0 },
	[API_GET_PDKS] = { EVHTTP_REQ_GET, "/v1/keys/{hash}/pdk",
	                   API_ROLE(ROLE_LOGIN), 0 },
	[API_POST_KEYS] = { EVHTTP_REQ_POST, "/v1/keys",
	                    API_ROLE(ROLE_PROVISION), 1 },
	[API_POST_VERSION] = { EVHTTP_REQ_POST, "/v1/keys/{hash}/versions",
	                       API_ROLE(ROLE_PROVISION), 1 },
	[API_PUT_PDK] = { EVHTTP_REQ_PUT, "/v1/keys/{hash}/rows/{row}/pdk",
	                  API_ROLE(ROLE_PROVISION), 1 },
	[API_DELETE_ADDRESS] = { EVHTTP_REQ_DELETE, "/v1/addresses/{address}",
	                         API_ROLE(ROLE_PROVISION), 0 },
	[API_AVAILABILITY] = { EVHTTP_REQ_GET,
	                       "/v1/addresses/{address}/availability",
	                       API_ROLE(ROLE_PROVISION), 0 },
	[API_LOGIN_FAILURE] = { EVHTTP_REQ_POST,
	                        "/v1/keys/{hash}/rows/{row}/login-failure",
	                        API_ROLE(ROLE_LOGIN), 0 },
	[API_LOGIN_SUCCESS] = { EVHTTP_REQ_POST,
	                        "/v1/keys/{hash}/rows/{row}/login-success",
	                        API_ROLE(ROLE_LOGIN), 0 },
	[API_LOGIN_ATTEMPT] = { EVHTTP_REQ_POST, "/v1/keys/{hash}/login-attempt",
	                        API_ROLE(ROLE_LOGIN), 1 },
	[API_LOGIN_SUCCEEDED] = { EVHTTP_REQ_POST,
	                          "/v1/keys/{hash}/login-success",
	                          API_ROLE(ROLE_LOGIN), 1 },
};

/* ---- routing ----------------------------------------------------------- */

/* Splits a raw path into at most API_PARAMS_MAX raw segments (in place). */
static int split_path(char *path, char **seg)
{
	int n = 0;
	if (*path != '/')
		return -1;
	for (char *p = path + 1;; ) {
		if (n == API_PARAMS_MAX)
			return -1;
		seg[n++] = p;
		char *slash = strchr(p, '/');
		if (!slash)
			return n;
		*slash = '\0';
		p = slash + 1;
	}
}

/* 1 if the raw segments fit pattern; fills param with decoded values. */
static int match(const char *pattern, char **seg, int n, char **param,
                 int *nparam)
{
	char pat[128];
	char *pseg[API_PARAMS_MAX];
	snprintf(pat, sizeof pat, "%s", pattern);
	int pn = split_path(pat, pseg);
	if (pn != n)
		return 0;
	for (int i = 0; i < n; i++)
		if (pseg[i][0] != '{' && strcmp(pseg[i], seg[i]) != 0)
			return 0;
	for (int i = 0; i < n; i++) {
		if (pseg[i][0] != '{')
			continue;
		size_t len;
		char *v = evhttp_uridecode(seg[i], 0, &len);
		/* a decoded NUL would cut the value short unseen */
		if (!v || len != strlen(v) || len == 0 || len > 512) {
			free(v);
			return -1;
		}
		param[(*nparam)++] = v;
	}
	return 1;
}

void api_params_free(char **param, int *nparam)
{
	for (int i = 0; i < *nparam; i++)
		free(param[i]);
	*nparam = 0;
}

int api_route_find(const char *path, enum evhttp_cmd_type method,
                   char **param, int *nparam, int *path_ok)
{
	char buf[1024], *seg[API_PARAMS_MAX];
	*path_ok = 0;
	if (!path || strlen(path) >= sizeof buf)
		return -1;
	strcpy(buf, path);
	int n = split_path(buf, seg);
	for (int i = 0; n > 0 && i < API_ENDPOINTS; i++) {
		int m = match(api_routes[i].pattern, seg, n, param, nparam);
		if (m < 0)
			return -1;
		if (m == 0)
			continue;
		*path_ok = 1;
		if (api_routes[i].method == method)
			return i;
		api_params_free(param, nparam);
	}
	return -1;
}

/* ---- credentials ------------------------------------------------------- */

int api_basic_credentials(const char *header, uint32_t *id, char *secret,
                          size_t secretmax)
{
	unsigned char raw[256];
	if (!header || strncasecmp(header, "Basic ", 6) != 0)
		return -1;
	const char *b64 = header + 6;
	size_t len = strlen(b64);
	if (len == 0 || len % 4 || len > 4 * (sizeof raw / 3 - 1))
		return -1;
	int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return -1;
	n -= (b64[len - 1] == '=') + (len > 1 && b64[len - 2] == '=');
	const unsigned char *colon = memchr(raw, ':', (size_t)n);
	size_t idlen = colon ? (size_t)(colon - raw) : 0;
	size_t slen = colon ? (size_t)n - idlen - 1 : 0;
	int ok = colon && idlen >= 1 && idlen <= 10 && slen > 0 && slen < secretmax;
	unsigned long long v = 0;
	for (size_t i = 0; ok && i < idlen; i++) {
		ok = isdigit(raw[i]);
		v = v * 10 + (unsigned)(raw[i] - '0');
	}
	if (ok && v > 0 && v <= 0xffffffffULL &&
	    !memchr(colon + 1, '\0', slen)) {
		*id = (uint32_t)v;
		memcpy(secret, colon + 1, slen);
		secret[slen] = '\0';
	} else {
		ok = 0;
	}
	explicit_bzero(raw, sizeof raw);
	return ok ? 0 : -1;
}

/* ---- parameters and bodies ---------------------------------------------- */

int api_param_hash(const char *s, uint32_t *hash)
{
	if (strlen(s) != 8 || strspn(s, "0123456789abcdef") != 8)
		return -1;
	*hash = (uint32_t)strtoul(s, NULL, 16);
	return 0;
}

int api_param_row(const char *s, uint64_t *row)
{
	if (!*s || strlen(s) > 16 || strspn(s, "0123456789") != strlen(s) ||
	    *s == '0')
		return -1;
	*row = strtoull(s, NULL, 10);
	return *row < ((uint64_t)1 << 53) ? 0 : -1;
}

int api_param_address(const char *s, char *out)
{
	return addr_normalize(s, strlen(s), out) == ADDR_OK ? 0 : -1;
}

json_t *api_body_load(const void *data, size_t len, json_error_t *err)
{
	return json_loadb(data, len, JSON_REJECT_DUPLICATES, err);
}

int api_key_body(json_t *body, char *address, const char **pek,
                 const char **pdk)
{
	const char *a;
	if (!body || json_unpack(body, "{s:s, s:s, s:s !}", "address", &a,
	                         "pek", pek, "pdk", pdk) < 0)
		return -1;
	return api_param_address(a, address) < 0 ? -2 : 0;
}

int api_pdk_body(json_t *body, const char **pdk)
{
	return !body || json_unpack(body, "{s:s !}", "pdk", pdk) < 0 ? -1 : 0;
}
