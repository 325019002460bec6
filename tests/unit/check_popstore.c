/* check_popstore - a mailbox read in combined mode: listing, fetching,
 * removing, a mailbox never delivered to, and the choice of edhd when
 * the retrieval credential is there. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "popstore.h"
#include "testutil.h"

#define BOX "1a2b3c4d-7"

static char *home;
static char ctldir[4096];
static struct control ctl;

static void setup(void)
{
	home = make_tmpdir();
	snprintf(ctldir, sizeof ctldir, "%s/control", home);
	ck_assert_int_eq(mkdir(ctldir, 0755), 0);
	ck_assert_int_eq(control_open(&ctl, ctldir), 0);
}

static void teardown(void)
{
	control_close(&ctl);
	rm_rf(home);
	free(home);
}

static void deliver(const char *text, unsigned long long plain)
{
	char path[4200];
	struct maildir md;
	struct maildir_delivered d;
	snprintf(path, sizeof path, "%s/maildirs", home);
	mkdir(path, 0700);
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(maildir_open(&md, fd, BOX, 1), 0);
	ck_assert_int_eq(maildir_deliver(&md, "edh.example", text, strlen(text),
	                                 plain, &d), 0);
	maildir_close(&md);
	close(fd);
}

START_TEST(list_fetch_remove)
{
	struct popstore ps;
	char why[256];
	struct sbuf out;
	deliver("sealed one", 100);
	deliver("sealed two!", 200);
	ck_assert_int_eq(popstore_open(&ps, &ctl, ctldir, home, BOX, why,
	                               sizeof why), 0);
	ck_assert_int_eq(popstore_list(&ps, 10, why, sizeof why), POPSTORE_OK);
	ck_assert_uint_eq(ps.n, 2);
	ck_assert_uint_eq(ps.msgs[0].size, 10);
	ck_assert_uint_eq(ps.msgs[0].plainsize, 100);
	ck_assert_uint_eq(ps.msgs[1].plainsize, 200);
	sbuf_init(&out, 1024);
	ck_assert_int_eq(popstore_fetch(&ps, 1, &out, why, sizeof why),
	                 POPSTORE_OK);
	ck_assert_str_eq(out.s, "sealed two!");
	ck_assert_int_eq(popstore_remove(&ps, 1, why, sizeof why), POPSTORE_OK);
	ck_assert_int_eq(popstore_fetch(&ps, 1, &out, why, sizeof why),
	                 POPSTORE_GONE);
	/* removing what another session removed is no failure */
	ck_assert_int_eq(popstore_remove(&ps, 1, why, sizeof why), POPSTORE_OK);
	ck_assert_int_eq(popstore_sync(&ps, why, sizeof why), POPSTORE_OK);
	popstore_close(&ps);
	/* the next session lists what is left */
	ck_assert_int_eq(popstore_open(&ps, &ctl, ctldir, home, BOX, why,
	                               sizeof why), 0);
	ck_assert_int_eq(popstore_list(&ps, 1, why, sizeof why), POPSTORE_OK);
	ck_assert_uint_eq(ps.n, 1);
	sbuf_free(&out);
	popstore_close(&ps);
}
END_TEST

START_TEST(a_mailbox_never_delivered_to_is_empty)
{
	struct popstore ps;
	char why[256];
	/* no maildirs/ at all yet */
	ck_assert_int_eq(popstore_open(&ps, &ctl, ctldir, home, BOX, why,
	                               sizeof why), 0);
	ck_assert_int_eq(popstore_list(&ps, 10, why, sizeof why), POPSTORE_OK);
	ck_assert_uint_eq(ps.n, 0);
	ck_assert_ptr_null(ps.msgs);
	ck_assert_int_eq(popstore_sync(&ps, why, sizeof why), POPSTORE_OK);
	popstore_close(&ps);
	deliver("x", 1);
	ck_assert_int_eq(popstore_open(&ps, &ctl, ctldir, home, "1a2b3c4d-8",
	                               why, sizeof why), 0);
	ck_assert_int_eq(popstore_list(&ps, 10, why, sizeof why), POPSTORE_OK);
	ck_assert_uint_eq(ps.n, 0);
	popstore_close(&ps);
}
END_TEST

START_TEST(bad_ids_and_the_edh_choice)
{
	struct popstore ps;
	char why[256];
	ck_assert_int_eq(popstore_open(&ps, &ctl, ctldir, home, "../etc", why,
	                               sizeof why), -1);
	popstore_close(&ps);
	/* the retrieval credential names edhd: without the CA it cannot go */
	write_file(ctldir, EDHC_RETRIEVE_CREDFILE, "7:secret\n", 9);
	ck_assert_int_eq(popstore_open(&ps, &ctl, ctldir, home, BOX, why,
	                               sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "ca.pem"));
	popstore_close(&ps);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("popstore");
	TCase *tc = tcase_create("popstore");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, list_fetch_remove);
	tcase_add_test(tc, a_mailbox_never_delivered_to_is_empty);
	tcase_add_test(tc, bad_ids_and_the_edh_choice);
	suite_add_tcase(s, tc);
	return s;
}
