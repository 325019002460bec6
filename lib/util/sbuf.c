/*
 * sbuf - bounded, growable byte strings. See sbuf.h.
 *
 * Secrets are wiped with glibc's explicit_bzero, not OPENSSL_cleanse: it
 * does the same, and programs such as sq-queue need no libcrypto to load
 * (a fraction of a millisecond for every message they queue).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sbuf.h"

void sbuf_init(struct sbuf *b, size_t max)
{
	b->s = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->secret = 0;
}

void sbuf_init_secret(struct sbuf *b, size_t max)
{
	sbuf_init(b, max);
	b->secret = 1;
}

/*
 * Secret storage: whole pages of their own (posix_memalign, size rounded up
 * to the page), locked against swap and excluded from core dumps. Whole
 * pages because mlock does not nest: munlock of a page shared with another
 * block would unlock that block too. A failed mlock (RLIMIT_MEMLOCK
 * reached) leaves the buffer usable and unlocked, with one warning per
 * process: mail is not refused for it (doc/SECURITY.md, section 5).
 */
static int secret_lock_warned;

/* Straight to the kernel: ASan's mlock and munlock interceptors do
 * nothing, and the ASan build must lock as the real one does. */
static int lock_pages(const void *p, size_t n)
{
	return (int)syscall(SYS_mlock, p, n);
}

static void unlock_pages(const void *p, size_t n)
{
	syscall(SYS_munlock, p, n);
}

static size_t page_round(size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;
	if (n > SIZE_MAX - page)
		return 0;
	return (n + page - 1) / page * page;
}

static char *secret_alloc(size_t *cap)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t size = page_round(*cap);
	void *p;
	if (!size || posix_memalign(&p, pg > 0 ? (size_t)pg : 4096, size) != 0)
		return NULL;
	if (lock_pages(p, size) < 0 && !secret_lock_warned) {
		struct rlimit rl;
		secret_lock_warned = 1;
		if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
			rl.rlim_cur = 0;
		log_msg(SQLOG_WARN, "cannot lock %zu bytes of secret memory "
		        "(RLIMIT_MEMLOCK %llu): %s; it may reach swap "
		        "(raise LimitMEMLOCK or ulimit -l)", size,
		        (unsigned long long)rl.rlim_cur, strerror(errno));
	}
	madvise(p, size, MADV_DONTDUMP);
	*cap = size;
	return p;
}

static void secret_release(char *s, size_t cap)
{
	explicit_bzero(s, cap);
	unlock_pages(s, cap);
	madvise(s, cap, MADV_DODUMP);
	free(s);
}

int sbuf_reserve(struct sbuf *b, size_t need)
{
	if (need > b->max || b->len > b->max - need) {
		errno = EMSGSIZE;
		return -1;
	}
	size_t want = b->len + need + 1;
	if (want <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	if (b->max < SIZE_MAX && cap > b->max + 1)
		cap = b->max + 1;
	char *s;
	if (b->secret) {
		/* realloc could leave the old bytes in freed memory. */
		s = secret_alloc(&cap);
		if (s && b->s) {
			memcpy(s, b->s, b->len + 1);
			secret_release(b->s, b->cap);
		}
	} else {
		s = realloc(b->s, cap);
	}
	if (!s) {
		errno = ENOMEM;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

int sbuf_put(struct sbuf *b, const void *data, size_t n)
{
	if (sbuf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

char *sbuf_grow(struct sbuf *b, size_t n)
{
	if (sbuf_reserve(b, n) < 0)
		return NULL;
	char *start = b->s + b->len;
	memset(start, 0, n);
	b->len += n;
	b->s[b->len] = '\0';
	return start;
}

int sbuf_puts(struct sbuf *b, const char *str)
{
	return sbuf_put(b, str, strlen(str));
}

int sbuf_putc(struct sbuf *b, char c)
{
	return sbuf_put(b, &c, 1);
}

int sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0 || sbuf_reserve(b, (size_t)n) < 0) {
		va_end(again);
		if (n < 0)
			errno = EINVAL;
		return -1;
	}
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, again);
	va_end(again);
	b->len += (size_t)n;
	return 0;
}

int sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = sbuf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int sbuf_copy(struct sbuf *b, const void *data, size_t n)
{
	if (n > b->max) {
		errno = EMSGSIZE;
		return -1;
	}
	sbuf_reset(b);
	return sbuf_put(b, data, n);
}

void sbuf_reset(struct sbuf *b)
{
	if (b->s) {
		if (b->secret)
			explicit_bzero(b->s, b->cap);
		b->s[0] = '\0';
	}
	b->len = 0;
}

void sbuf_truncate(struct sbuf *b, size_t n)
{
	if (n >= b->len)
		return;
	explicit_bzero(b->s + n, b->len - n);
	b->len = n;
	b->s[n] = '\0';
}

void sbuf_consume(struct sbuf *b, size_t n)
{
	if (n >= b->len) {
		sbuf_reset(b);
		return;
	}
	memmove(b->s, b->s + n, b->len - n);
	b->len -= n;
	if (b->secret)
		explicit_bzero(b->s + b->len, b->cap - b->len);
	b->s[b->len] = '\0';
}

void sbuf_free(struct sbuf *b)
{
	if (b->s && b->secret)
		secret_release(b->s, b->cap);
	else
		free(b->s);
	b->s = NULL;
	b->len = 0;
	b->cap = 0;
}

int sbuf_read_fd(struct sbuf *b, int fd)
{
	char chunk[8192];
	int r = -1;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			r = 0;
			break;
		}
		if (sbuf_put(b, chunk, (size_t)n) < 0)
			break;
	}
	if (b->secret)
		explicit_bzero(chunk, sizeof chunk);
	return r;
}
