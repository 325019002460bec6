/* check_userid - the User ID inspection of account provisioning. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "userid.h"
#include "testutil.h"

#define DOMAIN "example.org"

static enum userid_error check(const char *local, char *out)
{
	return userid_check(local, DOMAIN, NULL, out);
}

/* n copies of c, then tail, into out. */
static void repeat(char *out, char c, size_t n, const char *tail)
{
	memset(out, c, n);
	strcpy(out + n, tail);
}

/* ---- is_free callbacks ------------------------------------------------ */

/* Free unless listed; counts calls and keeps the last address asked. */
struct listed {
	const char *const *taken;
	size_t ntaken;
	int answer_taken;       /* what a listed address gets: 0, or -1 */
	int fail_at;            /* > 0: that call answers -1 */
	int calls;
	char last[ADDR_MAX + 1];
};

static int listed_free(const char *address, void *arg)
{
	struct listed *l = arg;
	l->calls++;
	snprintf(l->last, sizeof l->last, "%s", address);
	if (l->fail_at > 0 && l->calls == l->fail_at)
		return -1;
	for (size_t i = 0; i < l->ntaken; i++)
		if (strcmp(l->taken[i], address) == 0)
			return l->answer_taken;
	return 1;
}

static int never_free(const char *address, void *arg)
{
	(void)address;
	(*(int *)arg)++;
	return 0;
}

/* A deterministic pseudo-random set: FNV-1a of the address and a seed;
 * density percent of addresses are taken, and so is the original. */
struct prand {
	uint32_t seed;
	unsigned density;
	const char *original;
	int calls;
};

static int prand_is_free(const struct prand *p, const char *address)
{
	uint32_t h = 2166136261u ^ p->seed;
	if (strcmp(address, p->original) == 0)
		return 0;
	for (const char *s = address; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h ^= h >> 15;
	return h % 100 >= p->density;
}

static int prand_free(const char *address, void *arg)
{
	struct prand *p = arg;
	p->calls++;
	return prand_is_free(p, address);
}

/* ---- addresses ------------------------------------------------------- */

START_TEST(valid_addresses_are_normalised)
{
	char out[ADDR_MAX + 1];
	ck_assert_int_eq(userid_check("John.Smith", "Example.ORG.", NULL, out),
	                 USERID_OK);
	ck_assert_str_eq(out, "john.smith@example.org");
	ck_assert_int_eq(check("zoe.obrien-smyth", out), USERID_OK);
	ck_assert_str_eq(out, "zoe.obrien-smyth@example.org");
	ck_assert_int_eq(check("J_Smith2", out), USERID_OK);
	ck_assert_str_eq(out, "j_smith2@example.org");
	ck_assert_int_eq(userid_check("x", "mx-1.example.co.uk", NULL, out),
	                 USERID_OK);
	ck_assert_str_eq(out, "x@mx-1.example.co.uk");
}
END_TEST

START_TEST(invalid_addresses_are_refused)
{
	static const struct {
		const char *local, *domain;
		enum userid_error want;
	} bad[] = {
		{ "", DOMAIN, USERID_EMPTY },
		{ "john", "", USERID_EMPTY },
		{ "john", ".", USERID_EMPTY },
		{ ".john", DOMAIN, USERID_INVALID },
		{ "john.", DOMAIN, USERID_INVALID },
		{ "jo..hn", DOMAIN, USERID_INVALID },
		{ "jo hn", DOMAIN, USERID_INVALID },
		{ "\"john\"", DOMAIN, USERID_INVALID },
		{ "a@b", DOMAIN, USERID_INVALID },
		{ "john", "x@example.org", USERID_INVALID },
		{ "john", "-example.org", USERID_INVALID },
		{ "john", "exa_mple.org", USERID_INVALID },
		{ "john", "example..org", USERID_INVALID },
		{ "john", "[192.0.2.1]", USERID_INVALID },
		/* dot-atoms, but not ours to hand out (see userid.h) */
		{ "o'brien", DOMAIN, USERID_INVALID },
		{ "john+tag", DOMAIN, USERID_INVALID },
		{ "a/b", DOMAIN, USERID_INVALID },
		{ "-rf", DOMAIN, USERID_INVALID },
		{ "john-", DOMAIN, USERID_INVALID },
		{ "_john", DOMAIN, USERID_INVALID },
		{ "j\xc3\xb6rg", DOMAIN, USERID_NON_ASCII },
	};
	char out[ADDR_MAX + 1];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		strcpy(out, "junk");
		enum userid_error e = userid_check(bad[i].local, bad[i].domain,
		                                   NULL, out);
		ck_assert_msg(e == bad[i].want, "%s@%s: got %s", bad[i].local,
		              bad[i].domain, userid_strerror(e));
		ck_assert_str_eq(out, "");
	}
	ck_assert_int_eq(userid_check(NULL, DOMAIN, NULL, out), USERID_EMPTY);
	ck_assert_int_eq(userid_check("john", NULL, NULL, out), USERID_EMPTY);
}
END_TEST

