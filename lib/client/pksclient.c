/*
 * pksclient - the client of pksd's REST API v1. See pksclient.h.
 *
 * Layout: the transport (one libcurl easy handle), then one short function
 * per call. The configuration is read by pksconfig.c, and the replies are
 * parsed by pksreply.c (pure functions on text, so the tests can feed
 * them).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "mail/addr.h"
#include "util/fail.h"
#include "client/pksclient.h"
#include "util/sbuf.h"

#define URL_MAX 1024
#define WHY_MAX 256

struct pks_client {
	CURL *curl;
	struct curl_slist *hdr_plain;   /* requests without a body */
	struct curl_slist *hdr_json;    /* requests with a JSON body */
	char base[sizeof ((struct pks_config *)0)->url];
	struct sbuf reply;      /* secret: it can hold wrapped PDKs */
	int too_big;            /* the write callback hit PKS_REPLY_MAX */
	char curlerr[CURL_ERROR_SIZE];
	char why[WHY_MAX];
};

/* Records the reason for a result on the client; returns r. */
#define cfail(c, r, ...) fail_why((c)->why, sizeof (c)->why, (r), __VA_ARGS__)

/* --- transport ------------------------------------------------------------ */

/* curl_global_init must come before any other libcurl call and is not
 * thread-safe; our programs are single-threaded, so a flag suffices.
 * There is no matching cleanup: clients may live until exit. */
static int global_init(void)
{
	static int done;
	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	done = 1;
	return 0;
}

/* Bounded: a reply past PKS_REPLY_MAX aborts the transfer (PKS_TEMP). */
static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct pks_client *c = arg;
	size_t n = size * nmemb;
	if (sbuf_put(&c->reply, data, n) < 0) {
		c->too_big = errno == EMSGSIZE;
		return 0;
	}
	return n;
}

#define SET(h, opt, val) (curl_easy_setopt(h, opt, val) == CURLE_OK)

/* Only our CA, only https, no proxy from the environment, no redirects:
 * the credentials and the keys go to the configured server or nowhere. */
static int set_tls(CURL *h, const struct pks_config *cfg)
{
	return SET(h, CURLOPT_PROTOCOLS_STR, "https") &&
	       SET(h, CURLOPT_FOLLOWLOCATION, 0L) &&
	       SET(h, CURLOPT_PROXY, "") &&
	       SET(h, CURLOPT_CAINFO, cfg->cafile) &&
	       SET(h, CURLOPT_CAPATH, (char *)NULL) &&
	       SET(h, CURLOPT_SSL_VERIFYPEER, 1L) &&
	       SET(h, CURLOPT_SSL_VERIFYHOST, 2L) &&
	       SET(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
}

static int set_transfer(struct pks_client *c, const struct pks_config *cfg)
{
	CURL *h = c->curl;
	long total = cfg->timeout_ms > 0 ? cfg->timeout_ms
	                                 : PKS_TIMEOUT_DEFAULT * 1000L;
	long conn = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
	                                        : PKS_CONNECT_TIMEOUT_DEFAULT * 1000L;
	/* NOSIGNAL: no SIGALRM for DNS timeouts in programs with their own
	 * signal handling. PATH_AS_IS: our paths are exact, never "fixed". */
	return SET(h, CURLOPT_NOSIGNAL, 1L) &&
	       SET(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) &&
	       SET(h, CURLOPT_PATH_AS_IS, 1L) &&
	       SET(h, CURLOPT_CONNECTTIMEOUT_MS, conn) &&
	       SET(h, CURLOPT_TIMEOUT_MS, total) &&
	       SET(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)PKS_REPLY_MAX) &&
	       SET(h, CURLOPT_WRITEFUNCTION, on_data) &&
	       SET(h, CURLOPT_WRITEDATA, c) &&
	       SET(h, CURLOPT_ERRORBUFFER, c->curlerr) &&
	       SET(h, CURLOPT_USERAGENT, "secure-qmail-pksclient/1");
}

/* libcurl copies both strings and builds the header itself. */
static int set_auth(CURL *h, const struct pks_config *cfg)
{
	char user[11];
	if (!cfg->secret[0])
		return 1;
	snprintf(user, sizeof user, "%" PRIu32, cfg->client_id);
	return SET(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) &&
	       SET(h, CURLOPT_USERNAME, user) &&
	       SET(h, CURLOPT_PASSWORD, cfg->secret);
}

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *p = curl_slist_append(*list, line);
	if (p)
		*list = p;
	return p != NULL;
}

