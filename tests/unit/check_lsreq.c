/* check_lsreq - sq-send's requests to sq-lspawn: the queue's longest
 * address passes both ends; one octet more is refused for that request
 * alone, and the next request is still read. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "deliver/lsreq.h"
#include "testutil.h"

static char *addr_of(size_t n)
{
	static char a[2][QUEUE_ADDR_MAX + 8];
	static int k;
	char *s = a[k++ & 1];
	memset(s, 'a', n);
	memcpy(s + n - 12, "@example.org", 12);
	s[n] = '\0';
	return s;
}

/* Writes len octets into a pipe and reads them through an rbuf. */
static void feed(struct rbuf *in, int fd[2], const char *s, size_t len)
{
	ck_assert_int_eq(pipe(fd), 0);
	ck_assert_int_eq(write(fd[1], s, len), (ssize_t)len);
	close(fd[1]);
	rbuf_init(in, fd[0], -1);
}

START_TEST(the_longest_address_passes_both_ends)
{
	struct sbuf out, field;
	struct rbuf in;
	struct lsreq r;
	int fd[2];
	char *snd = addr_of(QUEUE_ADDR_MAX), *rcpt = addr_of(QUEUE_ADDR_MAX);
	sbuf_init(&out, 3 * LSREQ_MAX);
	ck_assert_int_eq(lsreq_put(&out, 7, 18446744073709551615ULL, snd, rcpt), 0);
	ck_assert_int_eq(lsreq_put(&out, 8, 5, "", "b@example.org"), 0);
	feed(&in, fd, out.s, out.len);
	lsreq_field_init(&field);
	ck_assert_int_eq(lsreq_get(&in, &field, &r), LSREQ_OK);
	ck_assert_int_eq(r.slot, 7);
	ck_assert_str_eq(r.req, "18446744073709551615");
	ck_assert_str_eq(r.req + 21, snd);
	ck_assert_str_eq(r.req + 22 + QUEUE_ADDR_MAX, rcpt);
	ck_assert_uint_eq(r.len, 21 + 2 * (QUEUE_ADDR_MAX + 1));
	ck_assert_int_eq(lsreq_get(&in, &field, &r), LSREQ_OK);
	ck_assert_int_eq(r.slot, 8);
	ck_assert_int_eq(lsreq_get(&in, &field, &r), LSREQ_EOF);
	close(fd[0]);
	sbuf_free(&out);
	sbuf_free(&field);
}
END_TEST

START_TEST(the_writer_refuses_one_octet_more)
{
	struct sbuf out;
	sbuf_init(&out, 3 * LSREQ_MAX);
	ck_assert_int_eq(lsreq_put(&out, 1, 2, "a@b", "c@d"), 0);
	size_t was = out.len;
	errno = 0;
	ck_assert_int_eq(lsreq_put(&out, 1, 2, addr_of(QUEUE_ADDR_MAX + 1),
	                           "c@d"), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	errno = 0;
	ck_assert_int_eq(lsreq_put(&out, 1, 2, "a@b",
	                           addr_of(QUEUE_ADDR_MAX + 1)), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_uint_eq(out.len, was);
	sbuf_free(&out);
}
END_TEST

START_TEST(the_reader_skips_one_octet_more_and_goes_on)
{
	struct sbuf out, field;
	struct rbuf in;
	struct lsreq r;
	int fd[2];
	sbuf_init(&out, 4 * LSREQ_MAX);
	/* written by hand: lsreq_put would not */
	sbuf_put(&out, "3\0" "9\0", 4);
	sbuf_put(&out, "a@b", 4);
	sbuf_put(&out, addr_of(QUEUE_ADDR_MAX + 1), QUEUE_ADDR_MAX + 2);
	sbuf_put(&out, "4\0" "9\0", 4);
	sbuf_put(&out, addr_of(QUEUE_ADDR_MAX + 1), QUEUE_ADDR_MAX + 2);
	sbuf_put(&out, "a@b", 4);
	ck_assert_int_eq(lsreq_put(&out, 5, 10, "x@y", "z@w"), 0);
	feed(&in, fd, out.s, out.len);
	lsreq_field_init(&field);
	ck_assert_int_eq(lsreq_get(&in, &field, &r), LSREQ_TOOLONG);
	ck_assert_int_eq(r.slot, 3);
	ck_assert_int_eq(lsreq_get(&in, &field, &r), LSREQ_TOOLONG);
	ck_assert_int_eq(r.slot, 4);
	ck_assert_int_eq(lsreq_get(&in, &field, &r), LSREQ_OK);
	ck_assert_int_eq(r.slot, 5);
	ck_assert_uint_eq(r.len, 11);
	ck_assert_int_eq(memcmp(r.req, "10\0x@y\0z@w\0", 11), 0);
	ck_assert_int_eq(lsreq_get(&in, &field, &r), LSREQ_EOF);
	close(fd[0]);
	sbuf_free(&out);
	sbuf_free(&field);
}
END_TEST

START_TEST(a_broken_stream_is_bad)
{
	struct sbuf field;
	struct rbuf in;
	struct lsreq r;
	int fd[2];
	lsreq_field_init(&field);
	feed(&in, fd, "x\0" "1\0a\0b\0", 8);
	ck_assert_int_eq(lsreq_get(&in, &field, &r), LSREQ_BAD);
	close(fd[0]);
	feed(&in, fd, "1\0" "2\0a@b\0c@d", 11);       /* cut short */
	ck_assert_int_eq(lsreq_get(&in, &field, &r), LSREQ_BAD);
	close(fd[0]);
	sbuf_free(&field);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("lsreq");
	TCase *tc = tcase_create("lsreq");
	tcase_add_test(tc, the_longest_address_passes_both_ends);
	tcase_add_test(tc, the_writer_refuses_one_octet_more);
	tcase_add_test(tc, the_reader_skips_one_octet_more_and_goes_on);
	tcase_add_test(tc, a_broken_stream_is_bad);
	suite_add_tcase(s, tc);
	return s;
}
