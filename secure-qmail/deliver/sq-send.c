/*
 * NAME
 *	sq-send - the scheduler: deliver queued mail, retry, bounce
 * SYNOPSIS
 *	sq-send (started by sq-start, as the scheduler's user)
 * DESCRIPTION
 *	qmail-send's job. Descriptors from sq-start: 3 writes delivery
 *	requests to sq-lspawn and 4 reads its answers; 5 writes removal
 *	requests to sq-clean and 6 reads its answers; 2 is the log.
 *	New messages (todo/N) are copied into the scheduler's own files
 *	(qmsg.h) and todo/N removed through sq-clean; then every local
 *	recipient is handed to sq-lspawn, at most control/concurrencylocal
 *	at a time. Temporary failures are retried on qmail's schedule
 *	(qsched.h, control/retrystep); permanent ones, and temporary ones
 *	past control/queuelifetime, are reported to the sender in one
 *	RFC 3464 notification (dsn.h), sealed like any mail through the
 *	qmail-queue program. Messages wait in a heap ordered by their next
 *	attempt: nothing rescans the queue for each message. lock/trigger
 *	wakes it; SIGALRM makes everything due now, SIGHUP rereads the
 *	control files, SIGTERM finishes the deliveries under way and exits.
 * SECURITY
 *	Runs as the scheduler's user (sqmails) and refuses root. Holds no
 *	key and sees no plaintext: the queue holds sealed messages, and its
 *	own notices go through the qmail-queue program, which seals them.
 *	It may not write the queue's directories (sq-clean does) nor the
 *	maildirs (sq-lspawn does). Its input is the queue, written by
 *	sq-queue; every field it reads is bounded.
 * STANDARDS
 *	RFC 3464 (delivery status notifications)
 * SEE ALSO
 *	sq-send(8), sq-lspawn(8), sq-clean(8), sq-start(8), sq-queue(8)
 */
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

#include "mail/addr.h"
#include "util/atomicfile.h"
#include "util/control.h"
#include "util/crashpoint.h"
#include "util/die.h"
#include "deliver/dsn.h"
#include "util/home.h"
#include "deliver/localdom.h"
#include "deliver/lsreq.h"
#include "util/log.h"
#include "util/path.h"
#include "deliver/qmsg.h"
#include "deliver/qsched.h"
#include "queue/queueprog.h"
#include "util/rbuf.h"

enum { FD_TO_LSPAWN = 3, FD_FROM_LSPAWN = 4, FD_TO_CLEAN = 5,
       FD_FROM_CLEAN = 6 };

#define CONCURRENCY_MAX 1000
#define ANSWER_MAX 2048
#define TODO_RESCAN 300         /* seconds: a lost wake-up costs no more */
#define ORPHAN_AGE (36 * 3600)
#define STOP_GRACE 300          /* seconds the deliveries under way get */
#define LIGHT_PER_SLOT 8        /* light jobs waiting per delivery slot */

struct job {
	struct sched_item it;   /* first: a heap item is its job */
	struct qmsg m;
	unsigned char *busy;    /* per local recipient: being delivered */
	size_t cursor;          /* next local recipient this round */
	unsigned inflight;
	int light;              /* first attempt, no files of ours yet:
	                         * todo/N is still the message's record */
};

struct slot {
	struct job *job;
	size_t rcpt;
	struct timespec started;
};

struct sender {
	struct queue q;
	struct control ctl;
	struct localdom ours;
	struct sched_heap heap;
	struct slot *slot;
	unsigned long nslot, used;
	struct rbuf from_lspawn, from_clean;
	struct sbuf field;              /* sq-lspawn's answers */
	struct sbuf cleaned;            /* sq-clean's, apart: a removal in
	                                 * the middle of an answer keeps it */
	int trigger;
	unsigned long lifetime, step;
	char me[256], bouncefrom[512], qqprogram[SQ_PATH_MAX];
	time_t next_todo_scan, next_orphan_sweep;
	unsigned long long *light;      /* numbers of the light jobs, at most
	                                 * LIGHT_PER_SLOT * nslot: todo/
	                                 * scans skip them */
	unsigned long nlight, maxlight;
};

static volatile sig_atomic_t got_alarm, got_hup, got_term;

