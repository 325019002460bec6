/*
 * check_retr - edhd's retrieval protocol (sq-edh(5)) end to end on a
 * socket pair: the session is set up as session_start does it, without
 * the TLS handshake; the client's lines are written first, its end shut
 * for writing (or left open for the timeout), and a thread collects
 * everything the server answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "clientfile.h"
#include "mail/maildir.h"
#include "retr.h"
#include "session.h"
#include "testutil.h"

static struct {
	char *dir;
	struct edh_config cfg;
	uint32_t id, deliver_id;
	char secret[EDH_SECRET_LEN + 1], deliver_secret[EDH_SECRET_LEN + 1];
	char auth[300], auth_deliver[300];
	char box[MAILDIR_ID_SIZE];
	struct maildir_delivered msg[3];
	char *big;
} F;

/* "AUTH PLAIN <base64 of \0id\0secret>" */
static void auth_line(char *out, size_t n, uint32_t id, const char *secret)
{
	char raw[128];
	unsigned char b64[200];
	int len = snprintf(raw + 1, sizeof raw - 1, "%lu", (unsigned long)id);
	raw[0] = '\0';
	len += 2;
	raw[len - 1] = '\0';
	memcpy(raw + len, secret, strlen(secret));
	len += (int)strlen(secret);
	EVP_EncodeBlock(b64, (const unsigned char *)raw, len);
	snprintf(out, n, "AUTH PLAIN %s", b64);
}

static void add_client(struct sbuf *file, int role, uint32_t *id,
                       char *secret)
{
	struct edh_client c;
	ck_assert_int_eq(edh_client_new(&c, role, "check_retr", NULL, secret), 0);
	ck_assert_int_eq(edh_client_format(&c, file), 0);
	*id = c.id;
}

static void deliver(const char *text, unsigned long long plain,
                    struct maildir_delivered *out)
{
	struct maildir md;
	ck_assert_int_eq(maildir_open(&md, F.cfg.maildirs, F.box, 1), 0);
	ck_assert_int_eq(maildir_deliver(&md, "edhtest", text, strlen(text),
	                                 plain, out), 0);
	maildir_close(&md);
}

static void setup(void)
{
	char path[4200];
	struct sbuf clients;
	signal(SIGPIPE, SIG_IGN);
	memset(&F, 0, sizeof F);
	F.dir = make_tmpdir();
	snprintf(path, sizeof path, "%s/control", F.dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	sbuf_init(&clients, 4096);
	add_client(&clients, EDH_ROLE_RETRIEVE, &F.id, F.secret);
	add_client(&clients, EDH_ROLE_DELIVER, &F.deliver_id, F.deliver_secret);
	write_file(path, EDH_CLIENTS_FILE, clients.s, clients.len);
	sbuf_free(&clients);
	ck_assert_int_eq(control_open(&F.cfg.ctl, path), 0);
	snprintf(path, sizeof path, "%s/maildirs", F.dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	F.cfg.maildirs = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(F.cfg.maildirs, 0);
	snprintf(F.cfg.me, sizeof F.cfg.me, "edh.test");
	F.cfg.timeout = 5;
	auth_line(F.auth, sizeof F.auth, F.id, F.secret);
	auth_line(F.auth_deliver, sizeof F.auth_deliver, F.deliver_id,
	          F.deliver_secret);
	ck_assert_int_eq(maildir_id_format(F.box, 0x1a2b3c4d, 17), 0);
}

static void teardown(void)
{
	control_close(&F.cfg.ctl);
	close(F.cfg.maildirs);
	rm_rf(F.dir);
	free(F.dir);
	free(F.big);
}

struct collect {
	int fd;
	struct sbuf got;
};

static void *collect_all(void *arg)
{
	struct collect *c = arg;
	char buf[16384];
	ssize_t n;
	while ((n = read(c->fd, buf, sizeof buf)) > 0)
		if (sbuf_put(&c->got, buf, (size_t)n) < 0)
			break;
	return NULL;
}

/* Runs a session on script (the client's octets, len of them); with
 * keep_open the client's end stays open (for the timeout). Returns all
 * the server said, in a buffer the caller frees. */
static char *session_len(const char *script, size_t len, int keep_open,
                         int timeout_ms, size_t *outlen)
{
	struct edh_session s;
	struct collect c;
	pthread_t t;
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	                 0);
	ck_assert_int_eq(write(sv[1], script, len), (ssize_t)len);
	if (!keep_open)
		shutdown(sv[1], SHUT_WR);
	c.fd = sv[1];
	sbuf_init(&c.got, 8 << 20);
	ck_assert_int_eq(pthread_create(&t, NULL, collect_all, &c), 0);
	/* what session_start does, less the handshake */
	memset(&s, 0, sizeof s);
	s.cfg = &F.cfg;
	s.role = EDH_ROLE_RETRIEVE;
	snprintf(s.ip, sizeof s.ip, "127.0.0.1");
	sbuf_init_secret(&s.line, EDH_LINE_MAX + 2);
	netio_init(&s.io, sv[0], sv[0], timeout_ms);
	retr_run(&s);
	session_end(&s);
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);
	*outlen = c.got.len;
	if (!c.got.s)
		sbuf_puts(&c.got, "");
	return c.got.s;
}

