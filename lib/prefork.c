/*
 * prefork - keep n workers running. See prefork.h.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "die.h"
#include "log.h"
#include "prefork.h"

/* Set by the signal handlers, read by the supervising loop: a handler can
 * do nothing else safely. */
static volatile sig_atomic_t stopping, hangup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hangup = 1;
	else if (sig != SIGCHLD) /* SIGCHLD only ends the wait */
		stopping = 1;
}

static pid_t spawn(unsigned long i, void (*worker)(unsigned long, void *),
                   void *arg, const sigset_t *unblocked)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* a worker must not outlive its parent (kill -9 by a supervisor):
		 * it would keep serving beside the next parent's workers */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(0);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		sigprocmask(SIG_SETMASK, unblocked, NULL);
		worker(i, arg);
		_exit(0);
	}
	if (pid < 0)
		log_msg(SQLOG_ALERT, "fork: %s", strerror(errno));
	return pid;
}

static void signal_all(const pid_t *pids, unsigned long n, int sig)
{
	for (unsigned long i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], sig);
}

/* Replaces the worker in slot i that died; exits when workers keep dying
 * at once. */
static void replace(unsigned long i, pid_t dead, int status, pid_t *pids,
                    time_t *started, unsigned long n, unsigned *quick_deaths,
                    void (*worker)(unsigned long, void *), void *arg,
                    const sigset_t *unblocked)
{
	log_msg(SQLOG_ALERT, "worker %ld ended (status %d); starting another",
	        (long)dead, status);
	/* workers that die at once, again and again, will not get better by
	 * being restarted */
	*quick_deaths = time(NULL) - started[i] < 5 ? *quick_deaths + 1 : 0;
	if (*quick_deaths >= 5) {
		signal_all(pids, n, SIGTERM);
		die_temp("4.3.0", "workers keep failing at start; see the lines "
		         "above");
	}
	sleep(1); /* no tight loop if workers die at once */
	started[i] = time(NULL);
	pids[i] = spawn(i, worker, arg, unblocked);
}

void prefork_run(unsigned long n, void (*worker)(unsigned long i, void *arg),
                 void *arg)
{
	pid_t pids[PREFORK_MAX] = { 0 };
	time_t started[PREFORK_MAX];
	unsigned quick_deaths = 0;
	struct sigaction sa;
	sigset_t handled, unblocked;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&handled);
	int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	for (size_t k = 0; k < sizeof sigs / sizeof *sigs; k++) {
		sigaction(sigs[k], &sa, NULL);
		sigaddset(&handled, sigs[k]);
	}
	/* The signals are blocked except inside sigsuspend: one that comes
	 * while a death is handled (the pause before a restart included)
	 * waits there, and is acted on before the loop sleeps again. */
	sigprocmask(SIG_BLOCK, &handled, &unblocked);
	if (n > PREFORK_MAX)
		n = PREFORK_MAX;
	for (unsigned long i = 0; i < n; i++) {
		started[i] = time(NULL);
		pids[i] = spawn(i, worker, arg, &unblocked);
	}
	while (!stopping) {
		if (hangup) {
			hangup = 0;
			signal_all(pids, n, SIGHUP);
		}
		int status;
		pid_t dead = waitpid(-1, &status, WNOHANG);
		if (dead <= 0) {
			sigsuspend(&unblocked);
			continue;
		}
		for (unsigned long i = 0; i < n && !stopping; i++)
			if (pids[i] == dead)
				replace(i, dead, status, pids, started, n,
				        &quick_deaths, worker, arg, &unblocked);
	}
	signal_all(pids, n, SIGTERM);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	sigprocmask(SIG_SETMASK, &unblocked, NULL);
	log_msg(SQLOG_INFO, "stopped");
}
