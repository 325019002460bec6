/* check_secretfd - secrets on inherited descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"
#include "util/secretfd.h"
#include "testutil.h"

static const char key[] = "-----BEGIN PRIVATE KEY-----\nMIGH...\n";

START_TEST(pipe_carries_the_secret_once)
{
	struct sbuf got;
	sbuf_init_secret(&got, 4096);
	int fd = secret_pipe(key, sizeof key - 1);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(secret_take(fd, &got), 0);
	ck_assert_str_eq(got.s, key);
	sbuf_free(&got);
}
END_TEST

START_TEST(pipe_refuses_more_than_one_atomic_write)
{
	static char big[SECRET_PIPE_MAX + 1];
	errno = 0;
	ck_assert_int_eq(secret_pipe(big, sizeof big), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
}
END_TEST

START_TEST(memfd_is_sealed_against_change)
{
	struct sbuf got;
	sbuf_init_secret(&got, 1 << 20);
	int fd = secret_memfd(key, sizeof key - 1);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(fd, 0), -1);
	ck_assert_int_eq(secret_take(fd, &got), 0);
	ck_assert_str_eq(got.s, key);
	sbuf_free(&got);
}
END_TEST

START_TEST(reader_limit_bounds_the_secret)
{
	struct sbuf got;
	sbuf_init_secret(&got, 8);
	int fd = secret_pipe(key, sizeof key - 1);
	ck_assert_int_eq(secret_take(fd, &got), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	sbuf_free(&got);
}
END_TEST

START_TEST(passed_fd_reaches_the_next_program)
{
	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = secret_memfd(key, sizeof key - 1);
		if (fd < 0 || secret_pass(fd, 7) < 0)
			_exit(1);
		dup2(out[1], 1);
		execl("/bin/sh", "sh", "-c", "exec cat <&7", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	char buf[256] = "";
	ssize_t n = read(out[0], buf, sizeof buf - 1);
	close(out[0]);
	int status;
	waitpid(pid, &status, 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(n, (ssize_t)(sizeof key - 1));
	ck_assert_str_eq(buf, key);
}
END_TEST

START_TEST(close_on_exec_fd_does_not_leak_into_exec)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = secret_pipe(key, sizeof key - 1);
		if (fd != 7 && (dup3(fd, 7, O_CLOEXEC) < 0))
			_exit(1);
		execl("/bin/sh", "sh", "-c", "exec 2>/dev/null; exec cat <&7", (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	ck_assert_int_ne(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(nodump_disables_core_files)
{
	struct rlimit rl;
	ck_assert_int_eq(secret_nodump(), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_CORE, &rl), 0);
	ck_assert_uint_eq(rl.rlim_cur, 0);
	ck_assert_uint_eq(rl.rlim_max, 0);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE), 0);
}
END_TEST

/* prctl(PR_SET_DUMPABLE) fails with EPERM from now on (seccomp), as in
 * tests/helpers/nodump-denied.c. */
static void deny_dumpable(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		         offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		         offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_DUMPABLE, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };
	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

static void nodump_denied(void *arg)
{
	log_init("sq-popup");
	if (arg)
		deny_dumpable();
	secret_nodump_or_die();
	fputs("still running\n", stderr);
}

START_TEST(nodump_failure_is_fatal)
{
	char out[512];
	ck_assert_int_eq(run_capture(nodump_denied, NULL, out, sizeof out), 0);
	ck_assert_str_eq(out, "still running\n");
	ck_assert_int_eq(run_capture(nodump_denied, "", out, sizeof out), 111);
	ck_assert_ptr_nonnull(strstr(out, "]: fatal: cannot disable core dumps: "
	                                  "Operation not permitted (#4.3.0)\n"));
	ck_assert_ptr_null(strstr(out, "still running"));
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("secretfd");
	TCase *tc = tcase_create("secretfd");
	tcase_add_test(tc, pipe_carries_the_secret_once);
	tcase_add_test(tc, pipe_refuses_more_than_one_atomic_write);
	tcase_add_test(tc, memfd_is_sealed_against_change);
	tcase_add_test(tc, reader_limit_bounds_the_secret);
	tcase_add_test(tc, nodump_failure_is_fatal);
	tcase_add_test(tc, passed_fd_reaches_the_next_program);
	tcase_add_test(tc, close_on_exec_fd_does_not_leak_into_exec);
	tcase_add_test(tc, nodump_disables_core_files);
	suite_add_tcase(s, tc);
	return s;
}
