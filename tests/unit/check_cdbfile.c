/* check_cdbfile - constant databases through tinycdb. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cdbfile.h"
#include "testutil.h"

static char *dir;
static int dfd;
static char path[4096];

static void setup(void)
{
	dir = make_tmpdir();
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof path, "%s/cdb", dir);
}

static void teardown(void)
{
	close(dfd);
	rm_rf(dir);
	free(dir);
}

static void make_users(int n)
{
	struct cdbfile_writer w;
	char key[64], val[64];
	ck_assert_int_eq(cdbfile_begin(&w, dfd, "cdb", 0644), 0);
	for (int i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof key, "!user%d-", i);
		int vl = snprintf(val, sizeof val, "user%d:1001:1001:/home/u%d",
		                  i, i);
		ck_assert_int_eq(cdbfile_add(&w, key, (size_t)kl, val, (size_t)vl),
		                 0);
	}
	ck_assert_int_eq(cdbfile_commit(&w), 0);
}

START_TEST(written_records_are_found)
{
	struct sbuf v;
	sbuf_init(&v, 1024);
	make_users(1000);
	ck_assert_int_eq(cdbfile_lookup(path, "!user999-", 9, &v), 1);
	ck_assert_int_eq(memcmp(v.s, "user999", 7), 0);
	ck_assert_int_eq(cdbfile_lookup(path, "!user0-", 7, &v), 1);
	ck_assert_int_eq(cdbfile_lookup(path, "!nobody-", 8, &v), 0);
	sbuf_free(&v);
}
END_TEST

START_TEST(missing_file_is_not_found)
{
	struct sbuf v;
	sbuf_init(&v, 10);
	ck_assert_int_eq(cdbfile_lookup(path, "k", 1, &v), 0);
	sbuf_free(&v);
}
END_TEST

START_TEST(value_longer_than_the_limit_is_an_error)
{
	struct sbuf v;
	sbuf_init(&v, 4);
	make_users(3);
	errno = 0;
	ck_assert_int_eq(cdbfile_lookup(path, "!user1-", 7, &v), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	sbuf_free(&v);
}
END_TEST

START_TEST(corrupt_file_is_an_error_not_a_crash)
{
	struct sbuf v;
	sbuf_init(&v, 1024);
	/* a header whose pointers run past the end of the file */
	unsigned char junk[2048 + 16];
	memset(junk, 0xff, sizeof junk);
	write_file(dir, "cdb", junk, sizeof junk);
	ck_assert_int_eq(cdbfile_lookup(path, "!user1-", 7, &v), -1);
	write_file(dir, "cdb", "short", 5);
	ck_assert_int_eq(cdbfile_lookup(path, "!user1-", 7, &v), -1);
	sbuf_free(&v);
}
END_TEST

START_TEST(abort_keeps_the_old_database)
{
	struct sbuf v;
	struct cdbfile_writer w;
	sbuf_init(&v, 1024);
	make_users(2);
	ck_assert_int_eq(cdbfile_begin(&w, dfd, "cdb", 0644), 0);
	ck_assert_int_eq(cdbfile_add(&w, "new", 3, "x", 1), 0);
	cdbfile_abort(&w);
	ck_assert_int_eq(cdbfile_lookup(path, "!user1-", 7, &v), 1);
	ck_assert_int_eq(cdbfile_lookup(path, "new", 3, &v), 0);
	sbuf_free(&v);
}
END_TEST

START_TEST(open_database_serves_repeated_lookups)
{
	struct sbuf v;
	struct cdb db;
	sbuf_init(&v, 1024);
	make_users(50);
	int fd = open(path, O_RDONLY);
	ck_assert_int_eq(cdb_init(&db, fd), 0);
	ck_assert_int_eq(cdbfile_find(&db, "!user7-", 7, &v), 1);
	ck_assert_int_eq(cdbfile_find(&db, "!user49-", 8, &v), 1);
	ck_assert_int_eq(cdbfile_find(&db, "!user50-", 8, &v), 0);
	cdb_free(&db);
	close(fd);
	sbuf_free(&v);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("cdbfile");
	TCase *tc = tcase_create("cdbfile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, written_records_are_found);
	tcase_add_test(tc, missing_file_is_not_found);
	tcase_add_test(tc, value_longer_than_the_limit_is_an_error);
	tcase_add_test(tc, corrupt_file_is_an_error_not_a_crash);
	tcase_add_test(tc, abort_keeps_the_old_database);
	tcase_add_test(tc, open_database_serves_repeated_lookups);
	suite_add_tcase(s, tc);
	return s;
}