/* "Expect:" turns off 100-continue (a wasted round trip for a few KiB);
 * "Content-Type:" stops curl labelling an empty POST as a form. */
static int make_headers(struct pks_client *c)
{
	return add_header(&c->hdr_plain, "Accept: application/json") &&
	       add_header(&c->hdr_plain, "Expect:") &&
	       add_header(&c->hdr_plain, "Content-Type:") &&
	       add_header(&c->hdr_json, "Accept: application/json") &&
	       add_header(&c->hdr_json, "Expect:") &&
	       add_header(&c->hdr_json, "Content-Type: application/json");
}

struct pks_client *pks_client_new(const struct pks_config *cfg)
{
	if (global_init() < 0)
		return NULL;
	struct pks_client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	sbuf_init_secret(&c->reply, PKS_REPLY_MAX);
	snprintf(c->base, sizeof c->base, "%s", cfg->url);
	c->curl = curl_easy_init();
	if (!c->curl || !make_headers(c) || !set_tls(c->curl, cfg) ||
	    !set_transfer(c, cfg) || !set_auth(c->curl, cfg)) {
		pks_client_free(c);
		return NULL;
	}
	return c;
}

void pks_client_free(struct pks_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->hdr_plain);
	curl_slist_free_all(c->hdr_json);
	sbuf_free(&c->reply);
	OPENSSL_cleanse(c, sizeof *c);
	free(c);
}

const char *pks_client_error(const struct pks_client *c)
{
	if (!c)
		return "no PKS client";
	return c->why[0] ? c->why : "no error";
}

/* A request body: NULL for GET and DELETE, an empty sbuf for an empty
 * POST. CUSTOMREQUEST sticks to the handle, so every call sets it. */
static int set_method(struct pks_client *c, const char *method,
                      const struct sbuf *body)
{
	CURL *h = c->curl;
	const char *custom = strcmp(method, "GET") == 0 ||
	                     strcmp(method, "POST") == 0 ? NULL : method;
	if (!SET(h, CURLOPT_CUSTOMREQUEST, custom))
		return 0;
	if (!body)
		return SET(h, CURLOPT_HTTPGET, 1L) &&
		       SET(h, CURLOPT_HTTPHEADER, c->hdr_plain);
	return SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len) &&
	       SET(h, CURLOPT_POSTFIELDS, body->s ? body->s : "") &&
	       SET(h, CURLOPT_HTTPHEADER,
	           body->len ? c->hdr_json : c->hdr_plain);
}

static enum pks_result transport_failure(struct pks_client *c, CURLcode rc)
{
	const char *detail = c->curlerr[0] ? c->curlerr : curl_easy_strerror(rc);
	long err = 0;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return cfail(c, PKS_TEMP, "resolve: %s", detail);
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &err);
		return cfail(c, PKS_TEMP, "connect: %s",
		             err ? strerror((int)err) : detail);
	case CURLE_OPERATION_TIMEDOUT:
		return cfail(c, PKS_TEMP, "timeout: %s", detail);
	case CURLE_PEER_FAILED_VERIFICATION:
		curl_easy_getinfo(c->curl, CURLINFO_SSL_VERIFYRESULT, &err);
		if (err)
			return cfail(c, PKS_TEMP, "TLS: certificate verify "
			             "failed: %s", X509_verify_cert_error_string(err));
		return cfail(c, PKS_TEMP, "TLS: %s", detail);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return cfail(c, PKS_TEMP, "TLS: %s", detail);
	case CURLE_FILESIZE_EXCEEDED:
		return cfail(c, PKS_TEMP, "reply longer than %d bytes",
		             PKS_REPLY_MAX);
	case CURLE_WRITE_ERROR:
		if (c->too_big)
			return cfail(c, PKS_TEMP, "reply longer than %d bytes",
			             PKS_REPLY_MAX);
		break;
	default:
		break;
	}
	return cfail(c, PKS_TEMP, "curl: %s", detail);
}

