/*
 * check_prefork - the parent that keeps n workers running, run in a child
 * of the test (it installs handlers and exits on its own terms): the
 * workers report on a pipe when they start and what they see; the test
 * signals the parent and the workers and reads its log.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/prefork.h"
#include "testutil.h"

static struct {
	char *dir;
	char logpath[4200];
	int rfd, wfd;           /* the workers' reports */
	pid_t parent;
	char heard[65536];
	size_t used;
} F;

static void setup(void)
{
	memset(&F, 0, sizeof F);
	F.dir = make_tmpdir();
	snprintf(F.logpath, sizeof F.logpath, "%s/log", F.dir);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	F.rfd = p[0];
	F.wfd = p[1];
}

static void teardown(void)
{
	if (F.parent > 0) {
		kill(F.parent, SIGKILL);
		waitpid(F.parent, NULL, 0);
	}
	close(F.rfd);
	if (F.wfd >= 0)
		close(F.wfd);
	rm_rf(F.dir);
	free(F.dir);
}

/* "WORD SLOT PID PDEATHSIG\n" on the report pipe. */
static void report(const char *word, unsigned long i)
{
	char line[128];
	int pdeath = 0;
	prctl(PR_GET_PDEATHSIG, &pdeath);
	int n = snprintf(line, sizeof line, "%s %lu %ld %d\n", word, i,
	                 (long)getpid(), pdeath);
	if (write(F.wfd, line, (size_t)n) != n)
		_exit(9);
}

/* Reports "start SLOT PID PDEATHSIG" and waits to be killed. */
static void patient_worker(unsigned long i, void *arg)
{
	(void)arg;
	report("start", i);
	for (;;)
		pause();
}

static volatile sig_atomic_t hups;

static void on_hup(int sig)
{
	(void)sig;
	hups++;
}

/* Like patient_worker, and says "hup SLOT" for each SIGHUP. */
static void hup_worker(unsigned long i, void *arg)
{
	(void)arg;
	signal(SIGHUP, on_hup);
	report("start", i);
	for (;;) {
		pause();
		for (; hups > 0; hups--)
			report("hup", i);
	}
}

/* Fails at once, as a worker with a bad configuration does. */
static void failing_worker(unsigned long i, void *arg)
{
	(void)arg;
	report("start", i);
	_exit(1);
}