START_TEST(length_limits_are_those_of_rfc5321)
{
	char local[80], domain[300], out[ADDR_MAX + 1];
	memset(local, 'a', 64);
	local[64] = '\0';
	ck_assert_int_eq(check(local, out), USERID_OK);
	strcat(local, "a");
	ck_assert_int_eq(check(local, out), USERID_TOO_LONG);
	ck_assert_str_eq(out, "");

	/* 64 + 1 + 189 = 254: the longest; then one more, with or without
	 * the root dot that normalisation removes */
	local[64] = '\0';
	char *d = domain;
	for (int i = 0; i < 3; i++, d += 62) {
		memset(d, 'b', 61);
		d[61] = '.';
	}
	strcpy(d, "ccc");
	ck_assert_int_eq(userid_check(local, domain, NULL, out), USERID_OK);
	ck_assert_uint_eq(strlen(out), 254);
	strcat(domain, ".");
	ck_assert_int_eq(userid_check(local, domain, NULL, out), USERID_OK);
	strcpy(d, "cccc");
	ck_assert_int_eq(userid_check(local, domain, NULL, out),
	                 USERID_TOO_LONG);
	memset(domain, 'x', 299);
	domain[299] = '\0';
	ck_assert_int_eq(userid_check("a", domain, NULL, out), USERID_TOO_LONG);
}
END_TEST

/* ---- reserved names -------------------------------------------------- */

START_TEST(default_reserved_names_are_refused)
{
	static const char *const reserved[] = {
		"postmaster", "Abuse", "HOSTMASTER", "webmaster", "www", "noc",
		"security", "info", "marketing", "sales", "support", "usenet",
		"news", "uucp", "ftp", "root", "MAILER-DAEMON", "nobody",
		"admin", "administrator", "daemon", "bin", "operator", "mail",
		"alias", "ses", "sqmail", "sqmaild", "sqmail_x", "SqMailQ",
	};
	static const char *const allowed[] = {
		"john", "postmasters", "rootbeer", "information", "binary",
		"mailbox", "sesame", "sq", "admins.x", "x.postmaster",
	};
	struct userid_reserved r;
	char out[ADDR_MAX + 1];
	ck_assert_int_eq(userid_reserved_load(&r, NULL), 0);
	ck_assert_uint_eq(r.n, 27);
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
		ck_assert_msg(userid_check(reserved[i], DOMAIN, &r, out) ==
		              USERID_RESERVED, "%s not reserved", reserved[i]);
		ck_assert_str_eq(out, "");
		ck_assert_int_eq(check(reserved[i], out), USERID_RESERVED);
	}
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
		ck_assert_msg(userid_check(allowed[i], DOMAIN, &r, out) ==
		              USERID_OK, "%s refused", allowed[i]);
		ck_assert_int_eq(check(allowed[i], out), USERID_OK);
	}
	userid_reserved_free(&r);
}
END_TEST

START_TEST(extensions_of_reserved_names_are_refused)
{
	char out[ADDR_MAX + 1];
	ck_assert_int_eq(check("postmaster-foo", out), USERID_RESERVED);
	ck_assert_int_eq(check("postmaster+foo", out), USERID_RESERVED);
	ck_assert_int_eq(check("Postmaster-", out), USERID_RESERVED);
	ck_assert_int_eq(check("root-x-y", out), USERID_RESERVED);
	ck_assert_int_eq(check("mailer-daemon-2", out), USERID_RESERVED);
	ck_assert_int_eq(check("abuse+spam", out), USERID_RESERVED);
	ck_assert_int_eq(check("postmaster.foo", out), USERID_OK);
	ck_assert_int_eq(check("postmaster_foo", out), USERID_OK);
}
END_TEST

static char *ctldir;
static struct control ctl;

static void ctl_setup(void)
{
	ctl.dirfd = -1;
	sbuf_init(&ctl.me, 1);
	ctldir = make_tmpdir();
	chmod(ctldir, 0755);
}

static void ctl_teardown(void)
{
	control_close(&ctl);
	rm_rf(ctldir);
	free(ctldir);
}

static void put_reserved(const char *text)
{
	write_file(ctldir, "reservednames", text, strlen(text));
	ck_assert_int_eq(control_open(&ctl, ctldir), 0);
}

