/*
 * check_sealer - the encryption queue stage (sealer.h) on real keys: a
 * test CA, a PEK and PDK per subscriber, a fake pksd (a forked child
 * speaking just enough HTTPS, as in check_pekcache) that serves each
 * address hash from a table, and a fake queue program that keeps every
 * copy it is given and exits with the code it is told. What is checked
 * is what the queue would hold: one sealed copy per local recipient that
 * opens for that recipient alone, one plain copy for the remote ones, a
 * notice for the keyless, nothing at all when the message fails, and the
 * qmail-queue code of every outcome.
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "crypto/pki.h"
#include "crypto/seal.h"
#include "mail/addr.h"
#include "queue/pekcache.h"
#include "queue/sealer.h"
#include "receive/databytes.h"
#include "receive/envelope.h"
#include "testutil.h"

#define ALICE "alice@example.org"
#define BOB "bob@example.org"
#define CAROL "carol@virt.example"
#define DAVE "dave@example.org"         /* a subscriber without a key */
#define REMOTE1 "r1@remote.test"
#define REMOTE2 "r2@remote.test"
#define SUBJECT "Subject: the secret subject"
#define BODY "the secret body line"
#define MESSAGE "From: " REMOTE1 "\n" SUBJECT "\n\n" BODY "\n"

/* A subscriber's key pair: the PEK the CA issued and its private half. */
struct user {
	char address[ADDR_MAX + 1];
	EVP_PKEY *key;
	X509 *pek;
};

/* What the fake pksd answers for a hash. */
struct answer {
	char hex[9];
	int status;
	char *body;             /* owned */
};

static struct {
	char *dir;
	char ctl[3000], prog[3000];
	EVP_PKEY *ca_key, *srv_key;
	X509 *ca, *srv;
	struct user user[8];
	size_t nusers;
	struct answer answer[16];
	size_t nanswers;
	int lfd, port;
	pid_t pid;
	struct pks_client *pks;
	struct pekcache cache;
	struct control control;
	struct sealer s;
	int cache_up, control_up, sealer_up;
} F;

/* A queue program as sq-queue is run: the message on fd 0, the
 * envelope on fd 1. Each run N keeps them as msg.N and env.N and exits
 * with line N of "codes" (0 when there is none; "kill": killed). */
static const char queue_script[] =
	"#!/bin/sh\n"
	"d=$(dirname \"$0\")\n"
	"n=$(( $(cat \"$d/count\" 2>/dev/null || echo 0) + 1 ))\n"
	"echo \"$n\" > \"$d/count\"\n"
	"cat > \"$d/msg.$n\"\n"
	"cat <&1 > \"$d/env.$n\"\n"
	"code=$(sed -n \"${n}p\" \"$d/codes\" 2>/dev/null)\n"
	"[ \"$code\" = kill ] && kill -KILL $$\n"
	"exit \"${code:-0}\"\n";

/* --- the fake pksd ------------------------------------------------------- */

static void answer_add(const char *address, int status, const char *body)
{
	ck_assert_uint_lt(F.nanswers, sizeof F.answer / sizeof F.answer[0]);
	struct answer *a = &F.answer[F.nanswers++];
	addr_hash_hex(addr_hash(address), a->hex);
	a->status = status;
	a->body = strdup(body);
}

/* A 200 for address's hash listing cert (as GET /v1/keys/{hash} does). */
static void answer_cert(const char *address, X509 *cert)
{
	char hex[9];
	struct sbuf body, pem;
	addr_hash_hex(addr_hash(address), hex);
	sbuf_init(&body, 65536);
	sbuf_init(&pem, 65536);
	ck_assert_int_eq(pki_cert_to_pem(cert, &pem), 0);
	sbuf_printf(&body, "{\"hash\":\"%s\",\"keys\":[{\"row\":7,\"version\":1,"
	            "\"pek\":\"", hex);
	for (size_t i = 0; i < pem.len; i++) {
		if (pem.s[i] == '\n')
			sbuf_puts(&body, "\\n");
		else
			sbuf_putc(&body, pem.s[i]);
	}
	sbuf_puts(&body, "\"}]}");
	answer_add(address, 200, body.s);
	sbuf_free(&pem);
	sbuf_free(&body);
}

/* A subscriber with a key the instance CA issued, served by the PKS. */
static struct user *subscriber(const char *address)
{
	ck_assert_uint_lt(F.nusers, sizeof F.user / sizeof F.user[0]);
	struct user *u = &F.user[F.nusers++];
	snprintf(u->address, sizeof u->address, "%s", address);
	u->key = pki_keygen();
	ck_assert_ptr_nonnull(u->key);
	u->pek = pki_issue_pek(F.ca_key, F.ca, u->key, address, 30);
	ck_assert_ptr_nonnull(u->pek);
	answer_cert(address, u->pek);
	return u;
}

