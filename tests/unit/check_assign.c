/* check_assign - users/assign and users/cdb with qmail-newu's semantics. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/assign.h"
#include "util/cdbfile.h"
#include "testutil.h"

/* qmail-users(5)'s example, and more. */
#define JOE "=joe:joe:507:100:/home/joe:::\n"
#define JOEWILD "+joe-:joe:507:100:/home/joe:-::\n"
#define ALIAS "+:alias:7790:2108:/var/qmail/alias:-::\n"

static char *dir;
static int dfd;
static char path[4096];

static void setup(void)
{
	dir = make_tmpdir();
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof path, "%s/cdb", dir);
}

static void teardown(void)
{
	close(dfd);
	rm_rf(dir);
	free(dir);
}

static void build(const char *text)
{
	size_t bad = 99;
	ck_assert_int_eq(assign_build_cdb(text, strlen(text), dfd, "cdb", &bad),
	                 0);
	ck_assert_uint_eq(bad, 0);
}

/* Looks local up and expects a hit of the given type, key and ext. */
static void expect(const char *local, char type, const char *key,
                   const char *user, const char *ext)
{
	struct assign_entry e;
	ck_assert_int_eq(assign_lookup(path, local, &e), 1);
	ck_assert_int_eq(e.type, type);
	ck_assert_str_eq(e.local, key);
	ck_assert_str_eq(e.user, user);
	ck_assert_str_eq(e.ext, ext);
}

static void sbuf_set(struct sbuf *b, const char *s)
{
	sbuf_init(b, 1 << 20);
	ck_assert_int_eq(sbuf_copy(b, s, strlen(s)), 0);
}

static void fill(struct assign_entry *e, char type, const char *local)
{
	memset(e, 0, sizeof *e);
	e->type = type;
	snprintf(e->local, sizeof e->local, "%s", local);
	snprintf(e->user, sizeof e->user, "u%s", local);
	e->uid = 1001;
	e->gid = 1002;
	snprintf(e->home, sizeof e->home, "/home/%s", local);
}

