/* check_qmsg - the scheduler's files for a queued message. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/qmsg.h"
#include "testutil.h"

static char *home;
static struct queue q;

static void setup(void)
{
	char why[256];
	struct queue_owners o = { (uid_t)-1, (uid_t)-1, (gid_t)-1 };
	home = make_tmpdir();
	ck_assert_int_eq(queue_init(home, &o, why, sizeof why), 0);
	ck_assert_int_eq(queue_open(&q, home, ~0u & ((1u << QUEUE_NDIRS) - 1)), 0);
}

static void teardown(void)
{
	queue_close(&q);
	rm_rf(home);
	free(home);
}

static int local_if_ours(const char *addr, void *arg)
{
	(void)arg;
	const char *at = strrchr(addr, '@');
	return !at || strcmp(at, "@example.org") == 0;
}

#define ENVELOPE "u1000\0p42\0Fsender@remote.example\0Ta@example.org\0" \
                 "Tb@remote.example\0Tc@example.org\0"

static void from_todo(unsigned long long num, struct qmsg *m)
{
	struct queue_envelope e;
	ck_assert_int_eq(queue_envelope_parse(&e, ENVELOPE, sizeof ENVELOPE), 0);
	ck_assert_int_eq(qmsg_from_todo(&q, num, &e, local_if_ours, NULL, 1700000000,
	                                m), 0);
	queue_envelope_free(&e);
}

START_TEST(a_todo_envelope_is_split_into_local_and_remote)
{
	struct qmsg m, back;
	from_todo(1177, &m);
	ck_assert_str_eq(m.sender, "sender@remote.example");
	ck_assert_uint_eq(m.local.n, 2);
	ck_assert_str_eq(m.local.r[0].addr, "a@example.org");
	ck_assert_str_eq(m.local.r[1].addr, "c@example.org");
	ck_assert_uint_eq(m.remote.n, 1);
	ck_assert_str_eq(m.remote.r[0].addr, "b@remote.example");
	ck_assert_int_eq(qmsg_load(&q, 1177, &back), 0);
	ck_assert_int_eq(back.birth, 1700000000);
	ck_assert_str_eq(back.sender, "sender@remote.example");
	ck_assert_uint_eq(back.local.todo, 2);
	ck_assert_uint_eq(back.remote.todo, 1);
	qmsg_free(&m);
	qmsg_free(&back);
}
END_TEST

START_TEST(done_recipients_stay_done_after_a_reload)
{
	struct qmsg m, back;
	from_todo(5, &m);
	ck_assert_int_eq(qmsg_done(&q, &m, &m.local, 1), 0);
	ck_assert_int_eq(qmsg_done(&q, &m, &m.local, 1), 0); /* twice: no-op */
	ck_assert_uint_eq(m.local.todo, 1);
	ck_assert_int_eq(qmsg_load(&q, 5, &back), 0);
	ck_assert_int_eq(back.local.r[0].done, 0);
	ck_assert_int_eq(back.local.r[1].done, 1);
	ck_assert_uint_eq(back.local.todo, 1);
	ck_assert_str_eq(back.local.r[1].addr, "c@example.org");
	qmsg_free(&m);
	qmsg_free(&back);
}
END_TEST

START_TEST(the_next_attempt_survives_in_the_info_mtime)
{
	struct qmsg m;
	from_todo(7, &m);
	ck_assert_int_eq(qmsg_set_next(&q, 7, 1800000000), 0);
	ck_assert_int_eq(qmsg_next(&q, 7), 1800000000);
	ck_assert_int_eq(qmsg_next(&q, 8), 0);
	qmsg_free(&m);
}
END_TEST

START_TEST(bounces_collect_and_go)
{
	struct sbuf b;
	sbuf_init(&b, 1 << 20);
	ck_assert_int_eq(qmsg_bounce_read(&q, 9, &b), 0);
	ck_assert_int_eq(qmsg_bounce_add(&q, 9, "a@example.org", "no such user"), 0);
	ck_assert_int_eq(qmsg_bounce_add(&q, 9, "c@example.org", "over quota"), 0);
	ck_assert_int_eq(qmsg_bounce_read(&q, 9, &b), 1);
	static const char want[] = "Ra@example.org\0no such user\0"
	                           "Rc@example.org\0over quota\0";
	ck_assert_uint_eq(b.len, sizeof want - 1);
	ck_assert_int_eq(memcmp(b.s, want, b.len), 0);
	ck_assert_int_eq(qmsg_bounce_remove(&q, 9), 0);
	b.len = 0;
	ck_assert_int_eq(qmsg_bounce_read(&q, 9, &b), 0);
	sbuf_free(&b);
}
END_TEST

