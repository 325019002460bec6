/*
 * NAME
 *	sq-qread - list the messages in the queue and their recipients
 * SYNOPSIS
 *	sq-qread
 * DESCRIPTION
 *	qmail-qread's report, one message after another: when it was
 *	queued, its number, its (sealed) size and sender, then each
 *	recipient, local or remote, marked "done" once delivered. Messages
 *	sq-send has not taken over yet (todo/) are listed from their
 *	envelopes. The contents are never shown: the queue holds them
 *	sealed.
 * SECURITY
 *	An administrator's tool: runs with the rights of its caller, who
 *	must be able to read the queue. Shows envelopes only; the messages
 *	are sealed and it never opens them.
 * SEE ALSO
 *	sq-qread(8), sq-qstat(8), sq-send(8)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/die.h"
#include "util/home.h"
#include "util/log.h"
#include "deliver/qmsg.h"
#include "queue/queue.h"

static void head(struct queue *q, unsigned long long num, time_t birth,
                 const char *sender, const char *note)
{
	char path[64], when[64];
	struct stat st;
	struct tm tm;
	long long size = -1;
	if (queue_path(path, sizeof path, QUEUE_MESS, num) == 0 &&
	    fstatat(q->top, path, &st, 0) == 0)
		size = (long long)st.st_size;
	gmtime_r(&birth, &tm);
	strftime(when, sizeof when, "%d %b %Y %H:%M:%S GMT", &tm);
	printf("%s  #%llu  %lld  <%s>%s\n", when, num, size, sender, note);
}

static void rcpts(const struct qlist *l, const char *kind)
{
	for (size_t i = 0; i < l->n; i++)
		printf("  %s\t%s\t%s\n", l->r[i].done ? "done" : "", kind,
		       l->r[i].addr);
}

static int one_info(unsigned long long num, void *arg)
{
	struct queue *q = arg;
	struct qmsg m;
	if (qmsg_load(q, num, &m) < 0) {
		printf("#%llu: cannot read its files: %s\n", num, strerror(errno));
		return 0;
	}
	head(q, num, m.birth, m.sender, "");
	rcpts(&m.local, "local");
	rcpts(&m.remote, "remote");
	qmsg_free(&m);
	return 0;
}

static int one_todo(unsigned long long num, void *arg)
{
	struct queue *q = arg;
	struct queue_envelope e;
	time_t queued;
	int r = queue_todo_read(q, num, &e, &queued);
	if (r < 0) {
		if (r == -2)
			queue_envelope_free(&e);
		printf("#%llu: cannot read todo/%llu\n", num, num);
		return 0;
	}
	head(q, num, queued, e.sender, "  (not yet preprocessed)");
	for (size_t i = 0; i < e.nrcpt; i++)
		printf("  \t\t%s\n", e.rcpt[i]);
	queue_envelope_free(&e);
	return 0;
}

int main(void)
{
	struct queue q;
	log_init("sq-qread");
	if (queue_open(&q, sq_home(), QUEUE_BIT(QUEUE_INFO) |
	               QUEUE_BIT(QUEUE_LOCAL) | QUEUE_BIT(QUEUE_REMOTE) |
	               QUEUE_BIT(QUEUE_TODO) | QUEUE_BIT(QUEUE_MESS)) < 0)
		die_sys_temp("cannot open the queue: %s", strerror(errno));
	if (qmsg_each(&q, one_info, &q) < 0 ||
	    queue_todo_each(&q, one_todo, &q) < 0)
		die_sys_temp("cannot read the queue: %s", strerror(errno));
	return fflush(stdout) == 0 ? 0 : 111;
}