static void on_signal(int sig)
{
	if (sig == SIGALRM)
		got_alarm = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

/* ---- configuration -------------------------------------------------------- */

static void configure(struct sender *s)
{
	unsigned long conc = CONCURRENCYLOCAL_DEFAULT;
	s->lifetime = 604800;
	s->step = 10;
	if (dsn_sender(&s->ctl, s->me, sizeof s->me, s->bouncefrom,
	               sizeof s->bouncefrom) < 0)
		die_sys_temp("control/me, bouncehost or bouncefrom: %s",
		             strerror(errno));
	if (control_readulong(&s->ctl, "concurrencylocal", CONCURRENCY_MAX,
	                      &conc) < 0 ||
	    control_readulong(&s->ctl, "queuelifetime", 100UL * 86400,
	                      &s->lifetime) < 0 ||
	    control_readulong(&s->ctl, "retrystep", 3600, &s->step) < 0)
		die_sys_temp("control: %s", strerror(errno));
	if (!s->slot) { /* the slots are fixed once started */
		s->nslot = conc ? conc : 1;
		s->slot = calloc(s->nslot, sizeof *s->slot);
		s->maxlight = LIGHT_PER_SLOT * s->nslot;
		s->light = calloc(s->maxlight, sizeof *s->light);
		if (!s->slot || !s->light)
			die_nomem();
	}
	const char *qq = getenv("QMAILQUEUE");
	if (qq && *qq) {
		if (path_join(s->qqprogram, sizeof s->qqprogram, qq, NULL) < 0)
			die_sys_temp("QMAILQUEUE: path too long");
	} else if (sq_sibling(s->qqprogram, sizeof s->qqprogram,
	                      "sq-seal") < 0) {
		die_sys_temp("cannot find sq-seal beside sq-send");
	}
}

/* ---- sq-clean -------------------------------------------------------------- */

/* Asks sq-clean to remove what op names ('t': todo and intd, 'm': mess);
 * 0 once it has, -1 if not. */
static int clean(struct sender *s, char op, unsigned long long num)
{
	char req[32];
	int n = snprintf(req, sizeof req, "%c%llu", op, num);
	if (write_all(FD_TO_CLEAN, req, (size_t)n + 1) < 0 ||
	    rbuf_getfield(&s->from_clean, &s->cleaned, ANSWER_MAX) != RBUF_LINE)
		die_sys_temp("lost sq-clean");
	if (s->cleaned.s[0] == '+')
		return 0;
	log_msg(SQLOG_WARN, "sq-clean cannot remove %s of %llu: %.200s",
	        op == 't' ? "todo" : "mess", num, s->cleaned.s + 1);
	return -1;
}

/* ---- jobs ------------------------------------------------------------------ */

static struct job *job_new(void)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		die_nomem();
	j->it.heap_index = SCHED_NOWHERE;
	return j;
}

static void job_ready(struct sender *s, struct job *j, time_t when)
{
	if (!j->busy && j->m.local.n &&
	    !(j->busy = calloc(j->m.local.n, 1)))
		die_nomem();
	j->it.when = when;
	j->cursor = 0;
	if (sched_push(&s->heap, &j->it) < 0)
		die_nomem();
}

static void job_free(struct job *j)
{
	qmsg_free(&j->m);
	free(j->busy);
	free(j);
}

/* ---- light jobs --------------------------------------------------------------
 * Nearly every message the SMTP receiver queues has one local recipient
 * (the sealer queues one copy per recipient). Its first attempt needs no
 * files of the scheduler: todo/N stays its record until the attempt ends.
 * Delivered, it goes at once (todo/N, intd/N, mess/N); otherwise its files
 * are written then, and it goes on like any message. A crash meanwhile
 * leaves todo/N, taken again at the next start: the same at-least-once as
 * the files give, without two inodes and three syncs per message. At most
 * LIGHT_PER_SLOT * nslot light jobs exist, so todo/ stays small, and a
 * backlog beyond that takes the usual way. */

static int is_light(const struct sender *s, unsigned long long num)
{
	for (unsigned long i = 0; i < s->nlight; i++)
		if (s->light[i] == num)
			return 1;
	return 0;
}

static void light_forget(struct sender *s, struct job *j)
{
	for (unsigned long i = 0; i < s->nlight; i++)
		if (s->light[i] == j->m.num) {
			s->light[i] = s->light[--s->nlight];
			break;
		}
	j->light = 0;
}

