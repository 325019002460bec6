/* check_pkslogin - the login relay's socket: requests read strictly, the
 * client's answers (the key store's reply parsed, a result passed on, a
 * bad or missing answer PKS_TEMP), every wait bounded. The relay here is
 * a child that answers as scripted; sq-pkslogin itself is checked with
 * the real pksd by checkpw.t. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/unixsock.h"
#include "pkslogin.h"
#include "testutil.h"

#define HASH 0x93e896f4u
#define KEYS "{\"hash\":\"93e896f4\",\"keys\":[{\"row\":7,\"version\":1," \
             "\"pek\":\"P\",\"pdk\":\"D\"}]}"

static char *dir, path[4200];
static int lfd;

static void setup(void)
{
	dir = make_tmpdir();
	snprintf(path, sizeof path, "%s/pkslogin/socket", dir);
	lfd = unixsock_listen_private(path, 8);
	ck_assert_int_ge(lfd, 0);
}

static void teardown(void)
{
	if (lfd >= 0)
		close(lfd);
	rm_rf(dir);
	free(dir);
}

/* A relay in a child for one request: checks it reads as op and ip, then
 * sends answer (n octets; none at all when n is 0, and waits). */
static pid_t relay(char op, const char *ip, const char *answer, size_t n)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	unsigned char req[128];
	char got_op, got_ip[PKSLOGIN_IP_MAX + 1];
	uint32_t hash;
	int c = accept(lfd, NULL, NULL);
	ssize_t len = c < 0 ? -1 : recv(c, req, sizeof req, 0);
	if (len < 0 || pkslogin_request_parse(req, (size_t)len, &got_op, &hash,
	                                      got_ip) < 0 ||
	    got_op != op || hash != HASH || strcmp(got_ip, ip) != 0)
		_exit(1);
	if (n == 0)
		pause();
	_exit(send(c, answer, n, 0) == (ssize_t)n ? 0 : 1);
}

static void reaped(pid_t pid)
{
	int status;
	kill(pid, SIGKILL); /* a silent one waits */
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) || WEXITSTATUS(status) == 0);
}

static size_t request(unsigned char *req, char op, const char *ip)
{
	req[0] = (unsigned char)op;
	req[1] = 0x93, req[2] = 0xe8, req[3] = 0x96, req[4] = 0xf4;
	memcpy(req + 5, ip, strlen(ip));
	return 5 + strlen(ip);
}