static char *session(const char *script)
{
	size_t n;
	return session_len(script, strlen(script), 0, 5000, &n);
}

#define GREETING "220 edh.test edhd retrieval\r\n"

static void assert_dialogue(const char *script, const char *want)
{
	char *got = session(script);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(nothing_but_noop_and_quit_before_auth)
{
	assert_dialogue("NOOP\r\nMAILBOX 1a2b3c4d-17\r\nLIST\r\nFETCH a\r\n"
	                "DELETE a\r\nRETR 1\r\nquit\r\nNOOP\r\n",
	                GREETING
	                "250 2.0.0 ok\r\n"
	                "530 5.7.0 authentication required\r\n"
	                "530 5.7.0 authentication required\r\n"
	                "530 5.7.0 authentication required\r\n"
	                "530 5.7.0 authentication required\r\n"
	                "500 5.5.1 unrecognized command\r\n"
	                "221 2.0.0 closing\r\n");
}
END_TEST

START_TEST(list_fetch_and_delete_a_mailbox)
{
	char script[4096], want[4096], uid0[MAILDIR_UID_MAX + 1],
	     uid1[MAILDIR_UID_MAX + 1];
	deliver("sealed one\r\n", 5, &F.msg[0]);
	sleep(1); /* oldest first goes by the name's time */
	deliver("sealed message two\r\n", 9, &F.msg[1]);
	snprintf(uid0, sizeof uid0, "%.*s", (int)F.msg[0].uidlen, F.msg[0].name);
	snprintf(uid1, sizeof uid1, "%.*s", (int)F.msg[1].uidlen, F.msg[1].name);
	snprintf(script, sizeof script, "%s\r\nMAILBOX %s\r\nLIST\r\n"
	         "FETCH %s\r\nDELETE %s\r\nLIST\r\nFETCH %s\r\nDELETE %s\r\n"
	         "NOOP\r\nQUIT\r\n", F.auth, F.box, uid1, uid0, uid0, uid0);
	snprintf(want, sizeof want, GREETING
	         "235 2.7.0 authenticated\r\n"
	         "250 2.0.0 %s selected\r\n"
	         "250-%s 12 5\r\n"
	         "250-%s 20 9\r\n"
	         "250 2.0.0 2 messages\r\n"
	         "250 2.0.0 20\r\nsealed message two\r\n"
	         "250 2.0.0 deleted\r\n"
	         "250-%s 20 9\r\n"
	         "250 2.0.0 1 messages\r\n"
	         "550 5.1.1 no such message\r\n"
	         "550 5.1.1 no such message\r\n"
	         "250 2.0.0 ok\r\n"
	         "221 2.0.0 closing\r\n", F.box, uid0, uid1, uid1);
	assert_dialogue(script, want);
	/* the deleted file is gone from the disk, the other is there */
	struct maildir md;
	struct maildir_list l;
	ck_assert_int_eq(maildir_open(&md, F.cfg.maildirs, F.box, 0), 0);
	ck_assert_int_eq(maildir_list(&md, 10, &l), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.msgs[0].name, F.msg[1].name);
	maildir_list_free(&l);
	maildir_close(&md);
}
END_TEST

/* FETCH gives exactly the stored octets, however many: no dot-stuffing,
 * no terminator, more than one chunk. */
START_TEST(fetch_sends_a_large_message_exactly)
{
	size_t n = 200000, outlen;
	char script[4096], head[64], uid[MAILDIR_UID_MAX + 1];
	F.big = malloc(n + 1);
	ck_assert_ptr_nonnull(F.big);
	for (size_t i = 0; i < n; i++)
		F.big[i] = i % 80 == 79 ? '\n' : (i % 80 == 0 ? '.' : 'm');
	F.big[n] = '\0';
	deliver(F.big, 1234, &F.msg[0]);
	snprintf(uid, sizeof uid, "%.*s", (int)F.msg[0].uidlen, F.msg[0].name);
	snprintf(script, sizeof script, "%s\r\nMAILBOX %s\r\nFETCH %s\r\n"
	         "QUIT\r\n", F.auth, F.box, uid);
	char *got = session_len(script, strlen(script), 0, 5000, &outlen);
	int hl = snprintf(head, sizeof head, "250 2.0.0 %zu\r\n", n);
	char *at = strstr(got, head);
	ck_assert_ptr_nonnull(at);
	at += hl;
	ck_assert_uint_ge(outlen - (size_t)(at - got), n);
	ck_assert_int_eq(memcmp(at, F.big, n), 0);
	ck_assert_str_eq(at + n, "221 2.0.0 closing\r\n");
	free(got);
}
END_TEST

/* A listing longer than the 64 KiB of replies netio holds goes out as it
 * is made, whole and in order. */
START_TEST(a_long_listing_is_sent_whole)
{
	enum { N = 2500 };
	char dir[4300], name[64], script[1024];
	struct sbuf want;
	struct maildir md;
	size_t outlen;
	ck_assert_int_eq(maildir_open(&md, F.cfg.maildirs, F.box, 1), 0);
	maildir_close(&md);
	snprintf(dir, sizeof dir, "%s/maildirs/%s/new", F.dir, F.box);
	sbuf_init(&want, 1 << 20);
	sbuf_printf(&want, GREETING "235 2.7.0 authenticated\r\n"
	            "250 2.0.0 %s selected\r\n", F.box);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "%d.M1P1V1I%x.edhtest,S=%d,W=%d",
		         1700000000 + i, i, 3000 + i, 1000 + i);
		write_file(dir, name, "x", 1);
		sbuf_printf(&want, "250-%d.M1P1V1I%x.edhtest %d %d\r\n",
		            1700000000 + i, i, 3000 + i, 1000 + i);
	}
	sbuf_printf(&want, "250 2.0.0 %d messages\r\n221 2.0.0 closing\r\n",
	            N);
	ck_assert_uint_gt(want.len, 65536);
	snprintf(script, sizeof script, "%s\r\nMAILBOX %s\r\nLIST\r\nQUIT\r\n",
	         F.auth, F.box);
	char *got = session_len(script, strlen(script), 0, 5000, &outlen);
	ck_assert_uint_eq(outlen, want.len);
	ck_assert_int_eq(memcmp(got, want.s, want.len), 0);
	free(got);
	sbuf_free(&want);
}
END_TEST