START_TEST(reservednames_file_replaces_the_default)
{
	struct userid_reserved r;
	char out[ADDR_MAX + 1];
	put_reserved("# our own\r\nBilling\r\n\r\nteam*\r\n# end\r\n");
	ck_assert_int_eq(userid_reserved_load(&r, &ctl), 0);
	ck_assert_uint_eq(r.n, 2);
	static const char *const refused[] = {
		"billing", "BILLING", "billing-x", "billing+x", "team",
		"teamwork", "team.lead",
		"postmaster",   /* always, whatever the file says */
		"postmaster-x",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		ck_assert_msg(userid_check(refused[i], DOMAIN, &r, out) ==
		              USERID_RESERVED, "%s allowed", refused[i]);
	static const char *const allowed[] = {
		"abuse", "root", "sqmaild", "billings", "tea", "my.team",
	};
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		ck_assert_msg(userid_check(allowed[i], DOMAIN, &r, out) ==
		              USERID_OK, "%s refused", allowed[i]);
	userid_reserved_free(&r);
}
END_TEST

START_TEST(missing_reservednames_file_gives_the_default)
{
	struct userid_reserved r;
	char out[ADDR_MAX + 1];
	ck_assert_int_eq(control_open(&ctl, ctldir), 0);
	ck_assert_int_eq(userid_reserved_load(&r, &ctl), 0);
	ck_assert_uint_eq(r.n, 27);
	ck_assert_int_eq(userid_check("abuse", DOMAIN, &r, out),
	                 USERID_RESERVED);
	ck_assert_int_eq(userid_check("sqmails", DOMAIN, &r, out),
	                 USERID_RESERVED);
	ck_assert_int_eq(userid_check("john", DOMAIN, &r, out), USERID_OK);
	userid_reserved_free(&r);
}
END_TEST

START_TEST(empty_reservednames_file_keeps_only_postmaster)
{
	struct userid_reserved r;
	char out[ADDR_MAX + 1];
	put_reserved("# nothing reserved here\n");
	ck_assert_int_eq(userid_reserved_load(&r, &ctl), 0);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_int_eq(userid_check("abuse", DOMAIN, &r, out), USERID_OK);
	ck_assert_int_eq(userid_check("postmaster", DOMAIN, &r, out),
	                 USERID_RESERVED);
	userid_reserved_free(&r);
}
END_TEST

START_TEST(malformed_reservednames_lines_are_refused)
{
	static const char *const bad[] = {
		"postmaster abuse\n", "ok\na*b\n", "x@y\n", "caf\xc3\xa9\n",
		"  indented\n", "tab\there\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct userid_reserved r;
		put_reserved(bad[i]);
		errno = 0;
		ck_assert_msg(userid_reserved_load(&r, &ctl) == -1, "%s", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_uint_eq(r.n, 0);
		userid_reserved_free(&r);
		control_close(&ctl);
	}
}
END_TEST

/* ---- names to local parts -------------------------------------------- */

static void name_is(const char *name, const char *want)
{
	char local[ADDR_LOCAL_MAX + 1], why[200];
	enum userid_error e = userid_from_name(name, local, sizeof local, why,
	                                       sizeof why);
	ck_assert_msg(e == USERID_OK, "%s: %s (%s)", name, userid_strerror(e),
	              why);
	ck_assert_msg(strcmp(local, want) == 0, "%s: got %s, want %s", name,
	              local, want);
	ck_assert_str_eq(why, "");
}

START_TEST(plain_names_become_dotted_words)
{
	name_is("John Smith", "john.smith");
	name_is("  Jean   Dupont ", "jean.dupont");
	name_is("\tJEAN\n\tDUPONT\r\n", "jean.dupont");
	name_is("Smith, John", "smith.john");
	name_is("J. R. R. Tolkien", "j.r.r.tolkien");
	name_is("john_smith", "john.smith");
	name_is("Louis XIV (1638/1715)", "louis.xiv.1638.1715");
	name_is("Madonna", "madonna");
	name_is("a\xc2\xa0" "b", "a.b");                /* no-break space */
	name_is("R\xc3\xa9my \xe2\x80\x94 Martin", "remy.martin"); /* em dash */
}
END_TEST

START_TEST(apostrophes_are_dropped_and_hyphens_kept)
{
	name_is("Zo\xc3\xab O'Brien-Smyth", "zoe.obrien-smyth");
	name_is("D\xe2\x80\x99" "Angelo", "dangelo");      /* ’ */
	name_is("O\xc2\xb4Neil", "oneil");                 /* ´ */
	name_is("Ka\xca\xbb" "ahumanu", "kaahumanu");      /* ʻokina */
	name_is("rock'n'roll", "rocknroll");
	name_is("Jean-Paul Sartre", "jean-paul.sartre");
	name_is("Jean--Paul", "jean-paul");
	name_is("Jean\xe2\x80\x90Paul", "jean-paul");      /* U+2010 */
	name_is("Anne -Marie", "anne.marie");
	name_is("Anne- Marie", "anne.marie");
	name_is("-Anne-", "anne");
	name_is("' Anne '", "anne");
}
END_TEST

START_TEST(latin_letters_are_transliterated)
{
	name_is("Zo\xc3\xab", "zoe");                       /* Zoë */
	name_is("Fran\xc3\xa7ois M\xc3\xbcller", "francois.muller");
	name_is("Stra\xc3\x9f" "e", "strasse");             /* Straße */
	name_is("\xc3\x86lfr\xc3\xaa" "d", "aelfred");      /* Ælfrêd */
	name_is("S\xc3\xb8ren \xc3\x85se", "soren.ase");    /* Søren Åse */
	name_is("\xc5\x81ukasz \xc5\xbb\xc3\xb3\xc5\x82\xc4\x87",
	        "lukasz.zolc");                             /* Łukasz Żółć */
	name_is("\xc3\x91\xc3\xba\xc3\xb1\x65z", "nunez");  /* Ñúñez */
	name_is("\xc5\x92uvre \xc5\x93il", "oeuvre.oeil");  /* Œuvre œil */
	name_is("\xc3\x9e\xc3\xb3rr \xc3\x93\xc3\xb0insson",
	        "thorr.odinsson");                          /* Þórr Óðinsson */
	name_is("\xc5\x9e" "tefan \xc8\x98" "tefan \xc8\x9a" "epe\xc8\x99",
	        "stefan.stefan.tepes");                     /* Ş, Ș, Ț, ș */
	name_is("\xc4\xb0lker I\xc4\x9f" "d\xc4\xb1r",
	        "ilker.igdir");                             /* İlker Iğdır */
	name_is("\xc4\x90or\xc4\x91" "e", "dorde");        /* Đorđe */
	name_is("\xc4\xb2sselmeer", "ijsselmeer");          /* Ĳsselmeer */
	name_is("Zoe\xcc\x88 Ma\xcc\x81rquez", "zoe.marquez"); /* combining */
	name_is("2\xc3\x97" "3", "2.3");                    /* × separates */
}
END_TEST

static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	out[0] = (char)(0xC0 | cp >> 6);
	out[1] = (char)(0x80 | (cp & 0x3F));
	return 2;
}

/* Every letter of U+00C0..U+017F becomes one or two ASCII letters. */
START_TEST(every_latin1_and_extended_a_letter_transliterates)
{
	for (uint32_t cp = 0xC0; cp <= 0x17F; cp++) {
		char name[8], local[ADDR_LOCAL_MAX + 1], why[100];
		name[utf8_encode(cp, name)] = '\0';
		enum userid_error e = userid_from_name(name, local, sizeof local,
		                                       why, sizeof why);
		if (cp == 0xD7 || cp == 0xF7) {         /* × ÷ */
			ck_assert_int_eq(e, USERID_EMPTY);
			continue;
		}
		ck_assert_msg(e == USERID_OK, "U+%04X: %s", (unsigned)cp, why);
		size_t n = strlen(local);
		ck_assert_msg(n == 1 || n == 2, "U+%04X: %s", (unsigned)cp,
		              local);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(local[i] >= 'a' && local[i] <= 'z',
			              "U+%04X: %s", (unsigned)cp, local);
	}
}
END_TEST

/* The words the test expects, cut the way the header says. */
static void expected_cut(const char *const *words, const char *joins,
                         size_t nwords, size_t limit, char *out)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < nwords; i++) {
		size_t add = strlen(words[i]) + (i > 0);
		if (len + add > limit)
			return;
		if (i > 0)
			out[len++] = joins[i - 1];
		strcpy(out + len, words[i]);
		len += strlen(words[i]);
	}
}

