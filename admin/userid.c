/*
 * userid - the User ID inspection of account provisioning. See userid.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/fail.h"
#include "userid.h"

const char *userid_strerror(enum userid_error e)
{
	switch (e) {
	case USERID_OK: return "available";
	case USERID_EMPTY: return "empty: no letters or digits";
	case USERID_NON_ASCII:
		return "has a character that cannot be written in an address";
	case USERID_INVALID:
		return "not a valid address (letters, digits, '.', '-' and "
		       "'_', beginning and ending with a letter or digit)";
	case USERID_TOO_LONG:
		return "too long (64 octets before the @, 254 in all)";
	case USERID_RESERVED: return "reserved";
	case USERID_TAKEN: return "already taken";
	case USERID_UNAVAILABLE:
		return "cannot check availability now (temporary failure)";
	}
	return "unknown User ID problem";
}

/* ---- reserved names ------------------------------------------------- */

/* Always reserved, even by a reservednames file that forgets it. */
#define RESERVED_ALWAYS "postmaster"

/* 1 if local is entry e (elen octets), or e then '+' or '-' and anything
 * (a qmail extension of it); an entry ending in '*' is a prefix. */
static int entry_matches(const char *e, size_t elen, const char *local)
{
	if (elen > 0 && e[elen - 1] == '*')
		return strncmp(local, e, elen - 1) == 0;
	if (strncmp(local, e, elen) != 0)
		return 0;
	return local[elen] == '\0' || local[elen] == '+' || local[elen] == '-';
}

/* Entries are separated by spaces (the default) or NULs (a file), so one
 * walk serves both; s[len] is a NUL. */
static int list_matches(const char *s, size_t len, const char *local)
{
	const char *end = s + len;
	while (s < end) {
		size_t n = strcspn(s, " ");
		if (n > 0 && entry_matches(s, n, local))
			return 1;
		s += n + 1;
	}
	return 0;
}

static int is_reserved(const struct userid_reserved *r, const char *local)
{
	if (entry_matches(RESERVED_ALWAYS, strlen(RESERVED_ALWAYS), local))
		return 1;
	if (!r)
		return list_matches(USERID_RESERVED_DEFAULT,
		                    strlen(USERID_RESERVED_DEFAULT), local);
	return r->names.s && list_matches(r->names.s, r->names.len, local);
}

/* One name: printable ASCII, no space or '@', '*' only last. Lower-cases
 * it in place. */
static int tidy_entry(char *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)e[i];
		if (c <= ' ' || c >= 0x7f || c == '@' ||
		    (c == '*' && i + 1 < n))
			return -1;
		if (c >= 'A' && c <= 'Z')
			e[i] = (char)(c - 'A' + 'a');
	}
	return 0;
}

/* Checks, lower-cases and counts the entries of r->names. A line with a
 * space in it is refused rather than split: "postmaster abuse" on one
 * line is more likely a mistake than two names. */
static int tidy_entries(struct userid_reserved *r, int from_file)
{
	char *s = r->names.s;
	char *end = s ? s + r->names.len : NULL;
	r->n = 0;
	while (s && s < end) {
		size_t n = from_file ? strlen(s) : strcspn(s, " ");
		if (n > 0 && tidy_entry(s, n) < 0) {
			errno = EINVAL;
			return -1;
		}
		r->n += n > 0;
		s += n + 1;
	}
	return 0;
}

int userid_reserved_load(struct userid_reserved *r, struct control *ctl)
{
	int got = 0;
	sbuf_init(&r->names, CONTROL_FILE_MAX);
	r->n = 0;
	if (ctl)
		got = control_readfile(ctl, "reservednames", &r->names, NULL);
	if (got == 0)
		got = sbuf_copy(&r->names, USERID_RESERVED_DEFAULT,
		                strlen(USERID_RESERVED_DEFAULT)) < 0 ? -1 : 0;
	if (got >= 0)
		got = tidy_entries(r, got == 1);
	if (got < 0) {
		int saved = errno;
		userid_reserved_free(r);
		errno = saved;
		return -1;
	}
	return 0;
}

