/* check_mailstore - combined mode: the sealed message lands fsynced in the
 * mailbox's maildir, named with its sizes. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/mailstore.h"
#include "testutil.h"

static char *count_new(const char *home, const char *id, int *n)
{
	static char name[512];
	char path[512];
	struct dirent *de;
	snprintf(path, sizeof path, "%s/maildirs/%s/new", home, id);
	DIR *d = opendir(path);
	*n = 0;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(name, sizeof name, "%s", de->d_name);
			(*n)++;
		}
	if (d)
		closedir(d);
	return name;
}

START_TEST(stores_into_the_mailbox)
{
	char *home = make_tmpdir(), ctldir[512], why[300];
	struct control ctl;
	struct mailstore st;
	int n;
	snprintf(ctldir, sizeof ctldir, "%s", home);
	write_file(home, "me", "mx.example.org\n", 15);
	ck_assert_int_eq(control_open(&ctl, ctldir), 0);
	ck_assert_int_eq(mailstore_init(&st, &ctl, ctldir, home, why,
	                                sizeof why), 0);
	ck_assert_int_eq(mailstore_put(&st, "93e896f4-42", NULL, "sealed", 6, 1234, why,
	                           sizeof why), MAILSTORE_OK);
	char *name = count_new(home, "93e896f4-42", &n);
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_nonnull(strstr(name, ",S=6,W=1234"));
	ck_assert_ptr_nonnull(strstr(name, "mx.example.org"));
	ck_assert_int_eq(mailstore_put(&st, "../etc", NULL, "x", 1, 1, why, sizeof why),
	                 MAILSTORE_PERM);
	ck_assert_int_eq(strncmp(why, "5.1.1", 5), 0);
	mailstore_fini(&st);
	control_close(&ctl);
	rm_rf(home);
	free(home);
}
END_TEST

/* A retry after a crash finds the first copy, even when that copy is
 * what filled the mailbox: stored once, and the retry ends. */
START_TEST(a_retried_delivery_is_stored_once_even_when_full)
{
	char *home = make_tmpdir(), why[300];
	const char *did = "1700000000.M000001Q77.mx.example.org";
	struct control ctl;
	struct mailstore st;
	int n;
	write_file(home, "me", "mx.example.org\n", 15);
	write_file(home, "quota", "* 8\n", 4);
	ck_assert_int_eq(control_open(&ctl, home), 0);
	ck_assert_int_eq(mailstore_init(&st, &ctl, home, home, why,
	                                sizeof why), 0);
	ck_assert_int_eq(mailstore_put(&st, "93e896f4-42", did, "sealed", 6, 9,
	                               why, sizeof why), MAILSTORE_OK);
	ck_assert_int_eq(mailstore_put(&st, "93e896f4-42", did, "sealed", 6, 9,
	                               why, sizeof why), MAILSTORE_OK);
	ck_assert_msg(strstr(why, "stored before") != NULL, "%s", why);
	ck_assert_str_eq(count_new(home, "93e896f4-42", &n),
	                 "1700000000.M000001Q77.mx.example.org,S=6,W=9");
	ck_assert_int_eq(n, 1);
	/* another message is over the quota: deferred */
	ck_assert_int_eq(mailstore_put(&st, "93e896f4-42",
	                               "1700000000.M000001Q78.mx.example.org",
	                               "sealed", 6, 9, why, sizeof why),
	                 MAILSTORE_TEMP);
	ck_assert_int_eq(strncmp(why, "4.2.2", 5), 0);
	mailstore_fini(&st);
	control_close(&ctl);
	rm_rf(home);
	free(home);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("mailstore");
	TCase *tc = tcase_create("mailstore");
	tcase_add_test(tc, stores_into_the_mailbox);
	tcase_add_test(tc, a_retried_delivery_is_stored_once_even_when_full);
	suite_add_tcase(s, tc);
	return s;
}