START_TEST(long_name_is_cut_at_a_word_boundary)
{
	name_is("Maximiliana Alexandrina Konstantinopolous-Wittgensteinova "
	        "Papadopoulou",
	        "maximiliana.alexandrina.konstantinopolous-wittgensteinova");
	/* the cut falls inside a hyphenated name: no trailing '-' */
	name_is("Maximiliana Alexandrina Konstantinopolous-Wittgensteinovaxxxx"
	        "xxxxx",
	        "maximiliana.alexandrina.konstantinopolous");
	/* a two-letter transliteration on the limit */
	char name[100], want[100];
	repeat(name, 'a', 60, " bb\xc3\x9f");         /* ß: 65 octets */
	repeat(want, 'a', 60, "");
	name_is(name, want);
	repeat(name, 'a', 60, " b\xc3\x9f");          /* 64 octets */
	repeat(want, 'a', 60, ".bss");
	name_is(name, want);

	/* a smaller buffer is a smaller limit */
	char local[12], why[100];
	ck_assert_int_eq(userid_from_name("John Smith Jones", local,
	                                  sizeof local, why, sizeof why),
	                 USERID_OK);
	ck_assert_str_eq(local, "john.smith");
}
END_TEST

/* Property: random names of many short words are cut to <= 64 octets at
 * a boundary, and are what the words say. */
START_TEST(random_long_names_stay_within_64_octets)
{
	uint32_t x = 12345;
	for (int round = 0; round < 500; round++) {
		char store[40][17], name[1000] = "", want[ADDR_LOCAL_MAX + 1];
		const char *words[40];
		char joins[40];
		size_t nwords = 4 + round % 30;
		for (size_t i = 0; i < nwords; i++) {
			x = x * 1103515245u + 12345u;
			size_t wl = 1 + (x >> 16) % 16;
			for (size_t k = 0; k < wl; k++)
				store[i][k] = (char)('a' + (x >> (k % 8)) % 26);
			store[i][wl] = '\0';
			words[i] = store[i];
			joins[i] = (x >> 8) % 4 == 0 ? '-' : '.';
			if (i > 0)
				strcat(name, joins[i - 1] == '-' ? "-" : "  ");
			strcat(name, store[i]);
		}
		expected_cut(words, joins, nwords, ADDR_LOCAL_MAX, want);
		char local[ADDR_LOCAL_MAX + 1], why[100];
		ck_assert_int_eq(userid_from_name(name, local, sizeof local, why,
		                                  sizeof why), USERID_OK);
		size_t n = strlen(local);
		ck_assert_uint_le(n, ADDR_LOCAL_MAX);
		ck_assert(local[n - 1] != '.' && local[n - 1] != '-');
		ck_assert_msg(strcmp(local, want) == 0, "%s: %s", name, local);
		char out[ADDR_MAX + 1];
		ck_assert_int_eq(check(local, out), USERID_OK);
	}
}
END_TEST

