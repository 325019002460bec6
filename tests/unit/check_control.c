/* check_control - qmail-style control files. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/control.h"
#include "testutil.h"

static char *dir;
static struct control ctl;

static void setup(void)
{
	ctl.dirfd = -1;
	sbuf_init(&ctl.me, 1);
	dir = make_tmpdir();
	chmod(dir, 0755);
}

static void teardown(void)
{
	control_close(&ctl);
	rm_rf(dir);
	free(dir);
}

static void put(const char *name, const char *text)
{
	write_file(dir, name, text, strlen(text));
}

START_TEST(comments_blank_lines_and_trailing_space_are_dropped)
{
	struct sbuf lines;
	size_t n;
	put("rcpthosts", "# local domains\n\nexample.org  \t\n#x.org\n"
	                 "  indented.org\nlast.org");
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	sbuf_init(&lines, CONTROL_FILE_MAX);
	ck_assert_int_eq(control_readfile(&ctl, "rcpthosts", &lines, &n), 1);
	ck_assert_uint_eq(n, 3);
	const char *l = control_nextline(&lines, NULL);
	ck_assert_str_eq(l, "example.org");
	l = control_nextline(&lines, l);
	ck_assert_str_eq(l, "  indented.org");
	l = control_nextline(&lines, l);
	ck_assert_str_eq(l, "last.org");
	ck_assert_ptr_null(control_nextline(&lines, l));
	sbuf_free(&lines);
}
END_TEST

START_TEST(crlf_files_read_like_lf_files)
{
	struct sbuf v;
	put("me", "# this host\r\nmx.example.org \r\n");
	put("databytes", "1000000\r\n");
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	ck_assert_int_eq(ctl.meok, 1);
	ck_assert_str_eq(ctl.me.s, "mx.example.org");
	unsigned long u = 7;
	ck_assert_int_eq(control_readulong(&ctl, "databytes", ULONG_MAX, &u), 1);
	ck_assert_uint_eq(u, 1000000);
	sbuf_init(&v, 100);
	ck_assert_int_eq(control_readline(&ctl, "me", &v), 1);
	ck_assert_str_eq(v.s, "mx.example.org");
	sbuf_free(&v);
}
END_TEST

START_TEST(missing_file_is_0_and_defaults_apply)
{
	struct sbuf v;
	sbuf_init(&v, 100);
	put("me", "mx.example.org\n");
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	ck_assert_int_eq(control_readline(&ctl, "smtpgreeting", &v), 0);
	ck_assert_int_eq(control_rldef(&ctl, "smtpgreeting", 1, "x", &v), 1);
	ck_assert_str_eq(v.s, "mx.example.org");
	ck_assert_int_eq(control_rldef(&ctl, "bouncefrom", 0, "MAILER-DAEMON",
	                               &v), 1);
	ck_assert_str_eq(v.s, "MAILER-DAEMON");
	ck_assert_int_eq(control_rldef(&ctl, "nothing", 0, NULL, &v), 0);
	unsigned long u = 42;
	ck_assert_int_eq(control_readulong(&ctl, "timeoutsmtpd", 86400, &u), 0);
	ck_assert_uint_eq(u, 42);
	sbuf_free(&v);
}
END_TEST

START_TEST(missing_me_falls_through_to_the_default)
{
	struct sbuf v;
	sbuf_init(&v, 100);
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	ck_assert_int_eq(ctl.meok, 0);
	ck_assert_int_eq(control_rldef(&ctl, "helohost", 1, "localhost", &v), 1);
	ck_assert_str_eq(v.s, "localhost");
	sbuf_free(&v);
}
END_TEST

START_TEST(file_without_values_is_the_empty_value)
{
	struct sbuf v;
	sbuf_init(&v, 100);
	put("smtpgreeting", "# nothing here\n\n");
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	ck_assert_int_eq(control_rldef(&ctl, "smtpgreeting", 1, "d", &v), 1);
	ck_assert_str_eq(v.s, "");
	sbuf_free(&v);
}
END_TEST

/* Runs as nobody when started as root, who could read anything. */
static void read_unreadable(void *arg)
{
	struct control c;
	struct sbuf v;
	(void)arg;
	if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
		_exit(10);
	sbuf_init(&v, 100);
	if (control_open(&c, dir) < 0)
		_exit(11);
	errno = 0;
	if (control_readline(&c, "rcpthosts", &v) != -1)
		_exit(12);
	_exit(errno == EACCES ? 0 : 13);
}

START_TEST(unreadable_file_is_an_error_not_a_default)
{
	char path[4096], out[256];
	put("rcpthosts", "example.org\n");
	snprintf(path, sizeof path, "%s/rcpthosts", dir);
	chmod(path, 0);
	ck_assert_int_eq(run_capture(read_unreadable, NULL, out, sizeof out), 0);
}
END_TEST

START_TEST(unreadable_me_fails_open)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/me", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0); /* a directory cannot be read */
	ck_assert_int_eq(control_open(&ctl, dir), -1);
	ck_assert_int_eq(errno, EISDIR);
}
END_TEST

START_TEST(nul_byte_or_overlong_line_is_invalid)
{
	struct sbuf v;
	char big[CONTROL_LINE_MAX + 10];
	sbuf_init(&v, CONTROL_LINE_MAX);
	write_file(dir, "locals", "a.org\0b.org\n", 12);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	put("me", big);
	ck_assert_int_eq(control_open(&ctl, dir), -1);
	ck_assert_int_eq(errno, EINVAL);
	put("me", "ok.example\n");
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	ck_assert_int_eq(control_readline(&ctl, "locals", &v), -1);
	ck_assert_int_eq(errno, EINVAL);
	sbuf_free(&v);
}
END_TEST

START_TEST(numbers_are_strict)
{
	unsigned long u = 5;
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	const char *bad[] = { "-1\n", "12abc\n", "\n", "99999999999999999999999\n",
	                      "1001\n", " 7\n" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put("concurrencylocal", bad[i]);
		ck_assert_int_eq(control_readulong(&ctl, "concurrencylocal", 1000,
		                                   &u), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_uint_eq(u, 5);
	}
	put("concurrencylocal", "1000\n");
	ck_assert_int_eq(control_readulong(&ctl, "concurrencylocal", 1000, &u),
	                 1);
	ck_assert_uint_eq(u, 1000);
	put("concurrencylocal", "9\n");
	ck_assert_int_eq(control_readulong(&ctl, "concurrencylocal", 5, &u), -1);
}
END_TEST

START_TEST(missing_directory_fails_open)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/nope", dir);
	ck_assert_int_eq(control_open(&ctl, path), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, comments_blank_lines_and_trailing_space_are_dropped);
	tcase_add_test(tc, crlf_files_read_like_lf_files);
	tcase_add_test(tc, missing_file_is_0_and_defaults_apply);
	tcase_add_test(tc, missing_me_falls_through_to_the_default);
	tcase_add_test(tc, file_without_values_is_the_empty_value);
	tcase_add_test(tc, unreadable_file_is_an_error_not_a_default);
	tcase_add_test(tc, unreadable_me_fails_open);
	tcase_add_test(tc, nul_byte_or_overlong_line_is_invalid);
	tcase_add_test(tc, numbers_are_strict);
	tcase_add_test(tc, missing_directory_fails_open);
	suite_add_tcase(s, tc);
	return s;
}
