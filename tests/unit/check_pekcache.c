/*
 * check_pekcache - the sealer's cache of verified PEKs against a fake
 * pksd (a forked child speaking just enough HTTPS, as in check_pksclient)
 * that answers from a script and counts the requests: hits within the
 * TTL, expiry, "no key" kept for at most 10 s, temporary failures never
 * cached, unverifiable keys refused, and addresses that share a slot.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "mail/addr.h"
#include "queue/pekcache.h"
#include "crypto/pki.h"
#include "client/pksclient.h"
#include "testutil.h"

#define ALICE "alice@example.org"
#define BOB "bob@example.org"

struct canned {
	int status;
	char *body;             /* owned */
};

static struct {
	char *dir;
	char log[4200];
	EVP_PKEY *ca_key, *srv_key, *user_key;
	X509 *ca, *srv;
	pid_t pid;
	int lfd, port;
	struct canned script[16];
	size_t n;
	struct pks_client *pks;
	struct pekcache cache;
	int cache_up;
} F;

/* --- the fake pksd ------------------------------------------------------- */

static void net_setup(void)
{
	static const char *const names[] = { "127.0.0.1" };
	memset(&F, 0, sizeof F);
	F.dir = make_tmpdir();
	snprintf(F.log, sizeof F.log, "%s/requests", F.dir);
	F.ca_key = pki_keygen();
	F.srv_key = pki_keygen();
	F.user_key = pki_keygen();
	F.ca = pki_ca_create(F.ca_key, "pekcache test CA", 30);
	F.srv = pki_issue_server(F.ca_key, F.ca, F.srv_key, names, 1, 30);
	ck_assert_ptr_nonnull(F.srv);
	write_cert_pem(F.dir, "ca.pem", F.ca);
	F.lfd = loopback_socket(8, &F.port);
}

static void net_teardown(void)
{
	if (F.pid > 0) {
		kill(F.pid, SIGKILL);
		waitpid(F.pid, NULL, 0);
	}
	if (F.cache_up)
		pekcache_fini(&F.cache);
	pks_client_free(F.pks);
	for (size_t i = 0; i < F.n; i++)
		free(F.script[i].body);
	close(F.lfd);
	X509_free(F.srv);
	X509_free(F.ca);
	EVP_PKEY_free(F.user_key);
	EVP_PKEY_free(F.srv_key);
	EVP_PKEY_free(F.ca_key);
	rm_rf(F.dir);
	free(F.dir);
}

static void add_reply(int status, const char *body)
{
	ck_assert_uint_lt(F.n, sizeof F.script / sizeof F.script[0]);
	F.script[F.n].status = status;
	F.script[F.n].body = strdup(body);
	F.n++;
}

/* A 200 with the PEK cert for address's hash (cert NULL: no keys). */
static void add_keys(const char *address, X509 *cert)
{
	char hex[9];
	struct sbuf body, pem;
	addr_hash_hex(addr_hash(address), hex);
	sbuf_init(&body, 65536);
	sbuf_init(&pem, 65536);
	sbuf_printf(&body, "{\"hash\":\"%s\",\"keys\":[", hex);
	if (cert) {
		ck_assert_int_eq(pki_cert_to_pem(cert, &pem), 0);
		sbuf_puts(&body, "{\"row\":7,\"version\":1,\"pek\":\"");
		for (size_t i = 0; i < pem.len; i++) {
			if (pem.s[i] == '\n')
				sbuf_puts(&body, "\\n");
			else
				sbuf_putc(&body, pem.s[i]);
		}
		sbuf_puts(&body, "\"}");
	}
	sbuf_puts(&body, "]}");
	add_reply(200, body.s);
	sbuf_free(&pem);
	sbuf_free(&body);
}