START_TEST(one_overlong_word_is_too_long)
{
	char name[100], local[ADDR_LOCAL_MAX + 1], why[100];
	memset(name, 'x', 65);
	strcpy(name + 65, " smith");
	ck_assert_int_eq(userid_from_name(name, local, sizeof local, why,
	                                  sizeof why), USERID_TOO_LONG);
	ck_assert_str_eq(local, "");
	ck_assert_ptr_nonnull(strstr(why, "64"));
	name[64] = '\0';
	ck_assert_int_eq(userid_from_name(name, local, sizeof local, why,
	                                  sizeof why), USERID_OK);
	ck_assert_uint_eq(strlen(local), 64);
	ck_assert_int_eq(userid_from_name("x", local, 0, why, sizeof why),
	                 USERID_TOO_LONG);
}
END_TEST

START_TEST(names_without_letters_are_empty)
{
	static const char *const empty[] = {
		"", "   ", "'''", "- -", "...", "\t\n", "\xe2\x80\x94",
		"\xc3\x97\xc3\xb7", "(!)",
	};
	for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
		char local[ADDR_LOCAL_MAX + 1] = "junk", why[100];
		ck_assert_msg(userid_from_name(empty[i], local, sizeof local, why,
		                               sizeof why) == USERID_EMPTY,
		              "\"%s\"", empty[i]);
		ck_assert_str_eq(local, "");
		ck_assert_str_ne(why, "");
	}
	char local[ADDR_LOCAL_MAX + 1];
	ck_assert_int_eq(userid_from_name(NULL, local, sizeof local, NULL, 0),
	                 USERID_EMPTY);
}
END_TEST

static void refused(const char *name, const char *say1, const char *say2)
{
	char local[ADDR_LOCAL_MAX + 1] = "junk", why[200];
	ck_assert_int_eq(userid_from_name(name, local, sizeof local, why,
	                                  sizeof why), USERID_NON_ASCII);
	ck_assert_str_eq(local, "");
	ck_assert_msg(strstr(why, say1) && strstr(why, say2),
	              "why: %s (wanted %s, %s)", why, say1, say2);
}

START_TEST(non_ascii_is_refused_with_a_clear_message)
{
	refused("\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd", "\"\xd0\x98\" (U+0418",
	        "character 1");                            /* Иван */
	refused("John \xe7\x8e\x8b", "\"\xe7\x8e\x8b\" (U+738B",
	        "character 6");                            /* 王 */
	refused("Ann \xf0\x9f\x98\x80", "U+1F600", "character 5"); /* 😀 */
	refused("Jo\xffhn", "invalid UTF-8 at byte 3", "0xFF");
	refused("Jos\xc3", "invalid UTF-8 at byte 4", "0xC3"); /* cut short */
	refused("\xc3(", "invalid UTF-8 at byte 1", "0xC3");
	refused("\xc0\xaf", "invalid UTF-8", "0xC0");      /* overlong '/' */
	refused("\xe0\x80\xaf", "invalid UTF-8", "0xE0");  /* overlong '/' */
	refused("\xed\xa0\x80", "invalid UTF-8", "0xED");  /* surrogate */
	refused("\xf4\x90\x80\x80", "invalid UTF-8", "0xF4"); /* > U+10FFFF */
	refused("\x80", "invalid UTF-8", "0x80");
	/* even past the point where a long name is cut */
	char name[100];
	repeat(name, 'a', 60, " bbbbbbbbbb \xd0\x96");
	refused(name, "U+0416", "character 73");
	/* a NULL why is allowed */
	char local[ADDR_LOCAL_MAX + 1];
	ck_assert_int_eq(userid_from_name("\xd0\x96", local, sizeof local,
	                                  NULL, 0), USERID_NON_ASCII);
}
END_TEST

START_TEST(names_give_addresses_that_pass_the_check)
{
	static const char *const names[] = {
		"John Smith", "Zo\xc3\xab O'Brien-Smyth", "  Jean   Dupont ",
		"\xc3\x86lfr\xc3\xaa" "d the Great", "Louis XIV", "007",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char local[ADDR_LOCAL_MAX + 1], out[ADDR_MAX + 1];
		ck_assert_int_eq(userid_from_name(names[i], local, sizeof local,
		                                  NULL, 0), USERID_OK);
		ck_assert_msg(check(local, out) == USERID_OK, "%s", local);
	}
}
END_TEST

/* ---- inspection and alternatives ------------------------------------- */

#define WANT_MAX 12

