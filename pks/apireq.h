/*
 * apireq - what api.c reads from a request before it touches the store:
 * the route (method and path, {placeholders} decoded), HTTP Basic
 * credentials, the path parameters and the JSON bodies. Pure functions:
 * no evhttp request and no database, so that tests/fuzz/fuzz_pksapi
 * reaches all of it.
 */
#ifndef SQ_APIREQ_H
#define SQ_APIREQ_H

#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "mail/addr.h"

#define API_PARAMS_MAX 8                /* path segments, at most */
#define API_ROLE(r) (1u << (r))         /* a role's bit in api_route.roles */

/* The endpoints, in the order routing tries them (pksd(8)). */
enum api_endpoint {
	API_HEALTH, API_GET_PEKS, API_GET_PDKS, API_POST_KEYS,
	API_POST_VERSION, API_PUT_PDK, API_DELETE_ADDRESS, API_AVAILABILITY,
	API_LOGIN_FAILURE, API_LOGIN_SUCCESS, API_LOGIN_ATTEMPT,
	API_LOGIN_SUCCEEDED, API_ENDPOINTS
};

struct api_route {
	enum evhttp_cmd_type method;
	const char *pattern;            /* logged, never the path itself */
	unsigned roles;                 /* API_ROLE bits that may call it */
	int has_body;                   /* a JSON object is required */
};

extern const struct api_route api_routes[API_ENDPOINTS];

/* The endpoint for method and the raw path, with its decoded
 * {placeholders} in param[0..*nparam) (malloc'd: api_params_free), or
 * -1; *path_ok then tells a known path asked with another method. */
int api_route_find(const char *path, enum evhttp_cmd_type method,
                   char **param, int *nparam, int *path_ok);
void api_params_free(char **param, int *nparam);

/* Parses "Basic base64(id:secret)": 0 with the id (1 to 2^32-1) and the
 * secret (NUL-terminated, shorter than secretmax, no NUL in it), or -1. */
int api_basic_credentials(const char *header, uint32_t *id, char *secret,
                          size_t secretmax);

/* {hash}: 8 lower-case hex digits. {row}: decimal, no leading zero,
 * below 2^53. {address}: any address, normalised into out. 0 or -1. */
int api_param_hash(const char *s, uint32_t *hash);
int api_param_row(const char *s, uint64_t *row);
int api_param_address(const char *s, char *out);

/* A request body as JSON, duplicate keys refused: what json_loadb
 * returns (the caller checks that it is an object). */
json_t *api_body_load(const void *data, size_t len, json_error_t *err);

/* {"address", "pek", "pdk"} strings and nothing else, the address
 * normalised into address: 0, -1 for another shape, -2 for an address
 * that is not one. pek and pdk point into body. */
int api_key_body(json_t *body, char *address, const char **pek,
                 const char **pdk);

/* {"pdk": string} and nothing else: 0 or -1. */
int api_pdk_body(json_t *body, const char **pdk);

#endif
