/* check_listener - every HOST:PORT line of the file is a listening
 * socket, IPv4 and IPv6; a bad line refuses the whole file. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clientfile.h"
#include "util/control.h"
#include "net/listener.h"
#include "testutil.h"

static int open_from(const char *text, struct listener *v, size_t *n,
                     char *why, size_t whylen)
{
	struct control ctl;
	char *dir = make_tmpdir();
	if (text)
		write_file(dir, "edhlmtp", text, strlen(text));
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	*n = 0;
	int r = listener_open(&ctl, "edhlmtp", "127.0.0.1:1", EDH_ROLE_DELIVER,
	                      v, LISTEN_MAX, n, why, whylen);
	control_close(&ctl);
	rm_rf(dir);
	free(dir);
	return r;
}

/* A port free for now on family's loopback (port 0 is refused). */
static unsigned free_port(int family)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6,
	                            .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in sa4 = { .sin_family = AF_INET,
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr *sa = family == AF_INET ? (struct sockaddr *)&sa4
	                                        : (struct sockaddr *)&sa6;
	socklen_t len = family == AF_INET ? sizeof sa4 : sizeof sa6;
	int fd = socket(family, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, sa, len), 0);
	ck_assert_int_eq(getsockname(fd, sa, &len), 0);
	close(fd);
	return ntohs(family == AF_INET ? sa4.sin_port : sa6.sin6_port);
}

START_TEST(each_line_is_a_socket)
{
	struct listener v[LISTEN_MAX];
	size_t n;
	char why[256], text[100], six[20];
	snprintf(six, sizeof six, "[::1]:%u", free_port(AF_INET6));
	snprintf(text, sizeof text, "# both\n127.0.0.1:%u\n%s\n",
	         free_port(AF_INET), six);
	ck_assert_int_eq(open_from(text, v, &n, why, sizeof why), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[1].addr, six);
	ck_assert_int_eq(v[0].role, EDH_ROLE_DELIVER);
	for (size_t i = 0; i < n; i++)
		close(v[i].fd);
	ck_assert_int_eq(open_from("127.0.0.1:0\n", v, &n, why, sizeof why), -1);
}
END_TEST

START_TEST(a_bad_line_is_refused_with_a_reason)
{
	struct listener v[LISTEN_MAX];
	size_t n;
	char why[256];
	ck_assert_int_eq(open_from("localhost:7024\n", v, &n, why, sizeof why),
	                 -1);
	ck_assert_ptr_nonnull(strstr(why, "cannot listen"));
	ck_assert_int_eq(open_from("127.0.0.1\n", v, &n, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "HOST:PORT"));
	ck_assert_int_eq(open_from("# nothing\n", v, &n, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "no address"));
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("listener");
	TCase *tc = tcase_create("listener");
	tcase_add_test(tc, each_line_is_a_socket);
	tcase_add_test(tc, a_bad_line_is_refused_with_a_reason);
	suite_add_tcase(s, tc);
	return s;
}