/* A status other than the call's success status. A 404 counts as "no such
 * thing" only with pksd's error object: a proxy's or a wrong pksurl's 404
 * page must not make mail bounce. */
static enum pks_result http_failure(struct pks_client *c, long status)
{
	char code[64], msg[128];
	enum pks_result r = pks_status_result(status);
	int has_error = pks_parse_error(c->reply.s, c->reply.len, code,
	                                sizeof code, msg, sizeof msg) == 0;
	if (r == PKS_OK)
		return cfail(c, PKS_TEMP, "HTTP %ld: unexpected status", status);
	if (!has_error)
		return cfail(c, r == PKS_NOT_FOUND ? PKS_TEMP : r,
		             "HTTP %ld without an error object", status);
	char extra[64] = "";
	curl_off_t after = 0;
	if (r == PKS_LOCKED &&
	    curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK &&
	    after > 0)
		snprintf(extra, sizeof extra, ", retry after %" CURL_FORMAT_CURL_OFF_T
		         " s", after);
	return cfail(c, r, "HTTP %ld: %s%s%s%s%s", status, code,
	             msg[0] ? " (" : "", msg, msg[0] ? ")" : "", extra);
}

/* One request. PKS_OK means the status was expect; the reply body is
 * then in c->reply for the caller to parse (and sbuf_reset, which wipes). */
static enum pks_result perform(struct pks_client *c, const char *method,
                               const char *path, const struct sbuf *body,
                               long expect)
{
	struct sbuf url;
	long status = 0;
	sbuf_init(&url, URL_MAX);
	sbuf_reset(&c->reply);
	c->too_big = 0;
	c->curlerr[0] = '\0';
	c->why[0] = '\0';
	if (sbuf_printf(&url, "%s%s", c->base, path) < 0 ||
	    !SET(c->curl, CURLOPT_URL, url.s) || !set_method(c, method, body)) {
		sbuf_free(&url);
		return cfail(c, PKS_TEMP, "curl: cannot set up the request");
	}
	sbuf_free(&url);
	CURLcode rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		sbuf_reset(&c->reply);
		return transport_failure(c, rc);
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == expect)
		return PKS_OK;
	enum pks_result r = http_failure(c, status);
	sbuf_reset(&c->reply);
	return r;
}

/* The reply of a successful perform as a JSON object, or NULL with the
 * reason recorded. The raw text is wiped either way. */
static json_t *reply_object(struct pks_client *c)
{
	char why[WHY_MAX - 16];
	json_t *root = pks_json_load_object(c->reply.s, c->reply.len, why,
	                                    sizeof why);
	sbuf_reset(&c->reply);
	if (!root)
		cfail(c, PKS_TEMP, "bad reply: %s", why);
	return root;
}

/* Reads an integer member of a reply, recording a bad one as PKS_TEMP. */
static int reply_int(struct pks_client *c, json_t *obj, const char *name,
                     json_int_t min, json_int_t max, json_int_t *out)
{
	char why[WHY_MAX - 16];
	if (pks_json_get_int(obj, name, min, max, out, why, sizeof why) < 0) {
		cfail(c, PKS_TEMP, "bad reply: %s", why);
		return -1;
	}
	return 0;
}

/* Serialises obj into body, a secret sbuf: it may carry a wrapped PDK. */
static int dump_cb(const char *buf, size_t size, void *arg)
{
	return sbuf_put(arg, buf, size);
}

static enum pks_result json_body(struct pks_client *c, json_t *obj,
                                 struct sbuf *body)
{
	sbuf_init_secret(body, PKS_REPLY_MAX);
	int r = obj ? json_dump_callback(obj, dump_cb, body, JSON_COMPACT) : -1;
	if (obj)
		pks_json_wipe_string(json_object_get(obj, "pdk"));
	json_decref(obj);
	if (r < 0)
		return cfail(c, PKS_REFUSED, "request: cannot encode (not UTF-8, "
		             "or too long)");
	return PKS_OK;
}

/* --- the calls ------------------------------------------------------------ */

static enum pks_result normalise(struct pks_client *c, const char *address,
                                 char norm[ADDR_MAX + 1])
{
	enum addr_error e = address ? addr_normalize(address, strlen(address),
	                                             norm) : ADDR_EMPTY;
	if (e != ADDR_OK)
		return cfail(c, PKS_REFUSED, "address: %s", addr_strerror(e));
	return PKS_OK;
}

