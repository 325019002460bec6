/*
 * check_netio - a server's side of a connection over real sockets: replies
 * held until the client must wait for them, bounded lines, the timeout on
 * reads and writes, a body sent after the replies, the secret reply buffer
 * wiped, a closed or flooding peer, and STARTTLS (pipelined plaintext
 * thrown away) against a client forked here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "net/netio.h"
#include "crypto/pki.h"
#include "testutil.h"

/* --- helpers ---------------------------------------------------------------- */

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* sv[0] is the server's end, sv[1] the client's. */
static void pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	                 0);
}

/* The same over TCP on loopback, as the daemons are reached. */
static void tcp_pair(int sv[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(sv[1], (struct sockaddr *)&sa, sizeof sa), 0);
	sv[0] = accept(l, NULL, NULL);
	ck_assert_int_ge(sv[0], 0);
	close(l);
}

static void say(int fd, const char *text)
{
	size_t n = strlen(text);
	ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
}

/* What the peer can read now, waiting at most ms for the first octet and
 * 50 ms for each further one; NUL-terminated, into buf. */
static size_t heard(int fd, char *buf, size_t max, int ms)
{
	size_t used = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (used + 1 < max && poll(&p, 1, used ? 50 : ms) > 0) {
		ssize_t n = read(fd, buf + used, max - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	return used;
}

static void nothing_heard(int fd)
{
	char c;
	ck_assert_int_eq(recv(fd, &c, 1, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

/* check's runner handles SIGALRM (its timeout) and a forked test inherits
 * the handler: a child of ours that wants an alarm to kill it resets it. */
static void die_by_alarm(unsigned seconds)
{
	signal(SIGALRM, SIG_DFL);
	alarm(seconds);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN); /* as every server of ours does */
}

/* --- plain connections -------------------------------------------------- */

START_TEST(replies_are_held_until_flushed)
{
	struct netio io;
	int sv[2];
	char buf[256];
	pair(sv);
	netio_init(&io, sv[0], sv[0], 1000);
	netio_reply(&io, "250-%s", "first");
	netio_reply(&io, "250 %d", 2);
	nothing_heard(sv[1]);
	ck_assert_int_eq(netio_flush(&io), 0);
	heard(sv[1], buf, sizeof buf, 1000);
	ck_assert_str_eq(buf, "250-first\r\n250 2\r\n");
	ck_assert_uint_eq(io.out.len, 0);
	/* nothing queued: a flush writes nothing */
	ck_assert_int_eq(netio_flush(&io), 0);
	nothing_heard(sv[1]);
	netio_fini(&io);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* RFC 2920: replies to pipelined commands go out together, when the
 * server would otherwise wait for the client. */
START_TEST(getline_flushes_only_when_it_must_wait)
{
	struct netio io;
	struct sbuf line;
	int sv[2];
	char buf[256];
	pair(sv);
	sbuf_init(&line, 512);
	netio_init(&io, sv[0], sv[0], 1000);
	netio_reply(&io, "220 hello");
	say(sv[1], "NOOP\r\nQUIT\r\n");
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_LINE);
	ck_assert_str_eq(line.s, "NOOP\r\n");
	heard(sv[1], buf, sizeof buf, 1000);
	ck_assert_str_eq(buf, "220 hello\r\n");
	netio_reply(&io, "250 ok");
	ck_assert_int_eq(netio_buffered(&io), 1);
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_LINE);
	ck_assert_str_eq(line.s, "QUIT\r\n");
	ck_assert_int_eq(netio_buffered(&io), 0);
	nothing_heard(sv[1]); /* the QUIT was already there: no wait, no write */
	netio_reply(&io, "221 bye");
	shutdown(sv[1], SHUT_WR);
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_EOF);
	heard(sv[1], buf, sizeof buf, 1000);
	ck_assert_str_eq(buf, "250 ok\r\n221 bye\r\n");
	netio_fini(&io);
	sbuf_free(&line);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(long_lines_are_refused_and_a_last_line_ends_at_eof)
{
	struct netio io;
	struct sbuf line;
	int sv[2];
	char big[700];
	pair(sv);
	sbuf_init(&line, 600);
	netio_init(&io, sv[0], sv[0], 1000);
	memset(big, 'x', sizeof big - 3);
	memcpy(big + sizeof big - 3, "\r\n", 3);
	say(sv[1], big);
	say(sv[1], "RSET\r\nHALF");
	shutdown(sv[1], SHUT_WR);
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_TOOLONG);
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_LINE);
	ck_assert_str_eq(line.s, "RSET\r\n");
	/* EOF in the middle of a line: the octets, without a line end */
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_LINE);
	ck_assert_str_eq(line.s, "HALF");
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_EOF);
	/* exactly at the limit is still a line */
	netio_fini(&io);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	netio_init(&io, sv[0], sv[0], 1000);
	say(sv[1], "ABCDEFG\r\nABCDEFGH\r\n");
	ck_assert_int_eq(netio_getline(&io, &line, 9), RBUF_LINE);
	ck_assert_str_eq(line.s, "ABCDEFG\r\n");
	ck_assert_int_eq(netio_getline(&io, &line, 9), RBUF_TOOLONG);
	netio_fini(&io);
	sbuf_free(&line);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(a_silent_client_times_out)
{
	struct netio io;
	struct sbuf line;
	struct timespec t0;
	int sv[2];
	char buf[64];
	pair(sv);
	sbuf_init(&line, 512);
	netio_init(&io, sv[0], sv[0], 200);
	netio_reply(&io, "220 hi");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_ERROR);
	ck_assert_int_eq(errno, ETIMEDOUT);
	long ms = elapsed_ms(&t0);
	ck_assert_msg(ms >= 180 && ms < 2000, "took %ld ms", ms);
	heard(sv[1], buf, sizeof buf, 1000); /* the greeting went first */
	ck_assert_str_eq(buf, "220 hi\r\n");
	/* a later timeout applies to the next read */
	netio_set_timeout(&io, 5000);
	netio_set_timeout(&io, 100);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char raw[8];
	ck_assert_int_eq(netio_read(&io, raw, sizeof raw), -1);
	ms = elapsed_ms(&t0);
	ck_assert_msg(ms >= 80 && ms < 1500, "took %ld ms", ms);
	netio_fini(&io);
	sbuf_free(&line);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(raw_reads_take_the_buffered_octets_first)
{
	struct netio io;
	struct sbuf line;
	int sv[2];
	char raw[64];
	pair(sv);
	sbuf_init(&line, 512);
	netio_init(&io, sv[0], sv[0], 1000);
	say(sv[1], "DATA\r\nbody\r\n.\r\n");
	shutdown(sv[1], SHUT_WR);
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_LINE);
	ssize_t n = netio_read(&io, raw, sizeof raw);
	ck_assert_int_eq(n, 9);
	ck_assert_int_eq(memcmp(raw, "body\r\n.\r\n", 9), 0);
	ck_assert_int_eq(netio_read(&io, raw, sizeof raw), 0);
	netio_fini(&io);
	sbuf_free(&line);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