START_TEST(a_mailbox_never_delivered_to_is_empty)
{
	char script[4096], want[4096];
	snprintf(script, sizeof script, "%s\r\nMAILBOX 0000abcd-5\r\nLIST\r\n"
	         "FETCH 1700000000.M1P2V3I4.edhtest\r\n"
	         "DELETE 1700000000.M1P2V3I4.edhtest\r\nQUIT\r\n", F.auth);
	snprintf(want, sizeof want, GREETING
	         "235 2.7.0 authenticated\r\n"
	         "250 2.0.0 0000abcd-5 selected\r\n"
	         "250 2.0.0 0 messages\r\n"
	         "550 5.1.1 no such message\r\n"
	         "550 5.1.1 no such message\r\n"
	         "221 2.0.0 closing\r\n");
	assert_dialogue(script, want);
	/* selecting created nothing */
	ck_assert_int_eq(faccessat(F.cfg.maildirs, "0000abcd-5", F_OK, 0), -1);
}
END_TEST

START_TEST(bad_commands_and_arguments_are_refused)
{
	char script[4096], want[4096];
	deliver("x\r\n", 1, &F.msg[0]);
	snprintf(script, sizeof script, "%s\r\n"
	         "LIST\r\nFETCH a\r\nDELETE a\r\n"           /* nothing selected */
	         "MAILBOX 1A2B3C4D-17\r\nMAILBOX 1a2b3c4d-0\r\n"
	         "MAILBOX ../1a2b3c4d-17\r\nMAILBOX\r\n"
	         "MAILBOX %s\r\n"
	         "LIST all\r\nFETCH\r\nFETCH ../../x\r\nFETCH .hidden\r\n"
	         "DELETE a/b\r\nFETCH a,S=1\r\nXYZZY\r\nMAILBOXES x\r\n"
	         "QUIT\r\n", F.auth, F.box);
	snprintf(want, sizeof want, GREETING
	         "235 2.7.0 authenticated\r\n"
	         "503 5.5.1 MAILBOX first\r\n"
	         "503 5.5.1 MAILBOX first\r\n"
	         "503 5.5.1 MAILBOX first\r\n"
	         "501 5.1.3 not a mailbox id\r\n"
	         "501 5.1.3 not a mailbox id\r\n"
	         "501 5.1.3 not a mailbox id\r\n"
	         "501 5.1.3 not a mailbox id\r\n"
	         "250 2.0.0 %s selected\r\n"
	         "501 5.5.4 LIST takes no argument\r\n"
	         "501 5.5.4 not a message id\r\n"
	         "501 5.5.4 not a message id\r\n"
	         "501 5.5.4 not a message id\r\n"
	         "501 5.5.4 not a message id\r\n"
	         "501 5.5.4 not a message id\r\n"
	         "500 5.5.1 unrecognized command\r\n"
	         "500 5.5.1 unrecognized command\r\n"
	         "221 2.0.0 closing\r\n", F.box);
	assert_dialogue(script, want);
}
END_TEST

