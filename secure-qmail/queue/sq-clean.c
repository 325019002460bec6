/*
 * NAME
 *	sq-clean - remove queue files on behalf of the scheduler
 * SYNOPSIS
 *	sq-clean (started by sq-start, as the queue user)
 * DESCRIPTION
 *	The scheduler, sq-send, may not write the queue user's directories;
 *	it asks sq-clean, which runs as the queue user, over a pipe: requests
 *	on descriptor 0, answers on descriptor 1, each a NUL-terminated
 *	field:
 *	  "t" N		todo/N (its directory synced) and then intd/N: the
 *			scheduler has copied the envelope into its own files
 *	  "m" N		mess/s/N (the message is done), refused while todo/N
 *			exists
 *	answered "+" or "-" and a reason. It also sweeps, when it starts and
 *	every 12 hours: pid/ files and intd/ files without a todo/ link,
 *	older than 36 hours, are what crashed sq-queue runs left.
 *	It exits when descriptor 0 ends.
 * SECURITY
 *	Runs as the queue user (sqmailq) and refuses root. Removes only
 *	files of the queue that the request names by number, inside the
 *	queue's own directories; never reads a message.
 * SEE ALSO
 *	sq-clean(8), sq-send(8), sq-queue(8)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "util/die.h"
#include "util/home.h"
#include "util/log.h"
#include "queue/queue.h"
#include "util/rbuf.h"

#define STALE (36 * 3600)
#define SWEEP_EVERY (12 * 3600)
#define REQUEST_MAX 32

static int answer(const char *text)
{
	return write_all(1, text, strlen(text) + 1);
}

/* Unlinks path (relative to the queue) and, if dir >= 0, syncs that
 * directory; a file already gone is fine. */
static int remove_file(struct queue *q, const char *path, int dir)
{
	if (unlinkat(q->top, path, 0) < 0)
		return errno == ENOENT ? 0 : -1;
	return dir >= 0 ? fsync_dir(dir) : 0;
}

static const char *remove_todo(struct queue *q, unsigned long long num)
{
	char todo[64], intd[64];
	if (queue_path(todo, sizeof todo, QUEUE_TODO, num) < 0 ||
	    queue_path(intd, sizeof intd, QUEUE_INTD, num) < 0)
		return "-bad number";
	/* todo/N synced: a todo/N a crash brought back would be taken
	 * again and its deliveries made twice. An intd/N brought back is
	 * only litter, which the sweep removes. */
	if (remove_file(q, todo, q->dir[QUEUE_TODO]) < 0 ||
	    remove_file(q, intd, -1) < 0)
		return "-cannot remove todo or intd";
	return "+";
}

static const char *remove_mess(struct queue *q, unsigned long long num)
{
	char todo[64], mess[64];
	struct stat st;
	if (queue_path(todo, sizeof todo, QUEUE_TODO, num) < 0 ||
	    queue_path(mess, sizeof mess, QUEUE_MESS, num) < 0)
		return "-bad number";
	/* a scheduler that asks this for a queued message is wrong */
	if (fstatat(q->top, todo, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return "-still in todo";
	/* not synced: a mess/N a crash brings back has neither todo/N nor
	 * info/N, and sq-send's sweep of orphans removes it */
	return remove_file(q, mess, -1) < 0 ? "-cannot remove mess" : "+";
}

static const char *serve(struct queue *q, const char *req, size_t len)
{
	unsigned long long num = 0;
	if (len < 3 || req[len - 1] != '\0' || (req[0] != 't' && req[0] != 'm'))
		return "-bad request";
	for (size_t i = 1; i + 1 < len; i++) {
		if (req[i] < '0' || req[i] > '9' || num > (~0ULL - 9) / 10)
			return "-bad request";
		num = num * 10 + (unsigned)(req[i] - '0');
	}
	const char *r = req[0] == 't' ? remove_todo(q, num) : remove_mess(q, num);
	log_msg(*r == '+' ? SQLOG_DEBUG : SQLOG_WARN, "%s %llu: %s",
	        req[0] == 't' ? "todo" : "mess", num, r);
	return r;
}

/* ---- the sweep ----------------------------------------------------------- */

struct sweep {
	struct queue *q;
	time_t before;
	unsigned long removed;
};

static int old_file(int dir, const char *name, time_t before)
{
	struct stat st;
	return fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && st.st_mtime < before;
}

static void sweep_pid(struct sweep *s)
{
	int fd = openat(s->q->dir[QUEUE_PID], ".", O_RDONLY | O_DIRECTORY |
	                                             O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    old_file(s->q->dir[QUEUE_PID], de->d_name, s->before) &&
		    unlinkat(s->q->dir[QUEUE_PID], de->d_name, 0) == 0)
			s->removed++;
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
}

static int sweep_intd_one(unsigned long long num, void *arg)
{
	struct sweep *s = arg;
	char name[32];
	struct stat st;
	snprintf(name, sizeof name, "%llu", num);
	if (fstatat(s->q->dir[QUEUE_TODO], name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT && old_file(s->q->dir[QUEUE_INTD], name, s->before) &&
	    unlinkat(s->q->dir[QUEUE_INTD], name, 0) == 0)
		s->removed++;
	return 0;
}

static void sweep(struct queue *q)
{
	struct sweep s = { q, time(NULL) - STALE, 0 };
	sweep_pid(&s);
	queue_each(q, QUEUE_INTD, sweep_intd_one, &s);
	if (s.removed)
		log_msg(SQLOG_INFO, "swept %lu files left by crashed sq-queue runs",
		        s.removed);
}

int main(void)
{
	struct queue q;
	struct rbuf in;
	struct sbuf req;
	log_init("sq-clean");
	signal(SIGPIPE, SIG_IGN);
	die_if_root(1, "run sq-clean as the queue user (sq-start does)");
	if (queue_open(&q, sq_home(), QUEUE_BIT(QUEUE_PID) | QUEUE_BIT(QUEUE_MESS) |
	                                      QUEUE_BIT(QUEUE_INTD) |
	                                      QUEUE_BIT(QUEUE_TODO)) < 0)
		die_sys_temp("cannot open the queue: %s", strerror(errno));
	sweep(&q);
	time_t next_sweep = time(NULL) + SWEEP_EVERY;
	rbuf_init(&in, 0, -1);
	sbuf_init(&req, REQUEST_MAX);
	for (;;) {
		struct pollfd p = { 0, POLLIN, 0 };
		if (rbuf_pending(&in) == 0 && poll(&p, 1, 3600 * 1000) == 0) {
			if (time(NULL) >= next_sweep) {
				sweep(&q);
				next_sweep = time(NULL) + SWEEP_EVERY;
			}
			continue;
		}
		enum rbuf_line r = rbuf_getfield(&in, &req, REQUEST_MAX);
		if (r == RBUF_EOF || r == RBUF_ERROR)
			break;
		if (answer(r == RBUF_TOOLONG ? "-bad request"
		                             : serve(&q, req.s, req.len)) < 0)
			break;
	}
	sbuf_free(&req);
	queue_close(&q);
	return 0;
}
