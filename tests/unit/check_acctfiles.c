/*
 * check_acctfiles - the qmail side of a subscriber's account
 * (admin/acctfiles.h) in a temporary instance ($SQ_HOME): the .qmail
 * file, virtualdomains and rcpthosts, users/assign and the users/cdb
 * that makes an address live, and what counts as an account existing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acctfiles.h"
#include "mail/assign.h"
#include "testutil.h"

#define JOHN "john.smith@example.org"

static char *home;
static char ctl[4200];
static struct acctfiles a;
static char me[64];

static void setup(void)
{
	char why[256] = "";
	struct passwd *pw = getpwuid(geteuid());
	ck_assert_ptr_nonnull(pw);
	snprintf(me, sizeof me, "%s", pw->pw_name);
	home = make_tmpdir();
	setenv("SQ_HOME", home, 1);
	snprintf(ctl, sizeof ctl, "%s/control", home);
	ck_assert_int_eq(mkdir(ctl, 0755), 0);
	write_file(ctl, "deliveryuser", me, strlen(me));
	ck_assert_msg(acct_open(&a, why, sizeof why) == 0, "%s", why);
}

static void teardown(void)
{
	unsetenv("SQ_HOME");
	rm_rf(home);
	free(home);
}

/* The file home/rel, whole, into buf; its length, or -1. */
static ssize_t slurp(const char *rel, char *buf, size_t n)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/%s", home, rel);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t len = read(fd, buf, n - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	return len;
}

static mode_t mode_of(const char *rel)
{
	struct stat st;
	char path[4400];
	snprintf(path, sizeof path, "%s/%s", home, rel);
	ck_assert_int_eq(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

START_TEST(open_takes_the_delivery_user_and_the_instance)
{
	struct passwd *pw = getpwnam(me);
	char why[256] = "";
	ck_assert_str_eq(a.home, home);
	ck_assert_str_eq(a.user, me);
	ck_assert_uint_eq(a.uid, pw->pw_uid);
	ck_assert_uint_eq(a.gid, pw->pw_gid);
	write_file(ctl, "deliveryuser", "no-such-user-here\n", 18);
	ck_assert_int_eq(acct_open(&a, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "no-such-user-here") &&
	              strstr(why, "no such user"), "%s", why);
	rm_rf(ctl);
	ck_assert_int_eq(acct_open(&a, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "control") != NULL, "%s", why);
}
END_TEST

/* qmail-local looks for .qmail-EXT with '.' turned into ':'. */
START_TEST(the_dotqmail_file_holds_the_sealed_line)
{
	char text[512];
	ck_assert_int_eq(acct_has_dotqmail(&a, JOHN), 0);
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), 0);
	ck_assert_int_eq(acct_has_dotqmail(&a, JOHN), 1);
	ck_assert_int_gt(slurp("domains/example.org/.qmail-john:smith", text,
	                       sizeof text), 0);
	ck_assert_ptr_nonnull(strstr(text, "\n%sealed " JOHN "\n"));
	ck_assert_int_eq(text[0], '#');
	ck_assert_uint_eq(mode_of("domains/example.org/.qmail-john:smith"), 0600);
	ck_assert_uint_eq(mode_of("domains/example.org"), 0750);
	ck_assert_int_eq(slurp("domains/example.org/.qmail-john.smith", text,
	                       sizeof text), -1);
}
END_TEST

START_TEST(a_new_dotqmail_never_takes_over_an_existing_one)
{
	char text[512];
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), 0);
	char path[4400];
	snprintf(path, sizeof path, "%s/domains/example.org/.qmail-john:smith",
	         home);
	int fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "other\n", 6), 6);
	close(fd);
	errno = 0;
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), -1);
	ck_assert_int_eq(errno, EEXIST);
	slurp("domains/example.org/.qmail-john:smith", text, sizeof text);
	ck_assert_str_eq(text, "other\n");
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 1), 0);
	slurp("domains/example.org/.qmail-john:smith", text, sizeof text);
	ck_assert_ptr_nonnull(strstr(text, "%sealed " JOHN));
}
END_TEST

