/*
 * check_api - the key store's REST API (pks/api.h) as pksd serves it:
 * api_handle under evhttp over the real store and database
 * (pkstest.h's pksd child, in plain HTTP: TLS is pksd's, not the API's),
 * driven with raw HTTP/1.1 requests so that anything can be sent.
 * Authentication before routing, roles, routes and methods, the strict
 * parameters and JSON bodies, the body bound, every status of
 * pksd(8) API, and the answers of an unreachable database and of a
 * peer outside the allow-list.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "clientauth.h"
#include "crypto/pdk.h"
#include "crypto/pki.h"
#include "mail/addr.h"
#include "pkstest.h"
#include "testutil.h"

#define ALICE "alice@example.org"
#define BOB "bob@example.org"
#define NOBODY 0
#define DELIVER ROLE_DELIVER
#define LOGIN ROLE_LOGIN
#define PROVISION ROLE_PROVISION

/* For the whole suite: the CA and one wrapped PDK (scrypt is slow). */
static EVP_PKEY *ca_key;
static X509 *ca;
static char *pdk1, *pdk2;

/* For each check. */
static struct {
	char *dir;
	char ctl[4200], keydir[4300];
	struct db *db;
	char cred[4][200];              /* by role: "ID:SECRET" */
	uint32_t id[4];
	struct testpksd pksd;
} F;

/* The last reply. */
static struct {
	int status;
	char head[8192];
	struct sbuf body;
	json_t *doc;
} R;

static char *wrapped_pdk(const char *password)
{
	struct sbuf pem;
	EVP_PKEY *k = pki_keygen();
	sbuf_init(&pem, PDK_PEM_MAX);
	ck_assert_int_eq(pdk_wrap(k, password, strlen(password), &pem), 0);
	char *s = strdup(pem.s);
	sbuf_free(&pem);
	EVP_PKEY_free(k);
	return s;
}

static void suite_setup(void)
{
	ca_key = pki_keygen();
	ca = pki_ca_create(ca_key, "api test CA", 30);
	ck_assert_ptr_nonnull(ca);
	pdk1 = wrapped_pdk("first password");
	pdk2 = wrapped_pdk("second password");
}

static void suite_teardown(void)
{
	free(pdk1);
	free(pdk2);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

/* Starts the pksd child; db_socket NULL: the test server. */
static void serve(const char *allow, const char *db_socket)
{
	struct testpksd_conf c = { F.ctl, F.keydir, ca, { 3, 5, 3600, { 5, 3600, 50, 60, 86400 } }, NULL,
	                           db_socket };
	if (allow)
		write_file(F.ctl, "pksallow", allow, strlen(allow));
	testpksd_start(&F.pksd, &c);
}

static void setup(void)
{
	char secret[CLIENT_SECRET_LEN + 1];
	memset(&F, 0, sizeof F);
	signal(SIGPIPE, SIG_IGN);
	sbuf_init(&R.body, 1 << 20);
	R.doc = NULL;
	F.db = testdb_fresh();
	F.dir = make_tmpdir();
	snprintf(F.ctl, sizeof F.ctl, "%s/control", F.dir);
	ck_assert_int_eq(mkdir(F.ctl, 0755), 0);
	testpks_keydir(F.dir, F.keydir, sizeof F.keydir);
	for (int role = DELIVER; role <= PROVISION; role++) {
		struct client_rec c;
		ck_assert_int_eq(client_new(&c, role, "check_api", secret), 0);
		ck_assert_int_eq(db_client_insert(F.db, &c), DB_OK);
		F.id[role] = c.id;
		snprintf(F.cred[role], sizeof F.cred[role], "%lu:%s",
		         (unsigned long)c.id, secret);
	}
	serve("# the tests\n127.0.0.1\n", NULL);
}

static void teardown(void)
{
	testpksd_stop(&F.pksd);
	db_close(F.db);
	json_decref(R.doc);
	R.doc = NULL;
	sbuf_free(&R.body);
	rm_rf(F.dir);
	free(F.dir);
	ERR_clear_error();
}

/* --- the client --------------------------------------------------------- */

/* Sends request (len octets) on a new connection and reads the reply to
 * the end into R; R.status. */
static int send_raw(const char *request, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char buf[65536];
	struct sbuf all;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)F.pksd.port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	for (size_t off = 0; off < len; ) {
		ssize_t n = write(fd, request + off, len - off);
		if (n <= 0)
			break;  /* the server may answer and close early (413) */
		off += (size_t)n;
	}
	sbuf_init(&all, 1 << 21);
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		ck_assert_int_eq(sbuf_put(&all, buf, (size_t)n), 0);
	close(fd);
	sbuf_putc(&all, '\0');
	R.status = 0;
	R.head[0] = '\0';
	sbuf_reset(&R.body);
	json_decref(R.doc);
	R.doc = NULL;
	const char *end = all.s ? strstr(all.s, "\r\n\r\n") : NULL;
	ck_assert_msg(end != NULL, "no reply to %.60s", request);
	ck_assert_int_eq(sscanf(all.s, "HTTP/1.1 %d", &R.status), 1);
	snprintf(R.head, sizeof R.head, "%.*s", (int)(end - all.s + 2), all.s);
	sbuf_put(&R.body, end + 4, all.len - 1 - (size_t)(end + 4 - all.s));
	json_error_t err;
	if (R.body.len)
		R.doc = json_loadb(R.body.s, R.body.len, 0, &err);
	sbuf_free(&all);
	return R.status;
}

