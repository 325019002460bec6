/* check_queue - the queue layout: names, the envelope scanner and parser,
 * listing todo/, and --init's layout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue.h"
#include "testutil.h"

#define S(lit) lit, sizeof lit - 1

static enum queue_env scan_all(const char *s, size_t len, size_t *pos)
{
	struct queue_env_scan st = { 0, 0 };
	enum queue_env r = queue_env_scan(&st, s, len);
	*pos = st.pos;
	return r;
}

START_TEST(paths_split_mess_but_not_todo)
{
	char p[64];
	ck_assert_int_eq(queue_path(p, sizeof p, QUEUE_MESS, 1177), 0);
	ck_assert_str_eq(p, "mess/4/1177");   /* 1177 % 23 == 4 */
	ck_assert_int_eq(queue_dirpath(p, sizeof p, QUEUE_MESS, 1177), 0);
	ck_assert_str_eq(p, "mess/4");
	ck_assert_int_eq(queue_path(p, sizeof p, QUEUE_TODO, 1177), 0);
	ck_assert_str_eq(p, "todo/1177");
	ck_assert_int_eq(queue_dirpath(p, sizeof p, QUEUE_BOUNCE, 1177), 0);
	ck_assert_str_eq(p, "bounce");
	ck_assert_int_eq(queue_path(p, 8, QUEUE_MESS, 1177), -1);
}
END_TEST

START_TEST(scan_accepts_envelopes_and_stops_at_the_final_nul)
{
	size_t pos;
	ck_assert_int_eq(scan_all(S("Fa@b\0Tc@d\0\0junk"), &pos), QUEUE_ENV_DONE);
	ck_assert_uint_eq(pos, 11);
	ck_assert_int_eq(scan_all(S("F\0Tc@d\0Te@f\0\0"), &pos), QUEUE_ENV_DONE);
	ck_assert_int_eq(scan_all(S("Fa@b\0Tc@d\0"), &pos), QUEUE_ENV_MORE);
	ck_assert_int_eq(scan_all(S("Fa@b\0\0"), &pos), QUEUE_ENV_FORMAT);
	ck_assert_int_eq(scan_all(S("Ta@b\0\0"), &pos), QUEUE_ENV_FORMAT);
	ck_assert_int_eq(scan_all(S("Fa@b\0T\0\0"), &pos), QUEUE_ENV_FORMAT);
	ck_assert_int_eq(scan_all(S("Fa@b\0Xc\0\0"), &pos), QUEUE_ENV_FORMAT);
}
END_TEST

START_TEST(scan_refuses_an_overlong_address_before_its_end)
{
	static char buf[QUEUE_ADDR_MAX + 8];
	size_t pos;
	memset(buf, 'x', sizeof buf);
	buf[0] = 'F';
	ck_assert_int_eq(scan_all(buf, QUEUE_ADDR_MAX + 1, &pos), QUEUE_ENV_MORE);
	ck_assert_int_eq(scan_all(buf, QUEUE_ADDR_MAX + 2, &pos),
	                 QUEUE_ENV_TOOLONG);
	buf[QUEUE_ADDR_MAX + 1] = '\0';         /* exactly the limit */
	buf[QUEUE_ADDR_MAX + 2] = 'T';
	buf[QUEUE_ADDR_MAX + 3] = 'y';
	buf[QUEUE_ADDR_MAX + 4] = '\0';
	buf[QUEUE_ADDR_MAX + 5] = '\0';
	ck_assert_int_eq(scan_all(buf, QUEUE_ADDR_MAX + 6, &pos), QUEUE_ENV_DONE);
}
END_TEST

START_TEST(scan_is_incremental)
{
	static const char env[] = "Fa@b\0Tc@d\0Te@f\0";
	struct queue_env_scan st = { 0, 0 };
	for (size_t n = 0; n < sizeof env - 1; n++)
		ck_assert_int_eq(queue_env_scan(&st, env, n), QUEUE_ENV_MORE);
	ck_assert_int_eq(queue_env_scan(&st, env, sizeof env), QUEUE_ENV_DONE);
	ck_assert_uint_eq(st.nrcpt, 2);
	ck_assert_uint_eq(st.pos, sizeof env);
}
END_TEST

START_TEST(parse_reads_an_intd_file_back)
{
	struct queue_envelope e;
	ck_assert_int_eq(queue_envelope_parse(&e,
		S("u1005\0p4242\0Fa@b\0Tc@d\0Te@f\0\0")), 0);
	ck_assert_uint_eq(e.uid, 1005);
	ck_assert_uint_eq(e.pid, 4242);
	ck_assert_str_eq(e.sender, "a@b");
	ck_assert_uint_eq(e.nrcpt, 2);
	ck_assert_str_eq(e.rcpt[0], "c@d");
	ck_assert_str_eq(e.rcpt[1], "e@f");
	queue_envelope_free(&e);
}
END_TEST

