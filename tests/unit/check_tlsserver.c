/*
 * check_tlsserver - a TLS server's admission, over real sockets: the
 * context from good and bad certificate and key files, with the daemons'
 * options or STARTTLS's; a listening socket on 127.0.0.1:0 with its
 * flags; the allow-list loaded, reloaded and kept; and a peer the list
 * refuses closed with a log line and not one octet of TLS, while an
 * admitted one gets its handshake.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "crypto/pki.h"
#include "net/listener.h"
#include "util/log.h"
#include "util/path.h"
#include "net/tlsserver.h"
#include "testutil.h"

static struct {
	char *dir;
	char both[SQ_PATH_MAX];         /* chain and key in one file */
	char cert[SQ_PATH_MAX], key[SQ_PATH_MAX], otherkey[SQ_PATH_MAX];
	char logpath[SQ_PATH_MAX];
	int saved_stderr;
} T;

static void write_pem(const char *name, X509 *cert, EVP_PKEY *key)
{
	struct sbuf pem, k;
	sbuf_init(&pem, 65536);
	sbuf_init_secret(&k, 65536);
	if (cert)
		ck_assert_int_eq(pki_cert_to_pem(cert, &pem), 0);
	if (key) {
		ck_assert_int_eq(pki_key_to_pem(key, &k), 0);
		ck_assert_int_eq(sbuf_put(&pem, k.s, k.len), 0);
	}
	write_file(T.dir, name, pem.s, pem.len);
	sbuf_free(&k);
	sbuf_free(&pem);
}

