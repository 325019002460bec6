/* check_fdpass - requests with descriptors over UNIX sockets. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/unixsock.h"
#include "queue/fdpass.h"
#include "testutil.h"

START_TEST(descriptors_arrive_and_work)
{
	int sv[2], a[2], b[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(a), 0);
	ck_assert_int_eq(pipe(b), 0);
	ck_assert_int_eq(write(a[1], "message", 7), 7);
	ck_assert_int_eq(write(b[1], "envelope", 8), 8);
	int send[2] = { a[0], b[0] };
	ck_assert_int_eq(fdpass_send(sv[0], "QUEUE\n", 6, send, 2), 0);
	char buf[64];
	int got[FDPASS_MAX];
	size_t n;
	ck_assert_int_eq(fdpass_recv(sv[1], buf, sizeof buf, got, &n), 6);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(fcntl(got[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(read(got[0], buf, sizeof buf), 7);
	ck_assert_int_eq(memcmp(buf, "message", 7), 0);
	ck_assert_int_eq(read(got[1], buf, sizeof buf), 8);
	for (int i = 0; i < 2; i++) {
		close(got[i]);
		close(sv[i]);
		close(a[i]);
		close(b[i]);
	}
}
END_TEST

START_TEST(plain_requests_carry_no_descriptors)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(fdpass_send(sv[0], "CHECK a@b\n", 10, NULL, 0), 0);
	char buf[64];
	int got[FDPASS_MAX];
	size_t n = 9;
	ck_assert_int_eq(fdpass_recv(sv[1], buf, sizeof buf, got, &n), 10);
	ck_assert_uint_eq(n, 0);
	close(sv[0]);
	ck_assert_int_eq(fdpass_recv(sv[1], buf, sizeof buf, got, &n), 0);
	close(sv[1]);
	ck_assert_int_eq(fdpass_send(sv[1], "", 0, NULL, 0), -1);
}
END_TEST

/* A sealer in a child: answers the first busy connections with
 * SEALER_BUSY before reading them (as a worker that refuses does), then
 * says "0 ok", or nothing at all when silent. */
static pid_t fake_sealer(int l, int busy, int silent)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	for (int i = 0;; i++) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			_exit(1);
		if (silent) {
			pause();
			_exit(0);
		}
		const char *a = i < busy ? SEALER_BUSY ": share\n" : "0 ok\n";
		if (write(c, a, strlen(a)) < 0)
			_exit(1);
		close(c);
		if (i >= busy)
			_exit(0);
	}
}

START_TEST(a_busy_sealer_is_asked_again_a_silent_one_times_out)
{
	char *dir = make_tmpdir(), path[4200], answer[64];
	snprintf(path, sizeof path, "%s/sock", dir);
	int l = unixsock_listen(path, SOCK_STREAM, 0600, 128);
	ck_assert_int_ge(l, 0);
	pid_t pid = fake_sealer(l, 3, 0);
	ck_assert_int_eq(fdpass_ask(path, "CHECK a@b\n", 10, NULL, 0, 5, answer,
	                            sizeof answer), 5);
	ck_assert_str_eq(answer, "0 ok\n");
	waitpid(pid, NULL, 0);
	pid = fake_sealer(l, 0, 1);
	time_t t0 = time(NULL);
	errno = 0;
	ck_assert_int_eq(fdpass_ask(path, "CHECK a@b\n", 10, NULL, 0, 1, answer,
	                            sizeof answer), -1);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	ck_assert_int_le(time(NULL) - t0, 3);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(l);
	rm_rf(dir);
	free(dir);
}
END_TEST

/* Reads fd to end of file; the octets read, each checked against the
 * pattern big() makes (-1 on a mismatch). */
static long drain(int fd, int check)
{
	char buf[65536];
	long total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; check && i < n; i++)
			if (buf[i] != (char)('a' + (total + i) % 26))
				return -1;
		total += n;
	}
	return n < 0 ? -1 : total;
}

/* A sealer for fdpass_ask_feed in a child: the first busy connections
 * are answered SEALER_BUSY unread; then the request's two pipes are read
 * to end of file, in order, and the answer gives what arrived ("0 M E",
 * the octets of each). With early, it reads a little, answers "33 too
 * big" and closes, as a sealer refusing an oversized message does. */
