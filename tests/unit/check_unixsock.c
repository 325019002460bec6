/* check_unixsock - local sockets named by a path: listen and connect, a
 * stale socket replaced, a path too long refused, a private socket's
 * directory and mode, and a bounded wait on a dialled one. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/unixsock.h"
#include "testutil.h"

START_TEST(listen_and_connect)
{
	char *dir = make_tmpdir(), path[4200];
	snprintf(path, sizeof path, "%s/sock", dir);
	int l = unixsock_listen(path, SOCK_STREAM, 0600, 8);
	ck_assert_int_ge(l, 0);
	int c = unixsock_connect(path, SOCK_STREAM);
	ck_assert_int_ge(c, 0);
	int s = accept(l, NULL, NULL);
	ck_assert_int_ge(s, 0);
	close(s);
	close(c);
	close(l);
	/* a stale socket from a previous run is replaced */
	l = unixsock_listen(path, SOCK_STREAM, 0600, 8);
	ck_assert_int_ge(l, 0);
	close(l);
	rm_rf(dir);
	free(dir);
	char longpath[200];
	memset(longpath, 'x', sizeof longpath - 1);
	longpath[sizeof longpath - 1] = '\0';
	ck_assert_int_eq(unixsock_connect(longpath, SOCK_STREAM), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_int_eq(unixsock_listen_private(longpath, 8), -1);
}
END_TEST

START_TEST(a_private_socket_only_its_user_reaches)
{
	char *dir = make_tmpdir(), path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/relay/socket", dir);
	int l = unixsock_listen_private(path, 8);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	*strrchr(path, '/') = '\0';
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	close(l);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(a_dialled_socket_waits_no_longer_than_asked)
{
	char *dir = make_tmpdir(), path[4200], b;
	snprintf(path, sizeof path, "%s/socket", dir);
	int l = unixsock_listen_private(path, 8);
	ck_assert_int_ge(l, 0);
	int c = unixsock_dial(path, 200);
	ck_assert_int_ge(c, 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(recv(c, &b, 1, 0), -1);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	          (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_ge(ms, 150);
	ck_assert_int_lt(ms, 2000);
	close(c);
	close(l);
	rm_rf(dir);
	free(dir);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("unixsock");
	TCase *tc = tcase_create("unixsock");
	tcase_add_test(tc, listen_and_connect);
	tcase_add_test(tc, a_private_socket_only_its_user_reaches);
	tcase_add_test(tc, a_dialled_socket_waits_no_longer_than_asked);
	suite_add_tcase(s, tc);
	return s;
}
