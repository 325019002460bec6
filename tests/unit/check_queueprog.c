/* check_queueprog - running a qmail-queue style program. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/queueprog.h"
#include "testutil.h"

/* A queue program that copies fd 0 and fd 1 into files next to it and
 * exits with the code in the file "code" there. */
static const char script[] =
	"#!/bin/sh\n"
	"d=$(dirname \"$0\")\n"
	"cat > \"$d/got-message\"\n"
	"cat <&1 > \"$d/got-envelope\"\n"
	"exit $(cat \"$d/code\")\n";

static char *setup(const char *code, char *prog, size_t n)
{
	char *dir = make_tmpdir();
	write_file(dir, "qq", script, sizeof script - 1);
	write_file(dir, "code", code, strlen(code));
	snprintf(prog, n, "%s/qq", dir);
	ck_assert_int_eq(chmod(prog, 0755), 0);
	return dir;
}

static void slurp(const char *dir, const char *name, char *buf, size_t n)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t got = fread(buf, 1, n - 1, f);
	buf[got] = '\0';
	fclose(f);
}

START_TEST(the_program_gets_both_descriptors_and_its_code_comes_back)
{
	char prog[4300], buf[256];
	char *dir = setup("31\n", prog, sizeof prog);
	int m[2], e[2];
	/* close-on-exec, as the callers make them: the child must not hold
	 * the write ends, or it would never see the end of its input */
	ck_assert_int_eq(pipe2(m, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(e, O_CLOEXEC), 0);
	pid_t pid = queueprog_start(prog, "sq-queue", m[0], e[0]);
	ck_assert_int_gt(pid, 0);
	close(m[0]);
	close(e[0]);
	ck_assert_int_eq(write(m[1], "the message", 11), 11);
	close(m[1]);
	ck_assert_int_eq(write(e[1], "Fa\0Tb\0\0", 7), 7);
	close(e[1]);
	ck_assert_int_eq(queueprog_wait(pid), 31);
	slurp(dir, "got-message", buf, sizeof buf);
	ck_assert_str_eq(buf, "the message");
	slurp(dir, "got-envelope", buf, sizeof buf);
	ck_assert_int_eq(memcmp(buf, "Fa", 3), 0); /* up to the first NUL */
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(a_missing_program_fails_to_start)
{
	/* glibc reports it at once; under valgrind, which cannot vfork, the
	 * child reports it by exiting 127, as POSIX allows */
	errno = 0;
	pid_t pid = queueprog_start("/nonexistent/sq-queue", "sq-queue", 0, 1);
	if (pid < 0)
		ck_assert_int_eq(errno, ENOENT);
	else
		ck_assert_int_eq(queueprog_wait(pid), 127);
}
END_TEST

START_TEST(a_program_killed_by_a_signal_is_no_exit_code)
{
	char prog[4300];
	char *dir = setup("0\n", prog, sizeof prog);
	static const char suicide[] = "#!/bin/sh\nkill -9 $$\n";
	write_file(dir, "qq", suicide, sizeof suicide - 1);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = queueprog_start(prog, "sq-queue", p[0], p[0]);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(queueprog_wait(pid), -1);
	close(p[0]);
	close(p[1]);
	rm_rf(dir);
	free(dir);
}
END_TEST

/* A queue program that never reads nor exits (a sealer that never
 * answers): killed after the bound, -1 with ETIMEDOUT, for a message
 * larger than a pipe holds and for a small one. */
START_TEST(a_program_that_never_answers_is_killed_in_time)
{
	static char big[256 * 1024];
	static const char silent[] = "#!/bin/sh\nexec sleep 30\n";
	char prog[4300];
	char *dir = make_tmpdir();
	write_file(dir, "qq", silent, sizeof silent - 1);
	snprintf(prog, sizeof prog, "%s/qq", dir);
	ck_assert_int_eq(chmod(prog, 0755), 0);
	memset(big, 'x', sizeof big);
	for (size_t len = sizeof big; len; len = len > 10 ? 10 : 0) {
		time_t t0 = time(NULL);
		errno = 0;
		ck_assert_int_eq(queueprog_run_within(prog, "sq-seal", big,
		                                      len, "Fa\0\0", 4, 1), -1);
		ck_assert_int_eq(errno, ETIMEDOUT);
		ck_assert_int_le(time(NULL) - t0, 3);
	}
	rm_rf(dir);
	free(dir);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("queueprog");
	TCase *tc = tcase_create("queueprog");
	tcase_add_test(tc, the_program_gets_both_descriptors_and_its_code_comes_back);
	tcase_add_test(tc, a_missing_program_fails_to_start);
	tcase_add_test(tc, a_program_killed_by_a_signal_is_no_exit_code);
	tcase_add_test(tc, a_program_that_never_answers_is_killed_in_time);
	suite_add_tcase(s, tc);
	return s;
}
