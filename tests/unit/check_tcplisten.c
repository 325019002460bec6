/* check_tcplisten - a daemon's own listener: each allowed connection
 * becomes a child with it on descriptors 0 and 1 and the ucspi-tcp
 * environment; a denied one never gets there; the parent ends 111 after
 * a crashed session. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "net/tcplisten.h"
#include "testutil.h"

/* a service's control files, as sq-smtpd and sq-popup name theirs */
static const struct tcplisten_names NAMES = {
	"test-listen", "0.0.0.0:25", "concurrencytest", "control/tcp.test.cdb"
};
static char *home;
static int port;

static void rules(const char *text)
{
	char cmd[13000], ctl[4200];
	snprintf(ctl, sizeof ctl, "%s/control", home);
	write_file(ctl, "tcp.test", text, strlen(text));
	snprintf(cmd, sizeof cmd, "tcprules %s/tcp.test.cdb %s/tcp.test.tmp "
	         "< %s/tcp.test", ctl, ctl, ctl);
	ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
	char ctl[4200];
	home = make_tmpdir();
	snprintf(ctl, sizeof ctl, "%s/control", home);
	ck_assert_int_eq(mkdir(ctl, 0755), 0);
	setenv("SQ_HOME", home, 1);
	setenv("RELAYCLIENT", "", 1); /* the parent's: never inherited */
	int fd = loopback_socket(0, &port);
	close(fd);
}

static void teardown(void)
{
	unsetenv("SQ_HOME");
	unsetenv("RELAYCLIENT");
	rm_rf(home);
	free(home);
}

/* The listener in a child; each session writes what it was given
 * (TCPREMOTEIP, RELAYCLIENT, PROTO) to its client, or crashes when the
 * client's first octet is "!". */
static pid_t start(void)
{
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	struct tcplisten tl;
	struct control ctl;
	char dir[4200], *addrs[] = { addr };
	snprintf(dir, sizeof dir, "%s/control", home);
	if (control_open(&ctl, dir) < 0 ||
	    tcplisten_open(&tl, &ctl, &NAMES, addrs, 1) < 0)
		_exit(3);
	tcplisten_serve(&tl);
	char c = 0, out[300];
	if (read(0, &c, 1) == 1 && c == '!')
		abort();
	const char *relay = getenv("RELAYCLIENT");
	int n = snprintf(out, sizeof out, "%s %s %s", getenv("TCPREMOTEIP"),
	                 relay ? "relay" : "-", getenv("PROTO"));
	if (write(1, out, (size_t)n) != n)
		_exit(1);
	_exit(0);
}

/* Connects from source and sends first; what comes back, or "" when the
 * connection is closed at once. */
static void session(const char *source, char first, char *got, size_t n)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = src;
	inet_pton(AF_INET, source, &src.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	dst.sin_port = htons((unsigned short)port);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&src, sizeof src), 0);
	for (int i = 0; connect(s, (struct sockaddr *)&dst, sizeof dst) < 0;
	     i++) {
		ck_assert_int_lt(i, 100); /* the listener is starting */
		usleep(20000);
	}
	if (write(s, &first, 1) < 0 && errno != EPIPE)
		ck_abort_msg("write: %s", strerror(errno));
	ssize_t r = read(s, got, n - 1);
	got[r > 0 ? r : 0] = '\0';
	close(s);
}

START_TEST(a_session_gets_its_connection_and_its_rule_alone)
{
	char got[300];
	signal(SIGPIPE, SIG_IGN);
	rules("127.0.0.2:deny\n127.0.0.3:allow,RELAYCLIENT=\"\"\n:allow\n");
	pid_t pid = start();
	session("127.0.0.1", 'x', got, sizeof got);
	ck_assert_str_eq(got, "127.0.0.1 - TCP");
	session("127.0.0.3", 'x', got, sizeof got);
	ck_assert_str_eq(got, "127.0.0.3 relay TCP");
	session("127.0.0.2", 'x', got, sizeof got);
	ck_assert_str_eq(got, "");
	int status;
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0); /* still there */
	session("127.0.0.1", '!', got, sizeof got);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 111);
}
END_TEST

START_TEST(without_the_rules_file_no_one_gets_in)
{
	char got[300];
	signal(SIGPIPE, SIG_IGN);
	pid_t pid = start();
	session("127.0.0.1", 'x', got, sizeof got);
	ck_assert_str_eq(got, "");
	kill(pid, SIGKILL); /* check's SIGTERM handler is inherited */
	waitpid(pid, NULL, 0);
}
END_TEST

START_TEST(a_bad_address_is_refused_with_a_reason)
{
	struct tcplisten tl;
	struct control ctl;
	char dir[4200], *addrs[] = { "127.0.0.1" };
	snprintf(dir, sizeof dir, "%s/control", home);
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	ck_assert_int_eq(tcplisten_open(&tl, &ctl, &NAMES, addrs, 1), -1);
	ck_assert_ptr_nonnull(strstr(tl.why, "want HOST:PORT"));
	/* the service's own concurrency file is read, and a bad one named */
	write_file(dir, "concurrencytest", "lots\n", 5);
	ck_assert_int_eq(tcplisten_open(&tl, &ctl, &NAMES, addrs, 1), -1);
	ck_assert_ptr_nonnull(strstr(tl.why, "control/concurrencytest"));
	control_close(&ctl);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("tcplisten");
	TCase *tc = tcase_create("tcplisten");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_session_gets_its_connection_and_its_rule_alone);
	tcase_add_test(tc, without_the_rules_file_no_one_gets_in);
	tcase_add_test(tc, a_bad_address_is_refused_with_a_reason);
	suite_add_tcase(s, tc);
	return s;
}