/* The PKS cannot answer for address now. */
static void pks_trouble(const char *address)
{
	answer_add(address, 503, "{\"error\":\"database_unavailable\","
	           "\"message\":\"try again later\"}");
}

/* The PKS serves a key for address that another CA issued. */
static void forged_key(const char *address)
{
	EVP_PKEY *k = pki_keygen();
	X509 *other = pki_ca_create(k, "another CA", 30);
	X509 *pek = pki_issue_pek(k, other, k, address, 30);
	ck_assert_ptr_nonnull(pek);
	answer_cert(address, pek);
	X509_free(pek);
	X509_free(other);
	EVP_PKEY_free(k);
}

static const struct answer *answer_for(const char *path)
{
	const char *hex = strncmp(path, "/v1/keys/", 9) == 0 ? path + 9 : "";
	for (size_t i = 0; i < F.nanswers; i++)
		if (strncmp(hex, F.answer[i].hex, 8) == 0 && hex[8] == ' ')
			return &F.answer[i];
	return NULL;
}

static void serve(void)
{
	static char req[16384];
	char head[256];
	prctl(PR_SET_PDEATHSIG, SIGKILL);       /* never outlives the check */
	signal(SIGPIPE, SIG_IGN);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate(ctx, F.srv) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, F.srv_key) != 1)
		_exit(1);
	for (;;) {
		int fd = accept(F.lfd, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		int ok = SSL_accept(ssl) == 1;
		while (ok) {
			size_t used = 0;
			req[0] = '\0';
			while (ok && !strstr(req, "\r\n\r\n")) {
				int got = SSL_read(ssl, req + used,
				                   (int)(sizeof req - 1 - used));
				ok = got > 0;
				used += ok ? (size_t)got : 0;
				req[used] = '\0';
			}
			if (!ok)
				break;
			const char *sp = strchr(req, ' ');
			const struct answer *a = answer_for(sp ? sp + 1 : "");
			int status = a ? a->status : 404;
			const char *body = a ? a->body
			                     : "{\"error\":\"no_such_key\","
			                       "\"message\":\"not found\"}";
			int n = snprintf(head, sizeof head, "HTTP/1.1 %d Fake\r\n"
			                 "Content-Type: application/json\r\n"
			                 "Content-Length: %zu\r\n\r\n", status,
			                 strlen(body));
			SSL_write(ssl, head, n);
			SSL_write(ssl, body, (int)strlen(body));
		}
		SSL_free(ssl);
		close(fd);
	}
}

/* --- the fixture ------------------------------------------------------------ */

static void control_file(const char *name, const char *text)
{
	write_file(F.ctl, name, text, strlen(text));
}

static void setup(void)
{
	static const char *const names[] = { "127.0.0.1" };
	memset(&F, 0, sizeof F);
	F.lfd = -1;
	signal(SIGPIPE, SIG_IGN);       /* as sq-sealerd */
	F.dir = make_tmpdir();
	snprintf(F.ctl, sizeof F.ctl, "%s/control", F.dir);
	ck_assert_int_eq(mkdir(F.ctl, 0755), 0);
	snprintf(F.prog, sizeof F.prog, "%s/qq", F.dir);
	write_file(F.dir, "qq", queue_script, sizeof queue_script - 1);
	ck_assert_int_eq(chmod(F.prog, 0755), 0);
	control_file("me", "mx.example.org\n");
	control_file("locals", "example.org\n");
	control_file("virtualdomains", "virt.example:virt.example\n");
	control_file("sealqueue", F.prog);
	F.ca_key = pki_keygen();
	F.srv_key = pki_keygen();
	F.ca = pki_ca_create(F.ca_key, "sealer test CA", 30);
	F.srv = pki_issue_server(F.ca_key, F.ca, F.srv_key, names, 1, 30);
	ck_assert_ptr_nonnull(F.srv);
	write_cert_pem(F.ctl, "ca.pem", F.ca);
	F.lfd = loopback_socket(8, &F.port);
}

static void teardown(void)
{
	if (F.pid > 0) {
		kill(F.pid, SIGKILL);
		waitpid(F.pid, NULL, 0);
	}
	if (F.sealer_up)
		sealer_fini(&F.s);
	if (F.cache_up)
		pekcache_fini(&F.cache);
	if (F.control_up)
		control_close(&F.control);
	pks_client_free(F.pks);
	for (size_t i = 0; i < F.nanswers; i++)
		free(F.answer[i].body);
	for (size_t i = 0; i < F.nusers; i++) {
		X509_free(F.user[i].pek);
		EVP_PKEY_free(F.user[i].key);
	}
	if (F.lfd >= 0)
		close(F.lfd);
	X509_free(F.srv);
	X509_free(F.ca);
	EVP_PKEY_free(F.srv_key);
	EVP_PKEY_free(F.ca_key);
	rm_rf(F.dir);
	free(F.dir);
	ERR_clear_error();
}