static X509 *pek_for(const char *address)
{
	X509 *c = pki_issue_pek(F.ca_key, F.ca, F.user_key, address, 30);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void add_pek(const char *address)
{
	X509 *c = pek_for(address);
	add_keys(address, c);
	X509_free(c);
}

static void add_none(void)
{
	add_reply(404, "{\"error\":\"no_such_key\",\"message\":\"none\"}");
}

static void log_write(int fd, const void *data, size_t n)
{
	if (write(fd, data, n) != (ssize_t)n)
		_exit(1);
}

/* One request's head (the GETs have no body); 0 at EOF. */
static size_t read_request(SSL *ssl, char *req, size_t max)
{
	size_t used = 0;
	req[0] = '\0';
	while (!strstr(req, "\r\n\r\n")) {
		int got = SSL_read(ssl, req + used, (int)(max - 1 - used));
		if (got <= 0)
			return 0;
		used += (size_t)got;
		req[used] = '\0';
	}
	return used;
}

static void serve(void)
{
	static char req[16384];
	char head[256];
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
		int fd = accept(F.lfd, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		size_t len;
		while (SSL_accept(ssl) == 1 &&
		       (len = read_request(ssl, req, sizeof req)) > 0) {
			char *eol = strstr(req, "\r\n");
			log_write(logfd, req, (size_t)(eol - req));
			log_write(logfd, "\n", 1);
			const struct canned *r = k < F.n ? &F.script[k] : NULL;
			k++;
			int status = r ? r->status : 500;
			const char *body = r ? r->body : "{\"error\":\"script\"}";
			int n = snprintf(head, sizeof head, "HTTP/1.1 %d Fake\r\n"
			                 "Content-Type: application/json\r\n"
			                 "Content-Length: %zu\r\n\r\n", status,
			                 strlen(body));
			SSL_write(ssl, head, n);
			SSL_write(ssl, body, (int)strlen(body));
		}
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
}

/* Starts the fake pksd on the script so far and a cache of ttl over it. */
static void start(unsigned ttl)
{
	struct pks_config cfg;
	F.pid = fork();
	ck_assert_int_ge(F.pid, 0);
	if (F.pid == 0)
		serve();
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.url, sizeof cfg.url, "https://127.0.0.1:%d", F.port);
	snprintf(cfg.cafile, sizeof cfg.cafile, "%s/ca.pem", F.dir);
	cfg.client_id = 4242;
	snprintf(cfg.secret, sizeof cfg.secret, "Sekr3t-pass");
	cfg.connect_timeout_ms = 3000;
	cfg.timeout_ms = 3000;
	F.pks = pks_client_new(&cfg);
	pks_config_wipe(&cfg);
	ck_assert_ptr_nonnull(F.pks);
	ck_assert_int_eq(pekcache_init(&F.cache, F.pks, F.ca, ttl), 0);
	F.cache_up = 1;
}

/* The requests the fake pksd has had. */
static int requests(void)
{
	char buf[8192];
	int fd = open(F.log, O_RDONLY), n = 0;
	ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < len; i++)
		n += buf[i] == '\n';
	return n;
}

static void assert_pek_of(X509 *pek, const char *address)
{
	char named[ADDR_MAX + 1];
	ck_assert_ptr_nonnull(pek);
	ck_assert_int_eq(pki_cert_address(pek, named), 0);
	ck_assert_str_eq(named, address);
}

/* --- the cache ------------------------------------------------------------ */

START_TEST(a_key_is_asked_once_within_the_ttl)
{
	X509 *pek = NULL, *again = NULL;
	add_pek(ALICE);
	start(3600);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_OK);
	assert_pek_of(pek, ALICE);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &again), PEK_OK);
	ck_assert_ptr_eq(again, pek);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &again), PEK_OK);
	ck_assert_int_eq(requests(), 1);
	char path[64], hex[9];
	addr_hash_hex(addr_hash(ALICE), hex);
	snprintf(path, sizeof path, "GET /v1/keys/%s HTTP/1.1", hex);
	char buf[256];
	int fd = open(F.log, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, path));
}
END_TEST

START_TEST(an_entry_expires_after_the_ttl)
{
	X509 *pek = NULL;
	add_pek(ALICE);
	add_pek(ALICE);
	start(1);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_OK);
	ck_assert_int_eq(requests(), 1);
	sleep(1);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_OK);
	assert_pek_of(pek, ALICE);
	ck_assert_int_eq(requests(), 2);
}
END_TEST

/* "No key" is remembered, but only for 10 s whatever the TTL: a
 * subscriber provisioned a moment later gets mail soon. */
START_TEST(no_key_is_cached_for_ten_seconds_only)
{
	X509 *pek = (X509 *)1;
	add_none();             /* bob: 404 */
	add_pek(ALICE);
	add_pek(BOB);           /* bob, once provisioned */
	start(3600);
	ck_assert_int_eq(pekcache_get(&F.cache, BOB, &pek), PEK_NONE);
	ck_assert_ptr_null(pek);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_OK);
	ck_assert_int_eq(pekcache_get(&F.cache, BOB, &pek), PEK_NONE);
	ck_assert_int_eq(requests(), 2);
	sleep(10);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_OK);
	ck_assert_int_eq(requests(), 2);            /* alice still cached */
	ck_assert_int_eq(pekcache_get(&F.cache, BOB, &pek), PEK_OK);
	assert_pek_of(pek, BOB);
	ck_assert_int_eq(requests(), 3);
}
END_TEST

/* A TTL under 10 s applies to "no key" as it is. */
START_TEST(a_short_ttl_applies_to_no_key_too)
{
	X509 *pek;
	add_none();
	add_none();
	start(3); /* room for a slow run (valgrind) between the first two */
	ck_assert_int_eq(pekcache_get(&F.cache, BOB, &pek), PEK_NONE);
	ck_assert_int_eq(pekcache_get(&F.cache, BOB, &pek), PEK_NONE);
	ck_assert_int_eq(requests(), 1);
	sleep(3);
	ck_assert_int_eq(pekcache_get(&F.cache, BOB, &pek), PEK_NONE);
	ck_assert_int_eq(requests(), 2);
}
END_TEST

START_TEST(a_temporary_failure_is_not_cached)
{
	X509 *pek = (X509 *)1;
	add_reply(503, "{\"error\":\"database_unavailable\"}");
	add_pek(ALICE);
	start(3600);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_TEMP);
	ck_assert_msg(strstr(F.cache.error, "PKS: HTTP 503: "
	                     "database_unavailable") != NULL, "error: %s",
	              F.cache.error);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_OK);
	assert_pek_of(pek, ALICE);
	ck_assert_int_eq(requests(), 2);
}
END_TEST

