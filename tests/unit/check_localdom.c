/* check_localdom - which domains are ours, and their prefixes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/localdom.h"
#include "testutil.h"

#define WRITE(dir, name, lit) write_file(dir, name, lit, sizeof(lit) - 1)

START_TEST(locals_and_virtualdomains_are_ours)
{
	char *dir = make_tmpdir();
	struct control ctl;
	struct localdom l;
	const char *prefix;
	WRITE(dir, "virtualdomains", "example.org:example.org\n"
	      "# a comment\nnot a vd line\nalias.example:bob\n");
	WRITE(dir, "locals", "local.example\n");
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	localdom_init(&l, &ctl);
	ck_assert_int_eq(localdom_match(&l, "john@EXAMPLE.org", &prefix), 1);
	ck_assert_str_eq(prefix, "example.org");
	ck_assert_int_eq(localdom_match(&l, "x@alias.example", &prefix), 1);
	ck_assert_str_eq(prefix, "bob");
	ck_assert_int_eq(localdom_match(&l, "x@local.example", &prefix), 1);
	ck_assert_ptr_null(prefix);
	ck_assert_int_eq(localdom_match(&l, "postmaster", &prefix), 1);
	ck_assert_int_eq(localdom_match(&l, "x@remote.example", &prefix), 0);
	ck_assert_int_eq(localdom_match(&l, "x@not a vd line", NULL), 0);
	/* a domain added later is ours at the next question */
	sleep(1); /* a new mtime, even on a coarse clock */
	WRITE(dir, "locals", "local.example\nnew.example\n");
	ck_assert_int_eq(localdom_match(&l, "x@new.example", NULL), 1);
	localdom_free(&l);
	control_close(&ctl);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(no_files_no_domains)
{
	char *dir = make_tmpdir();
	struct control ctl;
	struct localdom l;
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	localdom_init(&l, &ctl);
	ck_assert_int_eq(localdom_match(&l, "x@example.org", NULL), 0);
	localdom_free(&l);
	control_close(&ctl);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(local_names_as_qmail_send_makes_them)
{
	char *dir = make_tmpdir();
	struct control ctl;
	struct localdom l;
	char name[LOCALDOM_NAME_MAX], small[8];
	WRITE(dir, "virtualdomains", "example.org:example.org\n");
	WRITE(dir, "locals", "local.example\n");
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	localdom_init(&l, &ctl);
	ck_assert_int_eq(localdom_localname(&l, "John.Smith@example.org", name,
	                                    sizeof name), 1);
	ck_assert_str_eq(name, "example.org-John.Smith");
	ck_assert_int_eq(localdom_localname(&l, "bob@local.example", name,
	                                    sizeof name), 1);
	ck_assert_str_eq(name, "bob");
	ck_assert_int_eq(localdom_localname(&l, "bob@remote.example", name,
	                                    sizeof name), 0);
	ck_assert_int_eq(localdom_localname(&l, "john@example.org", small,
	                                    sizeof small), -2);
	localdom_free(&l);
	control_close(&ctl);
	rm_rf(dir);
	free(dir);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("localdom");
	TCase *tc = tcase_create("localdom");
	tcase_add_test(tc, locals_and_virtualdomains_are_ours);
	tcase_add_test(tc, no_files_no_domains);
	tcase_add_test(tc, local_names_as_qmail_send_makes_them);
	suite_add_tcase(s, tc);
	return s;
}
