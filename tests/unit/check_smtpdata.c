/* check_smtpdata - the DATA phase: end of message, dot-unstuffing, CRLF,
 * databytes, the 1000-octet line limit, hop count, and every SMTP smuggling
 * variant refused. Every
 * input is also fed one octet at a time and in every 2-way split, and must
 * give the same result each way. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mail/smtpdata.h"
#include "testutil.h"

struct run {
	struct sbuf out;
	size_t used;
	int done, bare, too_big, long_line, error;
	unsigned long long octets;
	unsigned hops;
};

/* Feeds in[0..n) as the chunks that end at cut[0..ncut) and n; a feed
 * that consumes less than it was given ends the run, as it would end the
 * caller's reading. */
static void run_cuts(const char *in, size_t n, unsigned long long max,
                     size_t outmax, const size_t *cut, size_t ncut,
                     struct run *r)
{
	struct smtpdata d;
	smtpdata_init(&d, max);
	sbuf_init(&r->out, outmax);
	size_t pos = 0;
	for (size_t i = 0; i <= ncut; i++) {
		size_t end = i < ncut ? cut[i] : n;
		pos += smtpdata_feed(&d, in + pos, end - pos, &r->out);
		if (pos < end)
			break;
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

static void assert_same(const struct run *a, const struct run *b,
                        const char *how, size_t at)
{
	ck_assert_msg(a->used == b->used && a->done == b->done &&
	              a->bare == b->bare && a->too_big == b->too_big &&
	              a->long_line == b->long_line &&
	              a->error == b->error && a->octets == b->octets &&
	              a->hops == b->hops && a->out.len == b->out.len &&
	              (a->out.len == 0 ||
	               memcmp(a->out.s, b->out.s, a->out.len) == 0),
	              "fed %s (at %zu): a different result", how, at);
}

/* Feeds in whole into r, then checks that octet-by-octet and every 2-way
 * split give the same result. */
static void feed_max(const char *in, size_t n, unsigned long long max,
                     size_t outmax, struct run *r)
{
	run_cuts(in, n, max, outmax, NULL, 0, r);
	size_t *cut = malloc((n ? n : 1) * sizeof *cut);
	ck_assert_ptr_nonnull(cut);
	for (size_t i = 0; i + 1 < n; i++)
		cut[i] = i + 1;
	struct run other;
	run_cuts(in, n, max, outmax, cut, n ? n - 1 : 0, &other);
	assert_same(r, &other, "octet by octet", 0);
	sbuf_free(&other.out);
	for (size_t k = 0; k <= n; k++) {
		run_cuts(in, n, max, outmax, &k, 1, &other);
		assert_same(r, &other, "in two", k);
		sbuf_free(&other.out);
	}
	free(cut);
}

#define FEED(lit, max, r) feed_max(lit, sizeof lit - 1, max, 1 << 20, r)

static void assert_out(const struct run *r, const char *want, size_t n)
{
	ck_assert_uint_eq(r->out.len, n);
	ck_assert_msg(n == 0 || memcmp(r->out.s, want, n) == 0,
	              "stored \"%s\"", r->out.s ? r->out.s : "");
}

#define OUT_IS(r, lit) assert_out(r, lit, sizeof lit - 1)

START_TEST(crlf_dot_crlf_ends_the_message)
{
	static const char in[] = "Subject: x\r\n\r\nbody\r\n.\r\n";
	struct run r;
	FEED(in, 0, &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.bare, 0);
	ck_assert_uint_eq(r.used, sizeof in - 1);
	OUT_IS(&r, "Subject: x\n\nbody\n");
	ck_assert_uint_eq(r.octets, 17);
	sbuf_free(&r.out);
}
END_TEST

START_TEST(lone_dot_first_is_an_empty_message)
{
	struct run r;
	FEED(".\r\n", 0, &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_uint_eq(r.used, 3);
	ck_assert_uint_eq(r.octets, 0);
	OUT_IS(&r, "");
	sbuf_free(&r.out);
}
END_TEST

START_TEST(leading_dots_are_unstuffed)
{
	struct run r;
	FEED("..x\r\n..\r\n...\r\n. y\r\nmid.dot\r\nend.\r\n.\r\n", 0, &r);
	ck_assert_int_eq(r.done, 1);
	OUT_IS(&r, ".x\n.\n..\n y\nmid.dot\nend.\n");
	sbuf_free(&r.out);
}
END_TEST

START_TEST(dot_ends_only_a_whole_line_at_its_start)
{
	struct run r;
	FEED("a.\r\n .\r\n.x\r\n", 0, &r);
	ck_assert_int_eq(r.done, 0);
	ck_assert_int_eq(r.bare, 0);
	ck_assert_uint_eq(r.used, 12);
	OUT_IS(&r, "a.\n .\nx\n");
	sbuf_free(&r.out);
}
END_TEST

START_TEST(crlf_becomes_lf_and_no_cr_is_stored)
{
	struct run r;
	FEED("a\r\nb\r\n\r\n\r\nc\r\n.\r\n", 0, &r);
	ck_assert_int_eq(r.done, 1);
	OUT_IS(&r, "a\nb\n\n\nc\n");
	ck_assert_ptr_null(memchr(r.out.s, '\r', r.out.len));
	ck_assert_uint_eq(r.octets, 8);
	sbuf_free(&r.out);
}
END_TEST

START_TEST(octets_after_the_end_stay_with_the_caller)
{
	static const char in[] = "x\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n";
	struct run r;
	FEED(in, 0, &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_uint_eq(r.used, 6);
	OUT_IS(&r, "x\n");

	struct smtpdata d;
	struct sbuf out;
	sbuf_init(&out, 100);
	smtpdata_init(&d, 0);
	ck_assert_uint_eq(smtpdata_feed(&d, in, sizeof in - 1, &out), 6);
	ck_assert_uint_eq(smtpdata_feed(&d, in + 6, sizeof in - 7, &out), 0);
	ck_assert_uint_eq(out.len, 2);
	sbuf_free(&out);
	sbuf_free(&r.out);
}
END_TEST

START_TEST(a_line_split_anywhere_waits_for_its_end)
{
	struct smtpdata d;
	struct sbuf out;
	sbuf_init(&out, 100);
	smtpdata_init(&d, 0);
	ck_assert_uint_eq(smtpdata_feed(&d, "ab\r", 3, &out), 3);
	ck_assert_int_eq(smtpdata_bare(&d), 0);
	ck_assert_uint_eq(smtpdata_feed(&d, "\n.", 2, &out), 2);
	ck_assert_int_eq(smtpdata_done(&d), 0);
	ck_assert_uint_eq(smtpdata_feed(&d, "\r", 1, &out), 1);
	ck_assert_int_eq(smtpdata_done(&d), 0);
	ck_assert_uint_eq(smtpdata_feed(&d, "\nQUIT\r\n", 7, &out), 1);
	ck_assert_int_eq(smtpdata_done(&d), 1);
	ck_assert_uint_eq(out.len, 3);
	ck_assert_str_eq(out.s, "ab\n");
	sbuf_free(&out);
}
END_TEST

START_TEST(nul_is_ordinary_data)
{
	struct run r;
	FEED("a\0b\r\n\0\r\n\0.\r\n.\0\r\n.\r\n", 0, &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.bare, 0);
	OUT_IS(&r, "a\0b\n\0\n\0.\n\0\n");
	sbuf_free(&r.out);
}
END_TEST

START_TEST(bare_lf_stops_the_message)
{
	struct run r;
	FEED("ab\ncd\r\n.\r\n", 0, &r);
	ck_assert_int_eq(r.bare, 1);
	ck_assert_int_eq(r.done, 0);
	ck_assert_uint_eq(r.used, 3);
	OUT_IS(&r, "ab");
	sbuf_free(&r.out);
	FEED("\n.\r\n", 0, &r);
	ck_assert_int_eq(r.bare, 1);
	ck_assert_uint_eq(r.used, 1);
	sbuf_free(&r.out);
}
END_TEST

START_TEST(bare_cr_stops_the_message)
{
	struct run r;
	FEED("ab\rcd\r\n.\r\n", 0, &r);
	ck_assert_int_eq(r.bare, 1);
	ck_assert_int_eq(r.done, 0);
	ck_assert_uint_eq(r.used, 4);
	OUT_IS(&r, "ab");
	sbuf_free(&r.out);
	FEED("\r\r\n.\r\n", 0, &r);
	ck_assert_int_eq(r.bare, 1);
	ck_assert_uint_eq(r.used, 2);
	sbuf_free(&r.out);
}
END_TEST

/* The message a smuggler sends: seq stands where a receiver that is lax
 * about line ends would see the end of the first message, and a second
 * one follows. */
#define SMUGGLE_HEAD "From: a@x\r\nSubject: s\r\n\r\nhello"
#define SMUGGLE_TAIL "MAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\n" \
	"From: evil@x\r\n\r\nsmuggled\r\n.\r\n"
#define SMUGGLE_NEXT "QUIT\r\n"

static void smuggle(const char *seq, size_t seqlen, struct run *r)
{
	char in[256];
	size_t n = 0;
	memcpy(in, SMUGGLE_HEAD, sizeof SMUGGLE_HEAD - 1);
	n += sizeof SMUGGLE_HEAD - 1;
	memcpy(in + n, seq, seqlen);
	n += seqlen;
	memcpy(in + n, SMUGGLE_TAIL SMUGGLE_NEXT,
	       sizeof SMUGGLE_TAIL SMUGGLE_NEXT - 1);
	n += sizeof SMUGGLE_TAIL SMUGGLE_NEXT - 1;
	feed_max(in, n, 0, 1 << 20, r);
}

START_TEST(smuggling_with_bare_line_ends_is_refused)
{
	static const struct {
		const char *seq;
		size_t len;
	} v[] = {
		{ "\n.\n", 3 }, { "\r.\r", 3 }, { "\r.\n", 3 }, { "\n.\r", 3 },
		{ "\n.\r\n", 4 }, { "\r.\r\n", 4 }, { "\r\n.\n", 4 },
		{ "\r\n.\r", 4 },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct run r;
		smuggle(v[i].seq, v[i].len, &r);
		ck_assert_msg(r.bare == 1 && r.done == 0, "variant %zu", i);
		/* nothing of the second message was taken */
		ck_assert_msg(r.used <= sizeof SMUGGLE_HEAD - 1 + v[i].len + 1,
		              "variant %zu used %zu", i, r.used);
		ck_assert_ptr_null(memmem(r.out.s, r.out.len, "evil", 4));
		sbuf_free(&r.out);
	}
}
END_TEST

START_TEST(smuggling_with_nul_before_the_dot_stays_one_message)
{
	struct run r;
	smuggle("\r\n\0.\r\n", 6, &r);
	ck_assert_int_eq(r.bare, 0);
	ck_assert_int_eq(r.done, 1);
	OUT_IS(&r, "From: a@x\nSubject: s\n\nhello\n\0.\n"
	       "MAIL FROM:<evil@x>\nRCPT TO:<victim@y>\nDATA\n"
	       "From: evil@x\n\nsmuggled\n");
	ck_assert_uint_eq(r.used, sizeof SMUGGLE_HEAD - 1 + 6 +
	                  sizeof SMUGGLE_TAIL - 1);
	sbuf_free(&r.out);
}
END_TEST

START_TEST(smuggling_with_nul_after_the_dot_stays_one_message)
{
	struct run r;
	smuggle("\r\n.\0\r\n", 6, &r);
	ck_assert_int_eq(r.bare, 0);
	ck_assert_int_eq(r.done, 1);
	/* ".\0" is a stuffed dot before a NUL: the line keeps the NUL */
	OUT_IS(&r, "From: a@x\nSubject: s\n\nhello\n\0\n"
	       "MAIL FROM:<evil@x>\nRCPT TO:<victim@y>\nDATA\n"
	       "From: evil@x\n\nsmuggled\n");
	ck_assert_uint_eq(r.used, sizeof SMUGGLE_HEAD - 1 + 6 +
	                  sizeof SMUGGLE_TAIL - 1);
	sbuf_free(&r.out);
}
END_TEST

START_TEST(message_of_exactly_max_octets_is_accepted)
{
	struct run r;
	FEED("0123456789\r\n.\r\n", 11, &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.too_big, 0);
	ck_assert_uint_eq(r.octets, 11);
	OUT_IS(&r, "0123456789\n");
	sbuf_free(&r.out);
}
END_TEST

START_TEST(message_of_max_plus_one_is_too_big_and_stored_only_to_max)
{
	struct run r;
	FEED("0123456789\r\n.\r\n", 10, &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.too_big, 1);
	ck_assert_uint_eq(r.octets, 11);
	OUT_IS(&r, "0123456789");
	sbuf_free(&r.out);
}
END_TEST

START_TEST(past_max_the_message_is_only_counted_to_its_end)
{
	struct run r;
	FEED("Subject: big\r\n\r\nline one\r\nline two\r\n.\r\nQUIT\r\n", 5,
	     &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.too_big, 1);
	ck_assert_uint_eq(r.octets, 32);
	ck_assert_uint_eq(r.used, 39);
	OUT_IS(&r, "Subje");
	sbuf_free(&r.out);
}
END_TEST

START_TEST(max_zero_means_no_limit)
{
	char in[70000];
	memset(in, 'x', sizeof in);
	memcpy(in + sizeof in - 5, "\r\n.\r\n", 5);
	struct smtpdata d;
	struct sbuf out;
	sbuf_init(&out, 1 << 20);
	smtpdata_init(&d, 0);
	ck_assert_uint_eq(smtpdata_feed(&d, in, sizeof in, &out), sizeof in);
	ck_assert_int_eq(smtpdata_done(&d), 1);
	ck_assert_int_eq(smtpdata_too_big(&d), 0);
	ck_assert_uint_eq(out.len, sizeof in - 4);
	ck_assert_uint_eq(smtpdata_octets(&d), sizeof in - 4);
	sbuf_free(&out);
}
END_TEST

START_TEST(output_buffer_full_is_an_error_and_the_end_still_found)
{
	struct run r;
	feed_max("abcdef\r\nghi\r\n.\r\n", 16, 0, 4, &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.error, EMSGSIZE);
	ck_assert_int_eq(r.too_big, 0);
	ck_assert_uint_eq(r.octets, 11);
	OUT_IS(&r, "abcd");
	sbuf_free(&r.out);
}
END_TEST

START_TEST(hops_are_counted_in_the_header_only)
{
	struct run r;
	FEED("Received: from a\r\n"
	     "received: from b\r\n"
	     " Received: folded, not a new line\r\n"
	     "DELIVERED-TO: c@d\r\n"
	     "X-Received: no\r\n"
	     "Received : no\r\n"
	     "Delivered-To no\r\n"
	     "Subject: Received: no\r\n"
	     "..Received: a stuffed dot stays in front\r\n"
	     "\r\n"
	     "Received: in the body\r\n"
	     "Delivered-To: in the body\r\n"
	     ".\r\n", 0, &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_uint_eq(r.hops, 3);
	sbuf_free(&r.out);
}
END_TEST

START_TEST(short_header_lines_and_no_header_count_no_hops)
{
	struct run r;
	FEED("Rec\r\nDeliver\r\nReceived\r\n\r\n.\r\n", 0, &r);
	ck_assert_uint_eq(r.hops, 0);
	sbuf_free(&r.out);
	FEED("\r\nReceived: x\r\n.\r\n", 0, &r);
	ck_assert_uint_eq(r.hops, 0);
	sbuf_free(&r.out);
	FEED("Received:\r\n.\r\n", 0, &r);
	ck_assert_uint_eq(r.hops, 1);
	sbuf_free(&r.out);
}
END_TEST

/* Every kind of input above, with several limits, whole = octet by octet
 * = every 2-way split (feed_max asserts it). */
START_TEST(every_input_gives_the_same_result_however_it_is_split)
{
	static const struct {
		const char *in;
		size_t len;
	} v[] = {
#define V(lit) { lit, sizeof lit - 1 }
		V(".\r\n"), V("..\r\n.\r\n"), V("a\r\n.\r\nrest"),
		V("a\nb"), V("a\rb"), V("a\r\n.\rb"), V("a\r\n.\n"),
		V("\0.\r\n.\0\r\n.\r\n"),
		V("Received: x\r\nDelivered-To: y\r\n\r\nReceived: z\r\n.\r\n"),
		V("x\r\n"), V(""), V("\r"), V("."), V(".\r"),
#undef V
	};
	static const unsigned long long max[] = { 0, 1, 2, 5, 12 };
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		for (size_t m = 0; m < sizeof max / sizeof max[0]; m++) {
			struct run r;
			feed_max(v[i].in, v[i].len, max[m], 1 << 20, &r);
			ck_assert_uint_le(r.used, v[i].len);
			sbuf_free(&r.out);
		}
	}
}
END_TEST

START_TEST(feeding_after_the_end_or_a_bare_line_end_consumes_nothing)
{
	struct smtpdata d;
	struct sbuf out;
	sbuf_init(&out, 100);
	smtpdata_init(&d, 0);
	ck_assert_uint_eq(smtpdata_feed(&d, ".\r\n", 3, &out), 3);
	ck_assert_uint_eq(smtpdata_feed(&d, "x\r\n.\r\n", 6, &out), 0);
	smtpdata_init(&d, 0);
	ck_assert_uint_eq(smtpdata_feed(&d, "a\n", 2, &out), 2);
	ck_assert_uint_eq(smtpdata_feed(&d, "b\r\n.\r\n", 6, &out), 0);
	ck_assert_int_eq(smtpdata_done(&d), 0);
	ck_assert_uint_eq(smtpdata_feed(&d, "", 0, &out), 0);
	sbuf_free(&out);
}
END_TEST

/* pre, then a line of len octets as received (counting a leading dot and
 * the CRLF), then post; in a buffer the caller frees. The line is "x"s,
 * or a stuffed "." and "x"s when dot. */
static char *with_line(const char *pre, size_t len, int dot, const char *post,
                       size_t *n)
{
	size_t a = strlen(pre), b = strlen(post);
	char *in = malloc(a + len + b + 1);
	ck_assert_ptr_nonnull(in);
	memcpy(in, pre, a);
	memset(in + a, 'x', len - 2);
	if (dot)
		in[a] = '.';
	memcpy(in + a + len - 2, "\r\n", 2);
	memcpy(in + a + len, post, b + 1);
	*n = a + len + b;
	return in;
}

/* Feeds in as chunks of k octets, for every k from 1 to n: a line split
 * over several reads, at every position; each gives the result of r. */
static void same_in_every_chunk_size(const char *in, size_t n,
                                     const struct run *r)
{
	size_t *cut = malloc((n ? n : 1) * sizeof *cut);
	ck_assert_ptr_nonnull(cut);
	for (size_t k = 1; k <= n; k++) {
		size_t ncut = 0;
		for (size_t at = k; at < n; at += k)
			cut[ncut++] = at;
		struct run other;
		run_cuts(in, n, 0, 1 << 20, cut, ncut, &other);
		assert_same(r, &other, "in chunks", k);
		sbuf_free(&other.out);
	}
	free(cut);
}

/* The line of len octets between pre and post: whole, octet by octet, in
 * every 2-way split and in chunks of every size. */
static void line_run(const char *pre, size_t len, int dot, const char *post,
                     struct run *r)
{
	size_t n;
	char *in = with_line(pre, len, dot, post, &n);
	feed_max(in, n, 0, 1 << 20, r);
	same_in_every_chunk_size(in, n, r);
	free(in);
}

START_TEST(line_of_1000_octets_with_its_crlf_is_accepted)
{
	static const char *const pre[] = { "", "Subject: x\r\n\r\n", "a\r\n" };
	static const char *const post[] = { ".\r\n", "b\r\n.\r\n", ".\r\n" };
	static const size_t stored[] = { 999, 12 + 999 + 2, 2 + 999 };
	for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
		struct run r;
		line_run(pre[i], 1000, 0, post[i], &r);
		ck_assert_int_eq(r.done, 1);
		ck_assert_int_eq(r.long_line, 0);
		ck_assert_uint_eq(r.out.len, stored[i]);
		sbuf_free(&r.out);
	}
}
END_TEST

START_TEST(line_of_1001_octets_is_too_long_and_read_to_the_end)
{
	/* the long line first, in the middle, and last before CRLF.CRLF */
	static const char *const pre[] = { "", "Subject: x\r\n\r\n", "a\r\n" };
	static const char *const post[] = { "b\r\n.\r\n", "b\r\n.\r\n",
	                                    ".\r\nQUIT\r\n" };
	for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
		struct run r;
		line_run(pre[i], 1001, 0, post[i], &r);
		ck_assert_int_eq(r.done, 1);
		ck_assert_int_eq(r.bare, 0);
		ck_assert_int_eq(r.long_line, 1);
		ck_assert_uint_eq(r.used, strlen(pre[i]) + 1001 +
		                  strlen(post[i]) - (i == 2 ? 6 : 0));
		sbuf_free(&r.out);
	}
}
END_TEST

START_TEST(a_stuffed_dot_counts_in_the_line_as_received)
{
	struct run r;
	line_run("a\r\n", 1000, 1, ".\r\n", &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.long_line, 0);
	ck_assert_uint_eq(r.out.len, 2 + 997 + 1);     /* the dot unstuffed */
	sbuf_free(&r.out);
	line_run("a\r\n", 1001, 1, ".\r\n", &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.long_line, 1);
	sbuf_free(&r.out);
}
END_TEST

START_TEST(a_line_of_any_length_is_counted_without_overflow)
{
	size_t n;
	char *in = with_line("", 3 * 1024 * 1024, 0, "ok\r\n.\r\n", &n);
	struct run r;
	run_cuts(in, n, 0, 4 << 20, NULL, 0, &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.long_line, 1);
	ck_assert_uint_eq(r.used, n);
	sbuf_free(&r.out);
	free(in);
}
END_TEST

START_TEST(the_count_starts_again_on_each_line)
{
	struct run r;
	FEED("\r\n\r\n.\r\n", 0, &r);
	ck_assert_int_eq(r.long_line, 0);
	sbuf_free(&r.out);
	/* three lines of 1000 octets, back to back: none is long */
	size_t n;
	char *in = with_line("", 1000, 0, "", &n);
	char *three = malloc(3 * n + 4);
	ck_assert_ptr_nonnull(three);
	for (int i = 0; i < 3; i++)
		memcpy(three + i * n, in, n);
	memcpy(three + 3 * n, ".\r\n", 4);
	feed_max(three, 3 * n + 3, 0, 1 << 20, &r);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.long_line, 0);
	ck_assert_uint_eq(r.out.len, 3 * 999);
	sbuf_free(&r.out);
	free(three);
	free(in);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("smtpdata");
	TCase *tc = tcase_create("smtpdata");
	tcase_add_test(tc, crlf_dot_crlf_ends_the_message);
	tcase_add_test(tc, lone_dot_first_is_an_empty_message);
	tcase_add_test(tc, leading_dots_are_unstuffed);
	tcase_add_test(tc, dot_ends_only_a_whole_line_at_its_start);
	tcase_add_test(tc, crlf_becomes_lf_and_no_cr_is_stored);
	tcase_add_test(tc, octets_after_the_end_stay_with_the_caller);
	tcase_add_test(tc, a_line_split_anywhere_waits_for_its_end);
	tcase_add_test(tc, nul_is_ordinary_data);
	tcase_add_test(tc, bare_lf_stops_the_message);
	tcase_add_test(tc, bare_cr_stops_the_message);
	tcase_add_test(tc, smuggling_with_bare_line_ends_is_refused);
	tcase_add_test(tc, smuggling_with_nul_before_the_dot_stays_one_message);
	tcase_add_test(tc, smuggling_with_nul_after_the_dot_stays_one_message);
	tcase_add_test(tc, message_of_exactly_max_octets_is_accepted);
	tcase_add_test(tc,
	               message_of_max_plus_one_is_too_big_and_stored_only_to_max);
	tcase_add_test(tc, past_max_the_message_is_only_counted_to_its_end);
	tcase_add_test(tc, max_zero_means_no_limit);
	tcase_add_test(tc, output_buffer_full_is_an_error_and_the_end_still_found);
	tcase_add_test(tc, hops_are_counted_in_the_header_only);
	tcase_add_test(tc, short_header_lines_and_no_header_count_no_hops);
	tcase_add_test(tc, every_input_gives_the_same_result_however_it_is_split);
	tcase_add_test(tc,
	               feeding_after_the_end_or_a_bare_line_end_consumes_nothing);
	tcase_add_test(tc, line_of_1000_octets_with_its_crlf_is_accepted);
	tcase_add_test(tc, line_of_1001_octets_is_too_long_and_read_to_the_end);
	tcase_add_test(tc, a_stuffed_dot_counts_in_the_line_as_received);
	tcase_add_test(tc, a_line_of_any_length_is_counted_without_overflow);
	tcase_add_test(tc, the_count_starts_again_on_each_line);
	suite_add_tcase(s, tc);
	return s;
}