/* A request with the credentials of role (NOBODY: none), extra header
 * lines (each ending in CRLF) and a body (NULL: none). */
static int call_with(const char *method, const char *target, int role,
                     const char *extra, const char *body, size_t len)
{
	struct sbuf req;
	unsigned char b64[400];
	sbuf_init(&req, 1 << 21);
	sbuf_printf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	            "Connection: close\r\n", method, target);
	if (role != NOBODY) {
		EVP_EncodeBlock(b64, (const unsigned char *)F.cred[role],
		                (int)strlen(F.cred[role]));
		sbuf_printf(&req, "Authorization: Basic %s\r\n", b64);
	}
	if (extra)
		sbuf_puts(&req, extra);
	if (body)
		sbuf_printf(&req, "Content-Type: application/json\r\n"
		            "Content-Length: %zu\r\n", len);
	sbuf_puts(&req, "\r\n");
	if (body)
		sbuf_put(&req, body, len);
	int status = send_raw(req.s, req.len);
	sbuf_free(&req);
	return status;
}

static int call(const char *method, const char *target, int role,
                const char *body)
{
	return call_with(method, target, role, NULL, body,
	                 body ? strlen(body) : 0);
}

/* A request with "Authorization: VALUE". */
static int call_auth(const char *target, const char *value)
{
	char extra[1024];
	snprintf(extra, sizeof extra, "Authorization: %s\r\n", value);
	return call_with("GET", target, NOBODY, extra, NULL, 0);
}

/* "Basic " and base64 of text (len octets). */
static void basic(const char *text, size_t len, char *out)
{
	memcpy(out, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)text,
	                (int)len);
}

static const char *member(const char *name)
{
	json_t *v = R.doc ? json_object_get(R.doc, name) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long number(const char *name)
{
	json_t *v = R.doc ? json_object_get(R.doc, name) : NULL;
	ck_assert_msg(json_is_integer(v), "no number %s in %s", name,
	              R.body.s ? R.body.s : "");
	return json_integer_value(v);
}

/* The reply is status with the error code given. */
#define assert_error(st, code) do { \
	ck_assert_msg(R.status == (st), "status %d, want %d: %s", R.status, \
	              (st), R.body.s ? R.body.s : ""); \
	ck_assert_msg(member("error") && !strcmp(member("error"), (code)), \
	              "error %s, want %s", member("error") ? member("error") \
	              : "(none)", (code)); \
	ck_assert_ptr_nonnull(member("message")); \
} while (0)

static int has_header(const char *line)
{
	return strcasestr(R.head, line) != NULL;
}

/* The JSON text of a key body. */
static char *key_body(const char *address, const char *pek, const char *pdk)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "address", address, "pek", pek,
	                      "pdk", pdk);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static char *pek_from(EVP_PKEY *key, X509 *issuer, const char *address)
{
	struct sbuf pem;
	EVP_PKEY *k = pki_keygen();
	X509 *c = pki_issue_pek(key, issuer, k, address, 30);
	sbuf_init(&pem, 65536);
	ck_assert_int_eq(pki_cert_to_pem(c, &pem), 0);
	char *s = strdup(pem.s);
	sbuf_free(&pem);
	X509_free(c);
	EVP_PKEY_free(k);
	return s;
}

/* Creates address's first key through the API; the row. */
static long long create(const char *address)
{
	char *pek = pek_from(ca_key, ca, address);
	char *body = key_body(address, pek, pdk1);
	ck_assert_int_eq(call("POST", "/v1/keys", PROVISION, body), 201);
	free(body);
	free(pek);
	return number("row");
}

static void hash_of(const char *address, char hex[9])
{
	addr_hash_hex(addr_hash(address), hex);
}

/* --- every reply ------------------------------------------------------ */

START_TEST(health_is_ok_json_for_every_role)
{
	for (int role = DELIVER; role <= PROVISION; role++) {
		ck_assert_int_eq(call("GET", "/v1/health", role, NULL), 200);
		ck_assert_str_eq(member("status"), "ok");
		ck_assert(has_header("\r\nContent-Type: application/json\r\n"));
		ck_assert(has_header("\r\nCache-Control: no-store\r\n"));
		ck_assert_str_eq(R.body.s, "{\"status\":\"ok\"}\n");
	}
	/* a query string is ignored */
	ck_assert_int_eq(call("GET", "/v1/health?verbose=1", DELIVER, NULL), 200);
}
END_TEST

/* --- authentication ------------------------------------------------------- */

/* Authentication comes before routing: no valid credential, 401 for
 * every path and method, with the challenge. */