START_TEST(removing_a_dotqmail_that_is_not_there_is_no_error)
{
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), 0);
	ck_assert_int_eq(acct_remove_dotqmail(&a, JOHN), 0);
	ck_assert_int_eq(acct_has_dotqmail(&a, JOHN), 0);
	ck_assert_int_eq(acct_remove_dotqmail(&a, JOHN), 0);
	ck_assert_int_eq(acct_remove_dotqmail(&a, "x@no-such.example"), 0);
}
END_TEST

/* The domain goes into both files once, whatever the case, and every
 * other line stays. */
START_TEST(a_domain_is_added_to_both_files_once)
{
	char text[512];
	write_file(ctl, "rcpthosts", "# ours\nother.example\n", 21);
	ck_assert_int_eq(acct_has_domain(&a, "example.org"), 0);
	ck_assert_int_eq(acct_add_domain(&a, "example.org"), 0);
	ck_assert_int_eq(acct_has_domain(&a, "example.org"), 1);
	ck_assert_int_eq(acct_has_domain(&a, "EXAMPLE.org"), 1);
	ck_assert_int_eq(acct_add_domain(&a, "Example.ORG"), 0);
	slurp("control/virtualdomains", text, sizeof text);
	ck_assert_str_eq(text, "example.org:example.org\n");
	slurp("control/rcpthosts", text, sizeof text);
	ck_assert_str_eq(text, "# ours\nother.example\nexample.org\n");
	ck_assert_int_eq(acct_has_domain(&a, "other.example"), 0);
}
END_TEST

START_TEST(an_unreadable_virtualdomains_is_an_error)
{
	write_file(ctl, "virtualdomains", "a\0b\n", 4);  /* a NUL: invalid */
	ck_assert_int_eq(acct_has_domain(&a, "example.org"), -1);
	ck_assert_int_eq(acct_add_domain(&a, "example.org"), -1);
}
END_TEST

/* The entry is qmail's "=domain-local:USER:UID:GID:HOME:-:local:", and
 * users/cdb is rebuilt from users/assign. */
START_TEST(the_assign_entry_makes_the_address_live)
{
	char text[8192], want[8192];
	struct assign_entry e;
	char cdb[4400];
	snprintf(cdb, sizeof cdb, "%s/users/cdb", home);
	ck_assert_int_eq(acct_is_assigned(&a, JOHN), 0);
	ck_assert_int_eq(acct_assign_add(&a, JOHN), 0);
	ck_assert_int_eq(acct_is_assigned(&a, JOHN), 1);
	snprintf(want, sizeof want, "=example.org-john.smith:%s:%lu:%lu:%s/"
	         "domains/example.org:-:john.smith:\n.\n", me,
	         (unsigned long)a.uid, (unsigned long)a.gid, home);
	slurp("users/assign", text, sizeof text);
	ck_assert_str_eq(text, want);
	ck_assert_int_eq(assign_lookup(cdb, "Example.org-John.Smith", &e), 1);
	ck_assert_int_eq(e.type, '=');
	ck_assert_str_eq(e.ext, "john.smith");
	ck_assert_str_eq(e.user, me);
}
END_TEST

/* A duplicate is EEXIST, and users/cdb is made again all the same: a
 * crash may have come between the two files. */