void userid_reserved_free(struct userid_reserved *r)
{
	sbuf_free(&r->names);
	r->n = 0;
}

/* ---- checking an address -------------------------------------------- */

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Our narrower rule on top of the dot-atom; see userid.h for why. */
static int provisionable(const char *local, size_t n)
{
	if (n == 0 || !is_alnum(local[0]) || !is_alnum(local[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(local[i]) && !strchr(".-_", local[i]))
			return 0;
	return 1;
}

static enum userid_error from_addr_error(enum addr_error e)
{
	switch (e) {
	case ADDR_OK: return USERID_OK;
	case ADDR_EMPTY: return USERID_EMPTY;
	case ADDR_TOO_LONG: return USERID_TOO_LONG;
	default: return USERID_INVALID;
	}
}

/* The local part of a normalised address into lp (ADDR_LOCAL_MAX + 1). */
static size_t local_of(const char *addr, char *lp)
{
	size_t n = (size_t)(strrchr(addr, '@') - addr);
	memcpy(lp, addr, n);
	lp[n] = '\0';
	return n;
}

enum userid_error userid_check(const char *local, const char *domain,
                               const struct userid_reserved *r, char *out)
{
	char addr[ADDR_MAX + 2];        /* may still carry a root dot */
	char lp[ADDR_LOCAL_MAX + 1];
	out[0] = '\0';
	if (!local || !*local || !domain || !*domain)
		return USERID_EMPTY;
	for (const char *p = local; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return USERID_NON_ASCII;
	size_t llen = strlen(local), dlen = strlen(domain);
	if (llen > ADDR_LOCAL_MAX || llen + 1 + dlen > ADDR_MAX + 1)
		return USERID_TOO_LONG;
	memcpy(addr, local, llen);
	addr[llen] = '@';
	memcpy(addr + llen + 1, domain, dlen);
	enum addr_error ae = addr_normalize(addr, llen + 1 + dlen, out);
	if (ae != ADDR_OK)
		return from_addr_error(ae);
	size_t n = local_of(out, lp);
	/* Reserved before our character rule, so that postmaster+x is told
	 * it is reserved rather than merely invalid. */
	enum userid_error e = USERID_OK;
	if (is_reserved(r, lp))
		e = USERID_RESERVED;
	else if (!provisionable(lp, n))
		e = USERID_INVALID;
	if (e != USERID_OK)
		out[0] = '\0';
	return e;
}

/* ---- a person's name to a local part -------------------------------- */

/* What one character of a name becomes. */
enum chclass { CH_LETTERS, CH_DROP, CH_HYPHEN, CH_SEP, CH_UNKNOWN };

/* U+00C0..U+017F (Latin-1 Supplement letters, Latin Extended-A), each the
 * ASCII letter it is written as without its marks; ' ' is not a letter
 * (× ÷), '*' is written with two letters (see two_letters). */
static const char latin[] =
	"aaaaaa*ceeeeiiii"      /* C0 À Á Â Ã Ä Å Æ Ç È É Ê Ë Ì Í Î Ï */
	"dnooooo ouuuuy**"      /* D0 Ð Ñ Ò Ó Ô Õ Ö × Ø Ù Ú Û Ü Ý Þ ß */
	"aaaaaa*ceeeeiiii"      /* E0 à á â ã ä å æ ç è é ê ë ì í î ï */
	"dnooooo ouuuuy*y"      /* F0 ð ñ ò ó ô õ ö ÷ ø ù ú û ü ý þ ÿ */
	"aaaaaaccccccccdd"      /* 100 Ā ā Ă ă Ą ą Ć ć Ĉ ĉ Ċ ċ Č č Ď ď */
	"ddeeeeeeeeeegggg"      /* 110 Đ đ Ē ē Ĕ ĕ Ė ė Ę ę Ě ě Ĝ ĝ Ğ ğ */
	"gggghhhhiiiiiiii"      /* 120 Ġ ġ Ģ ģ Ĥ ĥ Ħ ħ Ĩ ĩ Ī ī Ĭ ĭ Į į */
	"ii**jjkkklllllll"      /* 130 İ ı Ĳ ĳ Ĵ ĵ Ķ ķ ĸ Ĺ ĺ Ļ ļ Ľ ľ Ŀ */
	"lllnnnnnnn**oooo"      /* 140 ŀ Ł ł Ń ń Ņ ņ Ň ň ŉ Ŋ ŋ Ō ō Ŏ ŏ */
	"oo**rrrrrrssssss"      /* 150 Ő ő Œ œ Ŕ ŕ Ŗ ŗ Ř ř Ś ś Ŝ ŝ Ş ş */
	"ssttttttuuuuuuuu"      /* 160 Š š Ţ ţ Ť ť Ŧ ŧ Ũ ũ Ū ū Ŭ ŭ Ů ů */
	"uuuuwwyyyzzzzzzs";     /* 170 Ű ű Ų ų Ŵ ŵ Ŷ ŷ Ÿ Ź ź Ż ż Ž ž ſ */

#define LATIN_FIRST 0xC0u
#define LATIN_LAST (LATIN_FIRST + sizeof latin - 2)

static const char *two_letters(uint32_t cp)
{
	switch (cp) {
	case 0xC6: case 0xE6: return "ae";      /* Æ æ */
	case 0xDE: case 0xFE: return "th";      /* Þ þ */
	case 0xDF: return "ss";                 /* ß */
	case 0x132: case 0x133: return "ij";    /* Ĳ ĳ */
	case 0x14A: case 0x14B: return "ng";    /* Ŋ ŋ */
	case 0x152: case 0x153: return "oe";    /* Œ œ */
	default: return "";     /* not reached: the unit test tries them all */
	}
}

/* Apostrophes, and what people type for one: ´ ʻ ʼ ‘ ’. */
static int is_apostrophe(uint32_t cp)
{
	return cp == '\'' || cp == '`' || cp == 0xB4 || cp == 0x2BB ||
	       cp == 0x2BC || cp == 0x2018 || cp == 0x2019;
}

static enum chclass classify_ascii(uint32_t cp, char one[2])
{
	if (cp >= 'A' && cp <= 'Z')
		cp += 'a' - 'A';
	one[0] = (char)cp;
	if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
		return CH_LETTERS;
	if (cp == '-')
		return CH_HYPHEN;
	return is_apostrophe(cp) ? CH_DROP : CH_SEP;
}

/* Sorts one code point; for CH_LETTERS *letters is what to write. */
static enum chclass classify(uint32_t cp, char one[2], const char **letters)
{
	one[1] = '\0';
	*letters = one;
	if (cp < 0x80)
		return classify_ascii(cp, one);
	if (cp >= LATIN_FIRST && cp <= LATIN_LAST) {
		one[0] = latin[cp - LATIN_FIRST];
		if (one[0] == '*')
			*letters = two_letters(cp);
		return one[0] == ' ' ? CH_SEP : CH_LETTERS;
	}
	if (cp >= 0x218 && cp <= 0x21B) {       /* Romanian Ș ș Ț ț */
		one[0] = cp < 0x21A ? 's' : 't';
		return CH_LETTERS;
	}
	/* soft hyphen and combining marks (a name typed decomposed) */
	if (is_apostrophe(cp) || cp == 0xAD || (cp >= 0x300 && cp <= 0x36F))
		return CH_DROP;
	if (cp == 0x2010 || cp == 0x2011)       /* hyphen, non-breaking */
		return CH_HYPHEN;
	/* C1 controls, no-break space, Latin-1 signs; General Punctuation */
	if (cp < LATIN_FIRST || (cp >= 0x2000 && cp <= 0x206F))
		return CH_SEP;
	return CH_UNKNOWN;
}

/* Decodes one UTF-8 sequence of s (n octets left): its length, or 0 when
 * invalid (bad or missing continuation, overlong, surrogate, > U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len;
	uint32_t c;
	if (s[0] < 0x80)
		len = 1, c = s[0];
	else if ((s[0] & 0xE0) == 0xC0)
		len = 2, c = s[0] & 0x1Fu;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3, c = s[0] & 0x0Fu;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4, c = s[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3Fu);
	}
	if (c < least[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* The local part being built from a name. */
struct namebuf {
	char s[ADDR_LOCAL_MAX + 1];
	size_t len;
	size_t limit;           /* the most octets the result may have */
	size_t cut;             /* length before the current word's joiner */
	char pending;           /* '.' or '-' to write before the next letter */
	int full;               /* limit reached: the rest is only checked */
	int toolong;            /* ... inside the first word: nowhere to cut */
};

static void nb_separator(struct namebuf *nb)
{
	if (nb->len > 0)
		nb->pending = '.';
}

/* A hyphen joins only two letters; next to a separator it is one. */
static void nb_hyphen(struct namebuf *nb)
{
	if (nb->len > 0 && nb->pending != '.')
		nb->pending = '-';
}

static void nb_letters(struct namebuf *nb, const char *t)
{
	size_t tlen = strlen(t);
	if (nb->full || tlen == 0)
		return;
	if (nb->pending)
		nb->cut = nb->len;
	if (nb->len + (nb->pending != 0) + tlen > nb->limit) {
		/* back to the last boundary: no half word, no joiner last */
		nb->full = 1;
		nb->len = nb->cut;
		nb->toolong = nb->cut == 0;
		return;
	}
	if (nb->pending)
		nb->s[nb->len++] = nb->pending;
	memcpy(nb->s + nb->len, t, tlen);
	nb->len += tlen;
	nb->pending = 0;
}

/* The reason goes to why, if there is room. */
#define say(why, whylen, ...) (void)fail_why(why, whylen, 0, __VA_ARGS__)

/* Feeds name into nb; USERID_OK or USERID_NON_ASCII (with why). */
static enum userid_error feed_name(struct namebuf *nb, const char *name,
                                   char *why, size_t whylen)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n = strlen(name), chars = 0;
	for (size_t i = 0, len; i < n; i += len) {
		uint32_t cp;
		char one[2];
		const char *letters;
		len = utf8_decode(p + i, n - i, &cp);
		if (len == 0) {
			say(why, whylen, "invalid UTF-8 at byte %zu (0x%02X)",
			    i + 1, p[i]);
			return USERID_NON_ASCII;
		}
		chars++;
		switch (classify(cp, one, &letters)) {
		case CH_LETTERS: nb_letters(nb, letters); break;
		case CH_HYPHEN: nb_hyphen(nb); break;
		case CH_SEP: nb_separator(nb); break;
		case CH_DROP: break;
		case CH_UNKNOWN:
			say(why, whylen, "\"%.*s\" (U+%04X, character %zu) has "
			    "no Latin spelling: type the name in Latin letters",
			    (int)len, name + i, (unsigned)cp, chars);
			return USERID_NON_ASCII;
		}
	}
	return USERID_OK;
}

enum userid_error userid_from_name(const char *name, char *local,
                                   size_t localmax, char *why, size_t whylen)
{
	struct namebuf nb = { .len = 0 };
	say(why, whylen, "%s", "");
	if (localmax == 0)
		return USERID_TOO_LONG;
	local[0] = '\0';
	nb.limit = localmax - 1 < ADDR_LOCAL_MAX ? localmax - 1
	                                         : ADDR_LOCAL_MAX;
	enum userid_error e = feed_name(&nb, name ? name : "", why, whylen);
	if (e != USERID_OK)
		return e;
	if (nb.toolong) {
		say(why, whylen, "the first word is longer than %zu letters",
		    nb.limit);
		return USERID_TOO_LONG;
	}
	if (nb.len == 0) {
		say(why, whylen, "the name has no letters or digits");
		return USERID_EMPTY;
	}
	memcpy(local, nb.s, nb.len);
	local[nb.len] = '\0';
	return USERID_OK;
}

/* ---- alternatives --------------------------------------------------- */

#define WORDS_MAX (ADDR_LOCAL_MAX / 2 + 1)

enum form {
	F_JOINED,               /* johnsmith */
	F_TWO,                  /* john.smith01 .. john.smith99 */
	F_THREE,                /* johnsmith123, johnsmith234 ... */
	F_INITIALS,             /* j.smith (jp.sartre) */
	F_REVERSED,             /* smith.john (sartre.jean.paul) */
	F_UNDERSCORE,           /* john_smith */
	F_DOTTED                /* john.smith, from john_smith */
};

/* The seed's order first (johnsmith, john.smith01, johnsmith123), so
 * that even three suggestions show every kind of change; then numbers,
 * a three-digit one every third, which are the likeliest to be free. */
static const enum form first_forms[] = {
	F_JOINED, F_TWO, F_THREE, F_INITIALS, F_REVERSED, F_UNDERSCORE, F_DOTTED
};
static const enum form later_forms[] = { F_TWO, F_TWO, F_THREE };
static const unsigned three_digit[] = { 123, 234, 345, 456, 567, 678, 789 };

#define NELEM(a) (sizeof (a) / sizeof (a)[0])

/* Generates candidate local parts from the wanted one. */
struct gen {
	const char *local;      /* normalised, provisionable */
	size_t start[WORDS_MAX], wlen[WORDS_MAX];
	size_t nwords;          /* split at '.' and '_'; '-' is in a word */
	size_t step;
	unsigned two;           /* next two-digit number */
	size_t three;           /* next index into three_digit */
};

static void gen_init(struct gen *g, const char *local)
{
	size_t i = 0, n = strlen(local);
	memset(g, 0, sizeof *g);
	g->local = local;
	g->two = 1;
	while (i < n && g->nwords < WORDS_MAX) {
		size_t w = strcspn(local + i, "._");
		if (w > 0) {
			g->start[g->nwords] = i;
			g->wlen[g->nwords++] = w;
		}
		i += w + 1;
	}
}

/* Words first..last-1 into out (ADDR_LOCAL_MAX + 1), each written whole
 * or as its initial, separated by sep (none if '\0'); after a non-empty
 * out, a first separator. Never longer than the wanted local part. */
static void put_words(const struct gen *g, char *out, size_t first,
                      size_t last, char sep, int initials)
{
	size_t n = strlen(out);
	for (size_t i = first; i < last; i++) {
		size_t w = initials ? 1 : g->wlen[i];
		if (n > 0 && sep)
			out[n++] = sep;
		memcpy(out + n, g->local + g->start[i], w);
		n += w;
	}
	out[n] = '\0';
}

/* base (blen octets) then num in digits, base cut (and stripped of a
 * trailing '.', '-', '_') so that the whole fits in 64 octets. */
static void numbered(const char *base, size_t blen, unsigned num,
                     int digits, char *out)
{
	size_t keep = blen < ADDR_LOCAL_MAX - (size_t)digits ?
	              blen : ADDR_LOCAL_MAX - (size_t)digits;
	while (keep > 0 && !is_alnum(base[keep - 1]))
		keep--;
	out[0] = '\0';
	if (keep > 0)
		snprintf(out, ADDR_LOCAL_MAX + 1, "%.*s%0*u", (int)keep, base,
		         digits, num);
}

static void make_form(struct gen *g, enum form f, char *out)
{
	char joined[ADDR_LOCAL_MAX + 1] = "";
	size_t last = g->nwords - 1;
	out[0] = '\0';
	switch (f) {
	case F_JOINED: put_words(g, out, 0, g->nwords, '\0', 0); break;
	case F_UNDERSCORE: put_words(g, out, 0, g->nwords, '_', 0); break;
	case F_DOTTED: put_words(g, out, 0, g->nwords, '.', 0); break;
	case F_TWO:
		numbered(g->local, strlen(g->local), g->two++, 2, out);
		break;
	case F_THREE:
		put_words(g, joined, 0, g->nwords, '\0', 0);
		numbered(joined, strlen(joined), three_digit[g->three++], 3,
		         out);
		break;
	case F_INITIALS:
		if (g->nwords < 2)
			break;
		put_words(g, out, 0, last, '\0', 1);
		put_words(g, out, last, g->nwords, '.', 0);
		break;
	case F_REVERSED:
		if (g->nwords < 2)
			break;
		put_words(g, out, last, g->nwords, '.', 0);
		put_words(g, out, 0, last, '.', 0);
		break;
	}
}

/* The next candidate into out ("" when a form does not apply); 0 when
 * every form is spent. */
static int gen_next(struct gen *g, char *out)
{
	enum form f;
	if (g->step < NELEM(first_forms)) {
		f = first_forms[g->step];
	} else {
		f = later_forms[(g->step - NELEM(first_forms)) %
		                NELEM(later_forms)];
		if (f == F_TWO && g->two > 99)
			f = F_THREE;
		if (f == F_THREE && g->three >= NELEM(three_digit))
			f = F_TWO;
		if (f == F_TWO && g->two > 99)
			return 0;
	}
	g->step++;
	make_form(g, f, out);
	return 1;
}

/* Local parts already put to is_free (or the wanted one). */
struct probed {
	char local[USERID_PROBE_MAX][ADDR_LOCAL_MAX + 1];
	size_t n;
};

static int probed_has(const struct probed *p, const char *local)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->local[i], local) == 0)
			return 1;
	return 0;
}