START_TEST(without_valid_credentials_everything_is_401)
{
	static const char *const paths[][2] = {
		{ "GET", "/v1/health" }, { "GET", "/v1/keys/0000abcd/pdk" },
		{ "POST", "/v1/keys" }, { "DELETE", "/v1/addresses/a@b.example" },
		{ "GET", "/no/such/path" }, { "PATCH", "/v1/health" },
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		call(paths[i][0], paths[i][1], NOBODY, NULL);
		assert_error(401, "unauthorized");
		ck_assert(has_header("\r\nWWW-Authenticate: Basic realm=\"pks\"\r\n"));
	}
}
END_TEST

START_TEST(malformed_or_wrong_credentials_are_401)
{
	char v[1024], text[400], secret[200];
	const char *colon = strchr(F.cred[LOGIN], ':');
	snprintf(secret, sizeof secret, "%s", colon + 1);
	static const char *const raw[] = {
		"Bearer abc", "Basic", "Basic ", "Basic !!!!", "Basic YWJj",
		"Digest username=\"1\"",
	};
	for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
		call_auth("/v1/health", raw[i]);
		assert_error(401, "unauthorized");
	}
	const char *texts[] = {
		"0:x", "4294967296:x", "12a:x", "123", "123:", ":x",
		"12345678901:x", "-1:x",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		basic(texts[i], strlen(texts[i]), v);
		call_auth("/v1/health", v);
		ck_assert_msg(R.status == 401, "%s: %d", texts[i], R.status);
	}
	/* another client's secret; one octet off; a NUL inside */
	snprintf(text, sizeof text, "%lu:%s", (unsigned long)F.id[DELIVER],
	         secret);
	basic(text, strlen(text), v);
	ck_assert_int_eq(call_auth("/v1/health", v), 401);
	snprintf(text, sizeof text, "%s", F.cred[LOGIN]);
	text[strlen(text) - 1] ^= 1;
	basic(text, strlen(text), v);
	ck_assert_int_eq(call_auth("/v1/health", v), 401);
	snprintf(text, sizeof text, "%s", F.cred[LOGIN]);
	size_t n = strlen(text);
	text[n] = '\0';
	text[n + 1] = 'x';
	basic(text, n + 2, v);
	ck_assert_int_eq(call_auth("/v1/health", v), 401);
	/* a secret over 128 octets */
	memset(secret, 'a', 129);
	secret[129] = '\0';
	snprintf(text, sizeof text, "%lu:%s", (unsigned long)F.id[LOGIN], secret);
	basic(text, strlen(text), v);
	ck_assert_int_eq(call_auth("/v1/health", v), 401);
	/* and the right one, in any case of "Basic" */
	basic(F.cred[LOGIN], strlen(F.cred[LOGIN]), v);
	memcpy(v, "bASIC", 5);
	ck_assert_int_eq(call_auth("/v1/health", v), 200);
}
END_TEST

/* An id that failed is asked again at the next request: a client added
 * a moment later gets in at once. A removed client is refused once its
 * cached record is older than CLIENT_CACHE_SECONDS. */
START_TEST(unknown_clients_are_not_cached_and_removed_ones_expire)
{
	struct client_rec c;
	char secret[CLIENT_SECRET_LEN + 1], text[200], v[400];
	ck_assert_int_eq(client_new(&c, DELIVER, "later", secret), 0);
	snprintf(text, sizeof text, "%lu:%s", (unsigned long)c.id, secret);
	basic(text, strlen(text), v);
	ck_assert_int_eq(call_auth("/v1/health", v), 401);
	ck_assert_int_eq(db_client_insert(F.db, &c), DB_OK);
	ck_assert_int_eq(call_auth("/v1/health", v), 200);
	ck_assert_int_eq(db_client_delete(F.db, c.id), DB_OK);
	sleep(CLIENT_CACHE_SECONDS + 1);
	ck_assert_int_eq(call_auth("/v1/health", v), 401);
}
END_TEST

/* --- roles, routes, methods ------------------------------------------------ */

START_TEST(each_role_reaches_only_its_endpoints)
{
	static const struct { const char *method, *path; unsigned roles; } ep[] = {
		{ "GET", "/v1/health", 7 },
		{ "GET", "/v1/keys/0000abcd", 7 },
		{ "GET", "/v1/keys/0000abcd/pdk", 1u << (LOGIN - 1) },
		{ "POST", "/v1/keys", 1u << (PROVISION - 1) },
		{ "POST", "/v1/keys/0000abcd/versions", 1u << (PROVISION - 1) },
		{ "PUT", "/v1/keys/0000abcd/rows/12/pdk", 1u << (PROVISION - 1) },
		{ "DELETE", "/v1/addresses/x@example.org", 1u << (PROVISION - 1) },
		{ "GET", "/v1/addresses/x@example.org/availability",
		  1u << (PROVISION - 1) },
		{ "POST", "/v1/keys/0000abcd/rows/12/login-failure",
		  1u << (LOGIN - 1) },
		{ "POST", "/v1/keys/0000abcd/rows/12/login-success",
		  1u << (LOGIN - 1) },
	};
	for (size_t i = 0; i < sizeof ep / sizeof ep[0]; i++)
		for (int role = DELIVER; role <= PROVISION; role++) {
			int may = (ep[i].roles >> (role - 1)) & 1;
			call(ep[i].method, ep[i].path, role, "{}");
			if (may) {
				ck_assert_msg(R.status != 403 && R.status != 401 &&
				              R.status != 405, "%s %s as %s: %d",
				              ep[i].method, ep[i].path, role_name(role),
				              R.status);
			} else {
				ck_assert_msg(R.status == 403, "%s %s as %s: %d",
				              ep[i].method, ep[i].path, role_name(role),
				              R.status);
				assert_error(403, "forbidden");
			}
		}
}
END_TEST