/* Starts the fake pksd on the answers so far, then the cache and the
 * sealer over the control files; sealer_init's result. */
static int start(void)
{
	struct pks_config cfg;
	F.pid = fork();
	ck_assert_int_ge(F.pid, 0);
	if (F.pid == 0)
		serve();
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.url, sizeof cfg.url, "https://127.0.0.1:%d", F.port);
	snprintf(cfg.cafile, sizeof cfg.cafile, "%s/ca.pem", F.ctl);
	cfg.client_id = 4242;
	snprintf(cfg.secret, sizeof cfg.secret, "Sekr3t-pass");
	cfg.connect_timeout_ms = 5000;
	cfg.timeout_ms = 10000;
	F.pks = pks_client_new(&cfg);
	pks_config_wipe(&cfg);
	ck_assert_ptr_nonnull(F.pks);
	ck_assert_int_eq(pekcache_init(&F.cache, F.pks, F.ca, 300), 0);
	F.cache_up = 1;
	ck_assert_int_eq(control_open(&F.control, F.ctl), 0);
	F.control_up = 1;
	int r = sealer_init(&F.s, &F.control, &F.cache);
	F.sealer_up = r == 0;
	return r;
}

static int memfile(const void *data, size_t len)
{
	int fd = memfd_create("check_sealer", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Runs sealer_queue on msg (len octets) and the envelope of sender and
 * the n recipients; its code. */
static int queue_raw(const void *msg, size_t len, const char *sender,
                     const char *const *rcpt, size_t n)
{
	struct sbuf env;
	sbuf_init(&env, 1 << 22);
	ck_assert_int_eq(envelope_format(&env, sender, rcpt, n), 0);
	int mfd = memfile(msg, len);
	int efd = memfile(env.s, env.len);
	int code = sealer_queue(&F.s, mfd, efd);
	close(mfd);
	close(efd);
	sbuf_free(&env);
	return code;
}

static int queue(const char *sender, const char *const *rcpt, size_t n)
{
	return queue_raw(MESSAGE, sizeof MESSAGE - 1, sender, rcpt, n);
}

#define NRCPT(a) (sizeof (a) / sizeof (a)[0])

/* How many times the queue program ran. */
static int runs(void)
{
	char path[4300], buf[32] = "";
	snprintf(path, sizeof path, "%s/count", F.dir);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return atoi(buf);
}

/* The file "what.N" the queue program kept, into out (appended). */
static void kept(const char *what, int n, struct sbuf *out)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s.%d", F.dir, what, n);
	int fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "no %s.%d", what, n);
	ck_assert_int_eq(sbuf_read_fd(out, fd), 0);
	close(fd);
}

/* Run n's envelope is exactly sender and the recipients given. */
static void assert_envelope(int n, const char *sender,
                            const char *const *rcpt, size_t count)
{
	struct sbuf want, got;
	sbuf_init(&want, 1 << 20);
	sbuf_init(&got, 1 << 20);
	ck_assert_int_eq(envelope_format(&want, sender, rcpt, count), 0);
	kept("env", n, &got);
	ck_assert_msg(got.len == want.len && !memcmp(got.s, want.s, got.len),
	              "run %d: another envelope (%zu octets, want %zu)", n,
	              got.len, want.len);
	sbuf_free(&want);
	sbuf_free(&got);
}

/* Opens run n's message with u's key into plain (reset first); 0 or -1. */
static int open_copy(int n, const struct user *u, struct sbuf *plain)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/msg.%d", F.dir, n);
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	sbuf_reset(plain);
	int r = seal_open_fd(fd, 1 << 24, u->key, u->pek, plain);
	close(fd);
	ERR_clear_error();
	return r;
}

static int contains(const struct sbuf *b, const char *needle)
{
	return b->len && memmem(b->s, b->len, needle, strlen(needle)) != NULL;
}

/* --- one copy per recipient ------------------------------------------- */

