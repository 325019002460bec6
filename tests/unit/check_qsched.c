/* check_qsched - retry times and the heap of messages by time. */
#include <stdlib.h>

#include "deliver/qsched.h"
#include "testutil.h"

START_TEST(retries_follow_qmails_squares)
{
	ck_assert_int_eq(sched_retry(1000, 1000, 10), 1100);
	ck_assert_int_eq(sched_retry(1000, 1100, 10), 1400);
	ck_assert_int_eq(sched_retry(1000, 1400, 10), 1900);
	ck_assert_int_eq(sched_retry(1000, 1000, 1), 1001);
	ck_assert_int_eq(sched_retry(1000, 1001, 1), 1004);
	/* a clock gone backwards is age 0, not a huge wait */
	ck_assert_int_eq(sched_retry(1000, 900, 10), 1100);
	/* the gaps only grow */
	time_t last = 0, gap = 0;
	for (int i = 0; i < 50; i++) {
		time_t next = sched_retry(0, last, 10);
		ck_assert_int_ge(next - last, gap);
		gap = next - last;
		last = next;
	}
}
END_TEST

START_TEST(the_heap_gives_items_in_time_order)
{
	enum { N = 500 };
	struct sched_heap h;
	struct sched_item *it = calloc(N, sizeof *it);
	sched_init(&h);
	srand(7);
	for (int i = 0; i < N; i++) {
		it[i].when = rand() % 1000;
		ck_assert_int_eq(sched_push(&h, &it[i]), 0);
	}
	/* move and remove some at random */
	for (int i = 0; i < N; i += 7)
		sched_update(&h, &it[i], rand() % 1000);
	for (int i = 3; i < N; i += 11)
		sched_remove(&h, &it[i]);
	time_t prev = -1;
	size_t seen = 0;
	struct sched_item *top;
	while ((top = sched_top(&h)) != NULL) {
		ck_assert_int_ge(top->when, prev);
		prev = top->when;
		sched_remove(&h, top);
		ck_assert_uint_eq(top->heap_index, SCHED_NOWHERE);
		seen++;
	}
	ck_assert_uint_eq(seen, N - (N - 3 + 10) / 11);
	sched_free(&h);
	free(it);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("sched");
	tcase_add_test(tc, retries_follow_qmails_squares);
	tcase_add_test(tc, the_heap_gives_items_in_time_order);
	suite_add_tcase(s, tc);
	return s;
}