static enum pks_result check_row(struct pks_client *c, uint64_t row)
{
	if (row == 0 || row > PKS_ROW_MAX)
		return cfail(c, PKS_REFUSED, "row %" PRIu64 " out of range", row);
	return PKS_OK;
}

enum pks_result pks_health(struct pks_client *c)
{
	enum pks_result r = perform(c, "GET", "/v1/health", NULL, 200);
	json_t *root = r == PKS_OK ? reply_object(c) : NULL;
	if (r != PKS_OK || !root)
		return r == PKS_OK ? PKS_TEMP : r;
	json_t *s = json_object_get(root, "status");
	if (!json_is_string(s) || strcmp(json_string_value(s), "ok") != 0)
		r = cfail(c, PKS_TEMP, "bad reply: \"status\" is not \"ok\"");
	json_decref(root);
	return r;
}

static enum pks_result get_keys(struct pks_client *c, uint32_t hash,
                                int want_pdk, struct pks_keys *out)
{
	char hex[9], path[64], why[WHY_MAX - 16];
	out->n = 0;
	out->key = NULL;
	addr_hash_hex(hash, hex);
	snprintf(path, sizeof path, "/v1/keys/%s%s", hex, want_pdk ? "/pdk" : "");
	enum pks_result r = perform(c, "GET", path, NULL, 200);
	if (r == PKS_OK && pks_parse_keys(c->reply.s, c->reply.len, hash,
	                                  want_pdk, out, why, sizeof why) < 0)
		r = cfail(c, PKS_TEMP, "bad reply: %s", why);
	sbuf_reset(&c->reply);
	return r;
}

enum pks_result pks_get_peks(struct pks_client *c, uint32_t hash,
                             struct pks_keys *out)
{
	return get_keys(c, hash, 0, out);
}

enum pks_result pks_get_pdks(struct pks_client *c, uint32_t hash,
                             struct pks_keys *out)
{
	return get_keys(c, hash, 1, out);
}

/* POST {"client": ip} to /v1/keys/{hash}/what, expecting 200. */
static enum pks_result login_post(struct pks_client *c, uint32_t hash,
                                  const char *client_ip, const char *what)
{
	char hex[9], path[64];
	struct sbuf body;
	addr_hash_hex(hash, hex);
	snprintf(path, sizeof path, "/v1/keys/%s/%s", hex, what);
	enum pks_result r = json_body(c, json_pack("{s:s}", "client",
	                                           client_ip ? client_ip : ""),
	                              &body);
	if (r == PKS_OK)
		r = perform(c, "POST", path, &body, 200);
	sbuf_free(&body);
	return r;
}

enum pks_result pks_login_attempt(struct pks_client *c, uint32_t hash,
                                  const char *client_ip, struct sbuf *reply)
{
	sbuf_reset(reply);
	enum pks_result r = login_post(c, hash, client_ip, "login-attempt");
	if (r == PKS_OK && sbuf_put(reply, c->reply.s ? c->reply.s : "",
	                            c->reply.len) < 0)
		r = cfail(c, PKS_TEMP, "reply longer than %zu octets",
		          reply->max);
	sbuf_reset(&c->reply);
	return r;
}

enum pks_result pks_login_succeeded(struct pks_client *c, uint32_t hash,
                                    const char *client_ip)
{
	json_int_t n;
	enum pks_result r = login_post(c, hash, client_ip, "login-success");
	json_t *root = r == PKS_OK ? reply_object(c) : NULL;
	if (r != PKS_OK || !root)
		return r == PKS_OK ? PKS_TEMP : r;
	if (reply_int(c, root, "failures", 0, 0, &n) < 0)
		r = PKS_TEMP;
	json_decref(root);
	return r;
}