START_TEST(each_local_recipient_gets_a_copy_that_opens_for_it_alone)
{
	static const char *const rcpt[] = { ALICE, BOB, CAROL };
	struct sbuf plain;
	struct user *u[3] = { subscriber(ALICE), subscriber(BOB),
	                      subscriber(CAROL) };
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(REMOTE1, rcpt, 3), QQ_OK);
	ck_assert_int_eq(runs(), 3);
	ck_assert_uint_eq(F.s.sealed, 3);
	ck_assert_uint_eq(F.s.remote, 0);
	ck_assert_uint_eq(F.s.keyless, 0);
	ck_assert_int_eq(F.s.notice, 0);
	ck_assert_uint_eq(F.s.octets, sizeof MESSAGE - 1);
	sbuf_init_secret(&plain, 1 << 24);
	for (int n = 1; n <= 3; n++) {
		/* the envelope names its recipient alone: a Bcc stays blind */
		assert_envelope(n, REMOTE1, &rcpt[n - 1], 1);
		for (int k = 0; k < 3; k++) {
			int opens = open_copy(n, u[k], &plain) == 0;
			ck_assert_msg(opens == (k == n - 1), "copy %d opens for "
			              "user %d: %d", n, k, opens);
		}
		ck_assert_int_eq(open_copy(n, u[n - 1], &plain), 0);
		ck_assert_uint_eq(plain.len, sizeof MESSAGE - 1);
		ck_assert_int_eq(memcmp(plain.s, MESSAGE, plain.len), 0);
	}
	sbuf_free(&plain);
}
END_TEST

START_TEST(a_sealed_copy_holds_no_plaintext_and_says_its_size)
{
	static const char *const rcpt[] = { ALICE };
	struct sbuf raw;
	subscriber(ALICE);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(REMOTE1, rcpt, 1), QQ_OK);
	sbuf_init(&raw, 1 << 24);
	kept("msg", 1, &raw);
	ck_assert_int_eq(strncmp(raw.s, SEAL_SIZE_HEADER ": ",
	                         strlen(SEAL_SIZE_HEADER) + 2), 0);
	ck_assert(!contains(&raw, BODY));
	ck_assert(!contains(&raw, "secret subject"));
	sbuf_free(&raw);
}
END_TEST

START_TEST(binary_octets_and_an_empty_message_seal_exactly)
{
	static const char *const rcpt[] = { ALICE };
	static const char bin[] = "Subject: x\n\n\0\377\r\n.\r\n\0";
	struct sbuf plain;
	struct user *a = subscriber(ALICE);
	ck_assert_int_eq(start(), 0);
	sbuf_init_secret(&plain, 1 << 24);
	ck_assert_int_eq(queue_raw(bin, sizeof bin, REMOTE1, rcpt, 1), QQ_OK);
	ck_assert_int_eq(open_copy(1, a, &plain), 0);
	ck_assert_uint_eq(plain.len, sizeof bin);
	ck_assert_int_eq(memcmp(plain.s, bin, sizeof bin), 0);
	ck_assert_int_eq(queue_raw("", 0, REMOTE1, rcpt, 1), QQ_OK);
	ck_assert_int_eq(open_copy(2, a, &plain), 0);
	ck_assert_uint_eq(plain.len, 0);
	ck_assert_uint_eq(F.s.octets, 0);
	sbuf_free(&plain);
}
END_TEST

START_TEST(remote_recipients_share_one_copy_as_it_is_queued_first)
{
	static const char *const rcpt[] = { REMOTE1, ALICE, REMOTE2 };
	static const char *const remote[] = { REMOTE1, REMOTE2 };
	struct sbuf raw, plain;
	struct user *a = subscriber(ALICE);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(ALICE, rcpt, 3), QQ_OK);
	ck_assert_int_eq(runs(), 2);
	ck_assert_uint_eq(F.s.remote, 2);
	ck_assert_uint_eq(F.s.sealed, 1);
	assert_envelope(1, ALICE, remote, 2);
	sbuf_init(&raw, 1 << 24);
	kept("msg", 1, &raw);
	ck_assert_uint_eq(raw.len, sizeof MESSAGE - 1);
	ck_assert_int_eq(memcmp(raw.s, MESSAGE, raw.len), 0);
	assert_envelope(2, ALICE, &rcpt[1], 1);
	sbuf_init_secret(&plain, 1 << 24);
	ck_assert_int_eq(open_copy(2, a, &plain), 0);
	sbuf_free(&plain);
	sbuf_free(&raw);
}
END_TEST

START_TEST(locality_is_by_domain_locals_virtualdomains_or_none)
{
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(sealer_is_local(&F.s, ALICE), 1);
	ck_assert_int_eq(sealer_is_local(&F.s, "x@EXAMPLE.ORG"), 1);
	ck_assert_int_eq(sealer_is_local(&F.s, CAROL), 1);
	ck_assert_int_eq(sealer_is_local(&F.s, "postmaster"), 1);
	ck_assert_int_eq(sealer_is_local(&F.s, REMOTE1), 0);
	ck_assert_int_eq(sealer_is_local(&F.s, "x@sub.example.org"), 0);
}
END_TEST

