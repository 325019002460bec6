/*
 * NAME
 *	sq-queue - put a message into the mail queue
 * SYNOPSIS
 *	sq-queue
 *	sq-queue --serve
 *	sq-queue --init
 * DESCRIPTION
 *	The qmail-queue(8) interface: the message on descriptor 0, the
 *	envelope on descriptor 1 ("F" sender NUL, "T" recipient NUL for each
 *	recipient, a final NUL). In the order that makes a crash harmless:
 *	a file in pid/ whose inode number becomes the message number N; a
 *	link to it as mess/<N % split>/N; the message, fsynced with its
 *	directory; the envelope, read whole and checked, written to intd/N
 *	and fsynced with its directory; the link todo/N, fsynced, which
 *	commits the message; then the pid/ name goes and the scheduler is
 *	woken through lock/trigger. Unlike qmail-queue it adds no Received
 *	line: the message is usually sealed, and a plaintext header would
 *	leak what sealing hides.
 *	--serve queues many messages for one caller: descriptor 0 is a UNIX
 *	socket, each request ("QUEUE\n") brings a message and an envelope
 *	descriptor, a child forked without an exec queues them as above, and
 *	its exit code is the answer ("N\n"). A sealer worker keeps one, so a
 *	sealed copy costs a fork, not an exec of a set-id program.
 *	--init creates the queue directory and whatever of its layout is
 *	missing, with the owners and modes of sq-queue(8).
 * SECURITY
 *	Installed setuid to the queue user and setgid to the shared group, so
 *	any local program can queue mail but only through this order. It
 *	trusts nothing in the message, which it only copies, bounded by
 *	control/databytes (databytes_queue_max: what a sealed copy of the
 *	largest message the sealer takes may be; 33 past it, nothing left
 *	behind), and bounds the envelope it must hold (QUEUE_ADDR_MAX per
 *	address, QUEUE_ENVELOPE_MAX in all). It refuses to run as root, except for --init and for a
 *	test instance named by $SQ_HOME (which a set-id run ignores).
 * STANDARDS
 *	None: the qmail-queue(8) interface and exit codes.
 * DIAGNOSTICS
 *	qmail-queue's exit codes: 0 queued; 11 (an address too long) and 33
 *	(the message over the databytes bound) are permanent; 55 an unusable
 *	control/databytes; 51-54, 61-66, 81 and 91 (envelope format) are temporary.
 *	One log line on standard error for each failure; descriptor 1 is the
 *	envelope, so nothing is written to standard output.
 * SEE ALSO
 *	sq-queue(8), qmail-queue(8), sq-seal(8), sq-send(8), queue.h
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "util/control.h"
#include "util/crashpoint.h"
#include "auto_users.h"
#include "util/die.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "util/sbuf.h"

#include "queue/fdpass.h"
#include "queue/qqcodes.h"
#include "queue/queue.h"
#include "receive/databytes.h"

/* qmail-queue's own limit: a writer that stops feeding us cannot hold a
 * queue slot for ever. */
#define DEATH 86400
#define USAGE "usage: sq-queue [--init | --serve]"


struct job {
	struct queue q;
	char pidname[80];       /* in pid/ */
	char messpath[64];      /* mess/<N % split>/N, from the queue dir */
	char name[24];          /* N, in intd/ and todo/ */
	unsigned long long num;
	int fd;                 /* the message file */
	int made_pid, made_mess, made_intd, committed;
	struct sbuf env;        /* the envelope as read */
	size_t envlen;          /* its length up to the final NUL */
	unsigned long max;      /* the largest message: databytes_queue_max */
};

/* ---- failing ------------------------------------------------------------ */

/* Before the commit point, takes back what this run made, so nothing is
 * left for the cleaner; intd/ before mess/, as a cleaner would. After it,
 * the message is queued and stays: the caller's retry may then send it
 * twice, which beats losing it. */
static void undo(struct job *j)
{
	if (j->committed)
		return;
	if (j->made_intd)
		unlinkat(j->q.dir[QUEUE_INTD], j->name, 0);
	if (j->made_mess)
		unlinkat(j->q.top, j->messpath, 0);
	if (j->made_pid)
		unlinkat(j->q.dir[QUEUE_PID], j->pidname, 0);
}