struct result {
	enum userid_error e;
	char address[ADDR_MAX + 1];
	char sug[WANT_MAX][ADDR_MAX + 1];
	size_t n;
};

static void inspect(const char *local, const struct userid_reserved *r,
                    userid_free_fn fn, void *arg, size_t want,
                    struct result *res)
{
	ck_assert_uint_le(want, WANT_MAX);
	res->n = 99;
	res->e = userid_inspect(local, DOMAIN, r, fn, arg, res->address,
	                        res->sug, want, &res->n);
}

START_TEST(a_free_address_is_ok_without_suggestions)
{
	struct listed l = { 0 };
	struct result res;
	ck_assert_int_eq(userid_inspect("John.Smith", "Example.ORG.", NULL,
	                                listed_free, &l, res.address, res.sug,
	                                5, &res.n), USERID_OK);
	ck_assert_str_eq(res.address, "john.smith@example.org");
	ck_assert_str_eq(l.last, "john.smith@example.org");
	ck_assert_int_eq(l.calls, 1);
	ck_assert_uint_eq(res.n, 0);
}
END_TEST

START_TEST(seed_example_john_smith_taken)
{
	static const char *const taken[] = { "john.smith@example.org" };
	static const char *const want[] = {
		"johnsmith@example.org", "john.smith01@example.org",
		"johnsmith123@example.org", "j.smith@example.org",
		"smith.john@example.org", "john_smith@example.org",
		"john.smith02@example.org", "john.smith03@example.org",
		"johnsmith234@example.org", "john.smith04@example.org",
	};
	struct listed l = { .taken = taken, .ntaken = 1 };
	struct result res;
	inspect("john.smith", NULL, listed_free, &l, 10, &res);
	ck_assert_int_eq(res.e, USERID_TAKEN);
	ck_assert_str_eq(res.address, "john.smith@example.org");
	ck_assert_uint_eq(res.n, 10);
	for (size_t i = 0; i < 10; i++)
		ck_assert_str_eq(res.sug[i], want[i]);
	ck_assert_int_eq(l.calls, 11);

	/* only three asked for: still one of each kind of change */
	inspect("john.smith", NULL, listed_free, &l, 3, &res);
	ck_assert_uint_eq(res.n, 3);
	ck_assert_str_eq(res.sug[2], "johnsmith123@example.org");
}
END_TEST

START_TEST(taken_alternatives_are_skipped)
{
	static const char *const taken[] = {
		"john.smith@example.org", "johnsmith@example.org",
		"john.smith01@example.org", "j.smith@example.org",
	};
	struct listed l = { .taken = taken, .ntaken = 4 };
	struct result res;
	inspect("john.smith", NULL, listed_free, &l, 3, &res);
	ck_assert_int_eq(res.e, USERID_TAKEN);
	ck_assert_uint_eq(res.n, 3);
	ck_assert_str_eq(res.sug[0], "johnsmith123@example.org");
	ck_assert_str_eq(res.sug[1], "smith.john@example.org");
	ck_assert_str_eq(res.sug[2], "john_smith@example.org");
}
END_TEST

START_TEST(single_words_and_longer_names_get_their_own_forms)
{
	static const char *const taken[] = {
		"john@example.org", "jean.paul.sartre@example.org",
		"zoe.obrien-smyth@example.org",
	};
	struct listed l = { .taken = taken, .ntaken = 3 };
	struct result res;
	inspect("john", NULL, listed_free, &l, 4, &res);
	ck_assert_uint_eq(res.n, 4);
	ck_assert_str_eq(res.sug[0], "john01@example.org");
	ck_assert_str_eq(res.sug[1], "john123@example.org");
	ck_assert_str_eq(res.sug[2], "john02@example.org");
	ck_assert_str_eq(res.sug[3], "john03@example.org");

	inspect("jean.paul.sartre", NULL, listed_free, &l, 6, &res);
	ck_assert_uint_eq(res.n, 6);
	ck_assert_str_eq(res.sug[0], "jeanpaulsartre@example.org");
	ck_assert_str_eq(res.sug[1], "jean.paul.sartre01@example.org");
	ck_assert_str_eq(res.sug[2], "jeanpaulsartre123@example.org");
	ck_assert_str_eq(res.sug[3], "jp.sartre@example.org");
	ck_assert_str_eq(res.sug[4], "sartre.jean.paul@example.org");
	ck_assert_str_eq(res.sug[5], "jean_paul_sartre@example.org");

	inspect("zoe.obrien-smyth", NULL, listed_free, &l, 4, &res);
	ck_assert_str_eq(res.sug[0], "zoeobrien-smyth@example.org");
	ck_assert_str_eq(res.sug[3], "z.obrien-smyth@example.org");

	/* from john_smith, the dotted form is an alternative too */
	static const char *const taken2[] = { "john_smith@example.org" };
	struct listed l2 = { .taken = taken2, .ntaken = 1 };
	inspect("john_smith", NULL, listed_free, &l2, 6, &res);
	ck_assert_uint_eq(res.n, 6);
	ck_assert_str_eq(res.sug[5], "john.smith@example.org");
}
END_TEST