/* The light job must wait, or fail: its files now, then todo/N goes. 0, or
 * -1 (it stays light; todo/N will be taken again after a restart). */
static int materialize(struct sender *s, struct job *j)
{
	if (qmsg_write(&s->q, &j->m) < 0) {
		log_msg(SQLOG_ALERT, "msg %llu: cannot write its files: %s",
		        j->m.num, strerror(errno));
		return -1;
	}
	crash_point("send-materialized"); /* files and todo/N both there */
	light_forget(s, j);
	if (clean(s, 't', j->m.num) < 0)
		log_msg(SQLOG_WARN, "msg %llu: todo/ stays; it is taken again "
		        "at the next start", j->m.num);
	return 0;
}

static void hash_of(const char *addr, char hex[9])
{
	char norm[ADDR_MAX + 1];
	if (addr_normalize(addr, strlen(addr), norm) != ADDR_OK)
		snprintf(norm, sizeof norm, "%s", addr);
	addr_hash_hex(addr_hash(norm), hex);
}

/* ---- bounces and the end of a message -------------------------------------- */

/* Sends the sender one notification of the failures in bounce/N; 0 once
 * it is queued (or there is nobody to tell), -1 to try again later. */
static int send_bounce(struct sender *s, struct job *j, time_t now)
{
	struct sbuf failures, msg;
	sbuf_init(&failures, QUEUE_ENVELOPE_MAX);
	int r = qmsg_bounce_read(&s->q, j->m.num, &failures);
	if (r <= 0) {
		sbuf_free(&failures);
		return r;
	}
	if (!*j->m.sender) { /* a bounce that bounced: nobody to tell */
		log_msg(SQLOG_WARN, "msg %llu: a notification could not be "
		        "delivered; discarded", j->m.num);
		sbuf_free(&failures);
		return qmsg_bounce_remove(&s->q, j->m.num);
	}
	struct dsn d = { s->me, s->bouncefrom, j->m.sender, j->m.num,
	                 j->m.birth, now, failures.s, failures.len };
	sbuf_init(&msg, QUEUE_ENVELOPE_MAX + 65536);
	struct sbuf env;
	sbuf_init(&env, QUEUE_ADDR_MAX + 8);
	r = dsn_build(&d, &msg) == 0 && sbuf_put(&env, "F", 2) == 0 &&
	    sbuf_putc(&env, 'T') == 0 &&
	    sbuf_put(&env, j->m.sender, strlen(j->m.sender) + 1) == 0 &&
	    sbuf_putc(&env, '\0') == 0 ? 0 : -1;
	int code = r < 0 ? -1 : queueprog_run(s->qqprogram, "sq-seal", msg.s,
	                                      msg.len, env.s, env.len);
	if (code == 0) {
		log_msg(SQLOG_INFO, "msg %llu: failure notice queued", j->m.num);
		r = qmsg_bounce_remove(&s->q, j->m.num);
	} else {
		log_msg(SQLOG_WARN, "msg %llu: cannot queue the failure notice "
		        "(%d); will try again", j->m.num, code);
		r = -1;
	}
	sbuf_free(&env);
	sbuf_free(&msg);
	sbuf_free(&failures);
	return r;
}

/* A light job delivered: todo/N (synced), then mess/N; nothing else. */
static void finish_light(struct sender *s, struct job *j)
{
	light_forget(s, j);
	if (clean(s, 't', j->m.num) < 0 || clean(s, 'm', j->m.num) < 0)
		log_msg(SQLOG_WARN, "msg %llu: delivered, but its files stay",
		        j->m.num);
	else
		log_msg(SQLOG_INFO, "msg %llu: done", j->m.num);
	job_free(j);
}

/* Every recipient is done: tell the sender of failures, then forget it. */
static void finish(struct sender *s, struct job *j, time_t now)
{
	if (j->light) {
		finish_light(s, j);
		return;
	}
	if (send_bounce(s, j, now) < 0) {
		qmsg_set_next(&s->q, j->m.num, sched_retry(j->m.birth, now,
		                                           (unsigned)s->step));
		job_ready(s, j, sched_retry(j->m.birth, now, (unsigned)s->step));
		return;
	}
	if (qmsg_remove(&s->q, j->m.num) < 0 || clean(s, 'm', j->m.num) < 0)
		log_msg(SQLOG_WARN, "msg %llu: delivered, but its files stay: %s",
		        j->m.num, strerror(errno));
	else
		log_msg(SQLOG_INFO, "msg %llu: done", j->m.num);
	job_free(j);
}