static pid_t feed_sealer(int l, int busy, int early)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	for (int i = 0;; i++) {
		char req[64], a[64];
		int fds[FDPASS_MAX];
		size_t nfds;
		int c = accept(l, NULL, NULL);
		if (c < 0)
			_exit(1);
		if (i < busy) {
			if (write(c, SEALER_BUSY "\n", sizeof SEALER_BUSY) < 0)
				_exit(1);
			close(c);
			continue;
		}
		if (fdpass_recv(c, req, sizeof req, fds, &nfds) != 6 || nfds != 2)
			_exit(2);
		if (early) {
			if (read(fds[0], req, 10) != 10)
				_exit(3);
			snprintf(a, sizeof a, "33 too big\n");
		} else {
			long m = drain(fds[0], 1);
			long e = drain(fds[1], 0);
			snprintf(a, sizeof a, "0 %ld %ld\n", m, e);
		}
		if (write(c, a, strlen(a)) < 0)
			_exit(1);
		_exit(0);
	}
}

/* n octets of the pattern drain() checks, so a lost or reordered piece
 * shows. */
static char *big(size_t n)
{
	char *p = malloc(n);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + i % 26);
	return p;
}

START_TEST(fed_inputs_arrive_whole_and_in_order_after_busy_answers)
{
	char *dir = make_tmpdir(), path[4200], answer[64];
	snprintf(path, sizeof path, "%s/sock", dir);
	signal(SIGPIPE, SIG_IGN); /* as sq-smtpd */
	int l = unixsock_listen(path, SOCK_STREAM, 0600, 128);
	ck_assert_int_ge(l, 0);
	/* larger than any pipe: the writes must wait for the reader */
	size_t len = 3 * 1024 * 1024 + 7;
	char *msg = big(len);
	struct fdpass_feed in[2] = { { msg, len }, { "Fa@b\0Tc@d\0\0", 12 } };
	pid_t pid = feed_sealer(l, 2, 0);
	ck_assert_int_gt(fdpass_ask_feed(path, "QUEUE\n", 6, in, 2, 10, answer,
	                                 sizeof answer), 0);
	ck_assert_str_eq(answer, "0 3145735 12\n");
	int status;
	waitpid(pid, &status, 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	free(msg);
	close(l);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(an_early_answer_ends_the_feed_a_reader_that_stalls_times_out)
{
	char *dir = make_tmpdir(), path[4200], answer[64];
	snprintf(path, sizeof path, "%s/sock", dir);
	signal(SIGPIPE, SIG_IGN);
	int l = unixsock_listen(path, SOCK_STREAM, 0600, 128);
	ck_assert_int_ge(l, 0);
	size_t len = 4 * 1024 * 1024;
	char *msg = big(len);
	struct fdpass_feed in[2] = { { msg, len }, { "Fa@b\0\0", 6 } };
	pid_t pid = feed_sealer(l, 0, 1);
	ck_assert_int_gt(fdpass_ask_feed(path, "QUEUE\n", 6, in, 2, 10, answer,
	                                 sizeof answer), 0);
	ck_assert_str_eq(answer, "33 too big\n");
	waitpid(pid, NULL, 0);
	pid = fake_sealer(l, 0, 1); /* takes the request, reads nothing */
	time_t t0 = time(NULL);
	errno = 0;
	ck_assert_int_eq(fdpass_ask_feed(path, "QUEUE\n", 6, in, 2, 1, answer,
	                                 sizeof answer), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_le(time(NULL) - t0, 3);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(msg);
	close(l);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(answers_begin_with_an_exit_code)
{
	ck_assert_int_eq(fdpass_answer_code("0 ok\n"), 0);
	ck_assert_int_eq(fdpass_answer_code("71 busy"), 71);
	ck_assert_int_eq(fdpass_answer_code("ok"), -1);
	ck_assert_int_eq(fdpass_answer_code("256 no"), -1);
	ck_assert_int_eq(fdpass_answer_code("-1 no"), -1);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("fdpass");
	TCase *tc = tcase_create("fdpass");
	tcase_add_test(tc, descriptors_arrive_and_work);
	tcase_add_test(tc, plain_requests_carry_no_descriptors);
	tcase_add_test(tc, a_busy_sealer_is_asked_again_a_silent_one_times_out);
	tcase_add_test(tc, fed_inputs_arrive_whole_and_in_order_after_busy_answers);
	tcase_add_test(tc, an_early_answer_ends_the_feed_a_reader_that_stalls_times_out);
	tcase_add_test(tc, answers_begin_with_an_exit_code);
	suite_add_tcase(s, tc);
	return s;
}
