/* check_rcptcheck - which recipients sq-smtpd takes: rcpthosts, our
 * domains, users/cdb, and the key question put to the sealing daemon (a
 * small stand-in answers it here; smtp.t asks the real one). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mail/assign.h"
#include "net/unixsock.h"
#include "queue/fdpass.h"
#include "receive/rcptcheck.h"
#include "testutil.h"

static char *home;
static pid_t sealer = -1;

static const char assign_text[] =
	"=example.org-john.smith:sqmailv:1000:1000:/h:-:john.smith:\n"
	"=example.org-nokey:sqmailv:1000:1000:/h:-:nokey:\n"
	"=jane:sqmailv:1000:1000:/h:-:jane:\n"
	".\n";

/* Answers CHECK requests as sq-sealerd does: "nokey" has none. */
static void stand_in(int l)
{
	for (;;) {
		char req[600];
		int fds[FDPASS_MAX];
		size_t nfds;
		int c = accept(l, NULL, NULL);
		if (c < 0)
			_exit(0);
		ssize_t n = fdpass_recv(c, req, sizeof req - 1, fds, &nfds);
		req[n > 0 ? n : 0] = '\0';
		const char *answer = strncmp(req, "CHECK nokey@", 12) == 0
		                     ? "31 no key\n" : "0 ok\n";
		fdpass_send(c, answer, strlen(answer), NULL, 0);
		close(c);
	}
}

static void setup(void)
{
	char path[4300];
	home = make_tmpdir();
	setenv("SQ_HOME", home, 1);
	unsetenv("RELAYCLIENT");
	snprintf(path, sizeof path, "%s/control", home);
	mkdir(path, 0755);
	static const char hosts[] = "example.org\nlocal.example\n.sub.example\n"
	                            "backup.example\n";
	write_file(path, "rcpthosts", hosts, sizeof hosts - 1);
	write_file(path, "virtualdomains", "example.org:example.org\n", 24);
	write_file(path, "locals", "local.example\n", 14);
	snprintf(path, sizeof path, "%s/users", home);
	mkdir(path, 0755);
	int dfd = open(path, O_RDONLY | O_DIRECTORY);
	size_t bad;
	ck_assert_int_eq(assign_build_cdb(assign_text, sizeof assign_text - 1,
	                                  dfd, "cdb", &bad), 0);
	close(dfd);
	snprintf(path, sizeof path, "%s/run", home);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/run/sealer", home);
	int l = unixsock_listen(path, SOCK_STREAM, 0600, 128);
	ck_assert_int_ge(l, 0);
	sealer = fork();
	if (sealer == 0)
		stand_in(l);
	close(l);
}

static void teardown(void)
{
	if (sealer > 0) {
		kill(sealer, SIGKILL);
		waitpid(sealer, NULL, 0);
		sealer = -1;
	}
	rm_rf(home);
	free(home);
}

/* Removes a file of the instance, named relative to its root. */
static void remove_file(const char *rel)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s", home, rel);
	ck_assert_int_eq(unlink(path), 0);
}

static enum rcpt_verdict verdict(const char *address)
{
	char dir[4300];
	struct control ctl;
	struct rcptcheck r;
	snprintf(dir, sizeof dir, "%s/control", home);
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	ck_assert_int_eq(rcptcheck_init(&r, &ctl), 0);
	enum rcpt_verdict v = rcptcheck(&r, address);
	rcptcheck_fini(&r);
	control_close(&ctl);
	return v;
}

START_TEST(subscribers_with_a_key_are_taken)
{
	ck_assert_int_eq(verdict("john.smith@example.org"), RCPT_OK);
	ck_assert_int_eq(verdict("John.Smith@EXAMPLE.org"), RCPT_OK);
	ck_assert_int_eq(verdict("jane@local.example"), RCPT_OK);
}
END_TEST

START_TEST(strangers_in_our_domains_are_unknown)
{
	ck_assert_int_eq(verdict("nobody@example.org"), RCPT_UNKNOWN);
	ck_assert_int_eq(verdict("john.smith@local.example"), RCPT_UNKNOWN);
}
END_TEST

START_TEST(a_subscriber_without_a_key_is_refused)
{
	ck_assert_int_eq(verdict("nokey@example.org"), RCPT_NO_KEY);
}
END_TEST

START_TEST(relaying_needs_relayclient)
{
	ck_assert_int_eq(verdict("someone@remote.example"), RCPT_NO_RELAY);
	ck_assert_int_eq(verdict("someone@sub.example"), RCPT_NO_RELAY);
	setenv("RELAYCLIENT", "", 1);
	ck_assert_int_eq(verdict("someone@remote.example"), RCPT_OK);
	/* a relay client still cannot invent subscribers */
	ck_assert_int_eq(verdict("nobody@example.org"), RCPT_UNKNOWN);
}
END_TEST