/* Mail for postmaster (bare, or at any of our domains) is sealed for the
 * subscriber named in control/postmaster and queued to that address. */
START_TEST(postmaster_goes_to_the_subscriber_of_control_postmaster)
{
	static const char *const rcpt[] = { "PostMaster@virt.example",
	                                    "postmaster" };
	static const char *const bob[] = { BOB };
	struct sbuf plain;
	struct user *b = subscriber(BOB);
	control_file("postmaster", "# who reads it\nBob@Example.ORG\n");
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(REMOTE1, rcpt, 2), QQ_OK);
	ck_assert_int_eq(runs(), 2);
	sbuf_init_secret(&plain, 1 << 24);
	for (int n = 1; n <= 2; n++) {
		assert_envelope(n, REMOTE1, bob, 1);
		ck_assert_int_eq(open_copy(n, b, &plain), 0);
	}
	sbuf_free(&plain);
}
END_TEST

START_TEST(postmaster_without_control_postmaster_is_keyless)
{
	static const char *const rcpt[] = { "postmaster@example.org" };
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(REMOTE1, rcpt, 1), QQ_REFUSED);
	ck_assert_int_eq(runs(), 0);
	ck_assert_uint_eq(F.s.keyless, 1);
}
END_TEST

/* --- keyless recipients ----------------------------------------------- */

/* The others are queued; the (remote) sender gets a plain notice that
 * names the keyless recipient, with neither the body nor the headers. */
START_TEST(a_keyless_recipient_fails_alone_and_the_sender_is_told)
{
	static const char *const rcpt[] = { ALICE, DAVE, REMOTE2 };
	static const char *const sender[] = { REMOTE1 };
	struct sbuf notice;
	subscriber(ALICE);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(REMOTE1, rcpt, 3), QQ_OK);
	ck_assert_uint_eq(F.s.keyless, 1);
	ck_assert_uint_eq(F.s.sealed, 1);
	ck_assert_uint_eq(F.s.remote, 1);
	ck_assert_int_eq(F.s.notice, 1);
	ck_assert_int_eq(runs(), 3);    /* remote copy, Alice's, the notice */
	assert_envelope(1, REMOTE1, &rcpt[2], 1);
	assert_envelope(2, REMOTE1, &rcpt[0], 1);
	assert_envelope(3, "", sender, 1);
	sbuf_init(&notice, 1 << 20);
	kept("msg", 3, &notice);
	ck_assert(contains(&notice, DAVE));
	ck_assert(contains(&notice, "5.7.1"));
	ck_assert(contains(&notice, "MAILER-DAEMON@mx.example.org"));
	ck_assert(!contains(&notice, BODY));
	ck_assert(!contains(&notice, "secret subject"));
	ck_assert(!contains(&notice, ALICE));
	sbuf_free(&notice);
}
END_TEST

/* A local sender's notice is sealed for the sender, and only then holds
 * the original's header section (never its body). */
START_TEST(a_local_senders_notice_is_sealed_and_holds_headers_only)
{
	static const char *const rcpt[] = { DAVE, BOB };
	static const char *const sender[] = { ALICE };
	struct sbuf plain;
	struct user *a = subscriber(ALICE);
	struct user *b = subscriber(BOB);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(ALICE, rcpt, 2), QQ_OK);
	ck_assert_int_eq(runs(), 2);
	ck_assert_int_eq(F.s.notice, 1);
	assert_envelope(2, "", sender, 1);
	sbuf_init_secret(&plain, 1 << 24);
	ck_assert_int_eq(open_copy(2, b, &plain), -1);
	ck_assert_int_eq(open_copy(2, a, &plain), 0);
	ck_assert(contains(&plain, DAVE));
	ck_assert(contains(&plain, "secret subject"));
	ck_assert(contains(&plain, "text/rfc822-headers"));
	ck_assert(!contains(&plain, BODY));
	sbuf_free(&plain);
}
END_TEST

START_TEST(no_notice_for_the_null_sender_or_a_keyless_local_sender)
{
	static const char *const rcpt[] = { ALICE, DAVE };
	subscriber(ALICE);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue("", rcpt, 2), QQ_OK);
	ck_assert_int_eq(runs(), 1);
	ck_assert_int_eq(F.s.notice, 0);
	ck_assert_int_eq(queue("#@[]", rcpt, 2), QQ_OK);
	ck_assert_int_eq(runs(), 2);
	ck_assert_int_eq(F.s.notice, 0);
	/* Dave sends, and has no key himself: nothing can be sealed for
	 * him, and a plain notice to a local address is not an option */
	ck_assert_int_eq(queue(DAVE, rcpt, 2), QQ_OK);
	ck_assert_int_eq(runs(), 3);
	ck_assert_int_eq(F.s.notice, 0);
	ck_assert_uint_eq(F.s.keyless, 1);
}
END_TEST

