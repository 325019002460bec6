/* check_sbuf - bounded byte strings. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
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

/* VmLck of this process, in bytes. */
static size_t locked_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	ck_assert_ptr_nonnull(f);
	char line[256];
	size_t kb = (size_t)-1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmLck: %zu kB", &kb) == 1)
			break;
	fclose(f);
	ck_assert_uint_ne(kb, (size_t)-1);
	return kb * 1024;
}

/* Whether the mapping that holds p has "dd" (MADV_DONTDUMP) in VmFlags. */
static int not_dumped(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	ck_assert_ptr_nonnull(f);
	char line[512];
	int inside = 0, dd = -1;
	uintptr_t a = (uintptr_t)p;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			inside = a >= lo && a < hi;
			continue;
		}
		if (inside && strncmp(line, "VmFlags:", 8) == 0) {
			dd = strstr(line, " dd") != NULL;
			break;
		}
	}
	fclose(f);
	ck_assert_int_ne(dd, -1);
	return dd;
}

START_TEST(secret_pages_are_locked_while_they_live)
{
	size_t before = locked_bytes();
	struct sbuf b;
	sbuf_init_secret(&b, 1 << 20);
	char chunk[1000];
	memset(chunk, 'k', sizeof chunk);
	for (int i = 0; i < 60; i++)
		ck_assert_int_eq(sbuf_put(&b, chunk, sizeof chunk), 0);
	ck_assert_uint_ge(b.cap, 60000);
	ck_assert_uint_ge(locked_bytes(), before + b.cap);
	sbuf_free(&b);
	ck_assert_uint_le(locked_bytes(), before);
}
END_TEST

START_TEST(secret_pages_are_kept_out_of_core_dumps)
{
	struct sbuf b;
	sbuf_init_secret(&b, 1 << 20);
	ck_assert_int_eq(sbuf_puts(&b, "pdk"), 0);
	ck_assert_int_eq(not_dumped(b.s), 1);
	ck_assert_int_eq(not_dumped(b.s + b.cap - 1), 1);
	sbuf_free(&b);

	struct sbuf plain;
	sbuf_init(&plain, 100);
	ck_assert_int_eq(sbuf_puts(&plain, "public"), 0);
	ck_assert_int_eq(not_dumped(plain.s), 0);
	sbuf_free(&plain);
}
END_TEST

START_TEST(growth_keeps_the_lock_and_the_exclusion)
{
	size_t before = locked_bytes();
	struct sbuf b;
	sbuf_init_secret(&b, 1 << 20);
	ck_assert_int_eq(sbuf_puts(&b, "x"), 0);
	size_t first = b.cap;
	char chunk[4096];
	memset(chunk, 'g', sizeof chunk);
	while (b.cap < 16 * first)
		ck_assert_int_eq(sbuf_put(&b, chunk, sizeof chunk), 0);
	ck_assert_int_eq(b.s[0], 'x');
	/* only the current block stays locked: the old ones were unlocked */
	ck_assert_uint_ge(locked_bytes(), before + b.cap);
	ck_assert_uint_lt(locked_bytes(), before + b.cap + b.cap);
	ck_assert_int_eq(not_dumped(b.s), 1);
	ck_assert_int_eq(not_dumped(b.s + b.cap - 1), 1);
	sbuf_free(&b);
	ck_assert_uint_le(locked_bytes(), before);
}
END_TEST

/* Drops CAP_IPC_LOCK, which lets root lock past RLIMIT_MEMLOCK. */
static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		_exit(90);
	d[0].effective &= ~(1u << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &h, d) < 0)
		_exit(91);
}

static void use_secret_without_lock(void *arg)
{
	(void)arg;
	drop_ipc_lock();
	struct rlimit none = { 0, 0 };
	if (setrlimit(RLIMIT_MEMLOCK, &none) < 0)
		_exit(92);
	struct sbuf a, b;
	sbuf_init_secret(&a, 1 << 20);
	sbuf_init_secret(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		if (sbuf_puts(&a, "plaintext ") < 0)
			_exit(93);
	if (sbuf_puts(&b, "password") < 0 || strcmp(b.s, "password") != 0)
		_exit(94);
	if (a.len != 10000 || memcmp(a.s + 9990, "plaintext ", 10) != 0)
		_exit(95);
	if (!not_dumped(a.s) || !not_dumped(b.s))
		_exit(96);
	if (locked_bytes() != 0)
		_exit(97);
	sbuf_free(&a);
	sbuf_free(&b);
	_exit(0);
}

START_TEST(lock_limit_reached_still_gives_a_buffer_and_one_warning)
{
	char err[4096];
	int st = run_capture(use_secret_without_lock, NULL, err, sizeof err);
	ck_assert_msg(st == 0, "child exit %d: %s", st, err);
	char *w = strstr(err, "cannot lock");
	ck_assert_msg(w != NULL, "no warning: %s", err);
	ck_assert_ptr_nonnull(strstr(err, "RLIMIT_MEMLOCK 0"));
	ck_assert_ptr_null(strstr(w + 1, "cannot lock")); /* once */
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
	/* one case each, for the mutations' CK_RUN_CASE */
	tc = tcase_create("locked");
	tcase_add_test(tc, secret_pages_are_locked_while_they_live);
	suite_add_tcase(s, tc);
	tc = tcase_create("nodump");
	tcase_add_test(tc, secret_pages_are_kept_out_of_core_dumps);
	suite_add_tcase(s, tc);
	tc = tcase_create("growth");
	tcase_add_test(tc, growth_keeps_the_lock_and_the_exclusion);
	suite_add_tcase(s, tc);
	tc = tcase_create("lockfail");
	tcase_add_test(tc, lock_limit_reached_still_gives_a_buffer_and_one_warning);
	suite_add_tcase(s, tc);
	return s;
}
