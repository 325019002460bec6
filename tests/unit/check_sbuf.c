/* check_sbuf - bounded byte strings. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/sbuf.h"
#include "testutil.h"

START_TEST(appends_within_limit_and_keeps_nul)
{
	struct sbuf b;
	sbuf_init(&b, 10);
	ck_assert_int_eq(sbuf_puts(&b, "hello"), 0);
	ck_assert_int_eq(sbuf_putc(&b, ' '), 0);
	ck_assert_int_eq(sbuf_put(&b, "wor", 3), 0);
	ck_assert_str_eq(b.s, "hello wor");
	ck_assert_uint_eq(b.len, 9);
	sbuf_free(&b);
}
END_TEST

START_TEST(append_past_limit_fails_and_changes_nothing)
{
	struct sbuf b;
	sbuf_init(&b, 8);
	ck_assert_int_eq(sbuf_puts(&b, "12345678"), 0);
	errno = 0;
	ck_assert_int_eq(sbuf_putc(&b, '9'), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_str_eq(b.s, "12345678");
	ck_assert_int_eq(sbuf_printf(&b, "%d", 1), -1);
	ck_assert_uint_eq(b.len, 8);
	sbuf_free(&b);
}
END_TEST

START_TEST(huge_append_does_not_overflow_the_limit_check)
{
	struct sbuf b;
	sbuf_init(&b, 16);
	ck_assert_int_eq(sbuf_puts(&b, "abc"), 0);
	ck_assert_int_eq(sbuf_put(&b, "x", SIZE_MAX - 1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	sbuf_free(&b);
}
END_TEST

START_TEST(printf_formats_and_grows)
{
	struct sbuf b;
	sbuf_init(&b, 100000);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(sbuf_printf(&b, "%04d,", i), 0);
	ck_assert_uint_eq(b.len, 5000);
	ck_assert(memcmp(b.s + 4995, "0999,", 5) == 0);
	sbuf_free(&b);
}
END_TEST

START_TEST(secret_buffer_grows_reset_and_truncate)
{
	struct sbuf b;
	sbuf_init_secret(&b, 1 << 20);
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(sbuf_puts(&b, "secretpassword"), 0);
	ck_assert_uint_eq(b.len, 200 * 14);
	ck_assert(strncmp(b.s + 14 * 199, "secretpassword", 14) == 0);
	sbuf_truncate(&b, 6);
	ck_assert_str_eq(b.s, "secret");
	ck_assert_int_eq(b.s[7], 0); /* the cut bytes were wiped */
	sbuf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(b.s[3], 0);
	sbuf_free(&b);
	ck_assert_ptr_null(b.s);
}
END_TEST

START_TEST(copy_and_consume)
{
	struct sbuf b;
	sbuf_init(&b, 20);
	ck_assert_int_eq(sbuf_copy(&b, "abcdef", 6), 0);
	sbuf_consume(&b, 2);
	ck_assert_str_eq(b.s, "cdef");
	ck_assert_int_eq(sbuf_copy(&b, "x", 1), 0);
	ck_assert_str_eq(b.s, "x");
	ck_assert_int_eq(sbuf_copy(&b, "0123456789012345678901", 22), -1);
	ck_assert_str_eq(b.s, "x");
	sbuf_consume(&b, 5);
	ck_assert_uint_eq(b.len, 0);
	sbuf_free(&b);
}
END_TEST

START_TEST(read_fd_stops_at_the_limit)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "0123456789", 10), 10);
	close(p[1]);
	struct sbuf b;
	sbuf_init(&b, 5);
	ck_assert_int_eq(sbuf_read_fd(&b, p[0]), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	close(p[0]);

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "01234", 5), 5);
	close(p[1]);
	sbuf_reset(&b);
	ck_assert_int_eq(sbuf_read_fd(&b, p[0]), 0);
	ck_assert_str_eq(b.s, "01234");
	close(p[0]);
	sbuf_free(&b);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("sbuf");
	TCase *tc = tcase_create("sbuf");
	tcase_add_test(tc, appends_within_limit_and_keeps_nul);
	tcase_add_test(tc, append_past_limit_fails_and_changes_nothing);
	tcase_add_test(tc, huge_append_does_not_overflow_the_limit_check);
	tcase_add_test(tc, printf_formats_and_grows);
	tcase_add_test(tc, secret_buffer_grows_reset_and_truncate);
	tcase_add_test(tc, copy_and_consume);
	tcase_add_test(tc, read_fd_stops_at_the_limit);
	suite_add_tcase(s, tc);
	return s;
}