/* A failure after expiry does not turn a known key into "no key". */
START_TEST(a_temporary_failure_after_expiry_stays_temporary)
{
	X509 *pek;
	add_pek(ALICE);
	add_reply(503, "{\"error\":\"database_unavailable\"}");
	add_pek(ALICE);
	start(1);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_OK);
	sleep(1);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_TEMP);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_OK);
	assert_pek_of(pek, ALICE);
	ck_assert_int_eq(requests(), 3);
}
END_TEST

/* The store's word is not taken: a PEK of another CA, or for another
 * address, is no key at all. */
/* A key for the address that does not verify (another CA) is an alarm
 * and a temporary failure, never "no key" (which would refuse mail for
 * good); another address's key under the same hash is simply no key. */
START_TEST(forged_keys_are_temporary_and_others_keys_are_none)
{
	X509 *pek = (X509 *)1;
	EVP_PKEY *other_key = pki_keygen();
	X509 *other_ca = pki_ca_create(other_key, "pekcache test CA", 30);
	X509 *forged = pki_issue_pek(other_key, other_ca, F.user_key, ALICE, 30);
	X509 *bobs = pek_for(BOB);
	add_keys(ALICE, forged);
	add_keys(ALICE, bobs);
	add_keys(ALICE, NULL);
	start(1);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_TEMP);
	sleep(1);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_NONE);
	ck_assert_ptr_null(pek);
	sleep(1);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_NONE);
	ck_assert_int_eq(requests(), 3);
	X509_free(bobs);
	X509_free(forged);
	X509_free(other_ca);
	EVP_PKEY_free(other_key);
}
END_TEST

START_TEST(an_unreachable_pks_is_temporary)
{
	X509 *pek;
	start(3600);
	/* the fake pksd goes away; its port refuses */
	kill(F.pid, SIGKILL);
	waitpid(F.pid, NULL, 0);
	F.pid = 0;
	close(F.lfd);
	F.lfd = -1;
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_TEMP);
	ck_assert_msg(strncmp(F.cache.error, "PKS: ", 5) == 0, "%s",
	              F.cache.error);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_TEMP);
}
END_TEST

/* Two addresses in one slot: the later one takes it, and neither is ever
 * answered with the other's key. */
START_TEST(addresses_that_share_a_slot_never_get_each_others_key)
{
	char a[64], b[64];
	X509 *pek;
	snprintf(a, sizeof a, "u0@example.org");
	unsigned slot = addr_hash(a) % PEKCACHE_SLOTS;
	for (int i = 1;; i++) {
		snprintf(b, sizeof b, "u%d@example.org", i);
		if (addr_hash(b) % PEKCACHE_SLOTS == slot)
			break;
		ck_assert_int_lt(i, 1000000);
	}
	add_pek(a);
	add_pek(b);
	add_pek(a);
	start(3600);
	ck_assert_int_eq(pekcache_get(&F.cache, a, &pek), PEK_OK);
	assert_pek_of(pek, a);
	ck_assert_int_eq(pekcache_get(&F.cache, b, &pek), PEK_OK);
	assert_pek_of(pek, b);
	ck_assert_int_eq(pekcache_get(&F.cache, b, &pek), PEK_OK);
	ck_assert_int_eq(requests(), 2);
	ck_assert_int_eq(pekcache_get(&F.cache, a, &pek), PEK_OK);
	assert_pek_of(pek, a);
	ck_assert_int_eq(requests(), 3);
}
END_TEST

START_TEST(fini_releases_everything_and_may_be_repeated)
{
	X509 *pek;
	add_pek(ALICE);
	add_none();
	start(3600);
	ck_assert_int_eq(pekcache_get(&F.cache, ALICE, &pek), PEK_OK);
	ck_assert_int_eq(pekcache_get(&F.cache, BOB, &pek), PEK_NONE);
	pekcache_fini(&F.cache);
	ck_assert_ptr_null(F.cache.slot);
	pekcache_fini(&F.cache);        /* harmless */
	F.cache_up = 0;
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("pekcache");
	TCase *tc = tcase_create("pekcache");
	tcase_add_checked_fixture(tc, net_setup, net_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_key_is_asked_once_within_the_ttl);
	tcase_add_test(tc, an_entry_expires_after_the_ttl);
	tcase_add_test(tc, no_key_is_cached_for_ten_seconds_only);
	tcase_add_test(tc, a_short_ttl_applies_to_no_key_too);
	tcase_add_test(tc, a_temporary_failure_is_not_cached);
	tcase_add_test(tc, a_temporary_failure_after_expiry_stays_temporary);
	tcase_add_test(tc, forged_keys_are_temporary_and_others_keys_are_none);
	tcase_add_test(tc, an_unreachable_pks_is_temporary);
	tcase_add_test(tc, addresses_that_share_a_slot_never_get_each_others_key);
	tcase_add_test(tc, fini_releases_everything_and_may_be_repeated);
	suite_add_tcase(s, tc);
	return s;
}
