/* check_popmsg - messages as POP3 sends them: CRLF, dot-stuffing, TOP,
 * sizes that match what is sent, and UIDL's unique-ids. */
#include <string.h>

#include "popmsg.h"
#include "testutil.h"

static char *format(const char *msg, long lines, struct sbuf *out)
{
	sbuf_init(out, 1 << 20);
	ck_assert_int_eq(popmsg_format(msg, strlen(msg), lines, out), 0);
	return out->s;
}

/* The octets sent before the terminator, with the stuffing undone. */
static size_t unstuffed_size(const char *sent)
{
	size_t n = strlen(sent) - 3; /* ".\r\n" */
	for (const char *p = sent; *p; p = strchr(p, '\n') + 1) {
		if (p[0] == '.' && p[1] == '.')
			n--;
		if (!strchr(p, '\n'))
			break;
	}
	return n;
}

START_TEST(lines_end_in_crlf_and_are_stuffed)
{
	struct sbuf out;
	const char *msg = "Subject: x\n\n.one\r\n..two\nthree\n.\n";
	ck_assert_str_eq(format(msg, -1, &out),
	                 "Subject: x\r\n\r\n..one\r\n...two\r\nthree\r\n..\r\n"
	                 ".\r\n");
	ck_assert_uint_eq(popmsg_size(msg, strlen(msg)), unstuffed_size(out.s));
	sbuf_free(&out);
	/* no line end at the end: one is added, and counted */
	msg = "Subject: y\n\nno end";
	ck_assert_str_eq(format(msg, -1, &out),
	                 "Subject: y\r\n\r\nno end\r\n.\r\n");
	ck_assert_uint_eq(popmsg_size(msg, strlen(msg)), unstuffed_size(out.s));
	sbuf_free(&out);
	ck_assert_str_eq(format("", -1, &out), ".\r\n");
	ck_assert_uint_eq(popmsg_size("", 0), 0);
	sbuf_free(&out);
}
END_TEST

START_TEST(top_sends_the_header_and_n_lines)
{
	struct sbuf out;
	const char *msg = "A: 1\r\nB: 2\r\n\r\nbody 1\r\n\r\nbody 3\r\n";
	ck_assert_str_eq(format(msg, 0, &out), "A: 1\r\nB: 2\r\n\r\n.\r\n");
	sbuf_free(&out);
	ck_assert_str_eq(format(msg, 2, &out),
	                 "A: 1\r\nB: 2\r\n\r\nbody 1\r\n\r\n.\r\n");
	sbuf_free(&out);
	ck_assert_str_eq(format(msg, 99, &out),
	                 "A: 1\r\nB: 2\r\n\r\nbody 1\r\n\r\nbody 3\r\n.\r\n");
	sbuf_free(&out);
	/* no body at all */
	ck_assert_str_eq(format("A: 1\r\n", 0, &out), "A: 1\r\n.\r\n");
	sbuf_free(&out);
}
END_TEST

START_TEST(a_full_buffer_fails)
{
	struct sbuf out;
	sbuf_init(&out, 8);
	ck_assert_int_eq(popmsg_format("Subject: long\r\n", 15, -1, &out), -1);
	sbuf_free(&out);
}
END_TEST

START_TEST(uidl_is_short_and_stable)
{
	char a[POP_UIDL_MAX + 1], b[POP_UIDL_MAX + 1];
	const char *shortid = "1764000000.M1P2V3I4.mx";
	popmsg_uidl(shortid, strlen(shortid), a);
	ck_assert_str_eq(a, shortid);
	char longid[201];
	memset(longid, 'x', 200);
	longid[200] = '\0';
	popmsg_uidl(longid, 200, a);
	popmsg_uidl(longid, 200, b);
	ck_assert_str_eq(a, b);
	ck_assert_uint_eq(strlen(a), 65);
	ck_assert_int_eq(a[0], 'H');
	longid[199] = 'y';
	popmsg_uidl(longid, 200, b);
	ck_assert_str_ne(a, b);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("popmsg");
	TCase *tc = tcase_create("popmsg");
	tcase_add_test(tc, lines_end_in_crlf_and_are_stuffed);
	tcase_add_test(tc, top_sends_the_header_and_n_lines);
	tcase_add_test(tc, a_full_buffer_fails);
	tcase_add_test(tc, uidl_is_short_and_stable);
	suite_add_tcase(s, tc);
	return s;
}
