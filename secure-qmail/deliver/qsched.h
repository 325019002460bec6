/*
 * qsched - when to try a message again, and a heap of messages by that
 * time, so the scheduler finds the next one due without scanning the
 * queue (sq-send(8)).
 */
#ifndef SQ_QSCHED_H
#define SQ_QSCHED_H

#include <stddef.h>
#include <time.h>

/* control/concurrencylocal when the file is missing: sq-send's delivery
 * slots and sq-lspawn's workers. 20, not qmail's 10: a delivery mostly
 * waits for an fsync (and, over LMTP, for edhd's), and with 10 the
 * deliver-bench left a tenth of the CPU idle. */
#define CONCURRENCYLOCAL_DEFAULT 20

/* qmail's schedule: after a failure at last, the next attempt is at
 * birth + (floor(sqrt(last - birth)) + step)^2, so the gaps grow: with
 * step 10, about 100 s, 400 s, 900 s ... after the first try. */
time_t sched_retry(time_t birth, time_t last, unsigned step);

struct sched_item {
	time_t when;
	size_t heap_index;      /* kept by the heap; SCHED_NOWHERE outside */
};
#define SCHED_NOWHERE ((size_t)-1)

struct sched_heap {
	struct sched_item **v;
	size_t n, cap;
};

void sched_init(struct sched_heap *h);
void sched_free(struct sched_heap *h);
/* Adds it (not in the heap) at it->when; 0 or -1 (ENOMEM). */
int sched_push(struct sched_heap *h, struct sched_item *it);
/* The earliest item, or NULL. */
struct sched_item *sched_top(const struct sched_heap *h);
/* Takes it out of the heap, wherever it is. */
void sched_remove(struct sched_heap *h, struct sched_item *it);
/* Moves it to a new time. */
void sched_update(struct sched_heap *h, struct sched_item *it, time_t when);

#endif
