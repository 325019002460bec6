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

#include "util/die.h"
#include "util/log.h"
#include "util/prefork.h"

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

/* The parent's view of its workers. */
struct pool {
	unsigned long n;
	pid_t pids[PREFORK_MAX];
	time_t started[PREFORK_MAX];
	unsigned quick_deaths;          /* in a row */
	void (*worker)(unsigned long, void *);
	void *arg;
	sigset_t unblocked;             /* the mask the workers run with */
};

static void spawn(struct pool *p, unsigned long i)
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
		sigprocmask(SIG_SETMASK, &p->unblocked, NULL);
		p->worker(i, p->arg);
		_exit(0);
	}
	if (pid < 0)
		log_msg(SQLOG_ALERT, "fork: %s", strerror(errno));
	p->started[i] = time(NULL);
	p->pids[i] = pid;
}

static void signal_all(const struct pool *p, int sig)
{
	for (unsigned long i = 0; i < p->n; i++)
		if (p->pids[i] > 0)
			kill(p->pids[i], sig);
}

/* Replaces the worker in slot i, which died; exits when workers keep
 * dying at once. */
static void replace(struct pool *p, unsigned long i, int status)
{
	log_msg(SQLOG_ALERT, "worker %ld ended (status %d); starting another",
	        (long)p->pids[i], status);
	/* workers that die at once, again and again, will not get better by
	 * being restarted */
	p->quick_deaths = time(NULL) - p->started[i] < 5 ? p->quick_deaths + 1
	                                                 : 0;
	if (p->quick_deaths >= 5) {
		signal_all(p, SIGTERM);
		die_sys_temp("workers keep failing at start; see the lines "
		             "above");
	}
	sleep(1); /* no tight loop if workers die at once */
	spawn(p, i);
}

void prefork_run(unsigned long n, void (*worker)(unsigned long i, void *arg),
                 void *arg)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct pool p = { .n = n > PREFORK_MAX ? PREFORK_MAX : n,
	                  .worker = worker, .arg = arg };
	struct sigaction sa;
	sigset_t handled;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&handled);
	for (size_t k = 0; k < sizeof sigs / sizeof *sigs; k++) {
		sigaction(sigs[k], &sa, NULL);
		sigaddset(&handled, sigs[k]);
	}
	/* The signals are blocked except inside sigsuspend: one that comes
	 * while a death is handled (the pause before a restart included)
	 * waits there, and is acted on before the loop sleeps again. */
	sigprocmask(SIG_BLOCK, &handled, &p.unblocked);
	for (unsigned long i = 0; i < p.n; i++)
		spawn(&p, i);
	while (!stopping) {
		if (hangup) {
			hangup = 0;
			signal_all(&p, SIGHUP);
		}
		int status;
		pid_t dead = waitpid(-1, &status, WNOHANG);
		if (dead <= 0) {
			sigsuspend(&p.unblocked);
			continue;
		}
		for (unsigned long i = 0; i < p.n && !stopping; i++)
			if (p.pids[i] == dead)
				replace(&p, i, status);
	}
	signal_all(&p, SIGTERM);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	sigprocmask(SIG_SETMASK, &p.unblocked, NULL);
	log_msg(SQLOG_INFO, "stopped");
}
