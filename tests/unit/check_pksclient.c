/*
 * check_pksclient - the PKS client's transport and calls without a PKS,
 * against real sockets: a closed port, a listener that never answers, and
 * a small fake HTTPS server (a forked child speaking just enough HTTP/1.1
 * over OpenSSL) that records each request and answers from a script.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mail/addr.h"
#include "util/control.h"
#include "crypto/pki.h"
#include "client/pksclient.h"
#include "util/sbuf.h"
#include "testutil.h"

static const uint32_t HASH = 0x93e896f4;

/* --- network: real sockets ------------------------------------------------ */

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void client_config(struct pks_config *cfg, int port, const char *dir,
                          long timeout_ms)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->url, sizeof cfg->url, "https://127.0.0.1:%d", port);
	snprintf(cfg->cafile, sizeof cfg->cafile, "%s/ca.pem", dir);
	cfg->client_id = 4242;
	snprintf(cfg->secret, sizeof cfg->secret, "Sekr3t-pass");
	cfg->connect_timeout_ms = timeout_ms;
	cfg->timeout_ms = timeout_ms;
}


/* --- network: a fake pksd ------------------------------------------------- */

struct canned {
	int status;
	const char *headers;    /* extra header lines, each ending in CRLF */
	const char *body;
	size_t len;             /* 0: strlen(body) */
	int until_close;        /* no Content-Length: the body ends at EOF */
};

static struct {
	char *dir;
	char log[4200];
	EVP_PKEY *ca_key, *srv_key;
	X509 *ca, *srv;
	pid_t pid;
	int port;
	struct pks_client *c;
	char *big;
} F;

/* The server's certificate: IP 127.0.0.1, issued by issuer. */
static X509 *server_cert(EVP_PKEY *issuer_key, X509 *issuer, EVP_PKEY *key)
{
	X509 *cert = X509_new();
	X509V3_CTX v3;
	X509_set_version(cert, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -300);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN",
	                           MBSTRING_ASC,
	                           (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(issuer));
	X509_set_pubkey(cert, key);
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3,
	                                          NID_subject_alt_name,
	                                          "IP:127.0.0.1");
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(cert, issuer_key, EVP_sha256()), 0);
	return cert;
}

static void net_setup(void)
{
	struct sbuf pem;
	memset(&F, 0, sizeof F);
	F.dir = make_tmpdir();
	snprintf(F.log, sizeof F.log, "%s/requests", F.dir);
	F.ca_key = pki_keygen();
	F.srv_key = pki_keygen();
	F.ca = pki_ca_create(F.ca_key, "pks test CA", 30);
	F.srv = server_cert(F.ca_key, F.ca, F.srv_key);
	sbuf_init(&pem, 65536);
	ck_assert_int_eq(pki_cert_to_pem(F.ca, &pem), 0);
	write_file(F.dir, "ca.pem", pem.s, pem.len);
	sbuf_free(&pem);
}

static void net_teardown(void)
{
	if (F.pid > 0) {
		kill(F.pid, SIGKILL);
		waitpid(F.pid, NULL, 0);
	}
	pks_client_free(F.c);
	X509_free(F.srv);
	X509_free(F.ca);
	EVP_PKEY_free(F.srv_key);
	EVP_PKEY_free(F.ca_key);
	free(F.big);
	rm_rf(F.dir);
	free(F.dir);
}

static void log_write(int fd, const void *data, size_t n)
{
	if (write(fd, data, n) != (ssize_t)n)
		_exit(1);
}

static void send_reply(SSL *ssl, const struct canned *r)
{
	char head[1024];
	size_t len = r->len ? r->len : strlen(r->body);
	int n = snprintf(head, sizeof head, "HTTP/1.1 %d Fake\r\n"
	                 "Content-Type: application/json\r\n%s", r->status,
	                 r->headers ? r->headers : "");
	if (!r->until_close)
		n += snprintf(head + n, sizeof head - (size_t)n,
		              "Content-Length: %zu\r\n", len);
	else
		n += snprintf(head + n, sizeof head - (size_t)n,
		              "Connection: close\r\n");
	n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
	SSL_write(ssl, head, n);
	if (len)
		SSL_write(ssl, r->body, (int)len);
}

/* Reads one request (head and Content-Length body) into req; its length,
 * or 0 at EOF. */