START_TEST(adding_twice_is_eexist_and_still_rebuilds_the_cdb)
{
	char cdb[4400];
	snprintf(cdb, sizeof cdb, "%s/users/cdb", home);
	ck_assert_int_eq(acct_assign_add(&a, JOHN), 0);
	ck_assert_int_eq(unlink(cdb), 0);
	ck_assert_int_eq(acct_is_assigned(&a, JOHN), 0);
	errno = 0;
	ck_assert_int_eq(acct_assign_add(&a, JOHN), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(acct_is_assigned(&a, JOHN), 1);
}
END_TEST

START_TEST(removing_takes_the_address_off_and_twice_is_enoent)
{
	char text[8192];
	ck_assert_int_eq(acct_assign_add(&a, JOHN), 0);
	ck_assert_int_eq(acct_assign_add(&a, "john.smith@example.net"), 0);
	ck_assert_int_eq(acct_assign_remove(&a, JOHN), 0);
	ck_assert_int_eq(acct_is_assigned(&a, JOHN), 0);
	ck_assert_int_eq(acct_is_assigned(&a, "john.smith@example.net"), 1);
	errno = 0;
	ck_assert_int_eq(acct_assign_remove(&a, JOHN), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(acct_assign_remove(&a, "john.smith@example.net"), 0);
	slurp("users/assign", text, sizeof text);
	ck_assert_str_eq(text, ".\n");
	ck_assert_int_eq(acct_is_assigned(&a, "john.smith@example.net"), 0);
}
END_TEST

/* Any trace of an account is one: a users/assign entry (even one newer
 * than users/cdb, in any case), a users/cdb entry, or the .qmail file. */
START_TEST(any_trace_of_an_account_makes_it_exist)
{
	char cdb[4400], text[8192];
	snprintf(cdb, sizeof cdb, "%s/users/cdb", home);
	ck_assert_int_eq(acct_exists(&a, JOHN), 0);
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), 0);
	ck_assert_int_eq(acct_exists(&a, JOHN), 1);
	ck_assert_int_eq(acct_remove_dotqmail(&a, JOHN), 0);
	ck_assert_int_eq(acct_assign_add(&a, JOHN), 0);
	ck_assert_int_eq(acct_exists(&a, JOHN), 1);
	/* only in users/cdb (users/assign lost its line) */
	slurp("users/assign", text, sizeof text);
	write_file(home, "users/assign", ".\n", 2);
	ck_assert_int_eq(acct_exists(&a, JOHN), 1);
	/* only in users/assign, in another case */
	ck_assert_int_eq(unlink(cdb), 0);
	text[1] = 'E';
	write_file(home, "users/assign", text, strlen(text));
	ck_assert_int_eq(acct_exists(&a, JOHN), 1);
	ck_assert_int_eq(acct_exists(&a, "john.smith@example.net"), 0);
	/* a wildcard is not an account */
	static const char wild[] = "+example.org-:x:1:1:/:-::\n.\n";
	write_file(home, "users/assign", wild, sizeof wild - 1);
	ck_assert_int_eq(acct_exists(&a, JOHN), 0);
	/* a users/assign qmail-newu would refuse: cannot tell */
	write_file(home, "users/assign", "=broken\n.\n", 10); /* no ":" */
	errno = 0;
	ck_assert_int_eq(acct_exists(&a, JOHN), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("acctfiles");
	TCase *tc = tcase_create("acctfiles");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_takes_the_delivery_user_and_the_instance);
	tcase_add_test(tc, the_dotqmail_file_holds_the_sealed_line);
	tcase_add_test(tc, a_new_dotqmail_never_takes_over_an_existing_one);
	tcase_add_test(tc, removing_a_dotqmail_that_is_not_there_is_no_error);
	tcase_add_test(tc, a_domain_is_added_to_both_files_once);
	tcase_add_test(tc, an_unreadable_virtualdomains_is_an_error);
	tcase_add_test(tc, the_assign_entry_makes_the_address_live);
	tcase_add_test(tc, adding_twice_is_eexist_and_still_rebuilds_the_cdb);
	tcase_add_test(tc, removing_takes_the_address_off_and_twice_is_enoent);
	tcase_add_test(tc, any_trace_of_an_account_makes_it_exist);
	suite_add_tcase(s, tc);
	return s;
}