/* A permanent failure (or one past the queue lifetime) of recipient i. */
static void fail_rcpt(struct sender *s, struct job *j, struct qlist *l,
                      size_t i, const char *reason)
{
	if (qmsg_bounce_add(&s->q, j->m.num, l->r[i].addr, reason) < 0 ||
	    qmsg_done(&s->q, &j->m, l, i) < 0) {
		log_msg(SQLOG_ALERT, "msg %llu: cannot record a failure (it "
		        "will be tried again): %s", j->m.num, strerror(errno));
	}
}

/* All of a round's deliveries have answered. */
static void end_round(struct sender *s, struct job *j, time_t now)
{
	if (j->m.local.todo == 0 && j->m.remote.todo == 0) {
		finish(s, j, now);
		return;
	}
	time_t next = sched_retry(j->m.birth, now, (unsigned)s->step);
	if (j->light && materialize(s, j) < 0)
		next = now + 60; /* try writing again in a minute */
	qmsg_set_next(&s->q, j->m.num, next);
	job_ready(s, j, next);
}

/* Remote delivery is not built yet (sq-remote): remote recipients wait,
 * and bounce once the message outlives the queue lifetime. */
static void start_round(struct sender *s, struct job *j, time_t now)
{
	if (now < j->m.birth + (time_t)s->lifetime)
		return;
	for (size_t i = 0; i < j->m.remote.n; i++)
		if (!j->m.remote.r[i].done)
			fail_rcpt(s, j, &j->m.remote, i, "4.4.7 message expired: "
			          "no remote delivery on this host");
}

/* ---- delivery ---------------------------------------------------------------- */

static void settle(struct sender *s, unsigned long k, char code,
                   const char *text, time_t now);

static void dispatch_one(struct sender *s, struct job *j, size_t i,
                         time_t now)
{
	unsigned long k = 0;
	while (s->slot[k].job)
		k++;
	s->slot[k] = (struct slot){ j, i, { 0, 0 } };
	clock_gettime(CLOCK_MONOTONIC, &s->slot[k].started);
	s->used++;
	j->busy[i] = 1;
	j->inflight++;
	struct sbuf req;
	sbuf_init(&req, LSREQ_MAX + LSREQ_NUM_FIELD);
	if (lsreq_put(&req, k, j->m.num, j->m.sender,
	              j->m.local.r[i].addr) < 0) {
		sbuf_free(&req);
		if (errno != ENAMETOOLONG)
			die_nomem();
		/* sq-lspawn could not take it: the recipient fails for good,
		 * and the others go on */
		settle(s, k, 'D', "5.1.3 an address longer than the queue "
		       "allows", now);
		return;
	}
	if (write_all(FD_TO_LSPAWN, req.s, req.len) < 0)
		die_sys_temp("lost sq-lspawn");
	sbuf_free(&req);
}

/* Hands due recipients to sq-lspawn while there are free slots. */
static void dispatch(struct sender *s, time_t now)
{
	struct sched_item *top;
	while (s->used < s->nslot && (top = sched_top(&s->heap)) &&
	       top->when <= now) {
		struct job *j = (struct job *)top;
		if (j->cursor == 0 && j->inflight == 0)
			start_round(s, j, now);
		size_t i = j->cursor;
		while (i < j->m.local.n && (j->m.local.r[i].done || j->busy[i]))
			i++;
		if (i < j->m.local.n) {
			dispatch_one(s, j, i, now);
			j->cursor = i + 1;
			continue;
		}
		sched_remove(&s->heap, &j->it);
		if (j->inflight == 0)
			end_round(s, j, now);
	}
}