/* Paths compare exactly, segment by segment. */
START_TEST(unknown_paths_are_404_and_other_methods_405)
{
	static const char *const unknown[] = {
		"/", "/v1", "/v1/", "/v1/health/", "/v1//health", "/v1/./health",
		"/v2/health", "/V1/health", "/v1/keys/0000abcd/pdk/x",
		"/v1/keys/0000abcd/rows/12/login", "/a/b/c/d/e/f/g/h/i",
	};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		call("GET", unknown[i], DELIVER, NULL);
		ck_assert_msg(R.status == 404, "%s: %d", unknown[i], R.status);
		assert_error(404, "unknown_path");
	}
	static const char *const wrong[][2] = {
		{ "GET", "/v1/keys" }, { "PUT", "/v1/health" },
		{ "OPTIONS", "/v1/health" }, { "PATCH", "/v1/keys/0000abcd" },
		{ "DELETE", "/v1/keys/0000abcd" }, { "TRACE", "/v1/health" },
		{ "POST", "/v1/addresses/x@example.org/availability" },
	};
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		call(wrong[i][0], wrong[i][1], PROVISION, NULL);
		ck_assert_msg(R.status == 405, "%s %s: %d", wrong[i][0], wrong[i][1],
		              R.status);
		assert_error(405, "method_not_allowed");
	}
}
END_TEST

/* HEAD is refused before authentication, without a body. */
START_TEST(head_is_405_with_no_body)
{
	ck_assert_int_eq(call("HEAD", "/v1/health", NOBODY, NULL), 405);
	ck_assert_uint_eq(R.body.len, 0);
	ck_assert(!has_header("WWW-Authenticate"));
}
END_TEST

/* A segment that decodes to nothing, to more than 512 octets or to a
 * NUL matches no endpoint. */
/* The availability path of a local part of n octets "a". */
static void long_segment(size_t n, char *path, size_t size)
{
	size_t at = (size_t)snprintf(path, size, "/v1/addresses/");
	ck_assert_uint_lt(at + n + 20, size);
	memset(path + at, 'a', n);
	snprintf(path + at + n, size - at - n, "/availability");
}

START_TEST(segments_decoding_to_nul_nothing_or_too_much_match_nothing)
{
	char path[2000];
	call("GET", "/v1/addresses/a%00b@example.org/availability", PROVISION,
	     NULL);
	assert_error(404, "unknown_path");
	call("GET", "/v1/keys/%00", DELIVER, NULL);
	assert_error(404, "unknown_path");
	long_segment(513, path, sizeof path);
	call("GET", path, PROVISION, NULL);
	assert_error(404, "unknown_path");
	/* 512 octets match the route; as an address it is then too long */
	long_segment(512, path, sizeof path);
	call("GET", path, PROVISION, NULL);
	assert_error(400, "invalid_address");
	/* a '/' of the value is sent encoded and is part of it */
	ck_assert_int_eq(call("GET", "/v1/addresses/a%2Fb@example.org/"
	                      "availability", PROVISION, NULL), 200);
	ck_assert_str_eq(member("address"), "a/b@example.org");
}
END_TEST

START_TEST(hashes_and_rows_are_parsed_strictly)
{
	static const char *const hashes[] = {
		"0000ABCD", "0000abc", "0000abcde", "0000abcg", "+000abcd",
		"0x00abcd", "%20000abcd",
	};
	char path[200];
	for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
		snprintf(path, sizeof path, "/v1/keys/%s", hashes[i]);
		call("GET", path, DELIVER, NULL);
		assert_error(400, "invalid_hash");
		snprintf(path, sizeof path, "/v1/keys/%s/rows/12/login-failure",
		         hashes[i]);
		call("POST", path, LOGIN, NULL);
		assert_error(400, "invalid_path");
	}
	static const char *const rows[] = {
		"0", "012", "-1", "+1", "1.0", "9007199254740992",
		"18446744073709551617", "12345678901234567", "1e3",
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		snprintf(path, sizeof path, "/v1/keys/0000abcd/rows/%s/login-success",
		         rows[i]);
		call("POST", path, LOGIN, NULL);
		ck_assert_msg(R.status == 400, "row %s: %d", rows[i], R.status);
		assert_error(400, "invalid_path");
	}
	/* the largest row id is a row id, of no row */
	call("POST", "/v1/keys/0000abcd/rows/9007199254740991/login-success",
	     LOGIN, NULL);
	assert_error(404, "no_such_row");
}
END_TEST

