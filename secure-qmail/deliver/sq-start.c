/*
 * NAME
 *	sq-start - start the delivery side: sq-send, sq-lspawn, sq-clean
 * SYNOPSIS
 *	sq-start
 * DESCRIPTION
 *	qmail-start's job: it joins the three programs with pipes and gives
 *	each its own user, then becomes sq-send. sq-send writes to sq-lspawn
 *	on descriptor 3 and reads its answers on 4; it writes to sq-clean
 *	on 5 and reads on 6. sq-lspawn runs as the delivery user
 *	(conf-users' maildir owner), sq-clean as the queue user, sq-send as
 *	the scheduler's user. All three log to descriptor 2. When sq-send
 *	exits, the other two see their input end and exit too.
 * SECURITY
 *	Runs as root, only to give each program its user (conf-users):
 *	it forks, drops privileges in each child before exec, and drops to
 *	the scheduler's user itself before it becomes sq-send. It reads no
 *	input from outside.
 * SEE ALSO
 *	sq-start(8), sq-send(8), sq-lspawn(8), sq-clean(8)
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "auto_users.h"
#include "util/die.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "util/privdrop.h"

#define HIGH_FD 20

/* Moves the pipes out of the way, then onto the wanted numbers. */
static void place(const int *from, const int *to, int n)
{
	int high[8];
	for (int i = 0; i < n; i++)
		if ((high[i] = fcntl(from[i], F_DUPFD_CLOEXEC, HIGH_FD)) < 0)
			die_sys_temp("fcntl: %s", strerror(errno));
	for (int i = 0; i < n; i++)
		close(from[i]);
	for (int i = 0; i < n; i++)
		if (dup2(high[i], to[i]) < 0)
			die_sys_temp("dup2: %s", strerror(errno));
	for (int i = 0; i < n; i++)
		close(high[i]);
}

static void become(const char *user, const char *prog)
{
	char path[SQ_PATH_MAX];
	if (privdrop(user) < 0)
		die_sys_temp("cannot become %s for %s: %s", user, prog,
		             strerror(errno));
	if (sq_sibling(path, sizeof path, prog) < 0)
		die_sys_temp("cannot find %s beside sq-start", prog);
	char *argv[] = { (char *)prog, NULL };
	execv(path, argv);
	die_sys_temp("cannot run %s: %s", path, strerror(errno));
}

/* Every pipe end is close-on-exec: a child keeps only what place()
 * gives it, so each reader sees its input end when the writer exits. */
static void child(const int *from, const int *to, const char *user,
                  const char *prog)
{
	pid_t pid = fork();
	if (pid < 0)
		die_sys_temp("fork: %s", strerror(errno));
	if (pid > 0)
		return;
	place(from, to, 2);
	become(user, prog);
}

int main(void)
{
	int tol[2], froml[2], toc[2], fromc[2];
	log_init("sq-start");
	if (pipe2(tol, O_CLOEXEC) < 0 || pipe2(froml, O_CLOEXEC) < 0 ||
	    pipe2(toc, O_CLOEXEC) < 0 || pipe2(fromc, O_CLOEXEC) < 0)
		die_sys_temp("pipe: %s", strerror(errno));
	int io[2] = { 0, 1 };
	child((int[]){ tol[0], froml[1] }, io, SQ_USER_MAILDIR, "sq-lspawn");
	child((int[]){ toc[0], fromc[1] }, io, SQ_USER_QUEUE, "sq-clean");
	close(tol[0]);
	close(froml[1]);
	close(toc[0]);
	close(fromc[1]);
	/* 0 and 1 are not sq-send's to read or write; done before place(),
	 * which may reuse the number /dev/null gets */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
		die_sys_temp("/dev/null: %s", strerror(errno));
	close(null);
	place((int[]){ tol[1], froml[0], toc[1], fromc[0] },
	      (int[]){ 3, 4, 5, 6 }, 4);
	become(SQ_USER_SEND, "sq-send");
}
