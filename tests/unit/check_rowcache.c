/*
 * check_rowcache - pksd's cache of opened rows (pks/rowcache.h): every
 * row of a full key store stays cached, a changed row is a miss, and a
 * full window gives up the entry used longest ago.
 */
#include <stdio.h>
#include <string.h>

#include "rowcache.h"
#include "testutil.h"

static struct rowcache c;

static void setup(void)
{
	ck_assert_int_eq(rowcache_init(&c), 0);
}

static void teardown(void)
{
	rowcache_fini(&c);
}

static void digest_of(uint64_t row, unsigned char *d)
{
	memset(d, 0, ROWCACHE_DIGEST);
	memcpy(d, &row, sizeof row);
}

static uint64_t nth_row(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state ^ (*state >> 29);
}

/* The benchmark's 10 000 rows of random ids: each is still cached after
 * all were put (a direct-mapped table lost a third of them). */
START_TEST(ten_thousand_random_rows_all_stay)
{
	unsigned char d[ROWCACHE_DIGEST];
	char pek[32], address[32];
	uint64_t state = 7;
	for (int i = 0; i < 10000; i++) {
		uint64_t row = nth_row(&state);
		digest_of(row, d);
		snprintf(pek, sizeof pek, "pek %d", i);
		snprintf(address, sizeof address, "u%d@example.org", i);
		ck_assert_int_eq(rowcache_put(&c, row, d, pek, address), 0);
	}
	state = 7;
	for (int i = 0; i < 10000; i++) {
		uint64_t row = nth_row(&state);
		digest_of(row, d);
		const struct rowcache_entry *e = rowcache_get(&c, row, d);
		ck_assert_msg(e != NULL, "row %d of 10000 was pushed out", i);
		snprintf(pek, sizeof pek, "pek %d", i);
		snprintf(address, sizeof address, "u%d@example.org", i);
		ck_assert_str_eq(e->pek, pek);
		ck_assert_str_eq(e->address, address);
	}
}
END_TEST

/* A row whose database copy changed is a miss; putting it again leaves
 * one entry, the new one. */
START_TEST(a_changed_row_is_a_miss_and_replaced_once)
{
	unsigned char d1[ROWCACHE_DIGEST], d2[ROWCACHE_DIGEST];
	digest_of(1, d1);
	digest_of(2, d2);
	ck_assert_ptr_null(rowcache_get(&c, 42, d1));
	ck_assert_int_eq(rowcache_put(&c, 42, d1, "old", "a@example.org"), 0);
	ck_assert_ptr_nonnull(rowcache_get(&c, 42, d1));
	ck_assert_ptr_null(rowcache_get(&c, 42, d2));
	ck_assert_int_eq(rowcache_put(&c, 42, d2, "new", "b@example.org"), 0);
	ck_assert_ptr_null(rowcache_get(&c, 42, d1));
	const struct rowcache_entry *e = rowcache_get(&c, 42, d2);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->pek, "new");
	ck_assert_str_eq(e->address, "b@example.org");
	int copies = 0;
	for (size_t i = 0; i < ROWCACHE_SLOTS; i++)
		copies += c.slot[i].pek && c.slot[i].row == 42;
	ck_assert_int_eq(copies, 1);
	ck_assert_ptr_null(rowcache_get(&c, 43, d2));
}
END_TEST

/* ROWCACHE_WAYS + 1 rows with one home: the one used longest ago goes,
 * and a row just used stays. */
START_TEST(a_full_window_gives_up_the_least_recently_used)
{
	uint64_t same[ROWCACHE_WAYS + 1];
	unsigned char d[ROWCACHE_DIGEST];
	size_t target = rowcache_home(1), n = 0;
	for (uint64_t row = 1; n < ROWCACHE_WAYS + 1; row++)
		if (rowcache_home(row) == target)
			same[n++] = row;
	for (unsigned i = 0; i < ROWCACHE_WAYS; i++) {
		digest_of(same[i], d);
		ck_assert_int_eq(rowcache_put(&c, same[i], d, "k", "a@b"), 0);
	}
	digest_of(same[0], d);
	ck_assert_ptr_nonnull(rowcache_get(&c, same[0], d));  /* now newest */
	digest_of(same[ROWCACHE_WAYS], d);
	ck_assert_int_eq(rowcache_put(&c, same[ROWCACHE_WAYS], d, "k", "a@b"),
	                 0);
	for (unsigned i = 0; i <= ROWCACHE_WAYS; i++) {
		digest_of(same[i], d);
		ck_assert_msg((rowcache_get(&c, same[i], d) != NULL) == (i != 1),
		              "row %u of the window", i);
	}
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("rowcache");
	TCase *tc = tcase_create("rowcache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ten_thousand_random_rows_all_stay);
	tcase_add_test(tc, a_changed_row_is_a_miss_and_replaced_once);
	tcase_add_test(tc, a_full_window_gives_up_the_least_recently_used);
	suite_add_tcase(s, tc);
	return s;
}