/* --- bodies ---------------------------------------------------------------- */

START_TEST(a_body_must_be_one_json_object_with_exactly_its_members)
{
	char *pek = pek_from(ca_key, ca, ALICE);
	json_t *o;
	static const char *const not_json[] = {
		"", "[]", "\"text\"", "{", "{\"address\":}", "null", "{} {}",
		"{\"address\":\"a@b.c\",\"address\":\"d@e.f\",\"pek\":\"x\","
		"\"pdk\":\"y\"}",
		"{\"pdk\":\"\\u0000\"}",
	};
	for (size_t i = 0; i < sizeof not_json / sizeof not_json[0]; i++) {
		call("POST", "/v1/keys", PROVISION, not_json[i]);
		ck_assert_msg(R.status == 400, "%s: %d", not_json[i], R.status);
		assert_error(400, "invalid_json");
	}
	/* a raw NUL octet in the body */
	call_with("POST", "/v1/keys", PROVISION, NULL, "{\"a\0\":1}", 8);
	assert_error(400, "invalid_json");
	/* and no body at all */
	call("POST", "/v1/keys", PROVISION, NULL);
	assert_error(400, "invalid_json");
	json_t *bad[] = {
		json_pack("{s:s, s:s}", "address", ALICE, "pek", pek),
		json_pack("{s:s, s:s, s:s, s:s}", "address", ALICE, "pek", pek,
		          "pdk", pdk1, "note", "x"),
		json_pack("{s:s, s:i, s:s}", "address", ALICE, "pek", 1, "pdk",
		          pdk1),
		json_pack("{s:s, s:s, s:n}", "address", ALICE, "pek", pek, "pdk"),
		json_pack("{s:[s], s:s, s:s}", "address", ALICE, "pek", pek, "pdk",
		          pdk1),
		json_pack("{s:s, s:s, s:s}", "Address", ALICE, "pek", pek, "pdk",
		          pdk1),
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *text = json_dumps(bad[i], JSON_COMPACT);
		call("POST", "/v1/keys", PROVISION, text);
		assert_error(400, "invalid_body");
		free(text);
		json_decref(bad[i]);
	}
	o = json_pack("{s:s, s:s, s:s}", "address", "not an address", "pek", pek,
	              "pdk", pdk1);
	char *text = json_dumps(o, JSON_COMPACT);
	call("POST", "/v1/keys", PROVISION, text);
	assert_error(400, "invalid_address");
	free(text);
	json_decref(o);
	call("PUT", "/v1/keys/0000abcd/rows/12/pdk", PROVISION, "{\"pdk\":7}");
	assert_error(400, "invalid_body");
	call("PUT", "/v1/keys/0000abcd/rows/12/pdk", PROVISION,
	     "{\"pdk\":\"x\",\"pek\":\"y\"}");
	assert_error(400, "invalid_body");
	/* nothing was made */
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM keyrow"), 0);
	free(pek);
}
END_TEST

/* API_BODY_MAX, as pksd configures evhttp with it: one octet more is
 * 413 from libevent and never reaches the handler. */