/* A bad id after a good MAILBOX leaves the selection as it was. */
START_TEST(a_refused_mailbox_keeps_the_selection)
{
	char script[4096], want[1024];
	deliver("x\r\n", 1, &F.msg[0]);
	snprintf(script, sizeof script, "%s\r\nMAILBOX %s\r\nMAILBOX bad\r\n"
	         "LIST\r\nQUIT\r\n", F.auth, F.box);
	snprintf(want, sizeof want, GREETING
	         "235 2.7.0 authenticated\r\n"
	         "250 2.0.0 %s selected\r\n"
	         "501 5.1.3 not a mailbox id\r\n"
	         "250-%.*s 3 1\r\n"
	         "250 2.0.0 1 messages\r\n"
	         "221 2.0.0 closing\r\n", F.box, (int)F.msg[0].uidlen,
	         F.msg[0].name);
	assert_dialogue(script, want);
}
END_TEST

START_TEST(lines_must_end_in_crlf_and_be_short)
{
	char script[1200];
	memset(script, 'A', 600);
	memcpy(script + 600, "\r\nNOOP\nNO\0OP\r\nNOOP\r\nNOOP", 25);
	size_t outlen;
	char *got = session_len(script, 624, 0, 5000, &outlen);
	ck_assert_str_eq(got, GREETING
	                 "500 5.5.2 line too long\r\n"
	                 "500 5.5.2 command lines end in CRLF\r\n"
	                 "500 5.5.2 NUL in the command line\r\n"
	                 "250 2.0.0 ok\r\n"
	                 /* EOF in the middle of a line */
	                 "500 5.5.2 command lines end in CRLF\r\n");
	free(got);
}
END_TEST

START_TEST(three_failed_auths_close_the_session)
{
	char script[4096], bad[200];
	auth_line(bad, sizeof bad, F.id, "not-the-secret");
	snprintf(script, sizeof script, "%s\r\nAUTH LOGIN\r\nAUTH PLAIN\r\n"
	         "AUTH PLAIN !!!\r\n%s\r\n%s\r\nNOOP\r\n", bad, F.auth_deliver,
	         bad);
	assert_dialogue(script, GREETING
	                "535 5.7.8 authentication failed\r\n"
	                "504 5.5.4 only AUTH PLAIN is offered\r\n"
	                "501 5.5.2 AUTH PLAIN wants its initial response\r\n"
	                "501 5.5.2 malformed AUTH PLAIN message\r\n"
	                /* a deliver client may not use the retrieval port */
	                "535 5.7.8 authentication failed\r\n"
	                "535 5.7.8 authentication failed\r\n"
	                "421 4.7.0 too many failures; closing\r\n");
}
END_TEST