START_TEST(no_recipient_with_a_key_is_31_and_queues_nothing)
{
	static const char *const rcpt[] = { DAVE, "erin@virt.example" };
	ck_assert_int_eq(start(), 0);
	int code = queue(REMOTE1, rcpt, 2);
	ck_assert_int_eq(code, QQ_REFUSED);
	ck_assert(QQ_PERMANENT(code));
	ck_assert_int_eq(runs(), 0);
	ck_assert_uint_eq(F.s.keyless, 2);
	ck_assert_ptr_nonnull(strstr(F.s.error, "no recipient has a key"));
}
END_TEST

/* A local recipient whose address cannot be normalised is ours by its
 * domain: keyless, never queued as plaintext. */
START_TEST(a_local_address_that_cannot_be_named_is_keyless_not_plain)
{
	char longlocal[ADDR_LOCAL_MAX + 32];
	memset(longlocal, 'a', ADDR_LOCAL_MAX + 1);
	snprintf(longlocal + ADDR_LOCAL_MAX + 1, 31, "@example.org");
	const char *rcpt[] = { longlocal, ALICE };
	subscriber(ALICE);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue("", rcpt, 2), QQ_OK);
	ck_assert_uint_eq(F.s.keyless, 1);
	ck_assert_uint_eq(F.s.remote, 0);
	ck_assert_int_eq(runs(), 1);
	assert_envelope(1, "", &rcpt[1], 1);
}
END_TEST

/* --- temporary failures: nothing queued ------------------------------- */

START_TEST(a_key_question_the_pks_cannot_answer_fails_all_with_71)
{
	static const char *const rcpt[] = { REMOTE2, ALICE, BOB };
	subscriber(ALICE);
	pks_trouble(BOB);
	ck_assert_int_eq(start(), 0);
	int code = queue(REMOTE1, rcpt, 3);
	ck_assert_int_eq(code, QQ_TEMP);
	ck_assert(!QQ_PERMANENT(code));
	ck_assert_int_eq(runs(), 0);    /* not even the remote copy */
	ck_assert_msg(strstr(F.s.error, "503") != NULL, "%s", F.s.error);
}
END_TEST

START_TEST(a_key_that_fails_the_ca_check_fails_all_with_71)
{
	static const char *const rcpt[] = { ALICE, BOB };
	subscriber(ALICE);
	forged_key(BOB);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(REMOTE1, rcpt, 2), QQ_TEMP);
	ck_assert_int_eq(runs(), 0);
}
END_TEST

/* With a keyless recipient, the local sender's key is needed for the
 * notice: asked before anything is queued. */
START_TEST(a_senders_key_the_pks_cannot_give_now_queues_nothing)
{
	static const char *const rcpt[] = { ALICE, DAVE };
	subscriber(ALICE);
	pks_trouble(BOB);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(BOB, rcpt, 2), QQ_TEMP);
	ck_assert_int_eq(runs(), 0);
	/* without a keyless recipient the sender's key is not asked */
	static const char *const alice[] = { ALICE };
	ck_assert_int_eq(queue(BOB, alice, 1), QQ_OK);
	ck_assert_int_eq(runs(), 1);
}
END_TEST

/* --- size ----------------------------------------------------------------- */

START_TEST(the_size_bound_is_databytes_plus_room_for_received)
{
	static const char *const rcpt[] = { REMOTE2 };
	size_t max = 100 + DATABYTES_RECEIVED;
	char *big = malloc(max + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', max + 1);
	control_file("databytes", "100\n");
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue_raw(big, max, REMOTE1, rcpt, 1), QQ_OK);
	ck_assert_int_eq(runs(), 1);
	int code = queue_raw(big, max + 1, REMOTE1, rcpt, 1);
	ck_assert_int_eq(code, QQ_TOO_BIG);
	ck_assert(QQ_PERMANENT(code));
	ck_assert_int_eq(runs(), 1);
	ck_assert_str_eq(F.s.error, "message too large");
	free(big);
}
END_TEST

