/*
 * qsched - retry times and a binary min-heap of messages. See qsched.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "deliver/qsched.h"

static time_t isqrt(time_t x)
{
	time_t r = 0;
	while ((r + 1) * (r + 1) <= x)
		r++;
	return r;
}

time_t sched_retry(time_t birth, time_t last, unsigned step)
{
	time_t age = last > birth ? last - birth : 0;
	/* isqrt by steps is fine: age is at most the queue lifetime, whose
	 * root is a few thousand */
	time_t n = isqrt(age) + (time_t)(step ? step : 1);
	return birth + n * n;
}

void sched_init(struct sched_heap *h)
{
	h->v = NULL;
	h->n = h->cap = 0;
}

void sched_free(struct sched_heap *h)
{
	free(h->v);
	sched_init(h);
}

static void put(struct sched_heap *h, size_t i, struct sched_item *it)
{
	h->v[i] = it;
	it->heap_index = i;
}

static void up(struct sched_heap *h, size_t i)
{
	struct sched_item *it = h->v[i];
	while (i > 0 && h->v[(i - 1) / 2]->when > it->when) {
		put(h, i, h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	put(h, i, it);
}

static void down(struct sched_heap *h, size_t i)
{
	struct sched_item *it = h->v[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->when < h->v[c]->when)
			c++;
		if (h->v[c]->when >= it->when)
			break;
		put(h, i, h->v[c]);
		i = c;
	}
	put(h, i, it);
}

int sched_push(struct sched_heap *h, struct sched_item *it)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct sched_item **grown = realloc(h->v, cap * sizeof *grown);
		if (!grown)
			return -1;
		h->v = grown;
		h->cap = cap;
	}
	put(h, h->n++, it);
	up(h, h->n - 1);
	return 0;
}

struct sched_item *sched_top(const struct sched_heap *h)
{
	return h->n ? h->v[0] : NULL;
}

void sched_remove(struct sched_heap *h, struct sched_item *it)
{
	size_t i = it->heap_index;
	if (i >= h->n || h->v[i] != it)
		return;
	it->heap_index = SCHED_NOWHERE;
	struct sched_item *last = h->v[--h->n];
	if (i == h->n)
		return;
	put(h, i, last);
	up(h, i);
	down(h, last->heap_index);
}

void sched_update(struct sched_heap *h, struct sched_item *it, time_t when)
{
	it->when = when;
	up(h, it->heap_index);
	down(h, it->heap_index);
}