START_TEST(a_body_over_the_bound_is_413_and_one_at_it_is_read)
{
	char *big = malloc(API_BODY_MAX + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', API_BODY_MAX + 1);
	big[0] = '[';
	ck_assert_int_eq(call_with("POST", "/v1/keys", PROVISION, NULL, big,
	                           API_BODY_MAX), 400);
	assert_error(400, "invalid_json");
	ck_assert_int_eq(call_with("POST", "/v1/keys", PROVISION, NULL, big,
	                           API_BODY_MAX + 1), 413);
	ck_assert_ptr_null(R.doc);
	free(big);
}
END_TEST

/* Bodies sent to endpoints that take none are ignored. */
START_TEST(a_body_where_none_is_taken_is_ignored)
{
	call_with("GET", "/v1/health", DELIVER, NULL, "not json", 8);
	ck_assert_int_eq(R.status, 200);
	call("POST", "/v1/keys/0000abcd/rows/12/login-failure", LOGIN, "[1,");
	assert_error(404, "no_such_row");
}
END_TEST

/* --- the endpoints --------------------------------------------------------- */

START_TEST(keys_are_created_served_and_deleted)
{
	char hex[9], path[300];
	char *pek = pek_from(ca_key, ca, ALICE);
	char *body = key_body("Alice@Example.ORG.", pek, pdk1);
	hash_of(ALICE, hex);
	ck_assert_int_eq(call("POST", "/v1/keys", PROVISION, body), 201);
	ck_assert_str_eq(member("hash"), hex);
	long long row = number("row");
	ck_assert_int_gt(row, 0);
	ck_assert_int_lt(row, 1LL << 53);
	ck_assert_int_eq(number("version"), 1);
	call("POST", "/v1/keys", PROVISION, body);
	assert_error(409, "address_taken");
	snprintf(path, sizeof path, "/v1/keys/%s", hex);
	ck_assert_int_eq(call("GET", path, DELIVER, NULL), 200);
	ck_assert_str_eq(member("hash"), hex);
	json_t *keys = json_object_get(R.doc, "keys");
	ck_assert_uint_eq(json_array_size(keys), 1);
	json_t *k = json_array_get(keys, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(k, "row")), row);
	ck_assert_int_eq(json_integer_value(json_object_get(k, "version")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(k, "pek")), pek);
	ck_assert_ptr_null(json_object_get(k, "pdk"));
	snprintf(path, sizeof path, "/v1/keys/%s/pdk", hex);
	ck_assert_int_eq(call("GET", path, LOGIN, NULL), 200);
	k = json_array_get(json_object_get(R.doc, "keys"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(k, "pdk")), pdk1);
	ck_assert_ptr_null(json_object_get(k, "locked_until"));
	ck_assert_int_eq(call("GET", "/v1/addresses/ALICE%40example.org/"
	                      "availability", PROVISION, NULL), 200);
	ck_assert_str_eq(member("address"), ALICE);
	ck_assert(json_is_false(json_object_get(R.doc, "available")));
	ck_assert_int_eq(call("DELETE", "/v1/addresses/alice@example.org",
	                      PROVISION, NULL), 200);
	ck_assert_int_eq(number("deleted"), 1);
	snprintf(path, sizeof path, "/v1/keys/%s", hex);
	call("GET", path, DELIVER, NULL);
	assert_error(404, "no_such_key");
	call("DELETE", "/v1/addresses/alice@example.org", PROVISION, NULL);
	assert_error(404, "no_such_address");
	ck_assert_int_eq(call("GET", "/v1/addresses/alice@example.org/"
	                      "availability", PROVISION, NULL), 200);
	ck_assert(json_is_true(json_object_get(R.doc, "available")));
	call("GET", "/v1/addresses/not%20an%20address/availability", PROVISION,
	     NULL);
	assert_error(400, "invalid_address");
	call("DELETE", "/v1/addresses/@example.org", PROVISION, NULL);
	assert_error(400, "invalid_address");
	free(body);
	free(pek);
}
END_TEST

/* login-attempt: the PDKs while the throttle allows (5 free, one more),
 * then 429 with Retry-After and no PDK; another network is served, and
 * its login-success is taken; a body that is not {"client": IP} is 400. */
START_TEST(login_attempts_are_served_then_throttled_per_network)
{
	char path[96], hex[9], okpath[96];
	char *pek = pek_from(ca_key, ca, ALICE);
	char *body = key_body(ALICE, pek, pdk1);
	hash_of(ALICE, hex);
	ck_assert_int_eq(call("POST", "/v1/keys", PROVISION, body), 201);
	snprintf(path, sizeof path, "/v1/keys/%s/login-attempt", hex);
	snprintf(okpath, sizeof okpath, "/v1/keys/%s/login-success", hex);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(call("POST", path, LOGIN,
		                      "{\"client\":\"192.0.2.7\"}"), 200);
		json_t *k = json_array_get(json_object_get(R.doc, "keys"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(k, "pdk")),
		                 pdk1);
	}
	call("POST", path, LOGIN, "{\"client\":\"192.0.2.99\"}");
	assert_error(429, "throttled");
	ck_assert(has_header("\r\nRetry-After: "));
	ck_assert_int_ge(number("retry_after"), 1);
	ck_assert_ptr_null(json_object_get(R.doc, "keys"));
	ck_assert_int_eq(call("POST", path, LOGIN,
	                      "{\"client\":\"2001:db8::1\"}"), 200);
	ck_assert_int_eq(call("POST", okpath, LOGIN,
	                      "{\"client\":\"2001:db8::2\"}"), 200);
	ck_assert_int_eq(number("failures"), 0);
	ck_assert_int_eq(call("POST", path, LOGIN, "{\"client\":\"\"}"), 200);
	static const char *const bad[] = { "{}", "{\"client\":\"host\"}",
	                                   "{\"client\":7}",
	                                   "{\"client\":\"\",\"x\":1}" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		call("POST", path, LOGIN, bad[i]);
		assert_error(400, "invalid_body");
	}
	call("POST", "/v1/keys/0000abcd/login-attempt", LOGIN,
	     "{\"client\":\"192.0.2.7\"}");
	assert_error(404, "no_such_key");
	call("POST", path, DELIVER, "{\"client\":\"192.0.2.7\"}");
	assert_error(403, "forbidden");
	free(body);
	free(pek);
}
END_TEST