static _Noreturn void fail(struct job *j, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static _Noreturn void fail(struct job *j, int code, const char *fmt, ...)
{
	char msg[SQLOG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (j)
		undo(j);
	/* 11 is qmail-queue's only permanent code we use; 91 is temporary
	 * there too, since it means a broken caller, not a broken message. */
	die_code(code, code == QQ_ADDR_TOO_LONG ? "5.1.3" :
	         code == QQ_TOO_BIG ? "5.3.4" : "4.3.0", "%s", msg);
}

/* ---- signals ------------------------------------------------------------ */

/* qmail-queue's "81 internal bug" for a crash; a sanitizer build keeps
 * its own report instead. */
#ifndef __SANITIZE_ADDRESS__
#define CATCH_BUGS 1
#endif

/* Log records for the signal handlers, formatted before they can fire:
 * a handler may only write(2). The only globals here, for that reason. */
static char alarm_rec[256], bug_rec[256];
static size_t alarm_len, bug_len;

static void on_alarm(int sig)
{
	(void)sig;
	/* No clean-up here: the cleaner removes what a timeout leaves. */
	ssize_t r = write(2, alarm_rec, alarm_len);
	(void)r;
	_exit(QQ_TIMEOUT);
}

#ifdef CATCH_BUGS
static void on_bug(int sig)
{
	(void)sig;
	ssize_t r = write(2, bug_rec, bug_len);
	(void)r;
	_exit(QQ_BUG);
}
#endif

static void catch(int sig, void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void set_signals(void)
{
	alarm_len = log_format(alarm_rec, sizeof alarm_rec, SQLOG_FATAL,
	                       "timeout: input not finished in 86400 seconds "
	                       "(#4.4.2)");
	bug_len = log_format(bug_rec, sizeof bug_rec, SQLOG_FATAL,
	                     "internal bug: fatal signal (#4.3.0)");
	catch(SIGALRM, on_alarm);
	/* A trigger whose reader just went away must not kill us. */
	catch(SIGPIPE, SIG_IGN);
#ifdef CATCH_BUGS
	catch(SIGSEGV, on_bug);
	catch(SIGBUS, on_bug);
	catch(SIGILL, on_bug);
	catch(SIGFPE, on_bug);
#endif
}

/* ---- privileges --------------------------------------------------------- */

/* A test or development instance: an absolute $SQ_HOME that sq_home()
 * honours (a set-id run ignores it). */
static int test_instance(void)
{
	const char *env = getenv("SQ_HOME");
	return env && *env == '/' && strcmp(sq_home(), env) == 0;
}

/* Root would make queue files no other role can remove; in production
 * root reaches the queue through the setuid bit like everyone else. */
static void check_privileges(void)
{
	if (geteuid() == 0 && !(getuid() == 0 && test_instance()))
		fail(NULL, QQ_BUG, "refusing to run as root: install sq-queue "
		     "setuid %s (a test instance may set SQ_HOME)",
		     SQ_USER_QUEUE);
}

/* ---- the steps ---------------------------------------------------------- */

/* The bound on the message, from control/databytes as the sealer reads
 * it: no control/ directory or no file is the default. */
static void read_limit(struct job *j)
{
	char dir[SQ_PATH_MAX];
	struct control ctl;
	unsigned long databytes = 0;
	if (sq_path(dir, sizeof dir, "control") < 0)
		fail(NULL, QQ_CONFIG, "cannot name %s/control: %s", sq_home(),
		     strerror(errno));
	if (control_open(&ctl, dir) < 0) {
		if (errno != ENOENT)
			fail(NULL, QQ_CONFIG, "cannot open %s: %s", dir,
			     strerror(errno));
	} else {
		int r = control_readulong(&ctl, "databytes", DATABYTES_MAX,
		                          &databytes);
		int e = errno;
		control_close(&ctl);
		if (r < 0)
			fail(NULL, QQ_CONFIG, "cannot use control/databytes: %s",
			     strerror(e));
	}
	j->max = databytes_queue_max(databytes);
}

static void open_queue(struct job *j)
{
	static const int codes[QUEUE_NDIRS] = {
		[QUEUE_PID] = QQ_PID, [QUEUE_MESS] = QQ_MESS,
		[QUEUE_INTD] = QQ_INTD, [QUEUE_TODO] = QQ_TODO,
	};
	const char *home = sq_home();
	if (queue_open(&j->q, home, QUEUE_FOR_QUEUEING) == 0)
		return;
	int f = j->q.failed;
	if (f == QUEUE_FAILED_HOME)
		fail(NULL, QQ_HOME, "cannot open %s: %s", home, strerror(errno));
	if (f == QUEUE_FAILED_TOP)
		fail(NULL, QQ_QUEUE, "cannot open %s/queue: %s", home,
		     strerror(errno));
	fail(NULL, codes[f], "cannot open %s/queue/%s: %s", home,
	     queue_dirname(f), strerror(errno));
}

/* Step 1: pid/<pid>.<time>.<random>, whose inode number is the message
 * number for as long as the file (under any name) exists. */
static void make_pid_file(struct job *j)
{
	for (int attempt = 0; attempt < 5 && j->fd < 0; attempt++) {
		unsigned int rnd = 0;
		if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
			rnd = (unsigned int)clock();
		snprintf(j->pidname, sizeof j->pidname, "%ld.%lld.%08x",
		         (long)getpid(), (long long)time(NULL), rnd);
		j->fd = openat(j->q.dir[QUEUE_PID], j->pidname,
		               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		                       O_CLOEXEC,
		               0640);
		if (j->fd < 0 && errno != EEXIST)
			break;
	}
	struct stat st;
	if (j->fd < 0 || fstat(j->fd, &st) < 0)
		fail(j, QQ_PID, "cannot create a file in queue/pid: %s",
		     strerror(errno));
	j->made_pid = 1;
	j->num = (unsigned long long)st.st_ino;
	snprintf(j->name, sizeof j->name, "%llu", j->num);
	crash_point("pid-created");
}

/* Step 2: mess/<N % split>/N. */
static void link_mess(struct job *j)
{
	if (queue_path(j->messpath, sizeof j->messpath, QUEUE_MESS, j->num) < 0)
		fail(j, QQ_BUG, "message number %llu too long", j->num);
	if (linkat(j->q.dir[QUEUE_PID], j->pidname, j->q.top, j->messpath, 0) < 0)
		fail(j, QQ_MESS, "cannot link queue/%s: %s", j->messpath,
		     strerror(errno));
	j->made_mess = 1;
	crash_point("mess-linked");
}

/* Step 3: the message, byte for byte, on disk with its name. */
static void write_message(struct job *j)
{
	char buf[65536];
	unsigned long total = 0;
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail(j, QQ_READ, "cannot read the message: %s",
			     strerror(errno));
		if (n == 0)
			break;
		total += (unsigned long)n;
		if (total > j->max)
			fail(j, QQ_TOO_BIG, "message over %lu octets "
			     "(control/databytes)", j->max);
		if (write_all(j->fd, buf, (size_t)n) < 0)
			fail(j, QQ_WRITE, "cannot write queue/%s: %s",
			     j->messpath, strerror(errno));
	}
	if (fsync(j->fd) < 0 || close(j->fd) < 0 ||
	    queue_sync_dir(&j->q, QUEUE_MESS, j->num) < 0)
		fail(j, QQ_WRITE, "cannot sync queue/%s: %s", j->messpath,
		     strerror(errno));
	j->fd = -1;
	crash_point("mess-written");
}

/* Reads descriptor 1 up to the envelope's final NUL, checking it as it
 * comes: an overlong address is refused before it is all in memory. */
static void read_envelope(struct job *j)
{
	struct queue_env_scan st = { 0, 0 };
	char buf[4096];
	for (;;) {
		switch (queue_env_scan(&st, j->env.s ? j->env.s : "", j->env.len)) {
		case QUEUE_ENV_DONE:
			j->envlen = st.pos;
			return;
		case QUEUE_ENV_FORMAT:
			fail(j, QQ_ENVELOPE, "envelope format error at octet %zu",
			     st.pos);
		case QUEUE_ENV_TOOLONG:
			fail(j, QQ_ADDR_TOO_LONG, "envelope address over %d octets",
			     QUEUE_ADDR_MAX);
		case QUEUE_ENV_MORE:
			break;
		}
		ssize_t n = read(1, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail(j, QQ_READ, "cannot read the envelope: %s",
			     strerror(errno));
		if (n == 0)
			fail(j, QQ_ENVELOPE, "envelope format error: it ends "
			     "before its final NUL");
		if (sbuf_put(&j->env, buf, (size_t)n) < 0) {
			if (errno == ENOMEM)
				fail(j, QQ_NOMEM, "out of memory");
			fail(j, QQ_ENVELOPE, "envelope over %u octets",
			     QUEUE_ENVELOPE_MAX);
		}
	}
}

/* Step 4: intd/N, "u<uid>\0p<pid>\0" and the envelope as read. */
static void write_intd(struct job *j)
{
	char head[64];
	int hlen = snprintf(head, sizeof head, "u%lu%cp%ld%c",
	                    (unsigned long)getuid(), 0, (long)getpid(), 0);
	int fd = openat(j->q.dir[QUEUE_INTD], j->name,
	                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	                0640);
	if (fd < 0)
		fail(j, QQ_INTD, "cannot create queue/intd/%s: %s", j->name,
		     strerror(errno));
	j->made_intd = 1;
	if (write_all(fd, head, (size_t)hlen) < 0 ||
	    write_all(fd, j->env.s, j->envlen) < 0 || fsync(fd) < 0 ||
	    close(fd) < 0 || fsync_dir(j->q.dir[QUEUE_INTD]) < 0)
		fail(j, QQ_WRITE, "cannot write queue/intd/%s: %s", j->name,
		     strerror(errno));
	crash_point("intd-written");
}

/* Step 5, the commit point: once todo/N is on disk the message is queued. */
static void link_todo(struct job *j)
{
	if (linkat(j->q.dir[QUEUE_INTD], j->name, j->q.dir[QUEUE_TODO],
	           j->name, 0) < 0)
		fail(j, QQ_TODO, "cannot link queue/todo/%s: %s", j->name,
		     strerror(errno));
	j->committed = 1;
	if (fsync_dir(j->q.dir[QUEUE_TODO]) < 0)
		fail(j, QQ_WRITE, "queued %s but cannot sync queue/todo: %s",
		     j->name, strerror(errno));
	crash_point("todo-linked");
}

/* Step 6: the pid/ name is no longer needed, and the scheduler may look.
 * Neither can fail the message, which is queued. pid/ is not flushed: a
 * crash may bring the name back, a stale name the cleaner removes anyway,
 * and the fsync would cost every message a disk write. */
static void finish(struct job *j)
{
	if (unlinkat(j->q.dir[QUEUE_PID], j->pidname, 0) < 0)
		log_msg(SQLOG_WARN, "queued %s; cannot remove queue/pid/%s: %s",
		        j->name, j->pidname, strerror(errno));
	crash_point("pid-unlinked");
	/* ENXIO: no scheduler is reading; it scans todo/ when it starts.
	 * EAGAIN: the FIFO is full of wake-ups already. */
	int fd = openat(j->q.top, "lock/trigger",
	                O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = write(fd, "", 1);
		(void)r;
		close(fd);
	}
}

/* ---- --init ------------------------------------------------------------- */

/* Owners from the password database: the queue user, the scheduler, and
 * the queue user's primary group as the shared group (qmail's way). A
 * test instance without these users stays owned by whoever runs --init. */
static void find_owners(struct queue_owners *o)
{
	struct passwd *pq = getpwnam(SQ_USER_QUEUE);
	uid_t uq = pq ? pq->pw_uid : (uid_t)-1;
	gid_t gq = pq ? pq->pw_gid : (gid_t)-1;
	struct passwd *ps = getpwnam(SQ_USER_SEND);
	if (pq && ps) {
		o->queue = uq;
		o->group = gq;
		o->send = ps->pw_uid;
	} else if (!test_instance()) {
		fail(NULL, QQ_CONFIG, "no user %s or %s in the password "
		     "database: create the users of conf-users first",
		     SQ_USER_QUEUE, SQ_USER_SEND);
	}
}

static int init(void)
{
	struct queue_owners o = { (uid_t)-1, (uid_t)-1, (gid_t)-1 };
	/* Through the set-id bits only root may lay out the queue: anyone
	 * else could make the scheduler's directories the queue user's. */
	if (getuid() != 0 && (geteuid() != getuid() || getegid() != getgid()))
		fail(NULL, QQ_BUG, "--init is for root");
	if (getuid() == 0) {
		/* Run by root through the setuid bit: take root back (the
		 * real uid allows it) to give each directory its owner. */
		if (geteuid() != 0 && setuid(0) < 0)
			fail(NULL, QQ_BUG, "cannot regain root: %s",
			     strerror(errno));
		find_owners(&o);
	}
	char why[4200];
	int r = queue_init(sq_home(), &o, why, sizeof why);
	if (r < 0)
		fail(NULL, r == QUEUE_FAILED_HOME ? QQ_HOME : QQ_QUEUE,
		     "cannot set up %s: %s", why, strerror(errno));
	return QQ_OK;
}

/* ---- one message ------------------------------------------------------- */

/* Queues the message on descriptor 0 with the envelope on 1; QQ_OK, or
 * exits with the code of the failure. */
static int queue_one(void)
{
	umask(027);
	alarm(DEATH);
	struct job j = { .fd = -1 };
	sbuf_init(&j.env, QUEUE_ENVELOPE_MAX);
	read_limit(&j);
	open_queue(&j);
	make_pid_file(&j);
	link_mess(&j);
	write_message(&j);
	read_envelope(&j);
	write_intd(&j);
	sbuf_free(&j.env);
	link_todo(&j);
	finish(&j);
	queue_close(&j.q);
	return QQ_OK;
}

/* ---- --serve ------------------------------------------------------------ */

/* One request's message and envelope, queued by a child forked without
 * an exec, as a run of its own would queue them; its exit code. */
static int queue_in_child(const int *fds)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_msg(SQLOG_WARN, "cannot fork: %s", strerror(errno));
		return QQ_NOMEM;
	}
	if (pid == 0) {
		if (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0)
			fail(NULL, QQ_BUG, "dup2: %s", strerror(errno));
		_exit(queue_one());
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return QQ_BUG;
	return WIFEXITED(status) ? WEXITSTATUS(status) : QQ_BUG;
}

/* Descriptor 0 is a UNIX socket to the one caller that started us (a
 * sealer worker). Each request, "QUEUE\n" with the message and envelope
 * descriptors, is answered with its exit code ("N\n"); end of file on
 * the socket ends the server. */
static int serve(void)
{
	for (;;) {
		char req[16], answer[16];
		int fds[FDPASS_MAX];
		size_t nfds;
		ssize_t n = fdpass_recv(0, req, sizeof req, fds, &nfds);
		if (n <= 0)
			return n == 0 ? QQ_OK : QQ_READ;
		int code = n == 6 && memcmp(req, "QUEUE\n", 6) == 0 && nfds == 2
		           ? queue_in_child(fds) : QQ_BUG;
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		int len = snprintf(answer, sizeof answer, "%d\n", code);
		if (fdpass_send(0, answer, (size_t)len, NULL, 0) < 0)
			return QQ_OK; /* the caller went away */
	}
}

int main(int argc, char **argv)
{
	log_init("sq-queue");
	set_signals();
	if (argc == 2 && strcmp(argv[1], "--init") == 0)
		return init();
	int serving = argc == 2 && strcmp(argv[1], "--serve") == 0;
	if (argc > 1 && !serving)
		fail(NULL, QQ_BUG, USAGE);
	check_privileges();
	return serving ? serve() : queue_one();
}