/* Starts prefork_run(n, worker) in a child, its log in F.logpath. */
static void start(unsigned long n, void (*worker)(unsigned long, void *))
{
	F.parent = fork();
	ck_assert_int_ge(F.parent, 0);
	if (F.parent == 0) {
		int log = open(F.logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (log < 0 || dup2(log, 2) < 0)
			_exit(8);
		close(F.rfd);
		signal(SIGALRM, SIG_DFL); /* check's handler is inherited */
		alarm(60);                /* and its workers get SIGTERM */
		log_init("prefork-test");
		prefork_run(n, worker, NULL);
		_exit(0);
	}
	close(F.wfd); /* EOF on rfd: every worker and the parent are gone */
	F.wfd = -1;
}

/* Lets the parent reach its wait after the last worker reported, so that
 * a test's signal finds the workers it expects. */
static void settle(void)
{
	usleep(200000);
}

static int count(const char *hay, const char *needle)
{
	int k = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		k++;
	return k;
}

/* Reads reports until want of them contain what (or ms pass); the
 * number seen. */
static int await(const char *what, int want, int ms)
{
	struct pollfd p = { .fd = F.rfd, .events = POLLIN };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (count(F.heard, what) < want) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long left = ms - ((t1.tv_sec - t0.tv_sec) * 1000 +
		                  (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t n = read(F.rfd, F.heard + F.used,
		                 sizeof F.heard - 1 - F.used);
		if (n <= 0)
			break;
		F.used += (size_t)n;
		F.heard[F.used] = '\0';
	}
	return count(F.heard, what);
}

/* 1 when every worker and the parent have closed the report pipe. */
static int all_gone(int ms)
{
	struct pollfd p = { .fd = F.rfd, .events = POLLIN };
	char buf[4096];
	for (;;) {
		if (poll(&p, 1, ms) <= 0)
			return 0;
		ssize_t n = read(F.rfd, buf, sizeof buf);
		if (n == 0)
			return 1;
		if (n < 0)
			return 0;
	}
}

/* The pid a report line "WORD SLOT PID ..." names, for the k-th such line
 * (from 0) about slot. */
static pid_t pid_of(const char *word, unsigned long slot, int k)
{
	char head[64];
	snprintf(head, sizeof head, "%s %lu ", word, slot);
	const char *p = F.heard;
	for (;;) {
		p = strstr(p, head);
		ck_assert_ptr_nonnull(p);
		if (p == F.heard || p[-1] == '\n') {
			if (k-- == 0)
				return (pid_t)strtol(p + strlen(head), NULL, 10);
		}
		p++;
	}
}

static int parent_status(int ms)
{
	int status;
	for (int i = 0; i < ms / 10; i++) {
		pid_t r = waitpid(F.parent, &status, WNOHANG);
		if (r == F.parent) {
			F.parent = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status)
			                         : 128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	return -1;
}

static const char *log_text(void)
{
	static char buf[16384];
	int fd = open(F.logpath, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

START_TEST(n_workers_start_each_with_its_slot_and_sigterm_stops_all)
{
	start(3, patient_worker);
	ck_assert_int_eq(await("start ", 3, 5000), 3);
	for (unsigned long i = 0; i < 3; i++)
		ck_assert_int_gt(pid_of("start", i, 0), 0);
	ck_assert_int_ne(pid_of("start", 0, 0), pid_of("start", 1, 0));
	/* a worker must not outlive its parent */
	ck_assert_int_eq(count(F.heard, " 15\n"), 3); /* PDEATHSIG = SIGTERM */
	settle();
	kill(F.parent, SIGTERM);
	ck_assert_int_eq(parent_status(5000), 0);
	ck_assert(all_gone(2000));
	ck_assert_ptr_nonnull(strstr(log_text(), "prefork-test"));
	ck_assert_ptr_nonnull(strstr(log_text(), "stopped"));
	ck_assert_int_eq(count(F.heard, "start "), 3); /* no replacements */
}
END_TEST

START_TEST(sigint_stops_them_too)
{
	start(2, patient_worker);
	ck_assert_int_eq(await("start ", 2, 5000), 2);
	settle();
	kill(F.parent, SIGINT);
	ck_assert_int_eq(parent_status(5000), 0);
	ck_assert(all_gone(2000));
}
END_TEST

START_TEST(a_dead_worker_is_replaced_in_its_slot)
{
	start(2, patient_worker);
	ck_assert_int_eq(await("start ", 2, 5000), 2);
	pid_t old = pid_of("start", 1, 0);
	ck_assert_int_eq(kill(old, SIGKILL), 0);
	/* after the pause of a second */
	ck_assert_int_eq(await("start 1 ", 2, 4000), 2);
	pid_t fresh = pid_of("start", 1, 1);
	ck_assert_int_ne(fresh, old);
	settle();
	ck_assert_int_eq(count(F.heard, "start 0 "), 1); /* the other kept */
	char want[128];
	snprintf(want, sizeof want, "worker %ld ended (status 9); starting "
	         "another", (long)old);
	ck_assert_msg(strstr(log_text(), want) != NULL, "log: %s", log_text());
	kill(F.parent, SIGTERM);
	ck_assert_int_eq(parent_status(5000), 0);
	ck_assert(all_gone(2000));
}
END_TEST

/* PR_SET_PDEATHSIG: even a parent killed with SIGKILL, which can stop
 * nothing, leaves no worker behind. */
START_TEST(workers_end_when_their_parent_is_killed)
{
	start(3, patient_worker);
	ck_assert_int_eq(await("start ", 3, 5000), 3);
	kill(F.parent, SIGKILL);
	ck_assert_int_eq(parent_status(5000), 128 + SIGKILL);
	ck_assert_msg(all_gone(3000), "a worker outlived its parent");
}
END_TEST

START_TEST(sighup_is_passed_on_to_every_worker)
{
	start(2, hup_worker);
	ck_assert_int_eq(await("start ", 2, 5000), 2);
	settle();
	kill(F.parent, SIGHUP);
	ck_assert_int_eq(await("hup ", 2, 3000), 2);
	settle();
	ck_assert_int_eq(count(F.heard, "hup 0 "), 1);
	ck_assert_int_eq(count(F.heard, "hup 1 "), 1);
	/* the parent itself goes on */
	ck_assert_int_eq(parent_status(200), -1);
	kill(F.parent, SIGHUP);
	ck_assert_int_eq(await("hup ", 4, 3000), 4);
	kill(F.parent, SIGTERM);
	ck_assert_int_eq(parent_status(5000), 0);
	ck_assert_int_eq(count(F.heard, "start "), 2);
}
END_TEST

/* Five deaths within five seconds of starting, in a row: exit 111 with a
 * fatal log line, not an endless restart loop. */
START_TEST(workers_that_keep_dying_at_start_make_it_give_up)
{
	start(1, failing_worker);
	int rc = parent_status(15000);
	ck_assert_int_eq(rc, 111);
	ck_assert_int_eq(await("start 0 ", 6, 500), 5);
	const char *log = log_text();
	ck_assert_int_eq(count(log, "starting another"), 5);
	ck_assert_msg(strstr(log, "fatal: workers keep failing at start; see "
	                     "the lines above (#4.3.0)") != NULL, "log: %s",
	              log);
	ck_assert(all_gone(2000));
}
END_TEST

START_TEST(no_more_than_prefork_max_workers)
{
	start(PREFORK_MAX + 6, patient_worker);
	ck_assert_int_eq(await("start ", PREFORK_MAX, 20000), PREFORK_MAX);
	ck_assert_int_eq(await("start ", PREFORK_MAX + 1, 500), PREFORK_MAX);
	char last[32];
	snprintf(last, sizeof last, "start %d ", PREFORK_MAX - 1);
	ck_assert_int_eq(count(F.heard, last), 1);
	settle();
	kill(F.parent, SIGTERM);
	ck_assert_int_eq(parent_status(10000), 0);
	ck_assert(all_gone(5000));
}
END_TEST

/* A SIGHUP while the parent pauses before a restart. */
START_TEST(a_sighup_during_the_restart_pause_is_passed_on)
{
	start(2, hup_worker);
	ck_assert_int_eq(await("start ", 2, 5000), 2);
	settle();
	kill(pid_of("start", 0, 0), SIGKILL);
	usleep(300000); /* the parent is in its sleep(1) */
	kill(F.parent, SIGHUP);
	/* slot 1's worker lived all along: it must hear of it */
	ck_assert_int_eq(await("hup 1 ", 1, 3000), 1);
	kill(F.parent, SIGTERM);
	ck_assert_int_eq(parent_status(5000), 0);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("prefork");
	TCase *tc = tcase_create("prefork");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, n_workers_start_each_with_its_slot_and_sigterm_stops_all);
	tcase_add_test(tc, sigint_stops_them_too);
	tcase_add_test(tc, a_dead_worker_is_replaced_in_its_slot);
	tcase_add_test(tc, workers_end_when_their_parent_is_killed);
	tcase_add_test(tc, sighup_is_passed_on_to_every_worker);
	tcase_add_test(tc, workers_that_keep_dying_at_start_make_it_give_up);
	tcase_add_test(tc, no_more_than_prefork_max_workers);
	/* a SIGHUP in the pause before a restart waited for the next death
	 * while prefork_run checked its flags only after waitpid */
	tcase_add_test(tc, a_sighup_during_the_restart_pause_is_passed_on);
	suite_add_tcase(s, tc);
	return s;
}