START_TEST(a_key_that_cannot_be_right_is_422_and_makes_nothing)
{
	EVP_PKEY *k = pki_keygen();
	X509 *other = pki_ca_create(k, "api test CA", 30);
	char *forged = pek_from(k, other, ALICE);
	char *bobs = pek_from(ca_key, ca, BOB);
	char *good = pek_from(ca_key, ca, ALICE);
	const char *pairs[][2] = { { forged, pdk1 }, { bobs, pdk1 },
	                           { good, "not a key" }, { good, good } };
	for (size_t i = 0; i < 4; i++) {
		char *body = key_body(ALICE, pairs[i][0], pairs[i][1]);
		call("POST", "/v1/keys", PROVISION, body);
		assert_error(422, "invalid_key");
		free(body);
	}
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM keyrow"), 0);
	free(good);
	free(bobs);
	free(forged);
	X509_free(other);
	EVP_PKEY_free(k);
}
END_TEST

/* The body first, then {hash} (400, then 422 against the address),
 * then the keys. */
START_TEST(a_new_version_checks_body_then_hash_then_keys)
{
	char alice[9], bob[9], path[300];
	char *pek = pek_from(ca_key, ca, ALICE);
	char *body = key_body(ALICE, pek, pdk2);
	char *badkey = key_body(ALICE, pek, "not a key");
	hash_of(ALICE, alice);
	hash_of(BOB, bob);
	call("POST", "/v1/keys/ZZZ/versions", PROVISION, "{}");
	assert_error(400, "invalid_body");
	call("POST", "/v1/keys/ZZZ/versions", PROVISION, badkey);
	assert_error(400, "invalid_hash");
	snprintf(path, sizeof path, "/v1/keys/%s/versions", bob);
	call("POST", path, PROVISION, badkey);
	assert_error(422, "hash_mismatch");
	snprintf(path, sizeof path, "/v1/keys/%s/versions", alice);
	call("POST", path, PROVISION, body);
	assert_error(404, "no_such_address");
	create(ALICE);
	call("POST", path, PROVISION, badkey);
	assert_error(422, "invalid_key");
	ck_assert_int_eq(call("POST", path, PROVISION, body), 201);
	ck_assert_int_eq(number("version"), 2);
	ck_assert_str_eq(member("hash"), alice);
	free(badkey);
	free(body);
	free(pek);
}
END_TEST

START_TEST(a_pdk_is_replaced_in_its_row_only)
{
	char hex[9], path[300], body[9000];
	hash_of(ALICE, hex);
	long long row = create(ALICE);
	json_t *o = json_pack("{s:s}", "pdk", pdk2);
	char *text = json_dumps(o, JSON_COMPACT);
	snprintf(body, sizeof body, "%s", text);
	free(text);
	json_decref(o);
	snprintf(path, sizeof path, "/v1/keys/%s/rows/%lld/pdk", hex, row);
	ck_assert_int_eq(call("PUT", path, PROVISION, body), 200);
	ck_assert_int_eq(number("row"), row);
	ck_assert_int_eq(number("version"), 1);
	call("PUT", path, PROVISION, "{\"pdk\":\"not a key\"}");
	assert_error(422, "invalid_key");
	snprintf(path, sizeof path, "/v1/keys/%s/rows/%lld/pdk", hex, row + 1);
	call("PUT", path, PROVISION, body);
	assert_error(404, "no_such_row");
	snprintf(path, sizeof path, "/v1/keys/0000abcd/rows/%lld/pdk", row);
	call("PUT", path, PROVISION, body);
	assert_error(404, "no_such_row");
	snprintf(path, sizeof path, "/v1/keys/%s/pdk", hex);
	ck_assert_int_eq(call("GET", path, LOGIN, NULL), 200);
	json_t *k = json_array_get(json_object_get(R.doc, "keys"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(k, "pdk")), pdk2);
}
END_TEST

/* With pksloginbackoff 3, pksloginlock 5: null, null, then a time; at
 * the lock the PDK is withheld with locked_until; a success clears it. */
START_TEST(login_results_count_lock_and_clear)
{
	char hex[9], path[300], pdkpath[300];
	hash_of(ALICE, hex);
	long long row = create(ALICE);
	snprintf(path, sizeof path, "/v1/keys/%s/rows/%lld/login-failure", hex,
	         row);
	snprintf(pdkpath, sizeof pdkpath, "/v1/keys/%s/pdk", hex);
	for (int n = 1; n <= 5; n++) {
		ck_assert_int_eq(call("POST", path, LOGIN, NULL), 200);
		ck_assert_int_eq(number("failures"), n);
		json_t *lock = json_object_get(R.doc, "locked_until");
		if (n < 3) {
			ck_assert(json_is_null(lock));
		} else {
			const char *when = json_string_value(lock);
			struct tm tm;
			ck_assert_ptr_nonnull(when);
			ck_assert_uint_eq(strlen(when), 20);
			const char *end = strptime(when, "%Y-%m-%dT%H:%M:%SZ", &tm);
			ck_assert_msg(end && !*end, "%s", when);
		}
	}
	ck_assert_int_eq(call("GET", pdkpath, LOGIN, NULL), 200);
	json_t *k = json_array_get(json_object_get(R.doc, "keys"), 0);
	ck_assert_ptr_null(json_object_get(k, "pdk"));
	ck_assert(json_is_string(json_object_get(k, "locked_until")));
	ck_assert(json_is_string(json_object_get(k, "pek")));
	snprintf(path, sizeof path, "/v1/keys/%s/rows/%lld/login-success", hex,
	         row);
	ck_assert_int_eq(call("POST", path, LOGIN, NULL), 200);
	ck_assert_str_eq(R.body.s, "{\"failures\":0}\n");
	ck_assert_int_eq(call("GET", pdkpath, LOGIN, NULL), 200);
	k = json_array_get(json_object_get(R.doc, "keys"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(k, "pdk")), pdk1);
	snprintf(path, sizeof path, "/v1/keys/%s/rows/%lld/login-failure", hex,
	         row + 1);
	call("POST", path, LOGIN, NULL);
	assert_error(404, "no_such_row");
}
END_TEST