static double seconds_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	       (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* One answer of sq-lspawn: slot NUL, then K (delivered), Z (try again)
 * or D (failed for good) and the reason, NUL. */
static void answer(struct sender *s, time_t now)
{
	char *end;
	if (rbuf_getfield(&s->from_lspawn, &s->field, ANSWER_MAX) != RBUF_LINE)
		die_sys_temp("lost sq-lspawn");
	unsigned long k = strtoul(s->field.s, &end, 10);
	if (*end || k >= s->nslot || !s->slot[k].job ||
	    rbuf_getfield(&s->from_lspawn, &s->field, ANSWER_MAX) != RBUF_LINE ||
	    s->field.len < 2)
		die_sys_temp("sq-lspawn answered nonsense");
	settle(s, k, s->field.s[0], s->field.s + 1, now);
}

/* The answer code (K, Z or D) and text for slot k. */
static void settle(struct sender *s, unsigned long k, char code,
                   const char *text, time_t now)
{
	struct slot sl = s->slot[k];
	struct job *j = sl.job;
	const char *rcpt = j->m.local.r[sl.rcpt].addr;
	char hex[9];
	if (code == 'K') /* stored, not yet recorded: it will be tried again */
		crash_point("send-delivered");
	s->slot[k].job = NULL;
	s->used--;
	j->busy[sl.rcpt] = 0;
	j->inflight--;
	/* a light job that must wait or fail gets its files first, so the
	 * log line below never tells of a message the queue does not show */
	int unrecorded = j->light && code != 'K' && materialize(s, j) < 0;
	hash_of(rcpt, hex);
	log_msg(SQLOG_INFO, "delivery %lu: msg %llu to %s: %s: %.300s (%.3f s)",
	        k, j->m.num, hex, code == 'K' ? "success" : code == 'D'
	        ? "failure" : "deferral", text, seconds_since(&sl.started));
	if (unrecorded)
		code = 'Z'; /* recorded nowhere: tried again, even a 'D' */
	if (code == 'K' && j->light) {
		j->m.local.r[sl.rcpt].done = 1; /* todo/N goes in finish_light */
		j->m.local.todo--;
	} else if (code == 'K') {
		if (qmsg_done(&s->q, &j->m, &j->m.local, sl.rcpt) < 0) {
			log_msg(SQLOG_ALERT, "msg %llu: delivered but not recorded "
			        "(it will be delivered again): %s", j->m.num,
			        strerror(errno));
		}
	} else if (code == 'D') {
		fail_rcpt(s, j, &j->m.local, sl.rcpt, text);
	} else if (now >= j->m.birth + (time_t)s->lifetime) {
		char reason[600];
		snprintf(reason, sizeof reason, "4.4.7 message expired: %.500s", text);
		fail_rcpt(s, j, &j->m.local, sl.rcpt, reason);
	}
	if (j->it.heap_index == SCHED_NOWHERE && j->inflight == 0)
		end_round(s, j, now);
}

/* ---- new messages ------------------------------------------------------------ */

struct todo_pass {
	struct sender *s;
	unsigned long long *nums;       /* taken from todo/ this pass */
	size_t n, cap;
};

static int is_local(const char *addr, void *arg)
{
	struct sender *s = arg;
	int r = localdom_match(&s->ours, addr, NULL);
	if (r < 0)
		die_sys_temp("cannot read control/locals or virtualdomains");
	return r;
}

/* Builds the job of todo/num: light (no files) when it has one local
 * recipient, a light place is free and no earlier pass left files (a
 * light job's end would not remove them: a later start would take them
 * for a message whose file is gone), else with its files (re)written. */
static int build_job(struct sender *s, unsigned long long num,
                     const struct queue_envelope *e, time_t birth,
                     struct job *j)
{
	if (e->nrcpt != 1 || s->nlight >= s->maxlight ||
	    qmsg_has_files(&s->q, num) != 0)
		return qmsg_from_todo(&s->q, num, e, is_local, s, birth, &j->m);
	if (qmsg_from_envelope(num, e, is_local, s, birth, &j->m) < 0)
		return -1;
	if (j->m.local.n == 1) {
		j->light = 1;
		s->light[s->nlight++] = num;
		return 0;
	}
	if (qmsg_write(&s->q, &j->m) == 0)
		return 0;
	int saved = errno;
	qmsg_free(&j->m);
	errno = saved;
	return -1;
}

static int take_todo(unsigned long long num, void *arg)
{
	struct todo_pass *p = arg;
	struct sender *s = p->s;
	struct queue_envelope e;
	time_t queued;
	if (is_light(s, num))
		return 0; /* ours already: its todo/N goes when it is done */
	int r = queue_todo_read(&s->q, num, &e, &queued);
	if (r == -1) {
		log_msg(SQLOG_WARN, "cannot open todo/%llu: %s", num,
		        strerror(errno));
		return 0;
	}
	if (r < 0) {
		log_msg(SQLOG_ALERT, "todo/%llu is not an envelope (%s); left as "
		        "it is", num, strerror(errno));
		queue_envelope_free(&e);
		return 0;
	}
	struct job *j = job_new();
	/* born when queued: the mtime of its envelope */
	r = build_job(s, num, &e, queued, j);
	queue_envelope_free(&e);
	if (r < 0 || (!j->light && clean(s, 't', num) < 0)) {
		if (r < 0)
			log_msg(SQLOG_WARN, "cannot take todo/%llu: %s", num,
			        strerror(errno));
		if (r == 0)
			qmsg_free(&j->m);
		free(j);
		return 0; /* todo/N stays: taken again at the next pass */
	}
	log_msg(SQLOG_INFO, "msg %llu: new, %zu local and %zu remote "
	        "recipients", num, j->m.local.n, j->m.remote.n);
	job_ready(s, j, time(NULL));
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		unsigned long long *grown = realloc(p->nums, p->cap * sizeof *grown);
		if (!grown)
			die_nomem();
		p->nums = grown;
	}
	p->nums[p->n++] = num;
	return 0;
}