static size_t read_request(SSL *ssl, char *req, size_t max)
{
	size_t used = 0, want = 0;
	char *end = NULL;
	while (!end || used < want) {
		int got = SSL_read(ssl, req + used, (int)(max - 1 - used));
		if (got <= 0)
			return 0;
		used += (size_t)got;
		req[used] = '\0';
		if (!end && (end = strstr(req, "\r\n\r\n"))) {
			const char *cl = strcasestr(req, "\r\nContent-Length:");
			want = (size_t)(end + 4 - req);
			if (cl && cl < end)
				want += strtoul(cl + 17, NULL, 10);
		}
	}
	return used;
}

static void serve_connection(SSL *ssl, int logfd, const struct canned *r,
                             size_t n, size_t *k)
{
	static char req[65536];
	static const struct canned none = { 500, NULL, "{\"error\":\"script\"}",
	                                    0, 0 };
	size_t len;
	while ((len = read_request(ssl, req, sizeof req)) > 0) {
		log_write(logfd, req, len);
		log_write(logfd, "\n=END=\n", 7);
		const struct canned *reply = *k < n ? &r[*k] : &none;
		(*k)++;
		send_reply(ssl, reply);
		if (reply->until_close)
			return;
	}
}

static void serve(int lfd, const struct canned *r, size_t n)
{
	size_t k = 0;
	signal(SIGPIPE, SIG_IGN);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate(ctx, F.srv) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, F.srv_key) != 1)
		_exit(1);
	int logfd = open(F.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (logfd < 0)
		_exit(1);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		/* head and body go in two records: no Nagle wait between */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		log_write(logfd, "=CONNECTION=\n", 13);
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1)
			serve_connection(ssl, logfd, r, n, &k);
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
}

/* Starts the fake pksd with a script of n replies and a client for it. */
static void start(const struct canned *r, size_t n)
{
	struct pks_config cfg;
	int lfd = loopback_socket(8, &F.port);
	F.pid = fork();
	ck_assert_int_ge(F.pid, 0);
	if (F.pid == 0)
		serve(lfd, r, n);
	close(lfd);
	client_config(&cfg, F.port, F.dir, 3000);
	F.c = pks_client_new(&cfg);
	pks_config_wipe(&cfg);
	ck_assert_ptr_nonnull(F.c);
}