START_TEST(databytes_zero_or_missing_is_the_default_never_unbounded)
{
	control_file("databytes", "0\n");
	ck_assert_int_eq(start(), 0);
	ck_assert_uint_eq(F.s.max, DATABYTES_DEFAULT + DATABYTES_RECEIVED);
	sealer_fini(&F.s);
	F.sealer_up = 0;
	char path[4300];
	snprintf(path, sizeof path, "%s/databytes", F.ctl);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(sealer_init(&F.s, &F.control, &F.cache), 0);
	F.sealer_up = 1;
	ck_assert_uint_eq(F.s.max, DATABYTES_DEFAULT + DATABYTES_RECEIVED);
}
END_TEST

START_TEST(an_invalid_databytes_fails_init)
{
	control_file("databytes", "100k\n");
	ck_assert_int_eq(start(), -1);
	sealer_fini(&F.s);
	char over[64];
	snprintf(over, sizeof over, "%lu\n", DATABYTES_MAX + 1);
	control_file("databytes", over);
	ck_assert_int_eq(sealer_init(&F.s, &F.control, &F.cache), -1);
	sealer_fini(&F.s);
}
END_TEST

/* --- the envelope and the input ---------------------------------------- */

START_TEST(a_malformed_envelope_is_91_and_an_overlong_address_11)
{
	static const char *const rcpt[] = { REMOTE2 };
	char addr[ENVELOPE_ADDR_MAX + 16];
	ck_assert_int_eq(start(), 0);
	int mfd = memfile(MESSAGE, sizeof MESSAGE - 1);
	int efd = memfile("Fa@b.c\0Tx@y.z\0", 14);    /* no final NUL */
	ck_assert_int_eq(sealer_queue(&F.s, mfd, efd), QQ_ENVELOPE);
	close(mfd);
	close(efd);
	mfd = memfile(MESSAGE, sizeof MESSAGE - 1);
	efd = memfile("F\0\0", 3);                      /* no recipient */
	ck_assert_int_eq(sealer_queue(&F.s, mfd, efd), QQ_ENVELOPE);
	close(mfd);
	close(efd);
	memset(addr, 'a', ENVELOPE_ADDR_MAX + 1);
	snprintf(addr + ENVELOPE_ADDR_MAX - 10, 16, "@remote.test");
	ck_assert_int_eq(queue(addr, rcpt, 1), QQ_ADDR_TOO_LONG);
	ck_assert(QQ_PERMANENT(QQ_ADDR_TOO_LONG));
	ck_assert(!QQ_PERMANENT(QQ_ENVELOPE));
	ck_assert_int_eq(runs(), 0);
}
END_TEST

START_TEST(an_unreadable_input_is_54)
{
	ck_assert_int_eq(start(), 0);
	int dfd = open(F.dir, O_RDONLY | O_DIRECTORY);
	int efd = memfile("Fa@b.c\0Tx@y.z\0\0", 15);
	ck_assert_int_eq(sealer_queue(&F.s, dfd, efd), QQ_READ);
	ck_assert_str_eq(F.s.error, "cannot read the input");
	int mfd = memfile(MESSAGE, sizeof MESSAGE - 1);
	ck_assert_int_eq(sealer_queue(&F.s, mfd, dfd), QQ_READ);
	close(mfd);
	close(efd);
	close(dfd);
	ck_assert_int_eq(runs(), 0);
}
END_TEST

/* A caller that passes its descriptors and never ends them gives up its
 * worker after s->timeout seconds (71), before anything is queued. */
START_TEST(an_input_that_never_ends_times_out_71)
{
	ck_assert_int_eq(start(), 0);
	F.s.timeout = 1;
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "Subject: x\r\n", 13), 13);
	int efd = memfile("Fa@b.c\0Tx@y.z\0\0", 15);
	time_t t0 = time(NULL);
	ck_assert_int_eq(sealer_queue(&F.s, p[0], efd), QQ_TEMP);
	ck_assert_str_eq(F.s.error, "timed out reading the input");
	ck_assert_int_le(time(NULL) - t0, 3);
	close(p[0]);
	close(p[1]);
	close(efd);
	ck_assert_int_eq(runs(), 0);
}
END_TEST

/* --- the queue program's exit codes ------------------------------------ */

/* Its code comes back as it is, permanent or temporary; copies queued
 * before a failure stay queued (at least once, never lost). */
START_TEST(the_queue_programs_code_is_the_answer_and_earlier_copies_stay)
{
	static const char *const rcpt[] = { ALICE, BOB };
	subscriber(ALICE);
	subscriber(BOB);
	write_file(F.dir, "codes", "0\n53\n", 5);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(REMOTE1, rcpt, 2), QQ_WRITE);
	ck_assert_int_eq(runs(), 2);
	ck_assert_uint_eq(F.s.sealed, 1);
	ck_assert_str_eq(F.s.error, "the queue program exited 53");
	write_file(F.dir, "codes", "0\n53\n31\n", 8);
	ck_assert_int_eq(queue(REMOTE1, rcpt, 2), QQ_REFUSED);
	ck_assert_int_eq(runs(), 3);    /* the first copy failed: no second */
	ck_assert_uint_eq(F.s.sealed, 0);
}
END_TEST