/* The {"hash","row","version"} answer to a new key. */
static enum pks_result parse_created(struct pks_client *c, uint32_t hash,
                                     uint64_t *row, unsigned *version)
{
	char why[WHY_MAX - 16];
	json_int_t r, v;
	json_t *root = reply_object(c);
	if (!root)
		return PKS_TEMP;
	int bad = pks_json_check_hash(root, hash, why, sizeof why) < 0;
	if (bad)
		cfail(c, PKS_TEMP, "bad reply: %s", why);
	else
		bad = reply_int(c, root, "row", 1, (json_int_t)PKS_ROW_MAX, &r) < 0 ||
		      reply_int(c, root, "version", 1, UINT_MAX, &v) < 0;
	json_decref(root);
	if (bad)
		return PKS_TEMP;
	if (row)
		*row = (uint64_t)r;
	if (version)
		*version = (unsigned)v;
	return PKS_OK;
}

static enum pks_result send_key(struct pks_client *c, int new_version,
                                const char *address, const char *pek,
                                const char *pdk, uint64_t *row,
                                unsigned *version)
{
	char norm[ADDR_MAX + 1], hex[9], path[64];
	struct sbuf body;
	enum pks_result r = normalise(c, address, norm);
	if (r != PKS_OK)
		return r;
	if (!pek || !pdk)
		return cfail(c, PKS_REFUSED, "request: no PEK or no PDK");
	uint32_t hash = addr_hash(norm);
	addr_hash_hex(hash, hex);
	if (new_version)
		snprintf(path, sizeof path, "/v1/keys/%s/versions", hex);
	else
		snprintf(path, sizeof path, "/v1/keys");
	r = json_body(c, json_pack("{s:s, s:s, s:s}", "address", norm,
	                           "pek", pek, "pdk", pdk), &body);
	if (r == PKS_OK)
		r = perform(c, "POST", path, &body, 201);
	sbuf_free(&body);
	return r == PKS_OK ? parse_created(c, hash, row, version) : r;
}

enum pks_result pks_create(struct pks_client *c, const char *address,
                           const char *pek, const char *pdk, uint64_t *row,
                           unsigned *version)
{
	return send_key(c, 0, address, pek, pdk, row, version);
}

enum pks_result pks_new_version(struct pks_client *c, const char *address,
                                const char *pek, const char *pdk,
                                uint64_t *row, unsigned *version)
{
	return send_key(c, 1, address, pek, pdk, row, version);
}

/* "/v1/keys/{hash}/rows/{row}/" followed by what. */
static void row_path(char *path, size_t len, uint32_t hash, uint64_t row,
                     const char *what)
{
	char hex[9];
	addr_hash_hex(hash, hex);
	snprintf(path, len, "/v1/keys/%s/rows/%" PRIu64 "/%s", hex, row, what);
}

enum pks_result pks_replace_pdk(struct pks_client *c, uint32_t hash,
                                uint64_t row, const char *pdk)
{
	char path[96];
	struct sbuf body;
	json_int_t r_row, v;
	enum pks_result r = check_row(c, row);
	if (r != PKS_OK)
		return r;
	if (!pdk)
		return cfail(c, PKS_REFUSED, "request: no PDK");
	row_path(path, sizeof path, hash, row, "pdk");
	r = json_body(c, json_pack("{s:s}", "pdk", pdk), &body);
	if (r == PKS_OK)
		r = perform(c, "PUT", path, &body, 200);
	sbuf_free(&body);
	json_t *root = r == PKS_OK ? reply_object(c) : NULL;
	if (r != PKS_OK || !root)
		return r == PKS_OK ? PKS_TEMP : r;
	if (reply_int(c, root, "row", 1, (json_int_t)PKS_ROW_MAX, &r_row) < 0 ||
	    reply_int(c, root, "version", 1, UINT_MAX, &v) < 0)
		r = PKS_TEMP;
	else if ((uint64_t)r_row != row)
		r = cfail(c, PKS_TEMP, "bad reply: \"row\" is not the one asked");
	json_decref(root);
	return r;
}

/* METHOD "/v1/addresses/{address}" (normalised into norm, then
 * percent-encoded) followed by what; 200 is the one success. */
static enum pks_result address_request(struct pks_client *c,
                                       const char *method,
                                       const char *address, const char *what,
                                       char norm[ADDR_MAX + 1])
{
	struct sbuf path;
	enum pks_result r = normalise(c, address, norm);
	if (r != PKS_OK)
		return r;
	sbuf_init(&path, URL_MAX);
	if (sbuf_puts(&path, "/v1/addresses/") < 0 ||
	    pks_pct_encode(norm, strlen(norm), &path) < 0 ||
	    sbuf_puts(&path, what) < 0)
		r = cfail(c, PKS_REFUSED, "address: path too long");
	else
		r = perform(c, method, path.s, NULL, 200);
	sbuf_free(&path);
	return r;
}

