/* check_smtpcmd - SMTP command lines and the MAIL FROM / RCPT TO paths. */
#include <stdio.h>
#include <string.h>

#include "mail/smtpcmd.h"
#include "testutil.h"

static int parse(const char *line, struct smtp_cmd *cmd)
{
	return smtpcmd_parse(line, strlen(line), cmd);
}

/* Each entry: the argument, the expected result and, when PATH_OK, the
 * expected addr. */
struct path_case {
	const char *arg;
	enum smtp_path_error want;
	const char *addr;
};

static void check_cases(const struct path_case *c, size_t n, int rcpt)
{
	for (size_t i = 0; i < n; i++) {
		struct smtp_path p;
		enum smtp_path_error e = rcpt ? smtpcmd_rcpt_to(c[i].arg, &p)
		                              : smtpcmd_mail_from(c[i].arg, &p);
		ck_assert_msg(e == c[i].want, "%s: got %d (%s), want %d",
		              c[i].arg, e, smtpcmd_strerror(e), c[i].want);
		ck_assert_msg(strcmp(p.addr, c[i].want == PATH_OK ? c[i].addr
		                                                  : "") == 0,
		              "%s: addr \"%s\"", c[i].arg, p.addr);
	}
}

#define CHECK_MAIL(cases) check_cases(cases, sizeof cases / sizeof cases[0], 0)
#define CHECK_RCPT(cases) check_cases(cases, sizeof cases / sizeof cases[0], 1)

START_TEST(verbs_are_recognised_in_any_case)
{
	static const struct {
		const char *line;
		enum smtp_verb verb;
	} v[] = {
		{ "HELO x", SMTP_HELO }, { "ehlo x", SMTP_EHLO },
		{ "Mail FROM:<>", SMTP_MAIL }, { "rCpT TO:<a@b>", SMTP_RCPT },
		{ "DATA", SMTP_DATA }, { "rset", SMTP_RSET },
		{ "NoOp", SMTP_NOOP }, { "quit", SMTP_QUIT },
		{ "VRFY a", SMTP_VRFY }, { "help", SMTP_HELP },
		{ "StartTLS", SMTP_STARTTLS },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct smtp_cmd cmd;
		ck_assert_int_eq(parse(v[i].line, &cmd), 0);
		ck_assert_msg(cmd.verb == v[i].verb, "%s", v[i].line);
	}
}
END_TEST

START_TEST(argument_follows_the_verb_and_its_spaces)
{
	struct smtp_cmd cmd;
	ck_assert_int_eq(parse("HELO mx.example.org", &cmd), 0);
	ck_assert_int_eq(cmd.verb, SMTP_HELO);
	ck_assert_str_eq(cmd.arg, "mx.example.org");
	ck_assert_int_eq(parse("EHLO   [192.0.2.1]", &cmd), 0);
	ck_assert_int_eq(cmd.verb, SMTP_EHLO);
	ck_assert_str_eq(cmd.arg, "[192.0.2.1]");
	ck_assert_int_eq(parse("EHLO", &cmd), 0);
	ck_assert_str_eq(cmd.arg, "");
	ck_assert_int_eq(parse("QUIT ", &cmd), 0);
	ck_assert_int_eq(cmd.verb, SMTP_QUIT);
	ck_assert_str_eq(cmd.arg, "");
	ck_assert_int_eq(parse("MAIL FROM:<a@b> SIZE=1", &cmd), 0);
	ck_assert_str_eq(cmd.arg, "FROM:<a@b> SIZE=1");
}
END_TEST

START_TEST(verb_must_end_at_a_space_or_the_end)
{
	static const char *const lines[] = {
		"MAILFROM:<a@b>", "QUITX", "HELO\tx", "RCPT:TO:<a@b>",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct smtp_cmd cmd;
		ck_assert_int_eq(parse(lines[i], &cmd), 0);
		ck_assert_msg(cmd.verb == SMTP_UNKNOWN, "%s", lines[i]);
	}
}
END_TEST

START_TEST(unknown_verbs_are_unknown)
{
	static const char *const lines[] = {
		"", " HELO x", "BDAT 100 LAST", "AUTH PLAIN", "XYZZY", "HEL",
		"\xc3\x9c" "BER x", "GET / HTTP/1.0",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct smtp_cmd cmd;
		ck_assert_int_eq(parse(lines[i], &cmd), 0);
		ck_assert_msg(cmd.verb == SMTP_UNKNOWN, "%s", lines[i]);
	}
}
END_TEST

