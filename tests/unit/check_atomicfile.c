/* check_atomicfile - crash-safe writes, including kill -9 mid-write. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "testutil.h"

static char *dir;
static int dfd;

static void setup(void)
{
	dir = make_tmpdir();
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
}

static void teardown(void)
{
	close(dfd);
	rm_rf(dir);
	free(dir);
}

/* Reads dir/name into buf; returns its length or -1. */
static ssize_t slurp(const char *name, char *buf, size_t n)
{
	int fd = openat(dfd, name, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t used = 0;
	ssize_t r;
	while (used < n && (r = read(fd, buf + used, n - used)) > 0)
		used += (size_t)r;
	close(fd);
	return (ssize_t)used;
}

/* Number of entries in dir other than . and .. */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

START_TEST(replace_installs_new_contents_and_leaves_no_temp)
{
	char buf[64];
	ck_assert_int_eq(atomic_write_file(dfd, "assign", "old\n", 4, 0644,
	                                   ATOMIC_REPLACE), 0);
	ck_assert_int_eq(atomic_write_file(dfd, "assign", "newer\n", 6, 0600,
	                                   ATOMIC_REPLACE), 0);
	ck_assert_int_eq(slurp("assign", buf, sizeof buf), 6);
	ck_assert(memcmp(buf, "newer\n", 6) == 0);
	ck_assert_int_eq(entries(), 1);
	struct stat st;
	ck_assert_int_eq(fstatat(dfd, "assign", &st, 0), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600 & ~umask(022));
}
END_TEST

START_TEST(create_refuses_an_existing_name)
{
	char buf[64];
	ck_assert_int_eq(atomic_write_file(dfd, "msg", "one", 3, 0600,
	                                   ATOMIC_CREATE), 0);
	errno = 0;
	ck_assert_int_eq(atomic_write_file(dfd, "msg", "two", 3, 0600,
	                                   ATOMIC_CREATE), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(slurp("msg", buf, sizeof buf), 3);
	ck_assert(memcmp(buf, "one", 3) == 0);
	ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(abort_removes_the_temporary_file)
{
	struct atomicfile af;
	ck_assert_int_eq(atomic_begin(&af, dfd, "x", 0600), 0);
	ck_assert_int_eq(atomic_write(&af, "partial", 7), 0);
	ck_assert_int_eq(entries(), 1);
	atomic_abort(&af);
	ck_assert_int_eq(entries(), 0);
}
END_TEST

START_TEST(names_with_a_slash_are_refused)
{
	struct atomicfile af;
	ck_assert_int_eq(atomic_begin(&af, dfd, "../escape", 0600), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(atomic_begin(&af, dfd, "", 0600), -1);
}
END_TEST

/* Writer child: replaces "f" for ever with SIZE-byte versions, each made
 * of one repeated letter. A torn file would be short or mixed. */
#define SIZE (256 * 1024)
static void writer(void)
{
	static char data[SIZE];
	for (unsigned v = 0;; v++) {
		memset(data, 'a' + (int)(v % 26), SIZE);
		if (atomic_write_file(dfd, "f", data, SIZE, 0644,
		                      ATOMIC_REPLACE) < 0)
			_exit(1);
	}
}

START_TEST(kill_9_mid_write_leaves_old_or_new_never_torn)
{
	static char buf[SIZE + 1];
	memset(buf, 'z', SIZE);
	ck_assert_int_eq(atomic_write_file(dfd, "f", buf, SIZE, 0644,
	                                   ATOMIC_REPLACE), 0);
	srand((unsigned)getpid());
	int changed = 0, interrupted = 0;
	char last = 'z';
	for (int round = 0; round < 25; round++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			writer();
		struct timespec ts = { 0, (long)(rand() % 20000) * 1000 };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		ck_assert(WIFSIGNALED(status));
		ssize_t n = slurp("f", buf, sizeof buf);
		ck_assert_int_eq(n, SIZE);
		size_t same = 1;
		while (same < SIZE && buf[same] == buf[0])
			same++;
		ck_assert_uint_eq(same, SIZE);
		changed += buf[0] != last;
		last = buf[0];
		interrupted += entries() > 1; /* a killed write's temp file */
	}
	/* the test proves something only if writes landed and were cut */
	ck_assert_int_gt(changed, 0);
	ck_assert_int_gt(interrupted, 0);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("atomicfile");
	TCase *tc = tcase_create("atomicfile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, replace_installs_new_contents_and_leaves_no_temp);
	tcase_add_test(tc, create_refuses_an_existing_name);
	tcase_add_test(tc, abort_removes_the_temporary_file);
	tcase_add_test(tc, names_with_a_slash_are_refused);
	tcase_add_test(tc, kill_9_mid_write_leaves_old_or_new_never_torn);
	suite_add_tcase(s, tc);
	return s;
}