enum pks_result pks_delete_address(struct pks_client *c, const char *address,
                                   unsigned *deleted)
{
	char norm[ADDR_MAX + 1];
	json_int_t n;
	enum pks_result r = address_request(c, "DELETE", address, "", norm);
	json_t *root = r == PKS_OK ? reply_object(c) : NULL;
	if (r != PKS_OK || !root)
		return r == PKS_OK ? PKS_TEMP : r;
	if (reply_int(c, root, "deleted", 0, UINT_MAX, &n) < 0)
		r = PKS_TEMP;
	else if (deleted)
		*deleted = (unsigned)n;
	json_decref(root);
	return r;
}

/* The server's normalisation must agree with ours (sq-addrhash(5)), or
 * hashes computed here would name other keys: a mismatch is an error. */
static enum pks_result parse_availability(struct pks_client *c,
                                          const char *norm, int *available)
{
	json_t *root = reply_object(c);
	if (!root)
		return PKS_TEMP;
	json_t *a = json_object_get(root, "address");
	json_t *av = json_object_get(root, "available");
	enum pks_result r = PKS_OK;
	if (!json_is_string(a) || strcmp(json_string_value(a), norm) != 0)
		r = cfail(c, PKS_TEMP, "bad reply: \"address\" is not ours "
		          "normalised");
	else if (!json_is_boolean(av))
		r = cfail(c, PKS_TEMP, "bad reply: \"available\" missing or not "
		          "a boolean");
	else if (available)
		*available = json_is_true(av);
	json_decref(root);
	return r;
}

enum pks_result pks_availability(struct pks_client *c, const char *address,
                                 int *available)
{
	char norm[ADDR_MAX + 1];
	enum pks_result r = address_request(c, "GET", address, "/availability",
	                                    norm);
	return r == PKS_OK ? parse_availability(c, norm, available) : r;
}

/* POST with an empty body to a row's login-failure or login-success. */
static enum pks_result login_report(struct pks_client *c, uint32_t hash,
                                    uint64_t row, const char *what,
                                    json_t **root)
{
	char path[96];
	struct sbuf empty;
	*root = NULL;
	enum pks_result r = check_row(c, row);
	if (r != PKS_OK)
		return r;
	row_path(path, sizeof path, hash, row, what);
	sbuf_init(&empty, 0);
	r = perform(c, "POST", path, &empty, 200);
	if (r == PKS_OK && !(*root = reply_object(c)))
		r = PKS_TEMP;
	return r;
}

enum pks_result pks_login_failure(struct pks_client *c, uint32_t hash,
                                  uint64_t row, unsigned *failures,
                                  time_t *locked_until)
{
	char why[WHY_MAX - 16];
	json_t *root;
	json_int_t n = 0;
	time_t until = 0;
	enum pks_result r = login_report(c, hash, row, "login-failure", &root);
	if (r != PKS_OK)
		return r;
	/* "locked_until" must be there, even as null: silence is not "no". */
	if (reply_int(c, root, "failures", 0, UINT_MAX, &n) < 0)
		r = PKS_TEMP;
	else if (!json_object_get(root, "locked_until"))
		r = cfail(c, PKS_TEMP, "bad reply: \"locked_until\" missing");
	else if (pks_json_get_time(root, "locked_until", &until, why,
	                           sizeof why) < 0)
		r = cfail(c, PKS_TEMP, "bad reply: %s", why);
	json_decref(root);
	if (r == PKS_OK && failures)
		*failures = (unsigned)n;
	if (r == PKS_OK && locked_until)
		*locked_until = until;
	return r;
}

enum pks_result pks_login_success(struct pks_client *c, uint32_t hash,
                                  uint64_t row)
{
	json_t *root;
	json_int_t n;
	enum pks_result r = login_report(c, hash, row, "login-success", &root);
	if (r != PKS_OK)
		return r;
	if (reply_int(c, root, "failures", 0, 0, &n) < 0)
		r = PKS_TEMP;
	json_decref(root);
	return r;
}