START_TEST(nul_in_a_line_is_refused)
{
	struct smtp_cmd cmd;
	ck_assert_int_eq(smtpcmd_parse("HELO a\0b", 8, &cmd), -1);
	ck_assert_int_eq(smtpcmd_parse("\0QUIT", 5, &cmd), -1);
	ck_assert_int_eq(smtpcmd_parse("QUIT\0", 5, &cmd), -1);
}
END_TEST

START_TEST(line_not_followed_by_nul_is_refused)
{
	struct smtp_cmd cmd;
	/* "QUIT" as the first 4 octets of a longer buffer: arg could not
	 * be a C string ending with the line. */
	ck_assert_int_eq(smtpcmd_parse("QUIT now", 4, &cmd), -1);
}
END_TEST

START_TEST(line_of_510_octets_is_accepted_511_refused)
{
	char line[SMTP_LINE_MAX + 2];
	struct smtp_cmd cmd;
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', sizeof line - 5);
	line[SMTP_LINE_MAX] = '\0';
	ck_assert_int_eq(smtpcmd_parse(line, SMTP_LINE_MAX, &cmd), 0);
	ck_assert_int_eq(cmd.verb, SMTP_NOOP);
	ck_assert_uint_eq(strlen(cmd.arg), SMTP_LINE_MAX - 5);
	line[SMTP_LINE_MAX] = 'x';
	line[SMTP_LINE_MAX + 1] = '\0';
	ck_assert_int_eq(smtpcmd_parse(line, SMTP_LINE_MAX + 1, &cmd), -1);
}
END_TEST

START_TEST(mail_from_with_and_without_spaces)
{
	static const struct path_case c[] = {
		{ "FROM:<john@example.org>", PATH_OK, "john@example.org" },
		{ "from:<John@Example.ORG>", PATH_OK, "John@Example.ORG" },
		{ "From: <a@b.example>", PATH_OK, "a@b.example" },
		{ "FROM:   <a@b>", PATH_OK, "a@b" },
		{ "FROM:<a@b>   ", PATH_OK, "a@b" },
		{ "FROM:<o'brien+tag@mx-1.example.co.uk>", PATH_OK,
		  "o'brien+tag@mx-1.example.co.uk" },
		{ "FROM:<a.b.c@d>", PATH_OK, "a.b.c@d" },
	};
	CHECK_MAIL(c);
}
END_TEST

START_TEST(mail_from_null_path)
{
	struct smtp_path p;
	ck_assert_int_eq(smtpcmd_mail_from("FROM:<>", &p), PATH_OK);
	ck_assert_int_eq(p.null, 1);
	ck_assert_str_eq(p.addr, "");
	ck_assert_int_eq(smtpcmd_mail_from("FROM: <> SIZE=10", &p), PATH_OK);
	ck_assert_int_eq(p.null, 1);
	ck_assert_uint_eq(p.size, 10);
	ck_assert_int_eq(smtpcmd_mail_from("FROM:<a@b>", &p), PATH_OK);
	ck_assert_int_eq(p.null, 0);
	ck_assert_int_eq(smtpcmd_mail_from("FROM:< >", &p), PATH_SYNTAX);
}
END_TEST

START_TEST(mail_from_size_and_body_parameters)
{
	struct smtp_path p;
	ck_assert_int_eq(smtpcmd_mail_from("FROM:<a@b> SIZE=123 BODY=8BITMIME",
	                                   &p), PATH_OK);
	ck_assert_str_eq(p.addr, "a@b");
	ck_assert_uint_eq(p.size, 123);
	ck_assert_int_eq(p.body8, 1);
	ck_assert_int_eq(smtpcmd_mail_from("FROM:<a@b>  body=7bit   size=0 ",
	                                   &p), PATH_OK);
	ck_assert_uint_eq(p.size, 0);
	ck_assert_int_eq(p.body8, 0);
	ck_assert_int_eq(smtpcmd_mail_from("FROM:<a@b> Body=8BitMime", &p),
	                 PATH_OK);
	ck_assert_int_eq(p.body8, 1);
	ck_assert_uint_eq(p.size, 0);
	ck_assert_int_eq(smtpcmd_mail_from(
	                     "FROM:<a@b> SIZE=18446744073709551615", &p),
	                 PATH_OK);
	ck_assert_uint_eq(p.size, 18446744073709551615ULL);
}
END_TEST

