/* check_dotqmail - a subscriber's .qmail file: one %sealed line only. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver/dotqmail.h"
#include "testutil.h"

static enum dotqmail_result parse(const char *text, char *address)
{
	const char *why = NULL;
	enum dotqmail_result r = dotqmail_parse(text, strlen(text), address,
	                                        &why);
	if (r != DOTQMAIL_OK)
		ck_assert_ptr_nonnull(why);
	return r;
}

START_TEST(one_sealed_line_with_comments)
{
	char a[ADDR_MAX + 1];
	ck_assert_int_eq(parse("# secure-qmail subscriber\n%sealed "
	                       "John.Smith@Example.org\n", a), DOTQMAIL_OK);
	ck_assert_str_eq(a, "john.smith@example.org");
	ck_assert_int_eq(parse("%sealed bob@example.org", a), DOTQMAIL_OK);
	ck_assert_int_eq(parse("\n\n%sealed bob@example.org\n\n", a),
	                 DOTQMAIL_OK);
}
END_TEST

START_TEST(plaintext_delivery_lines_are_refused)
{
	static const char *bad[] = {
		"",                                     /* no delivery line */
		"# only a comment\n",
		"./Maildir/\n",                         /* qmail's own kinds */
		"/var/mail/bob\n",
		"|/usr/bin/procmail\n",
		"&bob@elsewhere.example\n",
		"bob@elsewhere.example\n",
		"%sealed bob@example.org\n./Maildir/\n",        /* and a second */
		"%sealed bob@example.org\n%sealed eve@example.org\n",
		"%sealed\n", "%sealed \n", "%sealedbob@example.org\n",
		"%sealed bob@example.org eve@example.org\n",
		"%sealed not an address\n", " %sealed bob@example.org\n",
		"%plain bob@example.org\n",
	};
	char a[ADDR_MAX + 1];
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(parse(bad[i], a) == DOTQMAIL_BADFILE,
		              "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(dotqmail_parse("%sealed a@b.example\0x", 22, a, NULL),
	                 DOTQMAIL_BADFILE);
}
END_TEST

START_TEST(path_writes_dots_as_colons)
{
	struct assign_entry e;
	char path[64];
	memset(&e, 0, sizeof e);
	strcpy(e.home, "/h/example.org");
	strcpy(e.dash, "-");
	strcpy(e.ext, "john.smith");
	ck_assert_int_eq(dotqmail_path(&e, path, sizeof path), 0);
	ck_assert_str_eq(path, "/h/example.org/.qmail-john:smith");
	ck_assert_int_eq(dotqmail_path(&e, path, 10), -1);
}
END_TEST

START_TEST(lookup_through_users_cdb)
{
	char *dir = make_tmpdir(), cdb[512], home[256], a[ADDR_MAX + 1],
	     assign[2048];
	struct assign_entry e;
	const char *why;
	snprintf(home, sizeof home, "%s", dir);
	snprintf(assign, sizeof assign,
	         "=example.org-john.smith:u:1:1:%s:-:john.smith:\n"
	         "=example.org-eve:u:1:1:%s:-:eve:\n"
	         "=example.org-nofile:u:1:1:%s:-:nofile:\n.\n", home, home, home);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	size_t badline;
	ck_assert_int_eq(assign_build_cdb(assign, strlen(assign), dfd, "cdb",
	                                  &badline), 0);
	close(dfd);
	write_file(dir, ".qmail-john:smith", "%sealed john.smith@example.org\n",
	           31);
	write_file(dir, ".qmail-eve", "./Maildir/\n", 11);
	snprintf(cdb, sizeof cdb, "%s/cdb", dir);
	ck_assert_int_eq(dotqmail_lookup(cdb, "Example.org-John.Smith", &e, a,
	                                 &why), DOTQMAIL_OK);
	ck_assert_str_eq(a, "john.smith@example.org");
	ck_assert_int_eq(dotqmail_lookup(cdb, "example.org-eve", &e, a, &why),
	                 DOTQMAIL_BADFILE);
	ck_assert_int_eq(dotqmail_lookup(cdb, "example.org-nofile", &e, a, &why),
	                 DOTQMAIL_BADFILE);
	ck_assert_int_eq(dotqmail_lookup(cdb, "example.org-nobody", &e, a, &why),
	                 DOTQMAIL_NOUSER);
	rm_rf(dir);
	free(dir);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("dotqmail");
	TCase *tc = tcase_create("dotqmail");
	tcase_add_test(tc, one_sealed_line_with_comments);
	tcase_add_test(tc, plaintext_delivery_lines_are_refused);
	tcase_add_test(tc, path_writes_dots_as_colons);
	tcase_add_test(tc, lookup_through_users_cdb);
	suite_add_tcase(s, tc);
	return s;
}