struct drain {
	int fd;
	char *buf;
	size_t max, got;
};

static void *drain_all(void *arg)
{
	struct drain *d = arg;
	ssize_t n;
	while (d->got < d->max &&
	       (n = read(d->fd, d->buf + d->got, d->max - d->got)) > 0)
		d->got += (size_t)n;
	return NULL;
}

START_TEST(send_writes_the_replies_then_the_body)
{
	struct netio io;
	int sv[2];
	pthread_t t;
	size_t body_len = 300000; /* more than the reply buffer holds */
	char *body = malloc(body_len);
	struct drain d = { 0 };
	ck_assert_ptr_nonnull(body);
	for (size_t i = 0; i < body_len; i++)
		body[i] = (char)('a' + i % 26);
	pair(sv);
	d.fd = sv[1];
	d.max = body_len + 100;
	d.buf = malloc(d.max);
	ck_assert_ptr_nonnull(d.buf);
	netio_init(&io, sv[0], sv[0], 2000);
	netio_reply(&io, "+OK %zu octets", body_len);
	ck_assert_int_eq(pthread_create(&t, NULL, drain_all, &d), 0);
	ck_assert_int_eq(netio_send(&io, body, body_len), 0);
	ck_assert_uint_eq(io.out.len, 0);
	netio_reply(&io, ".");
	ck_assert_int_eq(netio_flush(&io), 0);
	shutdown(sv[0], SHUT_WR);
	pthread_join(t, NULL);
	ck_assert_uint_eq(d.got, 19 + body_len + 3);
	ck_assert_int_eq(memcmp(d.buf, "+OK 300000 octets\r\n", 19), 0);
	ck_assert_int_eq(memcmp(d.buf + 19, body, body_len), 0);
	ck_assert_int_eq(memcmp(d.buf + 19 + body_len, ".\r\n", 3), 0);
	netio_fini(&io);
	free(d.buf);
	free(body);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* POP3 replies carry plaintext: once written, nothing of them is left in
 * the buffer's memory. */
START_TEST(the_reply_buffer_is_wiped_after_each_flush)
{
	struct netio io;
	int sv[2];
	char buf[256];
	pair(sv);
	netio_init(&io, sv[0], sv[0], 1000);
	ck_assert_int_eq(io.out.secret, 1);
	netio_reply(&io, "+OK Dear Bob, the launch code is %s", "7-7-alpha");
	ck_assert_int_eq(netio_flush(&io), 0);
	heard(sv[1], buf, sizeof buf, 1000);
	ck_assert_ptr_nonnull(strstr(buf, "7-7-alpha"));
	ck_assert_ptr_nonnull(io.out.s);
	ck_assert_uint_gt(io.out.cap, 40);
	for (size_t i = 0; i < io.out.cap; i++)
		ck_assert_msg(io.out.s[i] == 0, "octet %zu is %d", i, io.out.s[i]);
	/* the same for a body sent through the buffer */
	ck_assert_int_eq(netio_send(&io, "secret body text\r\n", 18), 0);
	heard(sv[1], buf, sizeof buf, 1000);
	ck_assert_str_eq(buf, "secret body text\r\n");
	for (size_t i = 0; i < io.out.cap; i++)
		ck_assert_msg(io.out.s[i] == 0, "octet %zu is %d", i, io.out.s[i]);
	netio_fini(&io);
	ck_assert_ptr_null(io.out.s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A client that never reads its replies cannot make them grow without
 * limit: the connection is broken and nothing more goes out. */
START_TEST(too_many_queued_replies_break_the_connection)
{
	struct netio io;
	int sv[2];
	char line[1001];
	pair(sv);
	memset(line, 'r', 1000);
	line[1000] = '\0';
	netio_init(&io, sv[0], sv[0], 1000);
	/* 65 lines of 1006 octets fit in 64 KiB; a 66th does not */
	for (int i = 0; i < 65; i++)
		netio_reply(&io, "250 %s", line);
	ck_assert_int_eq(io.broken, 0);
	netio_reply(&io, "250 %s", line);
	ck_assert_int_eq(io.broken, 1);
	ck_assert_int_eq(netio_flush(&io), -1);
	ck_assert_int_eq(netio_send(&io, "x", 1), -1);
	nothing_heard(sv[1]);
	netio_fini(&io);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(a_closed_peer_fails_the_write_and_stays_broken)
{
	struct netio io;
	struct sbuf line;
	int sv[2];
	pair(sv);
	sbuf_init(&line, 512);
	netio_init(&io, sv[0], sv[0], 1000);
	close(sv[1]);
	netio_reply(&io, "250 ok");
	ck_assert_int_eq(netio_flush(&io), -1);
	ck_assert_int_eq(io.broken, 1);
	ck_assert_int_eq(netio_flush(&io), -1);
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_ERROR);
	ck_assert_int_eq(netio_send(&io, "body", 4), -1);
	netio_fini(&io);
	sbuf_free(&line);
	close(sv[0]);
}
END_TEST

/* A peer that reads nothing: the write must give up at the timeout. Run
 * in a child so that a hang is seen as a failure, not a stuck suite. */
static void send_to_a_deaf_peer(void *arg)
{
	struct netio io;
	int *sv = arg;
	size_t n = 8 << 20;
	char *body = calloc(1, n);
	netio_init(&io, sv[0], sv[0], 200);
	die_by_alarm(3);
	int r = netio_send(&io, body, n);
	fprintf(stderr, "r=%d errno=%d", r, errno);
	free(body);
	netio_fini(&io);
	_exit(r == -1 ? 0 : 1);
}

START_TEST(a_peer_that_stops_reading_times_the_write_out)
{
	int sv[2];
	char out[64];
	struct timespec t0;
	tcp_pair(sv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = run_capture(send_to_a_deaf_peer, sv, out, sizeof out);
	long ms = elapsed_ms(&t0);
	ck_assert_msg(rc == 0, "netio_send: exit %d (%s) after %ld ms "
	              "(142: killed by the 3 s alarm)", rc, out, ms);
	ck_assert_msg(ms < 3000, "took %ld ms", ms);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* --- TLS -------------------------------------------------------------------- */

static struct {
	char *dir;
	char certfile[4200];
	EVP_PKEY *ca_key, *key;
	X509 *ca, *cert;
} T;

static void tls_setup(void)
{
	struct sbuf pem, key;
	static const char *const names[] = { "127.0.0.1" };
	setup();
	memset(&T, 0, sizeof T);
	T.dir = make_tmpdir();
	T.ca_key = pki_keygen();
	T.key = pki_keygen();
	T.ca = pki_ca_create(T.ca_key, "netio test CA", 30);
	T.cert = pki_issue_server(T.ca_key, T.ca, T.key, names, 1, 30);
	ck_assert_ptr_nonnull(T.cert);
	sbuf_init(&pem, 65536);
	sbuf_init_secret(&key, 65536);
	/* each call replaces the buffer's contents: chain, then key */
	ck_assert_int_eq(pki_key_to_pem(T.key, &key), 0);
	ck_assert_int_eq(pki_cert_to_pem(T.cert, &pem), 0);
	ck_assert_int_eq(sbuf_put(&pem, key.s, key.len), 0);
	write_file(T.dir, "cert.pem", pem.s, pem.len);
	sbuf_free(&key);
	sbuf_free(&pem);
	snprintf(T.certfile, sizeof T.certfile, "%s/cert.pem", T.dir);
}

static void tls_teardown(void)
{
	X509_free(T.cert);
	X509_free(T.ca);
	EVP_PKEY_free(T.key);
	EVP_PKEY_free(T.ca_key);
	rm_rf(T.dir);
	free(T.dir);
}

START_TEST(a_certificate_file_that_does_not_load_is_refused)
{
	struct netio io;
	netio_init(&io, -1, -1, 1000);
	ck_assert_int_eq(netio_tls_load(&io, "/nonexistent/cert.pem"), -1);
	ck_assert_ptr_null(io.ctx);
	write_file(T.dir, "junk.pem", "-----BEGIN CERTIFICATE-----\nxx\n", 31);
	char junk[4200];
	snprintf(junk, sizeof junk, "%s/junk.pem", T.dir);
	ck_assert_int_eq(netio_tls_load(&io, junk), -1);
	ck_assert_ptr_null(io.ctx);
	ck_assert_int_eq(netio_tls_load(&io, T.certfile), 0);
	ck_assert_ptr_nonnull(io.ctx);
	netio_fini(&io);
	ck_assert_ptr_null(io.ctx);
}
END_TEST

/* The client's side, in a child: reads lines of plaintext up to one that
 * starts with "220", then the handshake; what follows depends on how. */
enum client_how { CLIENT_TALK, CLIENT_SILENT_AFTER_HANDSHAKE,
                  CLIENT_HALF_RECORD, CLIENT_NO_HELLO };

static void tls_client(int fd, enum client_how how)
{
	char buf[512] = "";
	size_t used = 0;
	die_by_alarm(20);
	while (!strstr(buf, "220 ")) {
		ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
		if (n <= 0)
			_exit(2);
		used += (size_t)n;
		buf[used] = '\0';
	}
	if (how == CLIENT_NO_HELLO) {
		pause(); /* holds the socket open, says nothing */
		_exit(0);
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		_exit(3);
	if (how == CLIENT_HALF_RECORD) {
		/* an application data record header promising 64 octets,
		 * and not one of them */
		static const unsigned char head[] = { 0x17, 0x03, 0x03, 0, 64 };
		if (write(fd, head, sizeof head) != (ssize_t)sizeof head)
			_exit(4);
		pause();
	}
	if (how == CLIENT_SILENT_AFTER_HANDSHAKE) {
		pause();
		_exit(0);
	}
	if (SSL_write(ssl, "REAL\r\n", 6) != 6)
		_exit(5);
	int n = SSL_read(ssl, buf, sizeof buf - 1);
	if (n <= 0)
		_exit(6);
	buf[n] = '\0';
	SSL_shutdown(ssl);
	_exit(strcmp(buf, "250 got REAL\r\n") == 0 ? 0 : 7);
}

static pid_t start_client(int sv[2], enum client_how how,
                          const char *first)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		if (write(sv[1], first, strlen(first)) < 0)
			_exit(1);
		tls_client(sv[1], how);
	}
	close(sv[1]);
	return pid;
}

static int client_status(pid_t pid)
{
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* CVE-2011-0411: what came pipelined after STARTTLS in plaintext must not
 * be read as if said inside TLS. */
START_TEST(starttls_drops_pipelined_plaintext_and_talks_tls)
{
	struct netio io;
	struct sbuf line;
	int sv[2];
	pair(sv);
	sbuf_init(&line, 512);
	netio_init(&io, sv[0], sv[0], 3000);
	ck_assert_int_eq(netio_tls_load(&io, T.certfile), 0);
	pid_t pid = start_client(sv, CLIENT_TALK,
	                         "STARTTLS\r\nINJECTED\r\n");
	/* both lines are in the buffer after the first read */
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_LINE);
	ck_assert_str_eq(line.s, "STARTTLS\r\n");
	ck_assert_int_eq(netio_buffered(&io), 1);
	netio_reply(&io, "220 go ahead");
	ck_assert_int_eq(netio_starttls(&io), 0);
	ck_assert_ptr_nonnull(io.ssl);
	ck_assert_msg(strncmp(io.cipher, "TLSv1.", 6) == 0, "%s", io.cipher);
	ck_assert_ptr_nonnull(strchr(io.cipher, ':'));
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_LINE);
	ck_assert_str_eq(line.s, "REAL\r\n");
	netio_reply(&io, "250 got %.4s", line.s);
	ck_assert_int_eq(netio_flush(&io), 0);
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_EOF);
	ck_assert_int_eq(client_status(pid), 0);
	netio_fini(&io);
	sbuf_free(&line);
	close(sv[0]);
}
END_TEST

START_TEST(a_silent_tls_client_times_out)
{
	struct netio io;
	struct sbuf line;
	struct timespec t0;
	int sv[2];
	pair(sv);
	sbuf_init(&line, 512);
	netio_init(&io, sv[0], sv[0], 3000);
	ck_assert_int_eq(netio_tls_load(&io, T.certfile), 0);
	pid_t pid = start_client(sv, CLIENT_SILENT_AFTER_HANDSHAKE,
	                         "STARTTLS\r\n");
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_LINE);
	netio_reply(&io, "220 go ahead");
	ck_assert_int_eq(netio_starttls(&io), 0);
	netio_set_timeout(&io, 200);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_ERROR);
	ck_assert_int_eq(errno, ETIMEDOUT);
	long ms = elapsed_ms(&t0);
	ck_assert_msg(ms >= 180 && ms < 2000, "took %ld ms", ms);
	kill(pid, SIGKILL);
	client_status(pid);
	netio_fini(&io);
	sbuf_free(&line);
	close(sv[0]);
}
END_TEST