START_TEST(mail_from_bad_parameters_are_555)
{
	static const struct path_case c[] = {
		{ "FROM:<a@b> FOO=bar", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> SIZE", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> SIZE=", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> SIZE=12a", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> SIZE=-1", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> SIZE=1 SIZE=2", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> BODY=BINARYMIME", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> BODY=", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> BODY=8BITMIMEX", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> BODY=7BIT BODY=7BIT", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> AUTH=<>", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> SMTPUTF8", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> SIZE=1\tBODY=7BIT", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> =1", PATH_BAD_PARAM, NULL },
	};
	CHECK_MAIL(c);
}
END_TEST

START_TEST(mail_from_size_overflow_is_a_bad_parameter)
{
	static const struct path_case c[] = {
		{ "FROM:<a@b> SIZE=18446744073709551616", PATH_BAD_PARAM, NULL },
		{ "FROM:<a@b> SIZE=99999999999999999999999", PATH_BAD_PARAM,
		  NULL },
	};
	CHECK_MAIL(c);
}
END_TEST

START_TEST(mail_from_source_route_is_dropped)
{
	static const struct path_case c[] = {
		{ "FROM:<@a.example,@b.example:u@d.example>", PATH_OK,
		  "u@d.example" },
		{ "FROM:<@a:u@d>", PATH_OK, "u@d" },
		{ "FROM:<@a,u@d>", PATH_SYNTAX, NULL },
		{ "FROM:<@:u@d>", PATH_SYNTAX, NULL },
		{ "FROM:<@a,:u@d>", PATH_SYNTAX, NULL },
		{ "FROM:<@a,,@b:u@d>", PATH_SYNTAX, NULL },
		{ "FROM:<@[192.0.2.1]:u@d>", PATH_SYNTAX, NULL },
		{ "FROM:<@a:>", PATH_SYNTAX, NULL },
		{ "FROM:<@a:@b:u@d>", PATH_SYNTAX, NULL },
	};
	CHECK_MAIL(c);
}
END_TEST

START_TEST(mail_from_quoted_local_part_is_kept_as_given)
{
	static const struct path_case c[] = {
		{ "FROM:<\"john smith\"@example.org>", PATH_OK,
		  "\"john smith\"@example.org" },
		{ "FROM:<\"a\\\"b\\\\c\"@x>", PATH_OK, "\"a\\\"b\\\\c\"@x" },
		{ "FROM:<\"\"@x>", PATH_OK, "\"\"@x" },
		{ "FROM:<\"a@b>\"@x>", PATH_OK, "\"a@b>\"@x" },
		{ "FROM:<\"unterminated@x>", PATH_SYNTAX, NULL },
		{ "FROM:<\"a\tb\"@x>", PATH_SYNTAX, NULL },
		{ "FROM:<\"a\\\x01\"@x>", PATH_SYNTAX, NULL },
		{ "FROM:<\"j\xc3\xb6rg\"@x>", PATH_SYNTAX, NULL },
		{ "FROM:<\"a\"b@x>", PATH_SYNTAX, NULL },
		{ "FROM:<a\"b\"@x>", PATH_SYNTAX, NULL },
	};
	CHECK_MAIL(c);
}
END_TEST

START_TEST(mail_from_address_literals)
{
	static const struct path_case c[] = {
		{ "FROM:<a@[192.0.2.1]>", PATH_OK, "a@[192.0.2.1]" },
		{ "FROM:<a@[0.0.0.0]>", PATH_OK, "a@[0.0.0.0]" },
		{ "FROM:<a@[255.255.255.255]>", PATH_OK,
		  "a@[255.255.255.255]" },
		{ "FROM:<a@[IPv6:2001:db8::1]>", PATH_OK,
		  "a@[IPv6:2001:db8::1]" },
		{ "FROM:<a@[ipv6:::1]>", PATH_OK, "a@[ipv6:::1]" },
		{ "FROM:<a@[IPv6:::ffff:192.0.2.1]>", PATH_OK,
		  "a@[IPv6:::ffff:192.0.2.1]" },
		{ "FROM:<a@[256.0.0.1]>", PATH_SYNTAX, NULL },
		{ "FROM:<a@[1.2.3]>", PATH_SYNTAX, NULL },
		{ "FROM:<a@[1.2.3.4.5]>", PATH_SYNTAX, NULL },
		{ "FROM:<a@[1.2.3.1234]>", PATH_SYNTAX, NULL },
		{ "FROM:<a@[IPv6:zz::1]>", PATH_SYNTAX, NULL },
		{ "FROM:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", PATH_SYNTAX, NULL },
		{ "FROM:<a@[IPv6:2001:db8::1%eth0]>", PATH_SYNTAX, NULL },
		{ "FROM:<a@[2001:db8::1]>", PATH_SYNTAX, NULL },
		{ "FROM:<a@[x-tag:stuff]>", PATH_SYNTAX, NULL },
		{ "FROM:<a@[192.0.2.1>", PATH_SYNTAX, NULL },
		{ "FROM:<a@[]>", PATH_SYNTAX, NULL },
	};
	CHECK_MAIL(c);
}
END_TEST

START_TEST(mail_from_missing_or_unbalanced_brackets_are_syntax)
{
	static const struct path_case c[] = {
		{ "FROM:a@b", PATH_SYNTAX, NULL },
		{ "FROM:<a@b", PATH_SYNTAX, NULL },
		{ "FROM:a@b>", PATH_SYNTAX, NULL },
		{ "FROM:<<a@b>>", PATH_SYNTAX, NULL },
		{ "FROM:<a@b>>", PATH_SYNTAX, NULL },
		{ "FROM:<a@b>x", PATH_SYNTAX, NULL },
		{ "FROM:<a@b><c@d>", PATH_SYNTAX, NULL },
		{ "FROM:< a@b>", PATH_SYNTAX, NULL },
		{ "FROM:<a@b >", PATH_SYNTAX, NULL },
		{ "FROM:", PATH_SYNTAX, NULL },
		{ "FROM: ", PATH_SYNTAX, NULL },
		{ "", PATH_SYNTAX, NULL },
		{ "FROM", PATH_SYNTAX, NULL },
		{ "FROM :<a@b>", PATH_SYNTAX, NULL },
		{ "<a@b>", PATH_SYNTAX, NULL },
		{ "TO:<a@b>", PATH_SYNTAX, NULL },
		{ "FROM:<postmaster>", PATH_SYNTAX, NULL },
	};
	CHECK_MAIL(c);
}
END_TEST

START_TEST(mail_from_malformed_mailboxes_are_syntax)
{
	static const struct path_case c[] = {
		{ "FROM:<a>", PATH_SYNTAX, NULL },
		{ "FROM:<@b>", PATH_SYNTAX, NULL },
		{ "FROM:<a@>", PATH_SYNTAX, NULL },
		{ "FROM:<a@b@c>", PATH_SYNTAX, NULL },
		{ "FROM:<.a@b>", PATH_SYNTAX, NULL },
		{ "FROM:<a.@b>", PATH_SYNTAX, NULL },
		{ "FROM:<a..b@c>", PATH_SYNTAX, NULL },
		{ "FROM:<a b@c>", PATH_SYNTAX, NULL },
		{ "FROM:<a@b..c>", PATH_SYNTAX, NULL },
		{ "FROM:<a@.b>", PATH_SYNTAX, NULL },
		{ "FROM:<a@b.>", PATH_SYNTAX, NULL },
		{ "FROM:<a@-b>", PATH_SYNTAX, NULL },
		{ "FROM:<a@b->", PATH_SYNTAX, NULL },
		{ "FROM:<a@b_c>", PATH_SYNTAX, NULL },
		{ "FROM:<a@b\r>", PATH_SYNTAX, NULL },
		{ "FROM:<j\xc3\xb6rg@b>", PATH_SYNTAX, NULL },
		{ "FROM:<a(comment)@b>", PATH_SYNTAX, NULL },
	};
	CHECK_MAIL(c);
}
END_TEST

START_TEST(domain_label_of_63_octets_is_accepted_64_refused)
{
	char arg[120], label[65];
	struct smtp_path p;
	memset(label, 'x', 64);
	label[64] = '\0';
	snprintf(arg, sizeof arg, "FROM:<a@%.63s.org>", label);
	ck_assert_int_eq(smtpcmd_mail_from(arg, &p), PATH_OK);
	snprintf(arg, sizeof arg, "FROM:<a@%s.org>", label);
	ck_assert_int_eq(smtpcmd_mail_from(arg, &p), PATH_SYNTAX);
}
END_TEST

/* Writes "FROM:<" route mailbox ">" with a mailbox of exactly len octets
 * (100-octet local part, a domain of labels filling the rest). */
static void long_path(char *arg, size_t len, const char *route)
{
	char *s = arg + sprintf(arg, "FROM:<%s", route);
	memset(s, 'l', 100);
	s += 100;
	*s++ = '@';
	size_t left = len - 101;
	while (left > 0) {
		/* never leave a single octet: it would become a root dot */
		size_t n = left > 61 ? 60 : left;
		memset(s, 'd', n);
		s += n;
		left -= n;
		if (left > 0) {
			*s++ = '.';
			left--;
		}
	}
	strcpy(s, ">");
}

START_TEST(path_of_256_octets_is_accepted_257_too_long)
{
	char arg[400];
	struct smtp_path p;
	long_path(arg, 254, "");
	ck_assert_uint_eq(strlen(arg), strlen("FROM:") + 256);
	ck_assert_int_eq(smtpcmd_mail_from(arg, &p), PATH_OK);
	ck_assert_uint_eq(strlen(p.addr), 254);
	long_path(arg, 255, "");
	ck_assert_int_eq(smtpcmd_mail_from(arg, &p), PATH_TOO_LONG);
	ck_assert_str_eq(p.addr, "");
	/* the route counts in the path although it is dropped */
	long_path(arg, 251, "@r:");
	ck_assert_int_eq(smtpcmd_mail_from(arg, &p), PATH_OK);
	ck_assert_uint_eq(strlen(p.addr), 251);
	long_path(arg, 252, "@r:");
	ck_assert_int_eq(smtpcmd_mail_from(arg, &p), PATH_TOO_LONG);
}
END_TEST

START_TEST(failed_parse_leaves_the_path_empty)
{
	struct smtp_path p;
	ck_assert_int_eq(smtpcmd_mail_from("FROM:<a@b> SIZE=5 BODY=8BITMIME",
	                                   &p), PATH_OK);
	ck_assert_int_eq(smtpcmd_mail_from("FROM:<a@b> SIZE=5 FOO", &p),
	                 PATH_BAD_PARAM);
	ck_assert_str_eq(p.addr, "");
	ck_assert_uint_eq(p.size, 0);
	ck_assert_int_eq(p.body8, 0);
	ck_assert_int_eq(p.null, 0);
	ck_assert_int_eq(smtpcmd_rcpt_to("TO:<>", &p),
	                 PATH_NULL_NOT_ALLOWED);
	ck_assert_int_eq(p.null, 0);
}
END_TEST

START_TEST(rcpt_to_variants)
{
	static const struct path_case c[] = {
		{ "TO:<a@b.example>", PATH_OK, "a@b.example" },
		{ "to: <Bob@Example.org>", PATH_OK, "Bob@Example.org" },
		{ "To:<a@b>  ", PATH_OK, "a@b" },
		{ "TO:<@relay.example:a@b>", PATH_OK, "a@b" },
		{ "TO:<\"x y\"@[IPv6:2001:db8::2]>", PATH_OK,
		  "\"x y\"@[IPv6:2001:db8::2]" },
		{ "TO:a@b", PATH_SYNTAX, NULL },
		{ "TO:<a@b", PATH_SYNTAX, NULL },
		{ "TO:<a@b>x", PATH_SYNTAX, NULL },
		{ "FROM:<a@b>", PATH_SYNTAX, NULL },
		{ "TO:<a>", PATH_SYNTAX, NULL },
	};
	CHECK_RCPT(c);
}
END_TEST

START_TEST(rcpt_to_postmaster_without_domain)
{
	static const struct path_case c[] = {
		{ "TO:<postmaster>", PATH_OK, "postmaster" },
		{ "TO:<PostMaster>", PATH_OK, "postmaster" },
		{ "TO: <POSTMASTER> ", PATH_OK, "postmaster" },
		{ "TO:<Postmaster@Example.org>", PATH_OK,
		  "Postmaster@Example.org" },
		{ "TO:<postmasterx>", PATH_SYNTAX, NULL },
		{ "TO:<postmaster", PATH_SYNTAX, NULL },
		{ "TO:<@r:postmaster>", PATH_SYNTAX, NULL },
		{ "TO:<abuse>", PATH_SYNTAX, NULL },
		{ "TO:<postmaster> SIZE=1", PATH_BAD_PARAM, NULL },
	};
	CHECK_RCPT(c);
}
END_TEST

START_TEST(rcpt_to_refuses_parameters)
{
	static const struct path_case c[] = {
		{ "TO:<a@b> SIZE=1", PATH_BAD_PARAM, NULL },
		{ "TO:<a@b> NOTIFY=NEVER", PATH_BAD_PARAM, NULL },
		{ "TO:<a@b> BODY=8BITMIME", PATH_BAD_PARAM, NULL },
		{ "TO:<a@b>   x", PATH_BAD_PARAM, NULL },
	};
	CHECK_RCPT(c);
}
END_TEST

START_TEST(rcpt_to_null_path_is_not_allowed)
{
	struct smtp_path p;
	ck_assert_int_eq(smtpcmd_rcpt_to("TO:<>", &p), PATH_NULL_NOT_ALLOWED);
	ck_assert_str_eq(p.addr, "");
	ck_assert_int_eq(smtpcmd_rcpt_to("TO: <> ", &p),
	                 PATH_NULL_NOT_ALLOWED);
}
END_TEST

START_TEST(command_line_and_path_parse_together)
{
	struct smtp_cmd cmd;
	struct smtp_path p;
	ck_assert_int_eq(parse("mail  from: <u@example.org> size=42", &cmd), 0);
	ck_assert_int_eq(cmd.verb, SMTP_MAIL);
	ck_assert_int_eq(smtpcmd_mail_from(cmd.arg, &p), PATH_OK);
	ck_assert_str_eq(p.addr, "u@example.org");
	ck_assert_uint_eq(p.size, 42);
	ck_assert_int_eq(parse("RCPT TO:<postmaster>", &cmd), 0);
	ck_assert_int_eq(cmd.verb, SMTP_RCPT);
	ck_assert_int_eq(smtpcmd_rcpt_to(cmd.arg, &p), PATH_OK);
	ck_assert_str_eq(p.addr, "postmaster");
}
END_TEST

START_TEST(every_error_has_a_reason)
{
	for (int e = PATH_OK; e <= PATH_NULL_NOT_ALLOWED; e++)
		ck_assert_str_ne(smtpcmd_strerror((enum smtp_path_error)e), "");
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("smtpcmd");
	TCase *tc = tcase_create("smtpcmd");
	tcase_add_test(tc, verbs_are_recognised_in_any_case);
	tcase_add_test(tc, argument_follows_the_verb_and_its_spaces);
	tcase_add_test(tc, verb_must_end_at_a_space_or_the_end);
	tcase_add_test(tc, unknown_verbs_are_unknown);
	tcase_add_test(tc, nul_in_a_line_is_refused);
	tcase_add_test(tc, line_not_followed_by_nul_is_refused);
	tcase_add_test(tc, line_of_510_octets_is_accepted_511_refused);
	tcase_add_test(tc, mail_from_with_and_without_spaces);
	tcase_add_test(tc, mail_from_null_path);
	tcase_add_test(tc, mail_from_size_and_body_parameters);
	tcase_add_test(tc, mail_from_bad_parameters_are_555);
	tcase_add_test(tc, mail_from_size_overflow_is_a_bad_parameter);
	tcase_add_test(tc, mail_from_source_route_is_dropped);
	tcase_add_test(tc, mail_from_quoted_local_part_is_kept_as_given);
	tcase_add_test(tc, mail_from_address_literals);
	tcase_add_test(tc, mail_from_missing_or_unbalanced_brackets_are_syntax);
	tcase_add_test(tc, mail_from_malformed_mailboxes_are_syntax);
	tcase_add_test(tc, domain_label_of_63_octets_is_accepted_64_refused);
	tcase_add_test(tc, path_of_256_octets_is_accepted_257_too_long);
	tcase_add_test(tc, failed_parse_leaves_the_path_empty);
	tcase_add_test(tc, rcpt_to_variants);
	tcase_add_test(tc, rcpt_to_postmaster_without_domain);
	tcase_add_test(tc, rcpt_to_refuses_parameters);
	tcase_add_test(tc, rcpt_to_null_path_is_not_allowed);
	tcase_add_test(tc, command_line_and_path_parse_together);
	tcase_add_test(tc, every_error_has_a_reason);
	suite_add_tcase(s, tc);
	return s;
}
