/*
 * NAME
 *	sq-qstat - how many messages the queue holds
 * SYNOPSIS
 *	sq-qstat
 * DESCRIPTION
 *	qmail-qstat's report: the messages sq-send has taken over (info/)
 *	and those sq-send has not seen yet (todo/). Reads only directory
 *	names: it needs the scheduler's rights, nothing more.
 * SECURITY
 *	An administrator's tool with the caller's rights; counts directory
 *	entries and reads nothing else.
 * SEE ALSO
 *	sq-qstat(8), sq-qread(8), sq-queue(8)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/die.h"
#include "util/home.h"
#include "util/log.h"
#include "queue/queue.h"

static int count(unsigned long long num, void *arg)
{
	(void)num;
	(*(unsigned long *)arg)++;
	return 0;
}

int main(void)
{
	struct queue q;
	unsigned long queued = 0, fresh = 0;
	log_init("sq-qstat");
	if (queue_open(&q, sq_home(), QUEUE_BIT(QUEUE_INFO) |
	                              QUEUE_BIT(QUEUE_TODO)) < 0)
		die_sys_temp("cannot open the queue: %s", strerror(errno));
	if (queue_each(&q, QUEUE_INFO, count, &queued) < 0 ||
	    queue_todo_each(&q, count, &fresh) < 0)
		die_sys_temp("cannot read the queue: %s", strerror(errno));
	printf("messages in queue: %lu\n"
	       "messages in queue but not yet preprocessed: %lu\n",
	       queued + fresh, fresh);
	return fflush(stdout) == 0 ? 0 : 111;
}