static int count(unsigned long long num, void *arg)
{
	*(unsigned long long *)arg += num;
	return 0;
}

START_TEST(removal_leaves_nothing_and_each_lists_what_is_there)
{
	struct qmsg m1, m2;
	unsigned long long sum = 0;
	from_todo(30, &m1);
	from_todo(31, &m2);
	ck_assert_int_eq(qmsg_each(&q, count, &sum), 0);
	ck_assert_uint_eq(sum, 61);
	ck_assert_int_eq(qmsg_bounce_add(&q, 30, "a@example.org", "x"), 0);
	ck_assert_int_eq(qmsg_remove(&q, 30), 0);
	sum = 0;
	ck_assert_int_eq(qmsg_each(&q, count, &sum), 0);
	ck_assert_uint_eq(sum, 31);
	struct qmsg gone;
	ck_assert_int_eq(qmsg_load(&q, 30, &gone), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(qmsg_remove(&q, 30), 0); /* again: nothing to do */
	qmsg_free(&m1);
	qmsg_free(&m2);
}
END_TEST

START_TEST(damaged_files_are_refused)
{
	static const struct { const char *s; size_t len; } bad[] = {
#define B(lit) { lit, sizeof(lit) - 1 }
		B(""), B("b\0Fx\0"), B("b12x\0Fx\0"), B("b12\0Fx"),
		B("b12\0Gx\0"), B("b12\0Fx\0y\0"), B("b12\0"),
#undef B
	};
	char dir[4300];
	snprintf(dir, sizeof dir, "%s/queue/info/%llu", home, 40ULL % QUEUE_SPLIT);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(dir, "40", bad[i].s, bad[i].len);
		struct qmsg m;
		ck_assert_msg(qmsg_load(&q, 40, &m) == -1, "case %zu", i);
	}
	/* a list record without its tag */
	struct qmsg m;
	from_todo(41, &m);
	qmsg_free(&m);
	snprintf(dir, sizeof dir, "%s/queue/local/%llu", home, 41ULL % QUEUE_SPLIT);
	write_file(dir, "41", "Xa@example.org\0", 15);
	ck_assert_int_eq(qmsg_load(&q, 41, &m), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(an_empty_list_has_no_file_and_reads_back_empty)
{
	static const char env[] = "u1000\0p42\0Fs@remote.example\0"
	                          "Ta@example.org\0";
	struct queue_envelope e;
	struct qmsg m, back;
	struct stat st;
	char path[4300];
	ck_assert_int_eq(queue_envelope_parse(&e, env, sizeof env), 0);
	ck_assert_int_eq(qmsg_from_todo(&q, 50, &e, local_if_ours, NULL, 1,
	                                &m), 0);
	queue_envelope_free(&e);
	snprintf(path, sizeof path, "%s/queue/remote/%llu/50", home,
	         50ULL % QUEUE_SPLIT);
	ck_assert_int_eq(stat(path, &st), -1);
	ck_assert_int_eq(qmsg_load(&q, 50, &back), 0);
	ck_assert_uint_eq(back.remote.n, 0);
	ck_assert_uint_eq(back.local.todo, 1);
	qmsg_free(&back);
	/* a message whose end a crash interrupted (local already gone) loads
	 * as finished */
	snprintf(path, sizeof path, "%s/queue/local/%llu/50", home,
	         50ULL % QUEUE_SPLIT);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(qmsg_load(&q, 50, &back), 0);
	ck_assert_uint_eq(back.local.todo + back.remote.todo, 0);
	qmsg_free(&back);
	qmsg_free(&m);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("qmsg");
	TCase *tc = tcase_create("qmsg");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_todo_envelope_is_split_into_local_and_remote);
	tcase_add_test(tc, done_recipients_stay_done_after_a_reload);
	tcase_add_test(tc, the_next_attempt_survives_in_the_info_mtime);
	tcase_add_test(tc, bounces_collect_and_go);
	tcase_add_test(tc, removal_leaves_nothing_and_each_lists_what_is_there);
	tcase_add_test(tc, damaged_files_are_refused);
	tcase_add_test(tc, an_empty_list_has_no_file_and_reads_back_empty);
	suite_add_tcase(s, tc);
	return s;
}
