/* check_journal - provisioning records in users/pending: what a delete
 * record names, read back; malformed records refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "journal.h"
#include "testutil.h"

static char *home;
static char pending[4200];

static void setup(void)
{
	home = make_tmpdir();
	snprintf(pending, sizeof pending, "%s/users/pending", home);
}

static void teardown(void)
{
	rm_rf(home);
	free(home);
}

#define DIGEST_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct seen {
	int n;
	struct journal_entry e;
};

static int keep(const struct journal_entry *e, void *arg)
{
	struct seen *s = arg;
	s->n++;
	s->e = *e;
	return 0;
}

/* The records in users/pending, read back: the count, or -1. */
static int read_back(struct seen *s)
{
	memset(s, 0, sizeof *s);
	int r = journal_each(home, keep, s);
	return r < 0 ? -1 : s->n;
}

static void put(const char *text)
{
	mkdir(home, 0700);
	char users[4200];
	snprintf(users, sizeof users, "%s/users", home);
	mkdir(users, 0755);
	mkdir(pending, 0700);
	write_file(pending, "1.000000001.1", text, strlen(text));
}

START_TEST(delete_record_names_its_rows)
{
	struct journal_entry e;
	struct seen s;
	memset(&e, 0, sizeof e);
	e.op = JOURNAL_DELETE;
	strcpy(e.address, "john@example.org");
	e.rows_known = 1;
	e.nrows = 2;
	e.rows[0].row = 17;
	strcpy(e.rows[0].digest, DIGEST_A);
	e.rows[1].row = 9007199254740991ULL;
	strcpy(e.rows[1].digest, DIGEST_B);
	ck_assert_int_eq(journal_begin(home, &e), 0);
	ck_assert_int_eq(read_back(&s), 1);
	ck_assert_int_eq(s.e.op, JOURNAL_DELETE);
	ck_assert_str_eq(s.e.address, "john@example.org");
	ck_assert_int_eq(s.e.rows_known, 1);
	ck_assert_uint_eq(s.e.nrows, 2);
	ck_assert_uint_eq(s.e.rows[0].row, 17);
	ck_assert_str_eq(s.e.rows[0].digest, DIGEST_A);
	ck_assert_uint_eq(s.e.rows[1].row, 9007199254740991ULL);
	ck_assert_str_eq(s.e.rows[1].digest, DIGEST_B);
	ck_assert_int_eq(journal_end(home, &s.e), 0);
	ck_assert_int_eq(read_back(&s), 0);
}
END_TEST

START_TEST(delete_of_no_rows_is_known)
{
	struct seen s;
	put("delete\nx@example.org\n\nrows 0\n");
	ck_assert_int_eq(read_back(&s), 1);
	ck_assert_int_eq(s.e.rows_known, 1);
	ck_assert_uint_eq(s.e.nrows, 0);
}
END_TEST

START_TEST(older_delete_record_names_no_rows)
{
	struct seen s;
	put("delete\nx@example.org\n\n");
	ck_assert_int_eq(read_back(&s), 1);
	ck_assert_int_eq(s.e.op, JOURNAL_DELETE);
	ck_assert_int_eq(s.e.rows_known, 0);
}
END_TEST

START_TEST(add_record_reads_back)
{
	struct seen s;
	put("add\nx@example.org\n" DIGEST_B "\n");
	ck_assert_int_eq(read_back(&s), 1);
	ck_assert_int_eq(s.e.op, JOURNAL_ADD);
	ck_assert_str_eq(s.e.pek_digest, DIGEST_B);
}
END_TEST

START_TEST(too_many_rows_are_not_written)
{
	struct journal_entry e;
	memset(&e, 0, sizeof e);
	e.op = JOURNAL_DELETE;
	strcpy(e.address, "x@example.org");
	e.rows_known = 1;
	e.nrows = JOURNAL_ROWS_MAX + 1;
	ck_assert_int_eq(journal_begin(home, &e), -1);
}
END_TEST

static const char *const bad[] = {
	"",                                             /* nothing */
	"remove\nx@example.org\n\n",                    /* no such op */
	"add\nx@example.org\n\n",                       /* add without digest */
	"add\nx@example.org\nabc\n",                    /* short digest */
	"add\n\n" DIGEST_A "\n",                        /* no address */
	"add\nx@example.org\n" DIGEST_A "\nmore\n",     /* trailing line */
	"delete\nx@example.org\n\nrows 2\n1 " DIGEST_A "\n", /* one row short */
	"delete\nx@example.org\n\nrows 1\n0 " DIGEST_A "\n", /* row 0 */
	"delete\nx@example.org\n\nrows 1\n1 " DIGEST_A "\n2 " DIGEST_B "\n",
	"delete\nx@example.org\n\nrows 1\n1 abc\n",     /* short digest */
	"delete\nx@example.org\n\nrows 1\n-1 " DIGEST_A "\n",
	"delete\nx@example.org\n\nrows 257\n",          /* over the bound */
	"delete\nx@example.org\n\nrows x\n",
	"delete\nx@example.org\n\nrows 1\n1 " DIGEST_A, /* no last newline */
};

START_TEST(malformed_records_are_refused)
{
	struct seen s;
	put(bad[_i]);
	ck_assert_msg(read_back(&s) == -1, "accepted record %d", _i);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, delete_record_names_its_rows);
	tcase_add_test(tc, delete_of_no_rows_is_known);
	tcase_add_test(tc, older_delete_record_names_no_rows);
	tcase_add_test(tc, add_record_reads_back);
	tcase_add_test(tc, too_many_rows_are_not_written);
	tcase_add_loop_test(tc, malformed_records_are_refused, 0,
	                    (int)(sizeof bad / sizeof bad[0]));
	suite_add_tcase(s, tc);
	return s;
}