static void probed_add(struct probed *p, const char *local)
{
	strcpy(p->local[p->n++], local);
}

/* Fills suggestions for the taken address (normalised); see userid.h. */
static enum userid_error suggest(const char *address,
                                 const struct userid_reserved *r,
                                 userid_free_fn is_free, void *arg,
                                 char suggestions[][ADDR_MAX + 1],
                                 size_t want, size_t *nsuggestions)
{
	struct probed seen;
	struct gen g;
	char wanted[ADDR_LOCAL_MAX + 1], cand[ADDR_LOCAL_MAX + 1];
	char full[ADDR_MAX + 1];
	const char *domain = strrchr(address, '@') + 1;
	local_of(address, wanted);
	seen.n = 0;
	probed_add(&seen, wanted);
	gen_init(&g, wanted);
	while (*nsuggestions < want && seen.n < USERID_PROBE_MAX &&
	       gen_next(&g, cand)) {
		if (!cand[0] || probed_has(&seen, cand) ||
		    userid_check(cand, domain, r, full) != USERID_OK)
			continue;
		probed_add(&seen, cand);
		int f = is_free(full, arg);
		if (f < 0) {
			*nsuggestions = 0;
			return USERID_UNAVAILABLE;
		}
		if (f > 0)
			strcpy(suggestions[(*nsuggestions)++], full);
	}
	return USERID_TAKEN;
}

enum userid_error userid_inspect(const char *local, const char *domain,
                                 const struct userid_reserved *r,
                                 userid_free_fn is_free, void *arg,
                                 char *address,
                                 char suggestions[][ADDR_MAX + 1],
                                 size_t want, size_t *nsuggestions)
{
	*nsuggestions = 0;
	enum userid_error e = userid_check(local, domain, r, address);
	if (e != USERID_OK)
		return e;
	int f = is_free(address, arg);
	if (f < 0)
		return USERID_UNAVAILABLE;
	if (f > 0)
		return USERID_OK;
	return suggest(address, r, is_free, arg, suggestions, want,
	               nsuggestions);
}