START_TEST(a_killed_queue_program_is_temporary)
{
	static const char *const rcpt[] = { REMOTE2 };
	write_file(F.dir, "codes", "kill\n", 5);
	ck_assert_int_eq(start(), 0);
	int code = queue(REMOTE1, rcpt, 1);
	ck_assert_int_eq(code, QQ_TEMP);
	ck_assert_str_eq(F.s.error, "the queue program was killed");
}
END_TEST

START_TEST(a_queue_program_that_cannot_run_is_temporary)
{
	static const char *const rcpt[] = { REMOTE2 };
	char missing[4300];
	snprintf(missing, sizeof missing, "%s/no-such-queue", F.dir);
	control_file("sealqueue", missing);
	ck_assert_int_eq(start(), 0);
	int code = queue(REMOTE1, rcpt, 1);
	/* glibc reports ENOENT at once (55); where posix_spawn cannot tell
	 * (valgrind), the child exits 127: temporary either way */
	ck_assert_msg(code == QQ_CONFIG || code == 127, "code %d", code);
	ck_assert(!QQ_PERMANENT(code));
}
END_TEST

/* The counters describe the last message only. */
START_TEST(the_counters_are_reset_for_each_message)
{
	static const char *const first[] = { ALICE, DAVE, REMOTE2 };
	static const char *const second[] = { REMOTE2 };
	subscriber(ALICE);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(queue(REMOTE1, first, 3), QQ_OK);
	ck_assert_int_eq(F.s.notice, 1);
	ck_assert_int_eq(queue_raw("x\n", 2, REMOTE1, second, 1), QQ_OK);
	ck_assert_uint_eq(F.s.sealed, 0);
	ck_assert_uint_eq(F.s.keyless, 0);
	ck_assert_uint_eq(F.s.remote, 1);
	ck_assert_uint_eq(F.s.octets, 2);
	ck_assert_int_eq(F.s.notice, 0);
	ck_assert_str_eq(F.s.error, "");
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("sealer");
	TCase *tc = tcase_create("sealer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, each_local_recipient_gets_a_copy_that_opens_for_it_alone);
	tcase_add_test(tc, a_sealed_copy_holds_no_plaintext_and_says_its_size);
	tcase_add_test(tc, binary_octets_and_an_empty_message_seal_exactly);
	tcase_add_test(tc, remote_recipients_share_one_copy_as_it_is_queued_first);
	tcase_add_test(tc, locality_is_by_domain_locals_virtualdomains_or_none);
	tcase_add_test(tc, postmaster_goes_to_the_subscriber_of_control_postmaster);
	tcase_add_test(tc, postmaster_without_control_postmaster_is_keyless);
	tcase_add_test(tc, a_keyless_recipient_fails_alone_and_the_sender_is_told);
	tcase_add_test(tc, a_local_senders_notice_is_sealed_and_holds_headers_only);
	tcase_add_test(tc, no_notice_for_the_null_sender_or_a_keyless_local_sender);
	tcase_add_test(tc, no_recipient_with_a_key_is_31_and_queues_nothing);
	tcase_add_test(tc, a_local_address_that_cannot_be_named_is_keyless_not_plain);
	tcase_add_test(tc, a_key_question_the_pks_cannot_answer_fails_all_with_71);
	tcase_add_test(tc, a_key_that_fails_the_ca_check_fails_all_with_71);
	tcase_add_test(tc, a_senders_key_the_pks_cannot_give_now_queues_nothing);
	tcase_add_test(tc, the_size_bound_is_databytes_plus_room_for_received);
	tcase_add_test(tc, databytes_zero_or_missing_is_the_default_never_unbounded);
	tcase_add_test(tc, an_invalid_databytes_fails_init);
	tcase_add_test(tc, a_malformed_envelope_is_91_and_an_overlong_address_11);
	tcase_add_test(tc, an_unreadable_input_is_54);
	tcase_add_test(tc, an_input_that_never_ends_times_out_71);
	tcase_add_test(tc, the_queue_programs_code_is_the_answer_and_earlier_copies_stay);
	tcase_add_test(tc, a_killed_queue_program_is_temporary);
	tcase_add_test(tc, a_queue_program_that_cannot_run_is_temporary);
	tcase_add_test(tc, the_counters_are_reset_for_each_message);
	suite_add_tcase(s, tc);
	return s;
}
