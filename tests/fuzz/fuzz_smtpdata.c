/* fuzz_smtpdata - the DATA state machine: the same result whole and fed
 * in pieces, no CR ever stored, nothing stored past the limit, an end
 * found only after CRLF "." CRLF at the start of a line, and a long line
 * flagged exactly when one of the octets taken has over 1000. The first octet
 * picks the limit, the second where to split; the rest is the stream. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mail/smtpdata.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

struct result {
	struct sbuf out;
	size_t used;
	int done, bare, too_big, long_line, error;
	unsigned long long octets;
	unsigned hops;
};

/* Feeds in as chunks of at most step octets (0: all at once), after a
 * first chunk of first octets. */
static void run(const char *in, size_t n, unsigned long long max,
                size_t first, size_t step, struct result *r)
{
	struct smtpdata d;
	smtpdata_init(&d, max);
	sbuf_init(&r->out, n);
	size_t pos = 0;
	size_t chunk = first < n ? first : n;
	for (;;) {
		size_t got = smtpdata_feed(&d, in + pos, chunk, &r->out);
		pos += got;
		if (got < chunk || pos == n)
			break;
		chunk = step && step < n - pos ? step : n - pos;
	}
	r->used = pos;
	r->done = smtpdata_done(&d);
	r->bare = smtpdata_bare(&d);
	r->too_big = smtpdata_too_big(&d);
	r->long_line = smtpdata_long_line(&d);
	r->error = smtpdata_error(&d);
	r->octets = smtpdata_octets(&d);
	r->hops = smtpdata_hops(&d);
}

static int same(const struct result *a, const struct result *b)
{
	return a->used == b->used && a->done == b->done &&
	       a->bare == b->bare && a->too_big == b->too_big &&
	       a->long_line == b->long_line &&
	       a->error == b->error && a->octets == b->octets &&
	       a->hops == b->hops && a->out.len == b->out.len &&
	       (a->out.len == 0 || memcmp(a->out.s, b->out.s, a->out.len) == 0);
}

/* The line limit computed the plain way: every CRLF in what was taken
 * ends a line (any other CR or LF stopped the machine). */
static int has_long_line(const char *in, size_t used)
{
	size_t len = 0;
	for (size_t i = 0; i < used; i++) {
		if (++len > SMTPDATA_LINE_MAX)
			return 1;
		if (in[i] == '\n' && i > 0 && in[i - 1] == '\r')
			len = 0;
	}
	return 0;
}

/* What must hold of any one run. */
static void check(const char *in, size_t n, unsigned long long max,
                  const struct result *r)
{
	if (r->used > n || r->error || (r->done && r->bare))
		abort();
	if (!r->done && !r->bare && r->used != n)
		abort();
	if ((max && r->out.len > max) || r->out.len > r->octets ||
	    r->too_big != (max && r->octets > max))
		abort();
	if (r->out.len && memchr(r->out.s, '\r', r->out.len))
		abort();
	if (r->long_line != has_long_line(in, r->used))
		abort();
	if (r->done && (r->used < 3 || memcmp(in + r->used - 3, ".\r\n", 3) ||
	                (r->used != 3 &&
	                 (r->used < 5 || memcmp(in + r->used - 5, "\r\n", 2)))))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned long long max = data[0] & 0x80 ? 0 : data[0];
	size_t first = data[1];
	const char *in = (const char *)data + 2;
	size_t n = size - 2;
	struct result whole, split, bytes;
	run(in, n, max, n, 0, &whole);
	run(in, n, max, first, 0, &split);
	run(in, n, max, 1, 1, &bytes);
	check(in, n, max, &whole);
	if (!same(&whole, &split) || !same(&whole, &bytes))
		abort();
	sbuf_free(&whole.out);
	sbuf_free(&split.out);
	sbuf_free(&bytes.out);
	return 0;
}