static void setup(void)
{
	const char *names[] = { "localhost" };
	memset(&T, 0, sizeof T);
	T.saved_stderr = -1;
	log_init("tlsserver");
	signal(SIGPIPE, SIG_IGN);       /* as the servers: a closed peer is EPIPE */
	T.dir = make_tmpdir();
	EVP_PKEY *ca_key = pki_keygen(), *key = pki_keygen();
	EVP_PKEY *other = pki_keygen();
	X509 *ca = pki_ca_create(ca_key, "tlsserver test CA", 30);
	X509 *cert = pki_issue_server(ca_key, ca, key, names, 1, 30);
	ck_assert_ptr_nonnull(cert);
	write_pem("both.pem", cert, key);
	write_pem("cert.pem", cert, NULL);
	write_pem("key.pem", NULL, key);
	write_pem("other.pem", NULL, other);
	ck_assert_int_eq(path_join(T.both, sizeof T.both, T.dir, "both.pem",
	                           NULL), 0);
	ck_assert_int_eq(path_join(T.cert, sizeof T.cert, T.dir, "cert.pem",
	                           NULL), 0);
	ck_assert_int_eq(path_join(T.key, sizeof T.key, T.dir, "key.pem",
	                           NULL), 0);
	ck_assert_int_eq(path_join(T.otherkey, sizeof T.otherkey, T.dir,
	                           "other.pem", NULL), 0);
	ck_assert_int_eq(path_join(T.logpath, sizeof T.logpath, T.dir, "log",
	                           NULL), 0);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(other);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

static void teardown(void)
{
	if (T.saved_stderr >= 0) {
		dup2(T.saved_stderr, 2);
		close(T.saved_stderr);
	}
	rm_rf(T.dir);
	free(T.dir);
}

/* From here on, the log goes to a file the test reads. */
static void capture_log(void)
{
	int fd = open(T.logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	T.saved_stderr = dup(2);
	ck_assert_int_ge(T.saved_stderr, 0);
	ck_assert_int_ge(dup2(fd, 2), 0);
	close(fd);
}

static const char *logged(void)
{
	static char buf[4096];
	int fd = open(T.logpath, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

/* ---- the context ---------------------------------------------------------- */

START_TEST(a_context_from_good_files)
{
	SSL_CTX *ctx = tlsserver_ctx(T.both, T.both, TLSSERVER_DAEMON);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_free(ctx);
	/* certificate and key apart, as pksd keeps them */
	ctx = tlsserver_ctx(T.cert, T.key, TLSSERVER_DAEMON);
	ck_assert_ptr_nonnull(ctx);
	SSL_CTX_free(ctx);
	/* STARTTLS's profile: the client's cipher order */
	ctx = tlsserver_ctx(T.both, T.both, 0);
	ck_assert_ptr_nonnull(ctx);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	ck_assert(!(SSL_CTX_get_options(ctx) &
	            SSL_OP_CIPHER_SERVER_PREFERENCE));
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(bad_files_give_no_context_and_say_why)
{
	char junk[SQ_PATH_MAX];
	write_file(T.dir, "junk.pem", "-----BEGIN CERTIFICATE-----\nxx\n", 31);
	ck_assert_int_eq(path_join(junk, sizeof junk, T.dir, "junk.pem", NULL),
	                 0);
	const char *pairs[][2] = {
		{ "/nonexistent/cert.pem", "/nonexistent/cert.pem" },
		{ junk, junk },
		{ T.cert, T.cert },             /* no key in it */
		{ T.key, T.key },               /* no certificate in it */
		{ T.cert, T.otherkey },         /* another key */
	};
	for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
		ERR_clear_error();
		ck_assert_msg(tlsserver_ctx(pairs[i][0], pairs[i][1],
		                            TLSSERVER_DAEMON) == NULL,
		              "pair %zu loaded", i);
		/* the reason is left for the caller's log line */
		ck_assert_msg(ERR_peek_error() != 0, "pair %zu: no error", i);
	}
	ERR_clear_error();
}
END_TEST

/* ---- listening ------------------------------------------------------------ */

static struct sockaddr_in loopback(unsigned short port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_port = htons(port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return sa;
}

static unsigned short port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static int connect_to(unsigned short port)
{
	struct sockaddr_in sa = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

START_TEST(a_listener_on_loopback_port_0)
{
	struct sockaddr_in sa = loopback(0);
	int fd = listener_socket((struct sockaddr *)&sa, sizeof sa, 16, 0);
	ck_assert_int_ge(fd, 0);
	unsigned short port = port_of(fd);
	ck_assert_uint_ne(port, 0);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	int c = connect_to(port);
	int a = accept(fd, NULL, NULL);
	ck_assert_int_ge(a, 0);
	close(a);
	close(c);
	/* a second socket on a taken port: only with SO_REUSEPORT on both */
	sa = loopback(port);
	ck_assert_int_lt(listener_socket((struct sockaddr *)&sa, sizeof sa, 16,
	                                 0), 0);
	close(fd);
	sa = loopback(0);
	int w1 = listener_socket((struct sockaddr *)&sa, sizeof sa, 16,
	                         LISTEN_REUSEPORT | LISTEN_NONBLOCK);
	ck_assert_int_ge(w1, 0);
	ck_assert(fcntl(w1, F_GETFL) & O_NONBLOCK);
	sa = loopback(port_of(w1));
	int w2 = listener_socket((struct sockaddr *)&sa, sizeof sa, 16,
	                         LISTEN_REUSEPORT | LISTEN_NONBLOCK);
	ck_assert_int_ge(w2, 0);
	close(w2);
	close(w1);
}
END_TEST

/* ---- the allow-list ------------------------------------------------------- */

static int load(struct ipallow *allow, const char *text, size_t *bad)
{
	struct control ctl;
	write_file(T.dir, "someallow", text, strlen(text));
	ck_assert_int_eq(control_open(&ctl, T.dir), 0);
	int r = tlsserver_allow_load(allow, &ctl, "someallow", bad);
	control_close(&ctl);
	return r;
}

START_TEST(the_allow_list_loads_reloads_and_is_kept_when_bad)
{
	struct ipallow allow = { 0 };
	size_t bad = 0;
	capture_log();
	struct control ctl;
	ck_assert_int_eq(control_open(&ctl, T.dir), 0);
	ck_assert_int_eq(tlsserver_allow_load(&allow, &ctl, "someallow", &bad),
	                 0);
	control_close(&ctl);
	ck_assert_uint_eq(allow.n, 0);
	ck_assert_ptr_nonnull(strstr(logged(),
		"warning: no control/someallow: every peer is refused\n"));
	ck_assert_int_eq(load(&allow, "127.0.0.1\n10.0.0.0/8\n", &bad), 1);
	ck_assert_uint_eq(allow.n, 2);
	/* a bad line: -1, its number, and the list held is kept */
	ck_assert_int_eq(load(&allow, "127.0.0.1\n10.0.0.1/8\n", &bad), -1);
	ck_assert_uint_eq(bad, 2);
	ck_assert_uint_eq(allow.n, 2);
	ck_assert_int_eq(load(&allow, "::1\n", &bad), 1);
	ck_assert_uint_eq(allow.n, 1);
	ipallow_free(&allow);
}
END_TEST

START_TEST(a_peer_is_named_for_the_log)
{
	char text[INET6_ADDRSTRLEN];
	struct sockaddr_in in4 = loopback(25);
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
	                            .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	tlsserver_peer_text((struct sockaddr *)&in4, text, sizeof text);
	ck_assert_str_eq(text, "127.0.0.1");
	tlsserver_peer_text((struct sockaddr *)&in6, text, sizeof text);
	ck_assert_str_eq(text, "::1");
	tlsserver_peer_text((struct sockaddr *)&un, text, sizeof text);
	ck_assert_str_eq(text, "?");
	/* a socket without a peer */
	struct sockaddr_storage ss;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	tlsserver_peer(fd, &ss, text, sizeof text);
	ck_assert_int_eq(ss.ss_family, AF_UNSPEC);
	ck_assert_str_eq(text, "?");
	close(fd);
}
END_TEST

/* ---- admission before TLS --------------------------------------------------- */

/* A client in a child. With handshake, a TLS client: exits 0 once the
 * handshake is done. Without, it sends the first octets of a ClientHello
 * itself and reads what comes back: exits 1 when the connection ends
 * without one octet from the server (EOF, or a reset: the server closed
 * with the hello unread), 2 on anything else. */
static pid_t client(unsigned short port, int handshake)
{
	static const unsigned char hello[] = { 0x16, 0x03, 0x01, 0x00, 0x40,
	                                       0x01, 0x00, 0x00, 0x3c, 0x03 };
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	alarm(20);
	struct sockaddr_in sa = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		_exit(2);
	if (handshake) {
		SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
		SSL *ssl = ctx ? SSL_new(ctx) : NULL;
		_exit(ssl && SSL_set_fd(ssl, fd) && SSL_connect(ssl) == 1 ? 0 : 2);
	}
	signal(SIGPIPE, SIG_IGN);
	if (write(fd, hello, sizeof hello) < 0 && errno != EPIPE &&
	    errno != ECONNRESET)
		_exit(2);
	unsigned char buf[64];
	ssize_t n = read(fd, buf, sizeof buf);
	_exit(n == 0 || (n < 0 && errno == ECONNRESET) ? 1 : 2);
}

static int child_status(pid_t pid)
{
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Accepts one connection on lfd and admits it with allow, as edhd does:
 * closed at once if refused, else a TLS handshake. */
static int serve_one(int lfd, const struct ipallow *allow, SSL_CTX *ctx)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char peer[INET6_ADDRSTRLEN];
	int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	tlsserver_peer_text((struct sockaddr *)&ss, peer, sizeof peer);
	int admitted = tlsserver_admit(allow, (struct sockaddr *)&ss, peer, fd);
	if (admitted) {
		int one = 0;
		socklen_t ol = sizeof one;
		ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		                            &ol), 0);
		ck_assert_int_ne(one, 0);
		SSL *ssl = SSL_new(ctx);
		ck_assert_ptr_nonnull(ssl);
		SSL_set_fd(ssl, fd);
		ck_assert_int_eq(SSL_accept(ssl), 1);
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	return admitted;
}

START_TEST(a_refused_peer_gets_no_tls_and_an_admitted_one_does)
{
	struct ipallow allow = { 0 };
	size_t bad;
	struct sockaddr_in sa = loopback(0);
	SSL_CTX *ctx = tlsserver_ctx(T.both, T.both, TLSSERVER_DAEMON);
	ck_assert_ptr_nonnull(ctx);
	int lfd = listener_socket((struct sockaddr *)&sa, sizeof sa, 16, 0);
	ck_assert_int_ge(lfd, 0);
	unsigned short port = port_of(lfd);
	capture_log();
	/* not on the list */
	ck_assert_int_eq(load(&allow, "10.0.0.0/8\n::1\n", &bad), 1);
	pid_t pid = client(port, 0);
	ck_assert_int_eq(serve_one(lfd, &allow, ctx), 0);
	ck_assert_int_eq(child_status(pid), 1);
	ck_assert_ptr_nonnull(strstr(logged(),
		"]: warning: 127.0.0.1: address not allowed; connection "
		"closed\n"));
	/* on the list */
	ck_assert_int_eq(load(&allow, "127.0.0.0/8\n", &bad), 1);
	pid = client(port, 1);
	ck_assert_int_eq(serve_one(lfd, &allow, ctx), 1);
	ck_assert_int_eq(child_status(pid), 0);
	close(lfd);
	ipallow_free(&allow);
	SSL_CTX_free(ctx);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("tlsserver");
	TCase *tc = tcase_create("tlsserver");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_context_from_good_files);
	tcase_add_test(tc, bad_files_give_no_context_and_say_why);
	tcase_add_test(tc, a_listener_on_loopback_port_0);
	tcase_add_test(tc, the_allow_list_loads_reloads_and_is_kept_when_bad);
	tcase_add_test(tc, a_peer_is_named_for_the_log);
	tcase_add_test(tc, a_refused_peer_gets_no_tls_and_an_admitted_one_does);
	suite_add_tcase(s, tc);
	return s;
}