/* A domain in rcpthosts that is neither in locals nor in virtualdomains
 * would be queued in the clear as remote mail: only a relay client may
 * send to it (issue 14). */
START_TEST(rcpthosts_only_domains_need_relayclient)
{
	ck_assert_int_eq(verdict("someone@backup.example"), RCPT_NO_RELAY);
	ck_assert_int_eq(verdict("someone@a.sub.example"), RCPT_NO_RELAY);
	ck_assert_int_eq(verdict("postmaster@backup.example"), RCPT_NO_RELAY);
	/* our own domains are unchanged */
	ck_assert_int_eq(verdict("nobody@example.org"), RCPT_UNKNOWN);
	ck_assert_int_eq(verdict("nobody@local.example"), RCPT_UNKNOWN);
	setenv("RELAYCLIENT", "", 1);
	ck_assert_int_eq(verdict("someone@backup.example"), RCPT_OK);
	ck_assert_int_eq(verdict("someone@a.sub.example"), RCPT_OK);
}
END_TEST

START_TEST(no_sealer_means_try_later)
{
	remove_file("run/sealer");
	ck_assert_int_eq(verdict("john.smith@example.org"), RCPT_TEMP);
	/* an unknown user is still known to be unknown */
	ck_assert_int_eq(verdict("nobody@example.org"), RCPT_UNKNOWN);
}
END_TEST

START_TEST(without_rcpthosts_no_domain_is_ours)
{
	remove_file("control/rcpthosts");
	ck_assert_int_eq(verdict("john.smith@example.org"), RCPT_NO_RELAY);
}
END_TEST

START_TEST(an_unreadable_control_file_is_an_error)
{
	char dir[4300], path[4300];
	struct control ctl;
	struct rcptcheck r;
	remove_file("control/rcpthosts");
	snprintf(path, sizeof path, "%s/control/rcpthosts", home);
	mkdir(path, 0755); /* a directory in its place */
	snprintf(dir, sizeof dir, "%s/control", home);
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	ck_assert_int_eq(rcptcheck_init(&r, &ctl), -1);
	rcptcheck_fini(&r);
	control_close(&ctl);
}
END_TEST

START_TEST(postmaster_is_the_subscriber_control_postmaster_names)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/control", home);
	/* RFC 5321 4.5.1: refused (550 5.1.1) only while the file is missing */
	ck_assert_int_eq(verdict("postmaster"), RCPT_UNKNOWN);
	ck_assert_int_eq(verdict("Postmaster@example.org"), RCPT_UNKNOWN);
	write_file(path, "postmaster", "john.smith@example.org\n", 23);
	ck_assert_int_eq(verdict("postmaster"), RCPT_OK);
	ck_assert_int_eq(verdict("POSTMASTER"), RCPT_OK);
	ck_assert_int_eq(verdict("Postmaster@example.org"), RCPT_OK);
	ck_assert_int_eq(verdict("postmaster@local.example"), RCPT_OK);
	/* only our domains' postmasters */
	ck_assert_int_eq(verdict("postmaster@remote.example"), RCPT_NO_RELAY);
	ck_assert_int_eq(verdict("postmasters@example.org"), RCPT_UNKNOWN);
	/* the named subscriber is checked as any is: key and all */
	write_file(path, "postmaster", "nokey@example.org\n", 18);
	ck_assert_int_eq(verdict("postmaster"), RCPT_NO_KEY);
	write_file(path, "postmaster", "postmaster@example.org\n", 23);
	ck_assert_int_eq(verdict("postmaster"), RCPT_UNKNOWN);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("rcptcheck");
	TCase *tc = tcase_create("rcptcheck");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, subscribers_with_a_key_are_taken);
	tcase_add_test(tc, strangers_in_our_domains_are_unknown);
	tcase_add_test(tc, a_subscriber_without_a_key_is_refused);
	tcase_add_test(tc, relaying_needs_relayclient);
	tcase_add_test(tc, rcpthosts_only_domains_need_relayclient);
	tcase_add_test(tc, no_sealer_means_try_later);
	tcase_add_test(tc, without_rcpthosts_no_domain_is_ours);
	tcase_add_test(tc, an_unreadable_control_file_is_an_error);
	tcase_add_test(tc, postmaster_is_the_subscriber_control_postmaster_names);
	suite_add_tcase(s, tc);
	return s;
}
