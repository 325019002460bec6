/* check_ctledit - adding and removing control file values. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/control.h"
#include "ctledit.h"
#include "testutil.h"

static char *dir;
static int dfd;

static void setup(void)
{
	dir = make_tmpdir();
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
}

static void teardown(void)
{
	close(dfd);
	rm_rf(dir);
	free(dir);
}

/* The whole file, NUL-terminated, in static storage. */
static const char *contents(const char *name)
{
	static char buf[8192];
	int fd = openat(dfd, name, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static mode_t mode_of(const char *name)
{
	struct stat st;
	ck_assert_int_eq(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_mode & 07777;
}

static void put(const char *name, const char *text)
{
	write_file(dir, name, text, strlen(text));
}

/* Nothing but the edited file: no temporary left behind. */
static void only_file(const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ck_assert_str_eq(de->d_name, name);
	closedir(d);
}

START_TEST(add_creates_a_missing_file)
{
	mode_t old = umask(077);
	ck_assert_int_eq(ctledit_add(dfd, "rcpthosts", "example.com", 1), 1);
	umask(old);
	ck_assert_str_eq(contents("rcpthosts"), "example.com\n");
	ck_assert_uint_eq(mode_of("rcpthosts"), 0644);
	only_file("rcpthosts");
}
END_TEST

START_TEST(add_appends_and_keeps_other_lines)
{
	static const char text[] = "# domains we relay for\n"
	                           "\n"
	                           "Example.COM  \r\n"
	                           "#example.net\n"
	                           "   \t\n";
	put("rcpthosts", text);
	ck_assert_int_eq(ctledit_add(dfd, "rcpthosts", "example.net", 1), 1);
	ck_assert_str_eq(contents("rcpthosts"), "# domains we relay for\n"
	                                        "\n"
	                                        "Example.COM  \r\n"
	                                        "#example.net\n"
	                                        "   \t\n"
	                                        "example.net\n");
	only_file("rcpthosts");
}
END_TEST

/* Equal after the control-file rules: case (nocase), trailing blanks,
 * CR; the file is then left alone. */
START_TEST(add_present_value_is_zero)
{
	static const char text[] = "# c\nExample.COM \t\r\nother.org";
	put("rcpthosts", text);
	struct stat before, after;
	ck_assert_int_eq(fstatat(dfd, "rcpthosts", &before, 0), 0);
	ck_assert_int_eq(ctledit_add(dfd, "rcpthosts", "example.com", 1), 0);
	ck_assert_int_eq(ctledit_add(dfd, "rcpthosts", "EXAMPLE.com", 1), 0);
	ck_assert_int_eq(ctledit_add(dfd, "rcpthosts", "other.org", 1), 0);
	ck_assert_int_eq(fstatat(dfd, "rcpthosts", &after, 0), 0);
	ck_assert_uint_eq(before.st_ino, after.st_ino);
	ck_assert_str_eq(contents("rcpthosts"), text);
}
END_TEST

START_TEST(case_counts_without_nocase)
{
	put("locals", "Host.Example\n");
	ck_assert_int_eq(ctledit_add(dfd, "locals", "Host.Example", 0), 0);
	ck_assert_int_eq(ctledit_add(dfd, "locals", "host.example", 0), 1);
	ck_assert_str_eq(contents("locals"), "Host.Example\nhost.example\n");
	ck_assert_int_eq(ctledit_remove(dfd, "locals", "HOST.EXAMPLE", 0), 0);
	ck_assert_int_eq(ctledit_remove(dfd, "locals", "Host.Example", 0), 1);
	ck_assert_str_eq(contents("locals"), "host.example\n");
}
END_TEST

/* A commented-out value is no value. */
START_TEST(comment_is_not_a_value)
{
	put("rcpthosts", "#example.com\n");
	ck_assert_int_eq(ctledit_add(dfd, "rcpthosts", "example.com", 1), 1);
	ck_assert_str_eq(contents("rcpthosts"), "#example.com\nexample.com\n");
	ck_assert_int_eq(ctledit_remove(dfd, "rcpthosts", "example.com", 1), 1);
	ck_assert_str_eq(contents("rcpthosts"), "#example.com\n");
}
END_TEST

START_TEST(add_after_a_last_line_without_newline)
{
	put("rcpthosts", "a.example");
	ck_assert_int_eq(ctledit_add(dfd, "rcpthosts", "b.example", 1), 1);
	ck_assert_str_eq(contents("rcpthosts"), "a.example\nb.example\n");
}
END_TEST

START_TEST(virtualdomains_compare_the_whole_value)
{
	put("virtualdomains", "# v\nExample.com:example.com\r\n");
	ck_assert_int_eq(ctledit_add(dfd, "virtualdomains",
	                             "example.COM:Example.com", 1), 0);
	ck_assert_int_eq(ctledit_add(dfd, "virtualdomains",
	                             "example.com:other", 1), 1);
	ck_assert_str_eq(contents("virtualdomains"),
	                 "# v\nExample.com:example.com\r\nexample.com:other\n");
	ck_assert_int_eq(ctledit_remove(dfd, "virtualdomains",
	                                "EXAMPLE.com:example.com", 1), 1);
	ck_assert_str_eq(contents("virtualdomains"),
	                 "# v\nexample.com:other\n");
}
END_TEST

START_TEST(remove_drops_every_equal_line)
{
	put("rcpthosts", "# keep me \n"
	                 "example.com\n"
	                 "a.example\t \n"
	                 "EXAMPLE.com \r\n"
	                 "\n"
	                 "z.example");
	ck_assert_int_eq(ctledit_remove(dfd, "rcpthosts", "example.com", 1), 1);
	ck_assert_str_eq(contents("rcpthosts"), "# keep me \n"
	                                        "a.example\t \n"
	                                        "\n"
	                                        "z.example");
	ck_assert_int_eq(ctledit_remove(dfd, "rcpthosts", "z.example", 1), 1);
	ck_assert_str_eq(contents("rcpthosts"), "# keep me \n"
	                                        "a.example\t \n"
	                                        "\n");
	only_file("rcpthosts");
}
END_TEST

START_TEST(remove_absent_is_zero)
{
	ck_assert_int_eq(ctledit_remove(dfd, "rcpthosts", "example.com", 1), 0);
	ck_assert_int_eq(faccessat(dfd, "rcpthosts", F_OK, 0), -1);
	put("rcpthosts", "a.example\n");
	struct stat before, after;
	ck_assert_int_eq(fstatat(dfd, "rcpthosts", &before, 0), 0);
	ck_assert_int_eq(ctledit_remove(dfd, "rcpthosts", "example.com", 1), 0);
	ck_assert_int_eq(fstatat(dfd, "rcpthosts", &after, 0), 0);
	ck_assert_uint_eq(before.st_ino, after.st_ino);
}
END_TEST

START_TEST(edits_keep_the_mode)
{
	put("locals", "a.example\n");
	ck_assert_int_eq(fchmodat(dfd, "locals", 0640, 0), 0);
	ck_assert_int_eq(ctledit_add(dfd, "locals", "b.example", 1), 1);
	ck_assert_uint_eq(mode_of("locals"), 0640);
	mode_t old = umask(0777);
	ck_assert_int_eq(fchmodat(dfd, "locals", 0604, 0), 0);
	ck_assert_int_eq(ctledit_remove(dfd, "locals", "a.example", 1), 1);
	umask(old);
	ck_assert_uint_eq(mode_of("locals"), 0604);
	ck_assert_str_eq(contents("locals"), "b.example\n");
}
END_TEST

START_TEST(edits_keep_the_owner)
{
	struct stat st;
	put("locals", "a.example\n");
	ck_assert_int_eq(ctledit_add(dfd, "locals", "b.example", 1), 1);
	ck_assert_int_eq(fstatat(dfd, "locals", &st, 0), 0);
	ck_assert_uint_eq(st.st_uid, geteuid());
	ck_assert_uint_eq(st.st_gid, getegid());
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(fchownat(dfd, "locals", 1, 1, 0), 0);
	ck_assert_int_eq(ctledit_add(dfd, "locals", "c.example", 1), 1);
	ck_assert_int_eq(fstatat(dfd, "locals", &st, 0), 0);
	ck_assert_uint_eq(st.st_uid, 1);
	ck_assert_uint_eq(st.st_gid, 1);
}
END_TEST

static void add_as_nobody(void *arg)
{
	(void)arg;
	if (setgid(65534) < 0 || setuid(65534) < 0)
		_exit(2);
	_exit(ctledit_add(dfd, "locals", "c.example", 1) == 1 ? 0 : 1);
}

/* A process that cannot give the file away still edits it, as its own. */
START_TEST(owner_kept_only_when_we_can)
{
	char err[256];
	if (geteuid() != 0)
		return;
	put("locals", "a.example\n");
	ck_assert_int_eq(fchmodat(dfd, "locals", 0604, 0), 0);
	ck_assert_int_eq(fchmod(dfd, 0777), 0);
	ck_assert_int_eq(run_capture(add_as_nobody, NULL, err, sizeof err), 0);
	struct stat st;
	ck_assert_int_eq(fstatat(dfd, "locals", &st, 0), 0);
	ck_assert_uint_eq(st.st_uid, 65534);
	ck_assert_uint_eq(st.st_mode & 07777, 0604);
	ck_assert_str_eq(contents("locals"), "a.example\nc.example\n");
}
END_TEST

/* A value that would not read back as itself is refused. */
START_TEST(bad_lines_are_refused)
{
	static const char *bad[] = { "", "#x", "a\nb", "trailing ",
		                     "tab\t", "cr\r", " " };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		errno = 0;
		ck_assert_int_eq(ctledit_add(dfd, "rcpthosts", bad[i], 1), -1);
		ck_assert_int_eq(errno, EINVAL);
		errno = 0;
		ck_assert_int_eq(ctledit_remove(dfd, "rcpthosts", bad[i], 1),
		                 -1);
		ck_assert_int_eq(errno, EINVAL);
	}
	char longline[CONTROL_LINE_MAX + 2];
	memset(longline, 'a', sizeof longline - 1);
	longline[sizeof longline - 1] = '\0';
	ck_assert_int_eq(ctledit_add(dfd, "rcpthosts", longline, 1), -1);
	ck_assert_int_eq(faccessat(dfd, "rcpthosts", F_OK, 0), -1);
}
END_TEST

/* Files control(3) would refuse, and links, are not rewritten. */
START_TEST(unreadable_files_are_refused)
{
	write_file(dir, "rcpthosts", "a\0b\n", 4);
	errno = 0;
	ck_assert_int_eq(ctledit_add(dfd, "rcpthosts", "c", 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(ctledit_remove(dfd, "rcpthosts", "a", 1), -1);
	put("target", "a.example\n");
	ck_assert_int_eq(symlinkat("target", dfd, "locals"), 0);
	errno = 0;
	ck_assert_int_eq(ctledit_add(dfd, "locals", "b.example", 1), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_str_eq(contents("target"), "a.example\n");
	ck_assert_int_eq(mkdirat(dfd, "virtualdomains", 0755), 0);
	ck_assert_int_eq(ctledit_add(dfd, "virtualdomains", "a:b", 1), -1);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("ctledit");
	TCase *tc = tcase_create("ctledit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, add_creates_a_missing_file);
	tcase_add_test(tc, add_appends_and_keeps_other_lines);
	tcase_add_test(tc, add_present_value_is_zero);
	tcase_add_test(tc, case_counts_without_nocase);
	tcase_add_test(tc, comment_is_not_a_value);
	tcase_add_test(tc, add_after_a_last_line_without_newline);
	tcase_add_test(tc, virtualdomains_compare_the_whole_value);
	tcase_add_test(tc, remove_drops_every_equal_line);
	tcase_add_test(tc, remove_absent_is_zero);
	tcase_add_test(tc, edits_keep_the_mode);
	tcase_add_test(tc, edits_keep_the_owner);
	tcase_add_test(tc, owner_kept_only_when_we_can);
	tcase_add_test(tc, bad_lines_are_refused);
	tcase_add_test(tc, unreadable_files_are_refused);
	suite_add_tcase(s, tc);
	return s;
}