START_TEST(parse_refuses_damaged_files)
{
	static const struct { const char *s; size_t n; } bad[] = {
		{ S("Fa@b\0Tc@d\0\0") },                   /* no u/p */
		{ S("u1\0p2\0Fa@b\0Tc@d\0\0x") },          /* trailing */
		{ S("u1\0p2\0Fa@b\0Tc@d\0") },             /* cut short */
		{ S("u01\0p2\0Fa@b\0Tc@d\0\0") },          /* not canonical */
		{ S("u1\0px\0Fa@b\0Tc@d\0\0") },
		{ S("") },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct queue_envelope e;
		errno = 0;
		ck_assert_int_eq(queue_envelope_parse(&e, bad[i].s, bad[i].n), -1);
		ck_assert_int_eq(errno, EINVAL);
		queue_envelope_free(&e);
	}
}
END_TEST

static int collect(unsigned long long num, void *arg)
{
	unsigned long long *sum = arg;
	*sum += num;
	return 0;
}

START_TEST(init_then_todo_each_lists_numbers_only)
{
	char *home = make_tmpdir();
	char why[4200], path[4300];
	struct queue_owners o = { (uid_t)-1, (uid_t)-1, (gid_t)-1 };
	ck_assert_int_eq(queue_init(home, &o, why, sizeof why), 0);
	ck_assert_int_eq(queue_init(home, &o, why, sizeof why), 0);
	snprintf(path, sizeof path, "%s/queue/todo", home);
	write_file(path, "17", "x", 1);
	write_file(path, "25", "x", 1);
	write_file(path, "017", "x", 1);         /* not canonical: skipped */
	write_file(path, ".tmp", "x", 1);
	struct queue q;
	ck_assert_int_eq(queue_open(&q, home, QUEUE_FOR_QUEUEING), 0);
	unsigned long long sum = 0;
	ck_assert_int_eq(queue_todo_each(&q, collect, &sum), 0);
	ck_assert_uint_eq(sum, 42);
	sum = 0;
	ck_assert_int_eq(queue_todo_each(&q, collect, &sum), 0);
	ck_assert_uint_eq(sum, 42);             /* a second listing, whole */
	queue_close(&q);
	snprintf(path, sizeof path, "%s/queue/intd", home);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(queue_open(&q, home, QUEUE_FOR_QUEUEING), -1);
	ck_assert_int_eq(q.failed, QUEUE_INTD);
	snprintf(path, sizeof path, "%s/nowhere", home);
	ck_assert_int_eq(queue_open(&q, path, QUEUE_FOR_QUEUEING), -1);
	ck_assert_int_eq(q.failed, QUEUE_FAILED_HOME);
	ck_assert_int_eq(queue_init(path, &o, why, sizeof why),
	                 QUEUE_FAILED_HOME);
	rm_rf(home);
	free(home);
}
END_TEST

/* sq-send runs as the scheduler, to whom pid/ and intd/ (mode 0700, the
 * queue user's) are closed: it opens the queue without them. */
START_TEST(the_scheduler_needs_neither_pid_nor_intd)
{
	char *home = make_tmpdir();
	char why[4200], path[4300];
	struct queue_owners o = { (uid_t)-1, (uid_t)-1, (gid_t)-1 };
	ck_assert_int_eq(queue_init(home, &o, why, sizeof why), 0);
	ck_assert_uint_eq(QUEUE_FOR_SENDING & (QUEUE_BIT(QUEUE_PID) |
	                                       QUEUE_BIT(QUEUE_INTD)), 0);
	snprintf(path, sizeof path, "%s/queue/pid", home);
	ck_assert_int_eq(rmdir(path), 0);
	snprintf(path, sizeof path, "%s/queue/intd", home);
	ck_assert_int_eq(rmdir(path), 0);
	struct queue q;
	ck_assert_int_eq(queue_open(&q, home, QUEUE_FOR_SENDING), 0);
	for (int d = 0; d < QUEUE_NDIRS; d++)
		ck_assert_int_eq(q.dir[d] >= 0,
		                 (QUEUE_FOR_SENDING & QUEUE_BIT(d)) != 0);
	queue_close(&q);
	ck_assert_int_eq(queue_open(&q, home, ~0u & ((1u << QUEUE_NDIRS) - 1)),
	                 -1);
	ck_assert_int_eq(q.failed, QUEUE_PID);
	rm_rf(home);
	free(home);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");
	tcase_add_test(tc, paths_split_mess_but_not_todo);
	tcase_add_test(tc, scan_accepts_envelopes_and_stops_at_the_final_nul);
	tcase_add_test(tc, scan_refuses_an_overlong_address_before_its_end);
	tcase_add_test(tc, scan_is_incremental);
	tcase_add_test(tc, parse_reads_an_intd_file_back);
	tcase_add_test(tc, parse_refuses_damaged_files);
	tcase_add_test(tc, init_then_todo_each_lists_numbers_only);
	tcase_add_test(tc, the_scheduler_needs_neither_pid_nor_intd);
	suite_add_tcase(s, tc);
	return s;
}
