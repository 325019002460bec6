/* check_rbuf - bounded, timed line reads. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/rbuf.h"
#include "testutil.h"

/* A pipe holding data, write end closed unless keep_open. */
static int pipe_with(const char *data, int keep_open, int *wfd)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	size_t n = strlen(data);
	ck_assert_int_eq(write(p[1], data, n), (ssize_t)n);
	if (keep_open)
		*wfd = p[1];
	else
		close(p[1]);
	return p[0];
}

START_TEST(lines_keep_their_ends)
{
	struct rbuf rb;
	struct sbuf line;
	sbuf_init(&line, 100);
	int fd = pipe_with("HELO a\r\nbare\nlast", 0, NULL);
	rbuf_init(&rb, fd, 1000);
	ck_assert_int_eq(rbuf_getline(&rb, &line, 100), RBUF_LINE);
	ck_assert_str_eq(line.s, "HELO a\r\n");
	ck_assert_int_eq(rbuf_getline(&rb, &line, 100), RBUF_LINE);
	ck_assert_str_eq(line.s, "bare\n");
	ck_assert_int_eq(rbuf_getline(&rb, &line, 100), RBUF_LINE);
	ck_assert_str_eq(line.s, "last");
	ck_assert_int_eq(rbuf_getline(&rb, &line, 100), RBUF_EOF);
	close(fd);
	sbuf_free(&line);
}
END_TEST

START_TEST(fields_end_at_nul)
{
	struct rbuf rb;
	struct sbuf f;
	int p[2];
	sbuf_init(&f, 100);
	ck_assert_int_eq(pipe(p), 0);
	static const char data[] = "3\0Ka line\nstill\0" "0123456789\0x";
	ck_assert_int_eq(write(p[1], data, sizeof data - 1),
	                 (ssize_t)sizeof data - 1);
	close(p[1]);
	rbuf_init(&rb, p[0], 1000);
	ck_assert_int_eq(rbuf_getfield(&rb, &f, 100), RBUF_LINE);
	ck_assert_uint_eq(f.len, 2);
	ck_assert_int_eq(rbuf_getfield(&rb, &f, 100), RBUF_LINE);
	ck_assert_str_eq(f.s, "Ka line\nstill"); /* a LF is an ordinary octet */
	ck_assert_int_eq(rbuf_getfield(&rb, &f, 5), RBUF_TOOLONG);
	ck_assert_int_eq(rbuf_getfield(&rb, &f, 100), RBUF_LINE);
	ck_assert_uint_eq(f.len, 1); /* the unterminated tail */
	ck_assert_int_eq(rbuf_getfield(&rb, &f, 100), RBUF_EOF);
	close(p[0]);
	sbuf_free(&f);
}
END_TEST

START_TEST(too_long_line_is_skipped_and_the_next_one_read)
{
	char data[3 * RBUF_SIZE];
	memset(data, 'x', sizeof data);
	data[sizeof data - 10] = '\n';
	memcpy(data + sizeof data - 9, "QUIT\r\n", 7);
	struct rbuf rb;
	struct sbuf line;
	sbuf_init(&line, 600);
	int fd = pipe_with(data, 0, NULL);
	rbuf_init(&rb, fd, 1000);
	ck_assert_int_eq(rbuf_getline(&rb, &line, 512), RBUF_TOOLONG);
	ck_assert_uint_eq(line.len, 0);
	ck_assert_int_eq(rbuf_getline(&rb, &line, 512), RBUF_LINE);
	ck_assert_str_eq(line.s, "QUIT\r\n");
	close(fd);
	sbuf_free(&line);
}
END_TEST

START_TEST(line_exactly_at_the_limit_is_accepted)
{
	struct rbuf rb;
	struct sbuf line;
	sbuf_init(&line, 100);
	int fd = pipe_with("12345678\r\n123456789\r\n", 0, NULL);
	rbuf_init(&rb, fd, 1000);
	ck_assert_int_eq(rbuf_getline(&rb, &line, 10), RBUF_LINE);
	ck_assert_int_eq(rbuf_getline(&rb, &line, 10), RBUF_TOOLONG);
	close(fd);
	sbuf_free(&line);
}
END_TEST

START_TEST(silent_peer_times_out)
{
	int w;
	struct rbuf rb;
	struct sbuf line;
	sbuf_init(&line, 100);
	int fd = pipe_with("partial", 1, &w);
	rbuf_init(&rb, fd, 50);
	ck_assert_int_eq(rbuf_getline(&rb, &line, 100), RBUF_ERROR);
	ck_assert_int_eq(errno, ETIMEDOUT);
	close(fd);
	close(w);
	sbuf_free(&line);
}
END_TEST

START_TEST(raw_reads_drain_the_buffer_first)
{
	struct rbuf rb;
	struct sbuf line;
	char buf[16];
	sbuf_init(&line, 100);
	int fd = pipe_with("STARTTLS\r\nEHLO smuggled\r\n", 0, NULL);
	rbuf_init(&rb, fd, -1);
	ck_assert_int_eq(rbuf_getline(&rb, &line, 100), RBUF_LINE);
	ck_assert_uint_eq(rbuf_pending(&rb), 15);
	ck_assert_int_eq(rbuf_read(&rb, buf, 4), 4);
	ck_assert(memcmp(buf, "EHLO", 4) == 0);
	rbuf_discard(&rb);
	ck_assert_uint_eq(rbuf_pending(&rb), 0);
	ck_assert_int_eq(rbuf_read(&rb, buf, sizeof buf), 0);
	close(fd);
	sbuf_free(&line);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("rbuf");
	TCase *tc = tcase_create("rbuf");
	tcase_add_test(tc, lines_keep_their_ends);
	tcase_add_test(tc, too_long_line_is_skipped_and_the_next_one_read);
	tcase_add_test(tc, line_exactly_at_the_limit_is_accepted);
	tcase_add_test(tc, silent_peer_times_out);
	tcase_add_test(tc, raw_reads_drain_the_buffer_first);
	tcase_add_test(tc, fields_end_at_nul);
	suite_add_tcase(s, tc);
	return s;
}