/* What the server received so far (static storage). */
static const char *requests(void)
{
	static char buf[65536];
	int fd = open(F.log, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void assert_reason(const char *want)
{
	const char *why = pks_client_error(F.c);
	ck_assert_msg(strstr(why, want) != NULL, "reason \"%s\", want \"%s\"",
	              why, want);
	ck_assert_ptr_null(strstr(why, "Sekr3t"));
}

START_TEST(connection_refused_is_temporary)
{
	struct pks_config cfg;
	struct pks_keys k = { 3, NULL };
	int port;
	close(loopback_socket(0, &port)); /* now nobody listens there */
	client_config(&cfg, port, F.dir, 2000);
	struct pks_client *c = pks_client_new(&cfg);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(pks_get_peks(c, HASH, &k), PKS_TEMP);
	ck_assert_uint_eq(k.n, 0);
	ck_assert_str_eq(pks_client_error(c), "connect: Connection refused");
	ck_assert_int_eq(pks_health(c), PKS_TEMP);
	pks_client_free(c);
}
END_TEST

/* The kernel completes the TCP handshake for the backlog; nobody ever
 * reads the TLS ClientHello. The call must give up at the timeout. */
START_TEST(silent_server_times_out_as_temporary)
{
	struct pks_config cfg;
	struct timespec t0;
	int port;
	int fd = loopback_socket(8, &port);
	client_config(&cfg, port, F.dir, 300);
	struct pks_client *c = pks_client_new(&cfg);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(pks_login_success(c, HASH, 1), PKS_TEMP);
	long ms = elapsed_ms(&t0);
	ck_assert_msg(ms >= 250 && ms < 2000, "took %ld ms", ms);
	ck_assert_msg(strncmp(pks_client_error(c), "timeout: ", 9) == 0,
	              "reason: %s", pks_client_error(c));
	pks_client_free(c);
	close(fd);
}
END_TEST

#define START(...) do { \
	static const struct canned script_[] = { __VA_ARGS__ }; \
	start(script_, sizeof script_ / sizeof script_[0]); \
} while (0)

static const char KEYS[] = "{\"hash\":\"93e896f4\",\"keys\":[{\"row\":123,"
	"\"version\":1,\"pek\":\"PEM\"}]}";

START_TEST(get_peks_sends_basic_auth_and_reuses_the_connection)
{
	struct pks_keys k;
	START({ 200, NULL, KEYS, 0, 0 }, { 200, NULL, KEYS, 0, 0 });
	ck_assert_int_eq(pks_get_peks(F.c, HASH, &k), PKS_OK);
	ck_assert_uint_eq(k.n, 1);
	ck_assert_uint_eq(k.key[0].row, 123);
	ck_assert_str_eq(k.key[0].pek, "PEM");
	pks_keys_free(&k);
	ck_assert_int_eq(pks_get_peks(F.c, HASH, &k), PKS_OK);
	pks_keys_free(&k);
	const char *log = requests();
	ck_assert_int_eq(count(log, "GET /v1/keys/93e896f4 HTTP/1.1\r\n"), 2);
	/* base64("4242:Sekr3t-pass") */
	ck_assert_int_eq(count(log, "\r\nAuthorization: Basic "
	                       "NDI0MjpTZWtyM3QtcGFzcw==\r\n"), 2);
	ck_assert_int_eq(count(log, "\r\nAccept: application/json\r\n"), 2);
	ck_assert_ptr_null(strstr(log, "Content-Type"));
	ck_assert_ptr_null(strstr(log, "Expect"));
	ck_assert_int_eq(count(log, "=CONNECTION="), 1);
}
END_TEST

START_TEST(get_pdks_asks_the_pdk_path)
{
	struct pks_keys k;
	START({ 200, NULL, "{\"hash\":\"93e896f4\",\"keys\":[{\"row\":5,"
	        "\"version\":2,\"pek\":\"P\",\"pdk\":\"D\"}]}", 0, 0 });
	ck_assert_int_eq(pks_get_pdks(F.c, HASH, &k), PKS_OK);
	ck_assert_str_eq(k.key[0].pdk, "D");
	pks_keys_free(&k);
	ck_assert_ptr_nonnull(strstr(requests(),
	                             "GET /v1/keys/93e896f4/pdk HTTP/1.1\r\n"));
}
END_TEST

START_TEST(no_such_key_is_not_found)
{
	struct pks_keys k;
	START({ 404, NULL, "{\"error\":\"no_such_key\",\"message\":\"no key "
	        "for this hash\"}", 0, 0 });
	ck_assert_int_eq(pks_get_peks(F.c, HASH, &k), PKS_NOT_FOUND);
	assert_reason("HTTP 404: no_such_key (no key for this hash)");
}
END_TEST

/* A proxy's or a wrong pksurl's 404 page must not bounce mail. */
START_TEST(a_404_without_an_error_object_is_temporary)
{
	struct pks_keys k;
	START({ 404, NULL, "<html>Not Found</html>", 0, 0 });
	ck_assert_int_eq(pks_get_peks(F.c, HASH, &k), PKS_TEMP);
	assert_reason("HTTP 404 without an error object");
}
END_TEST

/* A key row pksd cannot open is reported, not served: the client must
 * wait for it to be mended, never take it as "no such key". */
START_TEST(an_unreadable_row_is_temporary)
{
	struct pks_keys k;
	START({ 503, NULL, "{\"error\":\"row_unreadable\",\"message\":\"a key "
	        "row of the hash does not open\"}", 0, 0 },
	      { 503, NULL, "{\"error\":\"row_unreadable\"}", 0, 0 });
	ck_assert_int_eq(pks_get_peks(F.c, HASH, &k), PKS_TEMP);
	assert_reason("HTTP 503: row_unreadable (a key row of the hash does "
	              "not open)");
	ck_assert_int_eq(pks_get_pdks(F.c, HASH, &k), PKS_TEMP);
	ck_assert_uint_eq(k.n, 0);
}
END_TEST

START_TEST(failure_statuses_map_to_results_with_reasons)
{
	struct pks_keys k;
	START({ 503, NULL, "{\"error\":\"database_unavailable\"}", 0, 0 },
	      { 401, NULL, "{\"error\":\"unauthorized\",\"message\":\"bad "
	        "credentials\\n\\u001b[31m\"}", 0, 0 },
	      { 403, NULL, "{\"error\":\"forbidden\"}", 0, 0 },
	      { 429, "Retry-After: 30\r\n", "{\"error\":\"locked\"}", 0, 0 },
	      { 500, NULL, "", 0, 0 },
	      { 301, "Location: /v1/keys/93e896f4\r\n", "{}", 0, 0 },
	      { 204, NULL, "", 0, 0 });
	ck_assert_int_eq(pks_get_pdks(F.c, HASH, &k), PKS_TEMP);
	assert_reason("HTTP 503: database_unavailable");
	ck_assert_int_eq(pks_get_pdks(F.c, HASH, &k), PKS_REFUSED);
	/* the server's words are made printable before they reach a log */
	assert_reason("HTTP 401: unauthorized (bad credentials??[31m)");
	ck_assert_int_eq(pks_get_pdks(F.c, HASH, &k), PKS_REFUSED);
	ck_assert_int_eq(pks_get_pdks(F.c, HASH, &k), PKS_LOCKED);
	assert_reason("HTTP 429: locked, retry after 30 s");
	ck_assert_int_eq(pks_get_pdks(F.c, HASH, &k), PKS_TEMP);
	assert_reason("HTTP 500 without an error object");
	ck_assert_int_eq(pks_get_pdks(F.c, HASH, &k), PKS_TEMP);
	ck_assert_int_eq(pks_get_pdks(F.c, HASH, &k), PKS_TEMP);
	assert_reason("HTTP 204: unexpected status");
	ck_assert_uint_eq(k.n, 0);
	/* the redirect was not followed */
	ck_assert_int_eq(count(requests(), "GET "), 7);
}
END_TEST

START_TEST(nonsense_with_200_is_temporary)
{
	struct pks_keys k;
	START({ 200, NULL, "{\"hash\":\"93e896f4\",\"keys\":[{\"row\":0,"
	        "\"version\":1,\"pek\":\"P\"}]}", 0, 0 },
	      { 200, NULL, "{\"hash\":\"00000000\",\"keys\":[]}", 0, 0 },
	      { 200, NULL, "not json", 0, 0 },
	      { 200, NULL, "{\"status\":\"degraded\"}", 0, 0 });
	ck_assert_int_eq(pks_get_peks(F.c, HASH, &k), PKS_TEMP);
	assert_reason("bad reply: \"row\" out of range");
	ck_assert_int_eq(pks_get_peks(F.c, HASH, &k), PKS_TEMP);
	assert_reason("hash");
	ck_assert_int_eq(pks_health(F.c), PKS_TEMP);
	assert_reason("bad reply: not JSON");
	ck_assert_int_eq(pks_health(F.c), PKS_TEMP);
	assert_reason("status");
}
END_TEST

START_TEST(oversized_replies_are_temporary)
{
	struct pks_keys k;
	static struct canned script[2];
	F.big = malloc(PKS_REPLY_MAX + 2);
	ck_assert_ptr_nonnull(F.big);
	memset(F.big, ' ', PKS_REPLY_MAX + 1);
	F.big[PKS_REPLY_MAX + 1] = '\0';
	/* announced by Content-Length, then unannounced until EOF */
	script[0] = (struct canned){ 200, NULL, F.big, PKS_REPLY_MAX + 1, 0 };
	script[1] = (struct canned){ 200, NULL, F.big, PKS_REPLY_MAX + 1, 1 };
	start(script, 2);
	ck_assert_int_eq(pks_get_peks(F.c, HASH, &k), PKS_TEMP);
	assert_reason("reply longer than 1048576 bytes");
	ck_assert_int_eq(pks_get_peks(F.c, HASH, &k), PKS_TEMP);
	assert_reason("reply longer than 1048576 bytes");
}
END_TEST

START_TEST(health_is_ok_on_status_ok)
{
	START({ 200, NULL, "{\"status\":\"ok\"}", 0, 0 });
	ck_assert_int_eq(pks_health(F.c), PKS_OK);
	ck_assert_ptr_nonnull(strstr(requests(), "GET /v1/health HTTP/1.1"));
}
END_TEST

START_TEST(create_posts_the_normalised_address_and_reads_row_and_version)
{
	char body[256];
	uint64_t row = 0;
	unsigned version = 0;
	char hex[9];
	addr_hash_hex(addr_hash("john.smith@example.org"), hex);
	snprintf(body, sizeof body, "{\"hash\":\"%s\",\"row\":77,\"version\":1}",
	         hex);
	static struct canned script[2];
	script[0] = (struct canned){ 201, NULL, body, 0, 0 };
	script[1] = (struct canned){ 409, NULL, "{\"error\":\"address_taken\"}",
	                             0, 0 };
	start(script, 2);
	ck_assert_int_eq(pks_create(F.c, "John.Smith@Example.ORG", "PEM\n",
	                            "PDK\"\n", &row, &version), PKS_OK);
	ck_assert_uint_eq(row, 77);
	ck_assert_uint_eq(version, 1);
	ck_assert_int_eq(pks_create(F.c, "john.smith@example.org", "P", "D",
	                            &row, &version), PKS_CONFLICT);
	assert_reason("HTTP 409: address_taken");
	const char *log = requests();
	ck_assert_int_eq(count(log, "POST /v1/keys HTTP/1.1\r\n"), 2);
	ck_assert_int_eq(count(log, "\r\nContent-Type: application/json\r\n"),
	                 2);
	ck_assert_ptr_null(strstr(log, "Expect:"));
	ck_assert_ptr_nonnull(strstr(log, "{\"address\":\"john.smith@example.org"
	                              "\",\"pek\":\"PEM\\n\",\"pdk\":"
	                              "\"PDK\\\"\\n\"}"));
}
END_TEST

START_TEST(create_refuses_a_reply_for_another_hash_and_bad_addresses)
{
	uint64_t row = 5;
	START({ 201, NULL, "{\"hash\":\"00000000\",\"row\":1,\"version\":1}",
	       0, 0 });
	ck_assert_int_eq(pks_create(F.c, "a@example.org", "P", "D", &row, NULL),
	                 PKS_TEMP);
	assert_reason("hash");
	ck_assert_uint_eq(row, 5);
	ck_assert_int_eq(pks_create(F.c, "no-at-sign", "P", "D", NULL, NULL),
	                 PKS_REFUSED);
	assert_reason("address");
	ck_assert_int_eq(pks_create(F.c, "a@example.org", NULL, "D", NULL,
	                            NULL), PKS_REFUSED);
	ck_assert_int_eq(count(requests(), "POST "), 1);
}
END_TEST

START_TEST(new_version_posts_to_the_versions_of_the_hash)
{
	char body[256], path[64], hex[9];
	unsigned version = 0;
	addr_hash_hex(addr_hash("a@example.org"), hex);
	snprintf(body, sizeof body, "{\"hash\":\"%s\",\"row\":78,\"version\":2}",
	         hex);
	snprintf(path, sizeof path, "POST /v1/keys/%s/versions HTTP/1.1", hex);
	static struct canned script[1];
	script[0] = (struct canned){ 201, NULL, body, 0, 0 };
	start(script, 1);
	ck_assert_int_eq(pks_new_version(F.c, "A@example.org", "P", "D", NULL,
	                                 &version), PKS_OK);
	ck_assert_uint_eq(version, 2);
	ck_assert_ptr_nonnull(strstr(requests(), path));
}
END_TEST

START_TEST(replace_pdk_puts_and_checks_the_row)
{
	START({ 200, NULL, "{\"row\":123,\"version\":1}", 0, 0 },
	      { 200, NULL, "{\"row\":124,\"version\":1}", 0, 0 },
	      { 404, NULL, "{\"error\":\"no_such_row\"}", 0, 0 });
	ck_assert_int_eq(pks_replace_pdk(F.c, HASH, 123, "NEWPDK"), PKS_OK);
	ck_assert_int_eq(pks_replace_pdk(F.c, HASH, 123, "NEWPDK"), PKS_TEMP);
	assert_reason("row");
	ck_assert_int_eq(pks_replace_pdk(F.c, HASH, 123, "NEWPDK"),
	                 PKS_NOT_FOUND);
	ck_assert_int_eq(pks_replace_pdk(F.c, HASH, 0, "NEWPDK"), PKS_REFUSED);
	ck_assert_int_eq(pks_replace_pdk(F.c, HASH, PKS_ROW_MAX + 1, "X"),
	                 PKS_REFUSED);
	const char *log = requests();
	ck_assert_int_eq(count(log, "PUT /v1/keys/93e896f4/rows/123/pdk "
	                       "HTTP/1.1\r\n"), 3);
	ck_assert_int_eq(count(log, "{\"pdk\":\"NEWPDK\"}"), 3);
}
END_TEST

START_TEST(delete_percent_encodes_the_address_and_sends_no_body)
{
	unsigned deleted = 0;
	START({ 200, NULL, "{\"deleted\":2}", 0, 0 },
	      { 404, NULL, "{\"error\":\"no_such_address\"}", 0, 0 });
	ck_assert_int_eq(pks_delete_address(F.c, "A+b/c%d@Example.org",
	                                    &deleted), PKS_OK);
	ck_assert_uint_eq(deleted, 2);
	ck_assert_int_eq(pks_delete_address(F.c, "x@example.org", &deleted),
	                 PKS_NOT_FOUND);
	const char *log = requests();
	ck_assert_ptr_nonnull(strstr(log, "DELETE /v1/addresses/"
	                             "a%2Bb%2Fc%25d%40example.org HTTP/1.1\r\n"));
	ck_assert_ptr_null(strstr(log, "Content-Length"));
}
END_TEST

START_TEST(availability_needs_our_normalised_address_back)
{
	int available = -1;
	START({ 200, NULL, "{\"address\":\"john@example.org\",\"available\":"
	        "true}", 0, 0 },
	      { 200, NULL, "{\"address\":\"john@example.org\",\"available\":"
	        "false}", 0, 0 },
	      { 200, NULL, "{\"address\":\"JOHN@example.org\",\"available\":"
	        "true}", 0, 0 },
	      { 200, NULL, "{\"address\":\"john@example.org\",\"available\":1}",
	        0, 0 },
	      { 400, NULL, "{\"error\":\"invalid_address\"}", 0, 0 });
	ck_assert_int_eq(pks_availability(F.c, "John@example.org", &available),
	                 PKS_OK);
	ck_assert_int_eq(available, 1);
	ck_assert_int_eq(pks_availability(F.c, "john@example.org", &available),
	                 PKS_OK);
	ck_assert_int_eq(available, 0);
	ck_assert_int_eq(pks_availability(F.c, "john@example.org", &available),
	                 PKS_TEMP);
	ck_assert_int_eq(pks_availability(F.c, "john@example.org", &available),
	                 PKS_TEMP);
	ck_assert_int_eq(pks_availability(F.c, "john@example.org", &available),
	                 PKS_REFUSED);
	ck_assert_int_eq(available, 0);
	ck_assert_ptr_nonnull(strstr(requests(), "GET /v1/addresses/"
	                             "john%40example.org/availability HTTP/1.1"));
}
END_TEST

START_TEST(login_reports_post_an_empty_body_and_read_the_lock)
{
	unsigned failures = 9;
	time_t until = 1;
	START({ 200, NULL, "{\"failures\":1,\"locked_until\":null}", 0, 0 },
	      { 200, NULL, "{\"failures\":5,\"locked_until\":"
	        "\"2026-11-27T16:00:00Z\"}", 0, 0 },
	      { 200, NULL, "{\"failures\":5}", 0, 0 },
	      { 200, NULL, "{\"failures\":0}", 0, 0 },
	      { 200, NULL, "{\"failures\":3}", 0, 0 });
	ck_assert_int_eq(pks_login_failure(F.c, HASH, 9007199254740991ull,
	                                   &failures, &until), PKS_OK);
	ck_assert_uint_eq(failures, 1);
	ck_assert_int_eq(until, 0);
	ck_assert_int_eq(pks_login_failure(F.c, HASH, 7, &failures, &until),
	                 PKS_OK);
	ck_assert_uint_eq(failures, 5);
	ck_assert_int_eq(until, 1795795200);
	ck_assert_int_eq(pks_login_failure(F.c, HASH, 7, &failures, &until),
	                 PKS_TEMP);
	assert_reason("locked_until");
	ck_assert_int_eq(pks_login_success(F.c, HASH, 7), PKS_OK);
	ck_assert_int_eq(pks_login_success(F.c, HASH, 7), PKS_TEMP);
	const char *log = requests();
	ck_assert_ptr_nonnull(strstr(log, "POST /v1/keys/93e896f4/rows/"
	                             "9007199254740991/login-failure HTTP/1.1"));
	ck_assert_int_eq(count(log, "/rows/7/login-failure HTTP/1.1"), 2);
	ck_assert_int_eq(count(log, "/rows/7/login-success HTTP/1.1"), 2);
	ck_assert_int_eq(count(log, "\r\nContent-Length: 0\r\n"), 5);
	ck_assert_ptr_null(strstr(log, "Content-Type"));
}
END_TEST

/* A foreign CA named like ours is what an impostor would use; OpenSSL
 * then fails on the signature, which curl reports less precisely. */
static void foreign_ca_refused(const char *name, const char *want)
{
	EVP_PKEY *other_key = pki_keygen();
	X509 *other = pki_ca_create(other_key, name, 30);
	X509_free(F.srv);
	F.srv = server_cert(other_key, other, F.srv_key);
	START({ 200, NULL, "{\"status\":\"ok\"}", 0, 0 });
	ck_assert_int_eq(pks_health(F.c), PKS_TEMP);
	assert_reason(want);
	ck_assert_ptr_null(strstr(requests(), "GET"));
	X509_free(other);
	EVP_PKEY_free(other_key);
}

START_TEST(server_certificate_from_another_ca_is_refused)
{
	foreign_ca_refused("some other CA", "TLS: certificate verify failed: "
	                   "unable to get local issuer certificate");
}
END_TEST

START_TEST(server_certificate_from_a_ca_named_like_ours_is_refused)
{
	foreign_ca_refused("pks test CA", "TLS: ");
}
END_TEST

START_TEST(plain_http_is_never_spoken)
{
	struct pks_config cfg;
	client_config(&cfg, 7443, F.dir, 1000);
	memcpy(cfg.url, "http", 4);
	memmove(cfg.url + 4, cfg.url + 5, strlen(cfg.url + 5) + 1);
	struct pks_client *c = pks_client_new(&cfg);
	ck_assert_int_eq(pks_health(c), PKS_TEMP);
	ck_assert_msg(strstr(pks_client_error(c), "http") != NULL, "%s",
	              pks_client_error(c));
	pks_client_free(c);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("pksclient");
	TCase *net_tc = tcase_create("network");
	tcase_add_checked_fixture(net_tc, net_setup, net_teardown);
	tcase_add_test(net_tc, connection_refused_is_temporary);
	tcase_add_test(net_tc, silent_server_times_out_as_temporary);
	tcase_add_test(net_tc, get_peks_sends_basic_auth_and_reuses_the_connection);
	tcase_add_test(net_tc, get_pdks_asks_the_pdk_path);
	tcase_add_test(net_tc, no_such_key_is_not_found);
	tcase_add_test(net_tc, a_404_without_an_error_object_is_temporary);
	tcase_add_test(net_tc, an_unreadable_row_is_temporary);
	tcase_add_test(net_tc, failure_statuses_map_to_results_with_reasons);
	tcase_add_test(net_tc, nonsense_with_200_is_temporary);
	tcase_add_test(net_tc, oversized_replies_are_temporary);
	tcase_add_test(net_tc, health_is_ok_on_status_ok);
	tcase_add_test(net_tc, create_posts_the_normalised_address_and_reads_row_and_version);
	tcase_add_test(net_tc, create_refuses_a_reply_for_another_hash_and_bad_addresses);
	tcase_add_test(net_tc, new_version_posts_to_the_versions_of_the_hash);
	tcase_add_test(net_tc, replace_pdk_puts_and_checks_the_row);
	tcase_add_test(net_tc, delete_percent_encodes_the_address_and_sends_no_body);
	tcase_add_test(net_tc, availability_needs_our_normalised_address_back);
	tcase_add_test(net_tc, login_reports_post_an_empty_body_and_read_the_lock);
	tcase_add_test(net_tc, server_certificate_from_another_ca_is_refused);
	tcase_add_test(net_tc, server_certificate_from_a_ca_named_like_ours_is_refused);
	tcase_add_test(net_tc, plain_http_is_never_spoken);
	suite_add_tcase(s, net_tc);
	return s;
}