START_TEST(auth_twice_is_refused)
{
	char script[4096];
	snprintf(script, sizeof script, "%s\r\n%s\r\nQUIT\r\n", F.auth, F.auth);
	assert_dialogue(script, GREETING
	                "235 2.7.0 authenticated\r\n"
	                "503 5.5.1 already authenticated\r\n"
	                "221 2.0.0 closing\r\n");
}
END_TEST

START_TEST(a_silent_client_gets_421_at_the_timeout)
{
	size_t outlen;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char *got = session_len("NOOP\r\n", 6, 1, 300, &outlen);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	          (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_str_eq(got, GREETING "250 2.0.0 ok\r\n"
	                 "421 4.4.2 timeout; closing\r\n");
	ck_assert_msg(ms >= 280 && ms < 3000, "took %ld ms", ms);
	free(got);
}
END_TEST

/* Selecting sweeps tmp/ of what crashed deliveries left 36 hours ago,
 * and nothing younger. */
START_TEST(selecting_removes_stale_tmp_files_only)
{
	char dir[4300], script[4096], want[4096];
	deliver("x\r\n", 1, &F.msg[0]);
	snprintf(dir, sizeof dir, "%s/maildirs/%s/tmp", F.dir, F.box);
	write_file(dir, "old", "o", 1);
	write_file(dir, "young", "y", 1);
	struct timespec old[2] = { { time(NULL) - MAILDIR_TMP_STALE - 60, 0 },
	                           { time(NULL) - MAILDIR_TMP_STALE - 60, 0 } };
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(utimensat(dfd, "old", old, 0), 0);
	snprintf(script, sizeof script, "%s\r\nMAILBOX %s\r\nQUIT\r\n", F.auth,
	         F.box);
	snprintf(want, sizeof want, GREETING "235 2.7.0 authenticated\r\n"
	         "250 2.0.0 %s selected\r\n221 2.0.0 closing\r\n", F.box);
	assert_dialogue(script, want);
	ck_assert_int_eq(faccessat(dfd, "old", F_OK, 0), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(faccessat(dfd, "young", F_OK, 0), 0);
	close(dfd);
}
END_TEST

/* A mailbox that cannot be opened (not a maildir) is a temporary
 * failure, not "empty". */
START_TEST(an_unusable_mailbox_is_a_temporary_failure)
{
	char script[4096], want[4096];
	char dir[4300];
	snprintf(dir, sizeof dir, "%s/maildirs", F.dir);
	write_file(dir, F.box, "not a directory", 15);
	snprintf(script, sizeof script, "%s\r\nMAILBOX %s\r\nLIST\r\nQUIT\r\n",
	         F.auth, F.box);
	snprintf(want, sizeof want, GREETING "235 2.7.0 authenticated\r\n"
	         "451 4.3.0 mailbox unavailable\r\n"
	         "503 5.5.1 MAILBOX first\r\n"
	         "221 2.0.0 closing\r\n");
	assert_dialogue(script, want);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("retr");
	TCase *tc = tcase_create("retrieval");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, nothing_but_noop_and_quit_before_auth);
	tcase_add_test(tc, list_fetch_and_delete_a_mailbox);
	tcase_add_test(tc, fetch_sends_a_large_message_exactly);
	tcase_add_test(tc, a_long_listing_is_sent_whole);
	tcase_add_test(tc, a_mailbox_never_delivered_to_is_empty);
	tcase_add_test(tc, bad_commands_and_arguments_are_refused);
	tcase_add_test(tc, a_refused_mailbox_keeps_the_selection);
	tcase_add_test(tc, lines_must_end_in_crlf_and_be_short);
	tcase_add_test(tc, three_failed_auths_close_the_session);
	tcase_add_test(tc, auth_twice_is_refused);
	tcase_add_test(tc, a_silent_client_gets_421_at_the_timeout);
	tcase_add_test(tc, selecting_removes_stale_tmp_files_only);
	tcase_add_test(tc, an_unusable_mailbox_is_a_temporary_failure);
	suite_add_tcase(s, tc);
	return s;
}