START_TEST(parse_simple_and_wildcard_lines)
{
	const char *t = JOE JOEWILD "+list.:alias:7790:2108:/a:-:list-:\n.\n";
	struct assign_list l;
	size_t bad = 99;
	assign_list_init(&l);
	ck_assert_int_eq(assign_parse(t, strlen(t), &l, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(l.v[0].type, '=');
	ck_assert_str_eq(l.v[0].local, "joe");
	ck_assert_str_eq(l.v[0].user, "joe");
	ck_assert_uint_eq(l.v[0].uid, 507);
	ck_assert_uint_eq(l.v[0].gid, 100);
	ck_assert_str_eq(l.v[0].home, "/home/joe");
	ck_assert_str_eq(l.v[0].dash, "");
	ck_assert_str_eq(l.v[0].ext, "");
	ck_assert_int_eq(l.v[1].type, '+');
	ck_assert_str_eq(l.v[1].local, "joe-");
	ck_assert_str_eq(l.v[1].dash, "-");
	ck_assert_str_eq(l.v[2].local, "list.");
	ck_assert_str_eq(l.v[2].ext, "list-");
	assign_list_free(&l);
}
END_TEST

/* qmail's assign has no comments: a '#' line is an assignment whose
 * first byte is dropped, or a format error if it has no ':'. */
START_TEST(parse_has_no_comments)
{
	const char *t = "#joe:joe:1:2:/h:::\n.\n";
	struct assign_list l;
	size_t bad;
	assign_list_init(&l);
	ck_assert_int_eq(assign_parse(t, strlen(t), &l, &bad), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(l.v[0].type, '#');
	ck_assert_str_eq(l.v[0].local, "joe");
	t = JOE "# a comment\n.\n";
	ck_assert_int_eq(assign_parse(t, strlen(t), &l, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(bad, 2);
	assign_list_free(&l);
}
END_TEST

/* qmail-newu stops at the first line starting with '.', '\n' or not. */
START_TEST(parse_stops_at_the_dot_line)
{
	const char *texts[] = { ".\n", ".\ngarbage\n\0junk", ".", JOE ".",
		                JOE ".end\n=x:y\n", JOE ".\n" JOE };
	size_t want[] = { 0, 0, 0, 1, 1, 1 };
	struct assign_list l;
	size_t bad;
	assign_list_init(&l);
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
		/* the second text has a NUL after its end line */
		size_t len = i == 1 ? 15 : strlen(texts[i]);
		ck_assert_int_eq(assign_parse(texts[i], len, &l, &bad), 0);
		ck_assert_uint_eq(l.n, want[i]);
		build(texts[i]);
	}
	assign_list_free(&l);
}
END_TEST

struct bad_case {
	const char *text;
	size_t len;
	size_t line;
};

#define BAD(s, n) { s, sizeof s - 1, n }

/* Every qmail-newu format error, with its line, in parse and build. */
START_TEST(format_errors_name_their_line)
{
	static const struct bad_case cases[] = {
		BAD("", 1),                             /* no end line */
		BAD(JOE, 2),                            /* no end line */
		BAD(JOE JOEWILD, 3),
		BAD("=joe:joe:507:100:/home/joe:::", 1), /* no '\n' */
		BAD(JOE "=bob:bob:1:2:/h:::", 2),
		BAD(JOE "=b\0b:bob:1:2:/h:::\n.\n", 2), /* NUL */
		BAD(JOE JOE "nocolon\n.\n", 3),
		BAD(":joe:joe:1:2:/h:::\n.\n", 1),     /* ':' first */
		BAD(JOE "=joe:joe:1:2:/h::\n.\n", 2),  /* five ':' */
		BAD("=joe\n.\n", 1),
		BAD("\n.\n", 1),                        /* blank line */
		BAD(JOE " .\n", 2),                     /* not a dot line */
	};
	struct assign_list l;
	assign_list_init(&l);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct bad_case *c = &cases[i];
		size_t bad = 0;
		errno = 0;
		ck_assert_int_eq(assign_parse(c->text, c->len, &l, &bad), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg(bad == c->line, "case %zu: line %zu", i, bad);
		bad = 0;
		errno = 0;
		ck_assert_int_eq(assign_build_cdb(c->text, c->len, dfd, "cdb",
		                                  &bad), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg(bad == c->line, "build %zu: line %zu", i, bad);
	}
	assign_list_free(&l);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

/* qmail-newu does not read the uid or gid; the parser does. */
START_TEST(parse_wants_numeric_ids_build_does_not)
{
	const char *t = JOE "=bob:bob:x:2:/h:::\n.\n";
	struct assign_list l;
	size_t bad;
	assign_list_init(&l);
	ck_assert_int_eq(assign_parse(t, strlen(t), &l, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(bad, 2);
	build(t);
	t = "=bob:bob:1:4294967295:/h:::\n.\n";
	ck_assert_int_eq(assign_parse(t, strlen(t), &l, &bad), -1);
	ck_assert_uint_eq(bad, 1);
	assign_list_free(&l);
}
END_TEST

START_TEST(parse_refuses_overlong_fields)
{
	struct sbuf t;
	struct assign_list l;
	size_t bad;
	sbuf_init(&t, 1 << 20);
	ck_assert_int_eq(sbuf_puts(&t, JOE "=bob:bob:1:2:/"), 0);
	for (int i = 0; i < ASSIGN_HOME_MAX; i++)
		ck_assert_int_eq(sbuf_putc(&t, 'h'), 0);
	ck_assert_int_eq(sbuf_puts(&t, ":::\n.\n"), 0);
	assign_list_init(&l);
	ck_assert_int_eq(assign_parse(t.s, t.len, &l, &bad), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_uint_eq(bad, 2);
	assign_list_free(&l);
	sbuf_free(&t);
}
END_TEST

struct record {
	const char *key;
	size_t klen;
	const char *data;
	size_t dlen;
};

#define REC(k, d) { k, sizeof k - 1, d, sizeof d - 1 }

/* Every record, in file order, exactly as qmail-newu writes them. */
START_TEST(cdb_holds_qmail_newu_records)
{
	static const char text[] =
		"=Joe.Shmoe:joe:503:78:/home/joe:::\n"
		"+Joe-:joe:507:100:/home/joe:-::\n"
		ALIAS
		"+list.:alias:7790:2108:/a:-:list-:\n"
		"+bob-:bob:1:2:/b:-::\n"
		"=x:u:1:2:/h:-:ext:extra:fields\n"
		"xfoo:u:1:2:/h:::\n"
		"+AbC:u:1:2:/h:::\n"
		"=x:second:1:2:/h:::\n"
		".\n"
		"=after:u:1:2:/h:::\n";
	static const struct record want[] = {
		REC("!joe.shmoe\0", "joe\000503\00078\0/home/joe\0\0"),
		REC("!joe-", "joe\000507\000100\0/home/joe\0-\0"),
		REC("!", "alias\0007790\0002108\0/var/qmail/alias\0-\0"),
		REC("!list.", "alias\0007790\0002108\0/a\0-\0list-"),
		REC("!bob-", "bob\0001\0002\0/b\0-\0"),
		REC("!x\0", "u\0001\0002\0/h\0-\0ext"),
		REC("!foo\0", "u\0001\0002\0/h\0\0"),
		REC("!abc", "u\0001\0002\0/h\0\0"),
		REC("!x\0", "second\0001\0002\0/h\0\0"),
		REC("", "-.C"),
	};
	struct cdb db;
	unsigned pos;
	size_t n = 0;
	mode_t old = umask(022);
	build(text);
	umask(old);
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cdb_init(&db, fd), 0);
	cdb_seqinit(&pos, &db);
	while (cdb_seqnext(&pos, &db) > 0) {
		ck_assert_uint_lt(n, sizeof want / sizeof *want);
		const struct record *w = &want[n++];
		ck_assert_uint_eq(cdb_keylen(&db), w->klen);
		ck_assert_uint_eq(cdb_datalen(&db), w->dlen);
		ck_assert(memcmp(cdb_getkey(&db), w->key, w->klen) == 0);
		ck_assert_msg(memcmp(cdb_getdata(&db), w->data, w->dlen) == 0,
		              "record %zu", n);
	}
	ck_assert_uint_eq(n, sizeof want / sizeof *want);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	cdb_free(&db);
	close(fd);
}
END_TEST

START_TEST(empty_assign_has_an_empty_wildchars_record)
{
	struct sbuf v;
	sbuf_init(&v, 100);
	build(".\n");
	ck_assert_int_eq(cdbfile_lookup(path, "", 0, &v), 1);
	ck_assert_uint_eq(v.len, 0);
	sbuf_free(&v);
	struct assign_entry e;
	ck_assert_int_eq(assign_lookup(path, "joe", &e), 0);
}
END_TEST

/* qmail-users(5): joe by the simple line, joe-direct by the wildcard,
 * bill by the catch-all; case does not matter, ext keeps it. */
START_TEST(lookup_exact_before_wildcard)
{
	struct assign_entry e;
	build(ALIAS JOEWILD JOE ".\n");
	expect("joe", '=', "joe", "joe", "");
	expect("JoE", '=', "joe", "joe", "");
	expect("joe-direct", '+', "joe-", "joe", "direct");
	expect("JOE-Direct", '+', "joe-", "joe", "Direct");
	expect("joe-", '+', "joe-", "joe", "");
	expect("bill", '+', "", "alias", "bill");
	expect("", '+', "", "alias", "");
	ck_assert_int_eq(assign_lookup(path, "joe", &e), 1);
	ck_assert_uint_eq(e.uid, 507);
	ck_assert_uint_eq(e.gid, 100);
	ck_assert_str_eq(e.home, "/home/joe");
	ck_assert_str_eq(e.dash, "");
}
END_TEST

START_TEST(lookup_longest_wildcard_first)
{
	build("+joe-:joe:1:2:/h:-:p1-:\n"
	      "+joe-list-:list:1:2:/l:-:p2-:\n"
	      "+joe-list:short:1:2:/l:-::\n"
	      ".\n");
	expect("joe-list-x", '+', "joe-list-", "list", "p2-x");
	expect("joe-list-", '+', "joe-list-", "list", "p2-");
	expect("joe-other", '+', "joe-", "joe", "p1-other");
	/* "+joe-list" made 't' a wildchar: the prefix matches itself */
	expect("joe-list", '+', "joe-list", "short", "");
	expect("joe-lis", '+', "joe-", "joe", "p1-lis");
	struct assign_entry e;
	ck_assert_int_eq(assign_lookup(path, "joe", &e), 0);
	ck_assert_int_eq(assign_lookup(path, "bill", &e), 0);
}
END_TEST

/* Prefixes are tried only where the local part has a wildchar. */
START_TEST(lookup_only_at_wildchars)
{
	build("+ab:ab:1:2:/h:::\n+a-:a:1:2:/h:::\n.\n");
	expect("abx", '+', "ab", "ab", "x");
	expect("a-bx", '+', "a-", "a", "bx");
	struct assign_entry e;
	ck_assert_int_eq(assign_lookup(path, "axb", &e), 0);
}
END_TEST

/* As in qmail: wildchars keep their case, the key is lower-cased, so a
 * prefix ending in A-Z can never match. */
START_TEST(lookup_uppercase_wildchar_never_matches)
{
	struct assign_entry e;
	build("+fooX:foo:1:2:/h:::\n.\n");
	ck_assert_int_eq(assign_lookup(path, "fooxbar", &e), 0);
	ck_assert_int_eq(assign_lookup(path, "fooXbar", &e), 0);
}
END_TEST

START_TEST(lookup_without_cdb_is_not_found)
{
	struct assign_entry e;
	ck_assert_int_eq(assign_lookup(path, "joe", &e), 0);
}
END_TEST

START_TEST(lookup_refuses_broken_databases)
{
	static const char six[] = "j\0001\0002\0/h\0\0";
	static const char five[] = "j\0001\0002\0/h\0";
	struct cdbfile_writer w;
	struct assign_entry e;
	/* no wildchars record: qmail-lspawn fails there too */
	ck_assert_int_eq(cdbfile_begin(&w, dfd, "cdb", 0644), 0);
	ck_assert_int_eq(cdbfile_add(&w, "!joe", 5, six, sizeof six - 1), 0);
	ck_assert_int_eq(cdbfile_commit(&w), 0);
	errno = 0;
	ck_assert_int_eq(assign_lookup(path, "joe", &e), -1);
	ck_assert_int_eq(errno, EPROTO);
	/* five fields only */
	ck_assert_int_eq(cdbfile_begin(&w, dfd, "cdb", 0644), 0);
	ck_assert_int_eq(cdbfile_add(&w, "!joe", 5, five, sizeof five - 1), 0);
	ck_assert_int_eq(cdbfile_add(&w, "", 0, "", 0), 0);
	ck_assert_int_eq(cdbfile_commit(&w), 0);
	errno = 0;
	ck_assert_int_eq(assign_lookup(path, "joe", &e), -1);
	ck_assert_int_eq(errno, EPROTO);
	write_file(dir, "cdb", "short", 5);
	ck_assert_int_eq(assign_lookup(path, "joe", &e), -1);
}
END_TEST

START_TEST(format_writes_the_line)
{
	struct assign_entry e;
	struct sbuf line;
	sbuf_init(&line, 4096);
	fill(&e, '=', "Joe");
	snprintf(e.dash, sizeof e.dash, "-");
	snprintf(e.ext, sizeof e.ext, "x");
	ck_assert_int_eq(assign_format(&e, &line), 0);
	ck_assert_str_eq(line.s, "=Joe:uJoe:1001:1002:/home/Joe:-:x:\n");
	e.type = '+';
	ck_assert_int_eq(assign_format(&e, &line), 0);
	ck_assert_str_eq(line.s, "+Joe:uJoe:1001:1002:/home/Joe:-:x:\n");
	sbuf_free(&line);
}
END_TEST

/* A ':' or '\n' in any field would change what qmail-newu reads. */
START_TEST(format_refuses_separators_in_fields)
{
	static const char *bad[] = { "a:b", "a\nb", ":", "\n" };
	struct assign_entry e;
	struct sbuf line;
	sbuf_init(&line, 4096);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *fields[5];
		size_t sizes[5] = { ASSIGN_LOCAL_MAX, ASSIGN_USER_MAX,
			            ASSIGN_HOME_MAX, ASSIGN_DASH_MAX,
			            ASSIGN_EXT_MAX };
		for (int f = 0; f < 5; f++) {
			fill(&e, '=', "joe");
			fields[0] = e.local, fields[1] = e.user;
			fields[2] = e.home, fields[3] = e.dash;
			fields[4] = e.ext;
			snprintf(fields[f], sizes[f], "%s", bad[i]);
			errno = 0;
			ck_assert_int_eq(assign_format(&e, &line), -1);
			ck_assert_int_eq(errno, EINVAL);
		}
	}
	fill(&e, '-', "joe");
	ck_assert_int_eq(assign_format(&e, &line), -1);
	fill(&e, '=', "joe");
	e.uid = ASSIGN_ID_MAX + 1;
	ck_assert_int_eq(assign_format(&e, &line), -1);
	fill(&e, '=', "joe");
	memset(e.home, 'h', sizeof e.home);     /* no NUL inside */
	ck_assert_int_eq(assign_format(&e, &line), -1);
	sbuf_free(&line);
}
END_TEST

START_TEST(add_to_new_file_ends_it)
{
	struct sbuf t;
	struct assign_entry e;
	sbuf_init(&t, 4096);
	fill(&e, '=', "joe");
	ck_assert_int_eq(assign_add(&t, &e), 0);
	ck_assert_str_eq(t.s, "=joe:ujoe:1001:1002:/home/joe:::\n.\n");
	sbuf_free(&t);
}
END_TEST

START_TEST(add_keeps_every_other_byte)
{
	static const char before[] = "+joe-:joe:1:2:/h:-::\r\n"
	                             "=Odd:odd:x:y:/o:::trailing:stuff\n";
	static const char after[] = ".\n# after the end\njunk\n";
	struct sbuf t;
	struct assign_entry e;
	struct sbuf want;
	sbuf_set(&t, before);
	ck_assert_int_eq(sbuf_puts(&t, after), 0);
	sbuf_init(&want, 4096);
	ck_assert_int_eq(sbuf_puts(&want, before), 0);
	ck_assert_int_eq(sbuf_puts(&want, "=bob:ubob:1001:1002:/home/bob:::\n"),
	                 0);
	ck_assert_int_eq(sbuf_puts(&want, after), 0);
	fill(&e, '=', "bob");
	ck_assert_int_eq(assign_add(&t, &e), 0);
	ck_assert_uint_eq(t.len, want.len);
	ck_assert(memcmp(t.s, want.s, t.len) == 0);
	sbuf_free(&t);
	sbuf_free(&want);
}
END_TEST

START_TEST(add_before_dot_without_newline)
{
	struct sbuf t;
	struct assign_entry e;
	sbuf_set(&t, JOE ".");
	fill(&e, '+', "bob-");
	ck_assert_int_eq(assign_add(&t, &e), 0);
	ck_assert_str_eq(t.s, JOE "+bob-:ubob-:1001:1002:/home/bob-:::\n.");
	sbuf_free(&t);
}
END_TEST

START_TEST(add_refuses_duplicate_keys)
{
	struct sbuf t;
	struct assign_entry e;
	static const char text[] = JOE "xbob:b:1:2:/h:::\n" JOEWILD ".\n";
	sbuf_set(&t, text);
	fill(&e, '=', "JOE");
	errno = 0;
	ck_assert_int_eq(assign_add(&t, &e), -1);
	ck_assert_int_eq(errno, EEXIST);
	fill(&e, '=', "bob");          /* "xbob" is a simple line for bob */
	ck_assert_int_eq(assign_add(&t, &e), -1);
	ck_assert_int_eq(errno, EEXIST);
	fill(&e, '+', "Joe-");
	ck_assert_int_eq(assign_add(&t, &e), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_str_eq(t.s, text);
	/* a wildcard and a simple line never share a key */
	fill(&e, '=', "joe-");
	ck_assert_int_eq(assign_add(&t, &e), 0);
	fill(&e, '+', "joe");
	ck_assert_int_eq(assign_add(&t, &e), 0);
	sbuf_free(&t);
}
END_TEST

START_TEST(edits_refuse_invalid_text)
{
	struct sbuf t;
	struct assign_entry e;
	sbuf_set(&t, JOE);              /* no end line */
	fill(&e, '=', "bob");
	errno = 0;
	ck_assert_int_eq(assign_add(&t, &e), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(assign_remove(&t, "joe"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(t.s, JOE);
	fill(&e, '=', "b:ob");
	sbuf_free(&t);
	sbuf_set(&t, ".\n");
	ck_assert_int_eq(assign_add(&t, &e), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(t.s, ".\n");
	sbuf_free(&t);
}
END_TEST

START_TEST(add_respects_the_size_limit)
{
	struct sbuf t;
	struct assign_entry e;
	sbuf_init(&t, sizeof JOE + 4);
	ck_assert_int_eq(sbuf_puts(&t, JOE ".\n"), 0);
	fill(&e, '=', "bob");
	errno = 0;
	ck_assert_int_eq(assign_add(&t, &e), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_str_eq(t.s, JOE ".\n");
	sbuf_free(&t);
}
END_TEST

START_TEST(remove_keeps_every_other_byte)
{
	struct sbuf t;
	sbuf_set(&t, ALIAS JOE "=bob:b:1:2:/h:::\r\n" "=JOE:dup:1:2:/h:::\n"
	             JOEWILD ".\n" JOE);
	ck_assert_int_eq(assign_remove(&t, "Joe"), 0);
	ck_assert_str_eq(t.s, ALIAS "=bob:b:1:2:/h:::\r\n" JOEWILD ".\n" JOE);
	errno = 0;
	ck_assert_int_eq(assign_remove(&t, "joe"), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(assign_remove_type(&t, '+', "joe-"), 0);
	ck_assert_int_eq(assign_remove_type(&t, '+', ""), 0);
	ck_assert_str_eq(t.s, "=bob:b:1:2:/h:::\r\n.\n" JOE);
	ck_assert_int_eq(assign_remove_type(&t, '+', "bob"), -1);
	ck_assert_int_eq(errno, ENOENT);
	sbuf_free(&t);
	sbuf_init(&t, 100);
	ck_assert_int_eq(assign_remove(&t, "joe"), -1);
	ck_assert_int_eq(errno, ENOENT);
	sbuf_free(&t);
}
END_TEST

START_TEST(added_entry_is_found_after_build)
{
	struct sbuf t;
	struct assign_entry e;
	sbuf_init(&t, 4096);
	fill(&e, '=', "Alice");
	snprintf(e.dash, sizeof e.dash, "-");
	snprintf(e.ext, sizeof e.ext, "box");
	ck_assert_int_eq(assign_add(&t, &e), 0);
	build(t.s);
	struct assign_entry got;
	ck_assert_int_eq(assign_lookup(path, "alice", &got), 1);
	ck_assert_int_eq(got.type, '=');
	ck_assert_str_eq(got.local, "alice");
	ck_assert_str_eq(got.user, "uAlice");
	ck_assert_uint_eq(got.uid, 1001);
	ck_assert_uint_eq(got.gid, 1002);
	ck_assert_str_eq(got.home, "/home/Alice");
	ck_assert_str_eq(got.dash, "-");
	ck_assert_str_eq(got.ext, "box");
	ck_assert_int_eq(assign_remove(&t, "ALICE"), 0);
	build(t.s);
	ck_assert_int_eq(assign_lookup(path, "alice", &got), 0);
	sbuf_free(&t);
}
END_TEST

static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* A bad assign leaves the old cdb in place and no temporary file. */
START_TEST(bad_build_keeps_the_old_cdb)
{
	static const char bad[] = "=bob:bob:1:2:/h:::\n" JOE "=x:y\n.\n";
	size_t line = 0;
	build(JOE ".\n");
	ck_assert_int_eq(assign_build_cdb(bad, sizeof bad - 1, dfd, "cdb",
	                                  &line), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(line, 3);
	expect("joe", '=', "joe", "joe", "");
	struct assign_entry e;
	ck_assert_int_eq(assign_lookup(path, "bob", &e), 0);
	ck_assert_int_eq(count_entries(), 1);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("assign");
	TCase *tc = tcase_create("assign");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, parse_simple_and_wildcard_lines);
	tcase_add_test(tc, parse_has_no_comments);
	tcase_add_test(tc, parse_stops_at_the_dot_line);
	tcase_add_test(tc, format_errors_name_their_line);
	tcase_add_test(tc, parse_wants_numeric_ids_build_does_not);
	tcase_add_test(tc, parse_refuses_overlong_fields);
	tcase_add_test(tc, cdb_holds_qmail_newu_records);
	tcase_add_test(tc, empty_assign_has_an_empty_wildchars_record);
	tcase_add_test(tc, lookup_exact_before_wildcard);
	tcase_add_test(tc, lookup_longest_wildcard_first);
	tcase_add_test(tc, lookup_only_at_wildchars);
	tcase_add_test(tc, lookup_uppercase_wildchar_never_matches);
	tcase_add_test(tc, lookup_without_cdb_is_not_found);
	tcase_add_test(tc, lookup_refuses_broken_databases);
	tcase_add_test(tc, format_writes_the_line);
	tcase_add_test(tc, format_refuses_separators_in_fields);
	tcase_add_test(tc, add_to_new_file_ends_it);
	tcase_add_test(tc, add_keeps_every_other_byte);
	tcase_add_test(tc, add_before_dot_without_newline);
	tcase_add_test(tc, add_refuses_duplicate_keys);
	tcase_add_test(tc, edits_refuse_invalid_text);
	tcase_add_test(tc, add_respects_the_size_limit);
	tcase_add_test(tc, remove_keeps_every_other_byte);
	tcase_add_test(tc, added_entry_is_found_after_build);
	tcase_add_test(tc, bad_build_keeps_the_old_cdb);
	suite_add_tcase(s, tc);
	return s;
}