START_TEST(a_handshake_that_fails_is_an_error)
{
	struct netio io;
	struct sbuf line;
	int sv[2];
	pair(sv);
	sbuf_init(&line, 512);
	netio_init(&io, sv[0], sv[0], 2000);
	ck_assert_int_eq(netio_tls_load(&io, T.certfile), 0);
	say(sv[1], "STARTTLS\r\n");
	ck_assert_int_eq(netio_getline(&io, &line, 512), RBUF_LINE);
	/* plaintext where the ClientHello should be, then EOF */
	say(sv[1], "HELO this is not TLS at all\r\n");
	shutdown(sv[1], SHUT_WR);
	ck_assert_int_eq(netio_starttls(&io), -1);
	netio_fini(&io);
	sbuf_free(&line);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* The server side of a TLS case that may hang: in a child under an
 * alarm, exit 0 when the call gave up in time. */
struct hang_case {
	int fd;
	int after_handshake;
};

static void tls_server_gives_up(void *arg)
{
	struct hang_case *h = arg;
	struct netio io;
	struct sbuf line;
	sbuf_init(&line, 512);
	netio_init(&io, h->fd, h->fd, 3000);
	die_by_alarm(6);
	if (netio_tls_load(&io, T.certfile) < 0 ||
	    netio_getline(&io, &line, 512) != RBUF_LINE)
		_exit(2);
	netio_reply(&io, "220 go ahead");
	netio_set_timeout(&io, 300);
	int r = netio_starttls(&io);
	/* says how far it came, for the failure message */
	fprintf(stderr, r == 0 ? "handshake done; " : "handshake failed; ");
	if (h->after_handshake) {
		if (r < 0)
			_exit(3);
		r = netio_getline(&io, &line, 512) == RBUF_ERROR ? -1 : 0;
	}
	fprintf(stderr, "gave up");
	_exit(r == -1 ? 0 : 1);
}

static void assert_server_gives_up(enum client_how how, int after)
{
	int sv[2];
	char out[64];
	struct timespec t0;
	pair(sv);
	struct hang_case h = { sv[0], after };
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (write(sv[1], "STARTTLS\r\n", 10) != 10)
			_exit(1);
		close(sv[0]);
		tls_client(sv[1], how);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = run_capture(tls_server_gives_up, &h, out, sizeof out);
	long ms = elapsed_ms(&t0);
	kill(pid, SIGKILL);
	client_status(pid);
	close(sv[0]);
	close(sv[1]);
	ck_assert_msg(rc == 0 && ms < 4000, "server: exit %d (%s) after %ld "
	              "ms (142: killed by the 6 s alarm)", rc, out, ms);
}

START_TEST(a_client_that_never_starts_the_handshake_times_out)
{
	assert_server_gives_up(CLIENT_NO_HELLO, 0);
}
END_TEST

START_TEST(a_client_that_sends_half_a_record_times_out)
{
	assert_server_gives_up(CLIENT_HALF_RECORD, 1);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("netio");
	TCase *tc = tcase_create("plain");
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, replies_are_held_until_flushed);
	tcase_add_test(tc, getline_flushes_only_when_it_must_wait);
	tcase_add_test(tc, long_lines_are_refused_and_a_last_line_ends_at_eof);
	tcase_add_test(tc, a_silent_client_times_out);
	tcase_add_test(tc, raw_reads_take_the_buffered_octets_first);
	tcase_add_test(tc, send_writes_the_replies_then_the_body);
	tcase_add_test(tc, the_reply_buffer_is_wiped_after_each_flush);
	tcase_add_test(tc, too_many_queued_replies_break_the_connection);
	tcase_add_test(tc, a_closed_peer_fails_the_write_and_stays_broken);
	/* each of these three held the process for ever while the
	 * descriptors blocked (a write after poll(2) said there was some
	 * room; SSL_accept and SSL_read in read(2)) */
	tcase_add_test(tc, a_peer_that_stops_reading_times_the_write_out);
	suite_add_tcase(s, tc);
	TCase *tls = tcase_create("tls");
	tcase_add_checked_fixture(tls, tls_setup, tls_teardown);
	tcase_set_timeout(tls, 60);
	tcase_add_test(tls, a_certificate_file_that_does_not_load_is_refused);
	tcase_add_test(tls, starttls_drops_pipelined_plaintext_and_talks_tls);
	tcase_add_test(tls, a_silent_tls_client_times_out);
	tcase_add_test(tls, a_handshake_that_fails_is_an_error);
	tcase_add_test(tls, a_client_that_never_starts_the_handshake_times_out);
	tcase_add_test(tls, a_client_that_sends_half_a_record_times_out);
	suite_add_tcase(s, tls);
	return s;
}