START_TEST(reserved_alternatives_are_never_proposed)
{
	static const char *const taken[] = { "post.master@example.org" };
	struct listed l = { .taken = taken, .ntaken = 1 };
	struct result res;
	inspect("post.master", NULL, listed_free, &l, 5, &res);
	ck_assert_int_eq(res.e, USERID_TAKEN);
	ck_assert_uint_eq(res.n, 5);
	ck_assert_str_eq(res.sug[0], "post.master01@example.org");
	for (size_t i = 0; i < res.n; i++)
		ck_assert_str_ne(res.sug[i], "postmaster@example.org");
	ck_assert_int_eq(l.calls, 6);
}
END_TEST

START_TEST(a_refused_name_is_not_asked_about)
{
	struct listed l = { 0 };
	struct result res;
	inspect("Postmaster", NULL, listed_free, &l, 3, &res);
	ck_assert_int_eq(res.e, USERID_RESERVED);
	inspect("o'brien", NULL, listed_free, &l, 3, &res);
	ck_assert_int_eq(res.e, USERID_INVALID);
	ck_assert_str_eq(res.address, "");
	ck_assert_uint_eq(res.n, 0);
	ck_assert_int_eq(l.calls, 0);
}
END_TEST

/* Property: whatever is taken, every suggestion is valid, free, unique,
 * not the original, and at least three come back while the budget lasts. */
START_TEST(suggestions_are_always_free_valid_and_unique)
{
	static const char *const locals[] = {
		"john.smith", "a", "zoe.obrien-smyth", "jean.paul.sartre",
		"x.y.z.w", "j_smith", "user-2024", "mail.admin",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	};
	static const size_t wants[] = { 3, 5, 8 };
	for (size_t li = 0; li < sizeof locals / sizeof locals[0]; li++)
	for (uint32_t seed = 1; seed <= 40; seed++)
	for (size_t wi = 0; wi < 3; wi++) {
		char original[ADDR_MAX + 1];
		snprintf(original, sizeof original, "%s@%s", locals[li], DOMAIN);
		struct prand p = { seed, 70, original, 0 };
		struct result res;
		inspect(locals[li], NULL, prand_free, &p, wants[wi], &res);
		ck_assert_int_eq(res.e, USERID_TAKEN);
		ck_assert_int_le(p.calls, USERID_PROBE_MAX);
		ck_assert_uint_le(res.n, wants[wi]);
		ck_assert_msg(res.n >= 3 || p.calls == USERID_PROBE_MAX,
		              "%s seed %u: %zu", locals[li], seed, res.n);
		for (size_t i = 0; i < res.n; i++) {
			char lp[ADDR_MAX + 1], out[ADDR_MAX + 1];
			snprintf(lp, sizeof lp, "%.*s",
			         (int)(strrchr(res.sug[i], '@') - res.sug[i]),
			         res.sug[i]);
			ck_assert_int_eq(check(lp, out), USERID_OK);
			ck_assert_str_eq(out, res.sug[i]);
			ck_assert_uint_le(strlen(lp), ADDR_LOCAL_MAX);
			ck_assert_int_eq(prand_is_free(&p, res.sug[i]), 1);
			ck_assert_str_ne(res.sug[i], original);
			for (size_t k = 0; k < i; k++)
				ck_assert_str_ne(res.sug[i], res.sug[k]);
		}
	}
}
END_TEST

static void all_within_64_and_valid(const struct result *res)
{
	for (size_t i = 0; i < res->n; i++) {
		char out[ADDR_MAX + 1], lp[ADDR_LOCAL_MAX + 1];
		size_t n = strcspn(res->sug[i], "@");
		ck_assert_uint_le(n, ADDR_LOCAL_MAX);
		memcpy(lp, res->sug[i], n);
		lp[n] = '\0';
		ck_assert_int_eq(check(lp, out), USERID_OK);
	}
}

START_TEST(suggestions_near_64_octets_stay_within_the_limit)
{
	char local[ADDR_LOCAL_MAX + 1], addr[ADDR_MAX + 1], want[ADDR_MAX + 1];
	const char *taken[] = { addr };
	struct listed l = { .taken = taken, .ntaken = 1 };
	struct result res;

	repeat(local, 'x', 64, "");
	snprintf(addr, sizeof addr, "%s@" DOMAIN, local);
	inspect(local, NULL, listed_free, &l, WANT_MAX, &res);
	ck_assert_int_eq(res.e, USERID_TAKEN);
	ck_assert_uint_eq(res.n, WANT_MAX);
	repeat(want, 'x', 62, "01@" DOMAIN);
	ck_assert_str_eq(res.sug[0], want);
	repeat(want, 'x', 61, "123@" DOMAIN);
	ck_assert_str_eq(res.sug[1], want);
	all_within_64_and_valid(&res);

	/* the cut lands after a dot, which must not stay at the end */
	repeat(local, 'a', 61, ".bb");
	snprintf(addr, sizeof addr, "%s@" DOMAIN, local);
	inspect(local, NULL, listed_free, &l, WANT_MAX, &res);
	ck_assert_uint_eq(res.n, WANT_MAX);
	repeat(want, 'a', 61, "bb@" DOMAIN);
	ck_assert_str_eq(res.sug[0], want);
	repeat(want, 'a', 61, "01@" DOMAIN);
	ck_assert_str_eq(res.sug[1], want);
	all_within_64_and_valid(&res);

	for (size_t len = 60; len <= 64; len++) {
		repeat(local, 'q', len - 2, ".z");
		snprintf(addr, sizeof addr, "%s@" DOMAIN, local);
		inspect(local, NULL, listed_free, &l, WANT_MAX, &res);
		ck_assert_uint_eq(res.n, WANT_MAX);
		all_within_64_and_valid(&res);
	}
}
END_TEST

