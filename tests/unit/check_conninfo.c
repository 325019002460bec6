/*
 * check_conninfo - pksd's record of a TLS connection, kept in the SSL
 * object's ex_data: freed with the SSL object, and then logged only for
 * an admitted connection that carried no complete request and lived at
 * least the timeout (evhttp cut it off). Requests are counted through the
 * connection's bufferevent as api.c does.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "conninfo.h"
#include "util/log.h"
#include "testutil.h"

static struct {
	SSL_CTX *ctx;
	struct event_base *base;
	char *dir;
	int saved_stderr;
	char logpath[4200];
} F;

static void setup(void)
{
	memset(&F, 0, sizeof F);
	log_init("pksd");
	ck_assert_int_eq(conninfo_init(), 0);
	F.ctx = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(F.ctx);
	F.base = event_base_new();
	ck_assert_ptr_nonnull(F.base);
	F.dir = make_tmpdir();
	snprintf(F.logpath, sizeof F.logpath, "%s/log", F.dir);
	F.saved_stderr = -1;
}

static void teardown(void)
{
	if (F.saved_stderr >= 0) {
		dup2(F.saved_stderr, 2);
		close(F.saved_stderr);
	}
	event_base_free(F.base);
	SSL_CTX_free(F.ctx);
	rm_rf(F.dir);
	free(F.dir);
}

/* From here on, the log goes to a file the test reads. */
static void capture_log(void)
{
	int fd = open(F.logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	F.saved_stderr = dup(2);
	ck_assert_int_ge(F.saved_stderr, 0);
	ck_assert_int_ge(dup2(fd, 2), 0);
	close(fd);
}

static const char *logged(void)
{
	static char buf[4096];
	int fd = open(F.logpath, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

/* libevent finishes freeing a bufferevent (and its SSL) in the loop. */
static void free_bev(struct bufferevent *bev)
{
	bufferevent_free(bev);
	event_base_loop(F.base, EVLOOP_NONBLOCK);
}

static SSL *connection(unsigned long timeout)
{
	SSL *ssl = SSL_new(F.ctx);
	ck_assert_ptr_nonnull(ssl);
	ck_assert_int_eq(conninfo_attach(ssl, timeout), 0);
	return ssl;
}

START_TEST(an_idle_connection_is_logged_when_freed)
{
	capture_log();
	SSL *ssl = connection(0);
	conninfo_set_peer(ssl, "192.0.2.7");
	ck_assert_str_eq(logged(), "");         /* nothing before the end */
	SSL_free(ssl);
	ck_assert_ptr_nonnull(strstr(logged(), "pksd["));
	ck_assert_msg(strstr(logged(), "]: warning: 192.0.2.7: no complete "
	                     "request within 0 s; connection closed\n") != NULL,
	              "log: %s", logged());
}
END_TEST

/* Only a connection that lasted the whole timeout was cut off by it. */
START_TEST(the_timeout_must_have_passed)
{
	capture_log();
	SSL *young = connection(3600);
	conninfo_set_peer(young, "192.0.2.8");
	SSL_free(young);
	ck_assert_str_eq(logged(), "");
	SSL *old = connection(1);
	conninfo_set_peer(old, "2001:db8::1");
	sleep(1);
	SSL_free(old);
	ck_assert_ptr_nonnull(strstr(logged(), "2001:db8::1: no complete "
	                             "request within 1 s"));
}
END_TEST

/* A refused connection (no peer recorded) was logged when refused. */
START_TEST(a_connection_without_a_peer_is_not_logged)
{
	capture_log();
	SSL_free(connection(0));
	/* an SSL object never given a record frees quietly too */
	SSL *bare = SSL_new(F.ctx);
	conninfo_set_peer(bare, "192.0.2.9"); /* no record: nothing to set */
	SSL_free(bare);
	ck_assert_str_eq(logged(), "");
}
END_TEST

/* api.c counts each complete request through the bufferevent. */
START_TEST(a_connection_that_carried_a_request_is_not_logged)
{
	int sv[2];
	capture_log();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	SSL *ssl = connection(0);
	conninfo_set_peer(ssl, "192.0.2.10");
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		F.base, sv[0], ssl, BUFFEREVENT_SSL_ACCEPTING,
		BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(bev);
	conninfo_count(bev);
	free_bev(bev); /* frees ssl, closes sv[0] */
	close(sv[1]);
	ck_assert_str_eq(logged(), "");
	/* the same connection without the count is logged */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ssl = connection(0);
	conninfo_set_peer(ssl, "192.0.2.11");
	bev = bufferevent_openssl_socket_new(F.base, sv[0], ssl,
	                                     BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(bev);
	free_bev(bev);
	close(sv[1]);
	ck_assert_ptr_nonnull(strstr(logged(), "192.0.2.11: no complete"));
	ck_assert_ptr_null(strstr(logged(), "192.0.2.10"));
}
END_TEST

START_TEST(counting_without_a_record_or_a_bufferevent_is_harmless)
{
	int sv[2];
	capture_log();
	conninfo_count(NULL);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	SSL *ssl = SSL_new(F.ctx);
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		F.base, sv[0], ssl, BUFFEREVENT_SSL_ACCEPTING,
		BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(bev);
	conninfo_count(bev);
	free_bev(bev);
	close(sv[1]);
	ck_assert_str_eq(logged(), "");
}
END_TEST

/* The peer is bounded to an address's length and made printable by the
 * log: whatever pksd passes cannot overflow or forge a record. */
START_TEST(the_peer_is_bounded_and_escaped)
{
	capture_log();
	SSL *ssl = connection(0);
	char peer[200];
	memset(peer, 'p', sizeof peer - 1);
	peer[sizeof peer - 1] = '\0';
	peer[3] = '\n';
	conninfo_set_peer(ssl, peer);
	SSL_free(ssl);
	const char *log = logged();
	/* INET6_ADDRSTRLEN - 1 = 45 octets kept, the LF escaped */
	ck_assert_msg(strstr(log, "ppp\\x0app") != NULL, "log: %s", log);
	char want[64];
	/* "ppp", the LF, then 41 of the rest */
	memset(want, 'p', 41);
	memcpy(want + 41, ": no", 5);
	ck_assert_msg(strstr(log, want) != NULL, "log: %s", log);
	memset(want, 'p', 42);
	memcpy(want + 42, ": no", 5);
	ck_assert_ptr_null(strstr(log, want));
	ck_assert_int_eq(strchr(log, '\n') - log + 1, (long)strlen(log));
}
END_TEST

/* The peer can be recorded again (refused after admission, say): the
 * last one is what is logged. */
START_TEST(the_last_peer_recorded_is_logged)
{
	capture_log();
	SSL *ssl = connection(0);
	conninfo_set_peer(ssl, "198.51.100.1");
	conninfo_set_peer(ssl, "198.51.100.2");
	SSL_free(ssl);
	ck_assert_ptr_null(strstr(logged(), "198.51.100.1"));
	ck_assert_ptr_nonnull(strstr(logged(), "198.51.100.2: no complete"));
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("conninfo");
	TCase *tc = tcase_create("conninfo");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, an_idle_connection_is_logged_when_freed);
	tcase_add_test(tc, the_timeout_must_have_passed);
	tcase_add_test(tc, a_connection_without_a_peer_is_not_logged);
	tcase_add_test(tc, a_connection_that_carried_a_request_is_not_logged);
	tcase_add_test(tc, counting_without_a_record_or_a_bufferevent_is_harmless);
	tcase_add_test(tc, the_peer_is_bounded_and_escaped);
	tcase_add_test(tc, the_last_peer_recorded_is_logged);
	suite_add_tcase(s, tc);
	return s;
}
