/* check_log - one-line, escaped log records. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "testutil.h"

START_TEST(record_names_program_pid_and_level)
{
	char rec[256], want[128];
	log_init("/var/secure-qmail/bin/sq-smtpd");
	size_t n = log_format(rec, sizeof rec, SQLOG_WARN, "peer went away");
	snprintf(want, sizeof want, "sq-smtpd[%ld]: warning: peer went away\n",
	         (long)getpid());
	ck_assert_str_eq(rec, want);
	ck_assert_uint_eq(n, strlen(want));
}
END_TEST

START_TEST(hostile_bytes_cannot_break_the_line)
{
	char rec[256];
	log_init("t");
	log_format(rec, sizeof rec, SQLOG_INFO,
	           "HELO x\r\nt[1]: fatal: forged\x1b[2J\\\xff");
	const char *msg = strstr(rec, "info: ") + 6;
	ck_assert_str_eq(msg,
	                 "HELO x\\x0d\\x0at[1]: fatal: forged\\x1b[2J\\x5c\\xff\n");
	ck_assert_ptr_eq(strchr(rec, '\n'), rec + strlen(rec) - 1);
}
END_TEST

START_TEST(long_record_is_cut_with_an_ellipsis)
{
	char rec[64], msg[200];
	memset(msg, 'a', sizeof msg - 1);
	msg[sizeof msg - 1] = '\0';
	log_init("t");
	size_t n = log_format(rec, sizeof rec, SQLOG_INFO, msg);
	ck_assert_uint_lt(n, sizeof rec);
	ck_assert_str_eq(rec + n - 4, "...\n");
}
END_TEST

static void log_one(void *arg)
{
	(void)arg;
	log_init("sq-test");
	log_msg(SQLOG_ALERT, "disk %s is %d%% full", "queue", 99);
}

START_TEST(log_msg_writes_one_line_to_stderr)
{
	char out[256];
	ck_assert_int_eq(run_capture(log_one, NULL, out, sizeof out), 0);
	ck_assert_ptr_nonnull(strstr(out, "sq-test["));
	ck_assert_ptr_nonnull(strstr(out, "]: alert: disk queue is 99% full\n"));
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	tcase_add_test(tc, record_names_program_pid_and_level);
	tcase_add_test(tc, hostile_bytes_cannot_break_the_line);
	tcase_add_test(tc, long_record_is_cut_with_an_ellipsis);
	tcase_add_test(tc, log_msg_writes_one_line_to_stderr);
	suite_add_tcase(s, tc);
	return s;
}
