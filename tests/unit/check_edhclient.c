/* check_edhclient - the client's configuration (host:port, timeouts,
 * credential file) is read strictly, and a call that cannot succeed is
 * told apart: refused locally (PERM) or edhd unreachable (TEMP). The
 * HOST:PORT syntax itself is check_hostport's. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/control.h"
#include "client/edhclient.h"
#include "testutil.h"

/* A control directory with ca.pem, the host file and a credential. */
static char *setup(const char *hostline, const char *cred)
{
	char *dir = make_tmpdir();
	write_file(dir, "ca.pem", "not read yet\n", 13);
	if (hostline)
		write_file(dir, "edhlmtp-host", hostline, strlen(hostline));
	if (cred)
		write_file(dir, "edhlmtp-cred", cred, strlen(cred));
	return dir;
}

static int load(const char *dir, struct edhc_config *cfg, char *why,
                size_t n)
{
	struct control ctl;
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	int r = edhc_config_load(cfg, EDHC_LMTP, &ctl, dir, EDHC_LMTP_HOSTFILE,
	                         EDHC_LMTP_CREDFILE, why, n);
	control_close(&ctl);
	return r;
}

START_TEST(the_config_has_defaults_and_the_credential)
{
	struct edhc_config cfg;
	char why[256];
	char *dir = setup(NULL, "# the AH\n4242:s3cret-value\n");
	ck_assert_int_eq(load(dir, &cfg, why, sizeof why), 0);
	ck_assert_str_eq(cfg.host, "127.0.0.1");
	ck_assert_str_eq(cfg.port, "7024");
	ck_assert_uint_eq(cfg.client_id, 4242);
	ck_assert_str_eq(cfg.secret, "s3cret-value");
	ck_assert_int_eq(cfg.connect_timeout_ms, 5000);
	ck_assert_int_eq(cfg.timeout_ms, 120000);
	ck_assert_str_eq(cfg.me, "localhost");
	edhc_config_wipe(&cfg);
	ck_assert_int_eq(cfg.secret[0], 0);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(a_bad_file_is_a_reason_that_never_quotes_the_secret)
{
	struct edhc_config cfg;
	char why[256];
	char *dir = setup("nonsense\n", "1:secret\n");
	ck_assert_int_eq(load(dir, &cfg, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "edhlmtp-host"));
	rm_rf(dir);
	free(dir);
	dir = setup(NULL, "1 topsecret\n");
	ck_assert_int_eq(load(dir, &cfg, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "edhlmtp-cred"));
	ck_assert_ptr_null(strstr(why, "topsecret"));
	ck_assert_int_eq(cfg.client_id, 0);
	rm_rf(dir);
	free(dir);
	dir = setup(NULL, NULL);
	ck_assert_int_eq(load(dir, &cfg, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "edhlmtp-cred"));
	write_file(dir, "edhlmtp-cred", "1:x\n", 4);
	write_file(dir, "timeoutedhclient", "0\n", 2);
	ck_assert_int_eq(load(dir, &cfg, why, sizeof why), -1);
	rm_rf(dir);
	free(dir);
}
END_TEST

/* A port nobody listens on: bound, then closed. */
static void dead_port(char port[8])
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, len), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, 8, "%u", ntohs(sa.sin_port));
	close(fd);
}

START_TEST(unreachable_is_temp_and_bad_arguments_are_perm)
{
	struct edhc_config cfg = { .proto = EDHC_LMTP, .host = "127.0.0.1",
	                           .cafile = "/nonexistent", .client_id = 1,
	                           .secret = "x", .connect_timeout_ms = 2000,
	                           .timeout_ms = 2000 };
	dead_port(cfg.port);
	struct edhc *c = edhc_new(&cfg);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(edhc_error(c), "");
	ck_assert_int_eq(edhc_deliver(c, "1a2b3c4d-17", NULL, "x\n", 2), EDHC_TEMP);
	ck_assert_ptr_nonnull(strstr(edhc_error(c), "cannot connect"));
	ck_assert_int_eq(edhc_deliver(c, "nobox", NULL, "x\n", 2), EDHC_PERM);
	struct edhc_msg *m;
	size_t n;
	ck_assert_int_eq(edhc_list(c, "1a2b3c4d-17", &m, &n), EDHC_PERM);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(edhc_delete(c, "1a2b3c4d-17", "x"), EDHC_PERM);
	edhc_free(c);
	edhc_free(NULL);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("edhclient");
	TCase *tc = tcase_create("edhclient");
	tcase_add_test(tc, the_config_has_defaults_and_the_credential);
	tcase_add_test(tc, a_bad_file_is_a_reason_that_never_quotes_the_secret);
	tcase_add_test(tc, unreachable_is_temp_and_bad_arguments_are_perm);
	suite_add_tcase(s, tc);
	return s;
}