/* --- trouble ------------------------------------------------------------ */

START_TEST(a_row_that_does_not_open_is_503_row_unreadable)
{
	char hex[9], path[300];
	hash_of(ALICE, hex);
	create(ALICE);
	testdb_sql("UPDATE keyrow SET sealed_blob = REVERSE(sealed_blob)");
	snprintf(path, sizeof path, "/v1/keys/%s", hex);
	call("GET", path, DELIVER, NULL);
	assert_error(503, "row_unreadable");
	snprintf(path, sizeof path, "/v1/keys/%s/pdk", hex);
	call("GET", path, LOGIN, NULL);
	assert_error(503, "row_unreadable");
	call("GET", "/v1/addresses/alice@example.org/availability", PROVISION,
	     NULL);
	assert_error(500, "internal_error");
}
END_TEST

/* A client the worker has not cached cannot be checked: 503, not 401. */
START_TEST(an_unreachable_database_is_503_not_401)
{
	char sock[4400];
	testpksd_stop(&F.pksd);
	snprintf(sock, sizeof sock, "%s/no-such.sock", F.dir);
	serve(NULL, sock);
	call("GET", "/v1/health", DELIVER, NULL);
	assert_error(503, "database_unavailable");
	call("GET", "/v1/keys/0000abcd", DELIVER, NULL);
	assert_error(503, "database_unavailable");
	ck_assert(!has_header("WWW-Authenticate"));
}
END_TEST

/* The allow-list is checked on every request, before authentication. */
START_TEST(a_peer_outside_the_allow_list_is_403)
{
	char path[4400];
	testpksd_stop(&F.pksd);
	serve("10.0.0.0/8\n::1\n", NULL);
	call("GET", "/v1/health", DELIVER, NULL);
	assert_error(403, "forbidden");
	call("GET", "/v1/health", NOBODY, NULL);
	assert_error(403, "forbidden");
	testpksd_stop(&F.pksd);
	snprintf(path, sizeof path, "%s/pksallow", F.ctl);
	ck_assert_int_eq(unlink(path), 0);
	serve(NULL, NULL);      /* no file: nobody */
	call("GET", "/v1/health", DELIVER, NULL);
	assert_error(403, "forbidden");
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("api");
	if (!testdb_available())
		return testdb_skip_suite(s);
	TCase *tc = tcase_create("api");
	tcase_add_unchecked_fixture(tc, testdb_start, testdb_stop);
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, health_is_ok_json_for_every_role);
	tcase_add_test(tc, without_valid_credentials_everything_is_401);
	tcase_add_test(tc, malformed_or_wrong_credentials_are_401);
	tcase_add_test(tc, unknown_clients_are_not_cached_and_removed_ones_expire);
	tcase_add_test(tc, each_role_reaches_only_its_endpoints);
	tcase_add_test(tc, unknown_paths_are_404_and_other_methods_405);
	tcase_add_test(tc, head_is_405_with_no_body);
	tcase_add_test(tc, segments_decoding_to_nul_nothing_or_too_much_match_nothing);
	tcase_add_test(tc, hashes_and_rows_are_parsed_strictly);
	tcase_add_test(tc, a_body_must_be_one_json_object_with_exactly_its_members);
	tcase_add_test(tc, a_body_over_the_bound_is_413_and_one_at_it_is_read);
	tcase_add_test(tc, a_body_where_none_is_taken_is_ignored);
	tcase_add_test(tc, keys_are_created_served_and_deleted);
	tcase_add_test(tc, a_key_that_cannot_be_right_is_422_and_makes_nothing);
	tcase_add_test(tc, login_attempts_are_served_then_throttled_per_network);
	tcase_add_test(tc, a_new_version_checks_body_then_hash_then_keys);
	tcase_add_test(tc, a_pdk_is_replaced_in_its_row_only);
	tcase_add_test(tc, login_results_count_lock_and_clear);
	tcase_add_test(tc, a_row_that_does_not_open_is_503_row_unreadable);
	tcase_add_test(tc, an_unreachable_database_is_503_not_401);
	tcase_add_test(tc, a_peer_outside_the_allow_list_is_403);
	suite_add_tcase(s, tc);
	return s;
}