START_TEST(requests_are_read_strictly)
{
	unsigned char req[128];
	char op, ip[PKSLOGIN_IP_MAX + 1];
	uint32_t hash;
	static const char *good[] = { "", "192.0.2.1", "2001:db8::1",
	                              "::ffff:192.0.2.1" };
	static const char *bad[] = { "192.0.2.1 ", "192.0.2", "999.0.2.1",
	                             "example.org", "1.2.3.4;x", "fe80::1%eth0",
	                             "0000:0000:0000:0000:0000:ffff:192.000.2.1" };
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		ck_assert_int_eq(pkslogin_request_parse(req, request(req, 'A',
		                 good[i]), &op, &hash, ip), 0);
		ck_assert_int_eq(op, 'A');
		ck_assert_uint_eq(hash, HASH);
		ck_assert_str_eq(ip, good[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_int_eq(pkslogin_request_parse(req, request(req, 'S',
		                 bad[i]), &op, &hash, ip), -1);
	size_t n = request(req, 'A', "192.0.2.1");
	req[7] = '\0'; /* a NUL inside the address */
	ck_assert_int_eq(pkslogin_request_parse(req, n, &op, &hash, ip), -1);
	ck_assert_int_eq(pkslogin_request_parse(req, request(req, 'X', ""),
	                                        &op, &hash, ip), -1);
	ck_assert_int_eq(pkslogin_request_parse(req, 4, &op, &hash, ip), -1);
	memset(req + 5, '1', 60);
	ck_assert_int_eq(pkslogin_request_parse(req, 5 + PKSLOGIN_IP_MAX + 1,
	                                        &op, &hash, ip), -1);
}
END_TEST

START_TEST(an_attempt_returns_the_key_stores_rows)
{
	struct pks_keys keys;
	char why[300] = "";
	static const char answer[] = "\001" KEYS; /* PKS_OK + 1 */
	pid_t pid = relay('A', "192.0.2.1", answer, sizeof answer - 1);
	ck_assert_int_eq(pkslogin_attempt(path, 5000, HASH, "192.0.2.1", &keys,
	                                  why, sizeof why), PKS_OK);
	ck_assert_uint_eq(keys.n, 1);
	ck_assert_uint_eq(keys.key[0].row, 7);
	ck_assert_str_eq(keys.key[0].pdk, "D");
	pks_keys_free(&keys);
	reaped(pid);
	/* the rows of another hash are not taken */
	static const char other[] = "\001{\"hash\":\"00000001\",\"keys\":[]}";
	pid = relay('A', "", other, sizeof other - 1);
	ck_assert_int_eq(pkslogin_attempt(path, 5000, HASH, NULL, &keys, why,
	                                  sizeof why), PKS_TEMP);
	ck_assert_uint_eq(keys.n, 0);
	ck_assert_ptr_nonnull(strstr(why, "bad reply"));
	reaped(pid);
}
END_TEST

START_TEST(the_relays_result_is_passed_on)
{
	struct pks_keys keys;
	char why[300] = "";
	static const char locked[] = "\005HTTP 429: locked";
	pid_t pid = relay('A', "", locked, sizeof locked - 1);
	ck_assert_int_eq(pkslogin_attempt(path, 5000, HASH, "", &keys, why,
	                                  sizeof why), PKS_LOCKED);
	ck_assert_str_eq(why, "HTTP 429: locked");
	reaped(pid);
	static const char gone[] = "\002HTTP 404: no_such_key";
	pid = relay('A', "", gone, sizeof gone - 1);
	ck_assert_int_eq(pkslogin_attempt(path, 5000, HASH, "", &keys, why,
	                                  sizeof why), PKS_NOT_FOUND);
	reaped(pid);
	static const char down[] = "\000connect: refused";
	pid = relay('S', "2001:db8::1", down, sizeof down - 1);
	ck_assert_int_eq(pkslogin_succeeded(path, 5000, HASH, "2001:db8::1",
	                                    why, sizeof why), PKS_TEMP);
	ck_assert_str_eq(why, "connect: refused");
	reaped(pid);
	static const char ok[] = "\001{\"failures\":0}";
	pid = relay('S', "", ok, sizeof ok - 1);
	ck_assert_int_eq(pkslogin_succeeded(path, 5000, HASH, "", why,
	                                    sizeof why), PKS_OK);
	reaped(pid);
}
END_TEST

START_TEST(a_bad_or_missing_answer_is_temporary)
{
	struct pks_keys keys;
	char why[300] = "";
	static const char strange[] = "\011what";
	pid_t pid = relay('A', "", strange, sizeof strange - 1);
	ck_assert_int_eq(pkslogin_attempt(path, 5000, HASH, "", &keys, why,
	                                  sizeof why), PKS_TEMP);
	ck_assert_ptr_nonnull(strstr(why, "a bad answer"));
	reaped(pid);
	/* a relay that takes the request and says nothing: given up in
	 * time */
	pid = relay('A', "", "", 0);
	time_t t0 = time(NULL);
	ck_assert_int_eq(pkslogin_attempt(path, 300, HASH, "", &keys, why,
	                                  sizeof why), PKS_TEMP);
	ck_assert_int_le(time(NULL) - t0, 2);
	ck_assert_ptr_nonnull(strstr(why, "no answer in time"));
	reaped(pid);
	/* no relay at all */
	close(lfd);
	unlink(path);
	lfd = -1;
	ck_assert_int_eq(pkslogin_succeeded(path, 300, HASH, "", why,
	                                    sizeof why), PKS_TEMP);
	ck_assert_ptr_nonnull(strstr(why, "login relay"));
}
END_TEST

START_TEST(an_answer_is_cut_to_fit_one_datagram)
{
	int sv[2];
	static char big[PKSLOGIN_ANSWER_MAX + 100];
	static char got[PKSLOGIN_ANSWER_MAX + 100];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	int size = 2 * (int)sizeof big;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	memset(big, 'x', sizeof big);
	ck_assert_int_eq(pkslogin_answer(sv[0], PKS_REFUSED, big, sizeof big), 0);
	ssize_t n = recv(sv[1], got, sizeof got, 0);
	ck_assert_int_eq(n, PKSLOGIN_ANSWER_MAX);
	ck_assert_int_eq(got[0], PKS_REFUSED + 1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("pkslogin");
	TCase *tc = tcase_create("pkslogin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, requests_are_read_strictly);
	tcase_add_test(tc, an_attempt_returns_the_key_stores_rows);
	tcase_add_test(tc, the_relays_result_is_passed_on);
	tcase_add_test(tc, a_bad_or_missing_answer_is_temporary);
	tcase_add_test(tc, an_answer_is_cut_to_fit_one_datagram);
	suite_add_tcase(s, tc);
	return s;
}