static void scan_todo(struct sender *s, struct todo_pass *keep)
{
	struct todo_pass p = { s, NULL, 0, 0 };
	if (queue_todo_each(&s->q, take_todo, &p) < 0)
		log_msg(SQLOG_WARN, "cannot read todo/: %s", strerror(errno));
	if (keep)
		*keep = p;
	else
		free(p.nums);
	s->next_todo_scan = time(NULL) + TODO_RESCAN;
}

/* ---- after a restart ------------------------------------------------------- */

static int taken(const struct todo_pass *p, unsigned long long num)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->nums[i] == num)
			return 1;
	return 0;
}

static int load_one(unsigned long long num, void *arg)
{
	struct todo_pass *p = arg;
	if (taken(p, num))
		return 0; /* just taken from todo/ again */
	struct job *j = job_new();
	if (qmsg_load(&p->s->q, num, &j->m) < 0) {
		log_msg(SQLOG_ALERT, "msg %llu: cannot read its files: %s", num,
		        strerror(errno));
		free(j);
		return 0;
	}
	job_ready(p->s, j, qmsg_next(&p->s->q, num));
	return 0;
}

/* mess/N with neither todo/N nor info/N, and old: a message whose end a
 * crash interrupted, or an sq-queue run that died. */
static int orphan(unsigned long long num, void *arg)
{
	struct sender *s = arg;
	char todo[64], info[64], mess[64];
	struct stat st;
	if (queue_path(todo, sizeof todo, QUEUE_TODO, num) < 0 ||
	    queue_path(info, sizeof info, QUEUE_INFO, num) < 0 ||
	    queue_path(mess, sizeof mess, QUEUE_MESS, num) < 0)
		return 0;
	if (fstatat(s->q.top, todo, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT &&
	    fstatat(s->q.top, info, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT &&
	    fstatat(s->q.top, mess, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_mtime < time(NULL) - ORPHAN_AGE && clean(s, 'm', num) == 0)
		log_msg(SQLOG_INFO, "msg %llu: removed an orphaned message file",
		        num);
	return 0;
}

static void sweep_orphans(struct sender *s)
{
	queue_each(&s->q, QUEUE_MESS, orphan, s);
	s->next_orphan_sweep = time(NULL) + 86400;
}

/* ---- the loop ------------------------------------------------------------------ */

static void make_all_due(struct sender *s, time_t now)
{
	for (size_t i = 0; i < s->heap.n; i++)
		s->heap.v[i]->when = now; /* all equal: still a heap */
}

static void drain_trigger(struct sender *s)
{
	char buf[256];
	while (read(s->trigger, buf, sizeof buf) > 0)
		;
}

static int poll_timeout(struct sender *s, time_t now)
{
	time_t wake = s->next_todo_scan;
	struct sched_item *top = sched_top(&s->heap);
	if (top && s->used < s->nslot && top->when < wake)
		wake = top->when;
	return wake <= now ? 0 : (int)(wake - now > 3600 ? 3600 : wake - now) * 1000;
}

static void run(struct sender *s)
{
	time_t stop_by = 0;
	for (;;) {
		time_t now = time(NULL);
		if (got_alarm) {
			got_alarm = 0;
			make_all_due(s, now);
			scan_todo(s, NULL);
		}
		if (got_hup) {
			got_hup = 0;
			configure(s);
			log_msg(SQLOG_INFO, "control files read again");
		}
		if (got_term && !stop_by) {
			stop_by = now + STOP_GRACE;
			log_msg(SQLOG_INFO, "stopping: %lu deliveries under way",
			        s->used);
		}
		if (stop_by && (s->used == 0 || now >= stop_by))
			return;
		if (!stop_by) {
			if (now >= s->next_todo_scan)
				scan_todo(s, NULL);
			if (now >= s->next_orphan_sweep)
				sweep_orphans(s);
			dispatch(s, now);
		}
		struct pollfd p[2] = { { FD_FROM_LSPAWN, POLLIN, 0 },
		                       { s->trigger, POLLIN, 0 } };
		int timeout = stop_by ? 1000 : poll_timeout(s, now);
		if (rbuf_pending(&s->from_lspawn) == 0 &&
		    poll(p, stop_by ? 1 : 2, timeout) <= 0)
			continue;
		if (rbuf_pending(&s->from_lspawn) || p[0].revents)
			answer(s, time(NULL));
		if (!stop_by && p[1].revents) {
			drain_trigger(s);
			scan_todo(s, NULL);
		}
	}
}

static void start(struct sender *s)
{
	struct todo_pass first;
	char ctldir[SQ_PATH_MAX];
	if (sq_path(ctldir, sizeof ctldir, "control") < 0 ||
	    control_open(&s->ctl, ctldir) < 0)
		die_sys_temp("cannot open the control directory");
	localdom_init(&s->ours, &s->ctl);
	configure(s);
	/* not pid/ and intd/: sq-send runs as the scheduler, not the queue user */
	if (queue_open(&s->q, sq_home(), QUEUE_FOR_SENDING) < 0)
		die_sys_temp("cannot open the queue (%s): %s",
		             s->q.failed >= 0 ? queue_dirname(s->q.failed)
		                              : "top",
		             strerror(errno));
	/* read and write, so the FIFO never reads as closed between writers */
	s->trigger = openat(s->q.dir[QUEUE_LOCK], "trigger",
	                    O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (s->trigger < 0)
		die_sys_temp("cannot open lock/trigger: %s", strerror(errno));
	sched_init(&s->heap);
	rbuf_init(&s->from_lspawn, FD_FROM_LSPAWN, -1);
	rbuf_init(&s->from_clean, FD_FROM_CLEAN, -1);
	sbuf_init(&s->field, ANSWER_MAX);
	sbuf_init(&s->cleaned, ANSWER_MAX);
	scan_todo(s, &first);
	qmsg_each(&s->q, load_one, &first);
	free(first.nums);
	sweep_orphans(s);
	log_msg(SQLOG_INFO, "started: %zu messages in the queue, %lu delivery "
	        "slots", s->heap.n, s->nslot);
}

/* Everything start() took, given back: a clean exit under LeakSanitizer. */
static void stop_cleanly(struct sender *s)
{
	struct sched_item *it;
	/* jobs still under way when the grace ran out: each freed once */
	for (unsigned long k = 0; k < s->nslot; k++) {
		struct job *j = s->slot[k].job;
		if (!j)
			continue;
		for (unsigned long l = k + 1; l < s->nslot; l++)
			if (s->slot[l].job == j)
				s->slot[l].job = NULL;
		if (j->it.heap_index != SCHED_NOWHERE)
			sched_remove(&s->heap, &j->it);
		job_free(j);
	}
	while ((it = sched_top(&s->heap)) != NULL) {
		sched_remove(&s->heap, it);
		job_free((struct job *)it); /* the item is the job's first member */
	}
	sched_free(&s->heap);
	localdom_free(&s->ours);
	queue_close(&s->q);
	close(s->trigger);
	sbuf_free(&s->field);
	sbuf_free(&s->cleaned);
	free(s->slot);
	free(s->light);
	control_close(&s->ctl);
}

int main(void)
{
	struct sender s;
	struct sigaction sa;
	log_init("sq-send");
	die_if_root(1, "sq-start runs sq-send as the scheduler's user");
	memset(&s, 0, sizeof s);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns */
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	start(&s);
	run(&s);
	stop_cleanly(&s);
	log_msg(SQLOG_INFO, "stopped");
	return 0;
}