START_TEST(everything_taken_stays_within_the_probe_budget)
{
	int calls = 0;
	struct result res;
	inspect("john.smith", NULL, never_free, &calls, 5, &res);
	ck_assert_int_eq(res.e, USERID_TAKEN);
	ck_assert_uint_eq(res.n, 0);
	ck_assert_int_eq(calls, USERID_PROBE_MAX);
}
END_TEST

START_TEST(a_failed_check_is_temporary_never_taken)
{
	static const char *const taken[] = { "john.smith@example.org" };
	struct listed l = { .taken = taken, .ntaken = 1, .answer_taken = -1 };
	struct result res;
	inspect("john.smith", NULL, listed_free, &l, 3, &res);
	ck_assert_int_eq(res.e, USERID_UNAVAILABLE);
	ck_assert_uint_eq(res.n, 0);
	ck_assert_int_eq(l.calls, 1);
	ck_assert_str_ne(userid_strerror(res.e), userid_strerror(USERID_TAKEN));

	/* failing while alternatives are checked: no half-checked list */
	struct listed l2 = { .taken = taken, .ntaken = 1, .fail_at = 3 };
	inspect("john.smith", NULL, listed_free, &l2, 5, &res);
	ck_assert_int_eq(res.e, USERID_UNAVAILABLE);
	ck_assert_uint_eq(res.n, 0);
	ck_assert_int_eq(l2.calls, 3);
}
END_TEST

START_TEST(every_error_has_a_message)
{
	for (int e = USERID_OK; e <= USERID_UNAVAILABLE; e++) {
		const char *m = userid_strerror((enum userid_error)e);
		ck_assert_ptr_nonnull(m);
		ck_assert_str_ne(m, "");
		for (int k = USERID_OK; k < e; k++)
			ck_assert_str_ne(m, userid_strerror((enum userid_error)k));
	}
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("userid");
	TCase *tc = tcase_create("userid");
	tcase_add_test(tc, valid_addresses_are_normalised);
	tcase_add_test(tc, invalid_addresses_are_refused);
	tcase_add_test(tc, length_limits_are_those_of_rfc5321);
	tcase_add_test(tc, default_reserved_names_are_refused);
	tcase_add_test(tc, extensions_of_reserved_names_are_refused);
	tcase_add_test(tc, plain_names_become_dotted_words);
	tcase_add_test(tc, apostrophes_are_dropped_and_hyphens_kept);
	tcase_add_test(tc, latin_letters_are_transliterated);
	tcase_add_test(tc, every_latin1_and_extended_a_letter_transliterates);
	tcase_add_test(tc, long_name_is_cut_at_a_word_boundary);
	tcase_add_test(tc, random_long_names_stay_within_64_octets);
	tcase_add_test(tc, one_overlong_word_is_too_long);
	tcase_add_test(tc, names_without_letters_are_empty);
	tcase_add_test(tc, non_ascii_is_refused_with_a_clear_message);
	tcase_add_test(tc, names_give_addresses_that_pass_the_check);
	tcase_add_test(tc, a_free_address_is_ok_without_suggestions);
	tcase_add_test(tc, seed_example_john_smith_taken);
	tcase_add_test(tc, taken_alternatives_are_skipped);
	tcase_add_test(tc, single_words_and_longer_names_get_their_own_forms);
	tcase_add_test(tc, reserved_alternatives_are_never_proposed);
	tcase_add_test(tc, a_refused_name_is_not_asked_about);
	tcase_add_test(tc, suggestions_are_always_free_valid_and_unique);
	tcase_add_test(tc, suggestions_near_64_octets_stay_within_the_limit);
	tcase_add_test(tc, everything_taken_stays_within_the_probe_budget);
	tcase_add_test(tc, a_failed_check_is_temporary_never_taken);
	tcase_add_test(tc, every_error_has_a_message);
	suite_add_tcase(s, tc);

	TCase *files = tcase_create("reservednames");
	tcase_add_checked_fixture(files, ctl_setup, ctl_teardown);
	tcase_add_test(files, reservednames_file_replaces_the_default);
	tcase_add_test(files, missing_reservednames_file_gives_the_default);
	tcase_add_test(files, empty_reservednames_file_keeps_only_postmaster);
	tcase_add_test(files, malformed_reservednames_lines_are_refused);
	suite_add_tcase(s, files);
	return s;
}
