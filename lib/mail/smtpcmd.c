/*
 * smtpcmd - SMTP command lines and MAIL/RCPT paths (RFC 5321 4.1). See
 * smtpcmd.h.
 *
 * The scanners below each take a pointer into a NUL-terminated string and
 * return the end of what they matched, or NULL; the NUL never matches any
 * class, so no scanner runs off the end.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "mail/smtpcmd.h"

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "RSET", SMTP_RSET },
	{ "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT }, { "VRFY", SMTP_VRFY },
	{ "HELP", SMTP_HELP }, { "STARTTLS", SMTP_STARTTLS },
};

static enum smtp_verb lookup_verb(const char *word, size_t n)
{
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (strlen(verbs[i].name) == n &&
		    strncasecmp(word, verbs[i].name, n) == 0)
			return verbs[i].verb;
	}
	return SMTP_UNKNOWN;
}

int smtpcmd_parse(const char *line, size_t len, struct smtp_cmd *out)
{
	out->verb = SMTP_UNKNOWN;
	out->arg = "";
	if (len > SMTP_LINE_MAX || line[len] != '\0' || strlen(line) != len)
		return -1;
	size_t word = strcspn(line, " ");
	const char *arg = line + word;
	while (*arg == ' ')
		arg++;
	out->verb = lookup_verb(line, word);
	out->arg = arg;
	return 0;
}

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* RFC 5322 atext: letters, digits and these specials. */
static int is_atext(unsigned char c)
{
	return is_alnum(c) ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Dot-string: atoms of atext separated by single dots. */
static const char *scan_dot_string(const char *s)
{
	for (;;) {
		const char *atom = s;
		while (is_atext((unsigned char)*s))
			s++;
		if (s == atom)
			return NULL;
		if (*s != '.')
			return s;
		s++;
	}
}

/* Quoted-string: printable ASCII and space between double quotes, with '"'
 * and '\' only as a quoted-pair (a backslash and any printable or space). */
static const char *scan_quoted(const char *s)
{
	if (*s != '"')
		return NULL;
	for (s++; *s != '"'; s++) {
		if (*s == '\\')
			s++;
		if ((unsigned char)*s < 32 || (unsigned char)*s > 126)
			return NULL;
	}
	return s + 1;
}

/* Domain: labels of 1-63 letters, digits and inner hyphens. A trailing
 * root dot is not RFC 5321 syntax and is refused. */
static const char *scan_domain(const char *s)
{
	for (;;) {
		const char *label = s;
		while (is_alnum((unsigned char)*s) || *s == '-')
			s++;
		size_t n = (size_t)(s - label);
		if (n == 0 || n > 63 || label[0] == '-' || s[-1] == '-')
			return NULL;
		if (*s != '.')
			return s;
		s++;
	}
}

/* Snum: one to three digits, at most 255. */
static const char *scan_snum(const char *s)
{
	unsigned v = 0;
	int n = 0;
	while (n < 3 && *s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned)(*s++ - '0');
		n++;
	}
	return n > 0 && v <= 255 ? s : NULL;
}

static const char *scan_ipv4(const char *s)
{
	for (int i = 0; i < 4 && s; i++) {
		if (i > 0) {
			if (*s != '.')
				return NULL;
			s++;
		}
		s = scan_snum(s);
	}
	return s;
}

/* The RFC 5321 IPv6 forms (full, compressed, with an IPv4 tail) are
 * exactly what inet_pton accepts. */
static const char *scan_ipv6(const char *s)
{
	char text[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	size_t n = strspn(s, "0123456789abcdefABCDEF:.");
	if (n == 0 || n >= sizeof text)
		return NULL;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, bin) == 1 ? s + n : NULL;
}

/* address-literal: [IPv4] or [IPv6:...]; no general literal tag is
 * registered, so those are refused. */
static const char *scan_literal(const char *s)
{
	if (*s != '[')
		return NULL;
	s++;
	s = strncasecmp(s, "IPv6:", 5) == 0 ? scan_ipv6(s + 5) : scan_ipv4(s);
	return s && *s == ']' ? s + 1 : NULL;
}

static const char *scan_mailbox(const char *s)
{
	s = *s == '"' ? scan_quoted(s) : scan_dot_string(s);
	if (!s || *s != '@')
		return NULL;
	s++;
	return *s == '[' ? scan_literal(s) : scan_domain(s);
}

/* A-d-l ":" ("@a,@b:") in front of the mailbox: obsolete, so checked and
 * dropped (RFC 5321 appendix C). Returns s itself when there is none. */
static const char *skip_route(const char *s)
{
	if (*s != '@')
		return s;
	for (;;) {
		s = scan_domain(s + 1);
		if (!s)
			return NULL;
		if (*s == ':')
			return s + 1;
		if (s[0] != ',' || s[1] != '@')
			return NULL;
		s++;
	}
}

/* "<Postmaster>" without a domain (RFC 5321 4.5.1), RCPT only. */
static int is_bare_postmaster(const char *open)
{
	return strncasecmp(open, "<postmaster>", 12) == 0;
}

/* Parses the path starting at *sp into p; on success *sp is just past
 * its '>'. The length is checked after the syntax, so that it is measured
 * on a path whose end is known. */
static enum smtp_path_error parse_path(const char **sp, struct smtp_path *p,
                                       int rcpt)
{
	const char *open = *sp;
	if (*open != '<')
		return PATH_SYNTAX;
	if (open[1] == '>') {
		p->null = 1;
		*sp = open + 2;
		return rcpt ? PATH_NULL_NOT_ALLOWED : PATH_OK;
	}
	if (rcpt && is_bare_postmaster(open)) {
		strcpy(p->addr, "postmaster");
		*sp = open + 12;
		return PATH_OK;
	}
	const char *box = skip_route(open + 1);
	const char *end = box ? scan_mailbox(box) : NULL;
	if (!end || *end != '>')
		return PATH_SYNTAX;
	size_t n = (size_t)(end - box);
	if ((size_t)(end + 1 - open) > SMTP_PATH_MAX || n > ADDR_MAX)
		return PATH_TOO_LONG;
	memcpy(p->addr, box, n);
	p->addr[n] = '\0';
	*sp = end + 1;
	return PATH_OK;
}

/* SIZE=digits (RFC 1870), refusing an empty value and overflow. */
static enum smtp_path_error param_size(const char *v, size_t n,
                                       struct smtp_path *p)
{
	unsigned long long size = 0;
	if (n == 0)
		return PATH_BAD_PARAM;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return PATH_BAD_PARAM;
		unsigned d = (unsigned)(v[i] - '0');
		if (size > (ULLONG_MAX - d) / 10)
			return PATH_BAD_PARAM;
		size = size * 10 + d;
	}
	p->size = size;
	return PATH_OK;
}

/* BODY=7BIT or BODY=8BITMIME (RFC 6152). */
static enum smtp_path_error param_body(const char *v, size_t n,
                                       struct smtp_path *p)
{
	if (n == 4 && strncasecmp(v, "7BIT", 4) == 0)
		p->body8 = 0;
	else if (n == 8 && strncasecmp(v, "8BITMIME", 8) == 0)
		p->body8 = 1;
	else
		return PATH_BAD_PARAM;
	return PATH_OK;
}

#define SEEN_SIZE 1
#define SEEN_BODY 2

/* One "KEY=value" word of n octets; a keyword given twice is malformed. */
static enum smtp_path_error parse_param(const char *w, size_t n,
                                        struct smtp_path *p, int *seen)
{
	if (n >= 5 && strncasecmp(w, "SIZE=", 5) == 0 &&
	    !(*seen & SEEN_SIZE)) {
		*seen |= SEEN_SIZE;
		return param_size(w + 5, n - 5, p);
	}
	if (n >= 5 && strncasecmp(w, "BODY=", 5) == 0 &&
	    !(*seen & SEEN_BODY)) {
		*seen |= SEEN_BODY;
		return param_body(w + 5, n - 5, p);
	}
	return PATH_BAD_PARAM;
}

/* What follows the path: nothing, or spaces and parameters (spaces are
 * tolerated in runs and at the end, as clients send them). */
static enum smtp_path_error parse_params(const char *s, struct smtp_path *p,
                                         int rcpt)
{
	int seen = 0;
	if (*s != '\0' && *s != ' ')
		return PATH_SYNTAX;
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return PATH_OK;
		if (rcpt)
			return PATH_BAD_PARAM;
		size_t n = strcspn(s, " ");
		enum smtp_path_error e = parse_param(s, n, p, &seen);
		if (e != PATH_OK)
			return e;
		s += n;
	}
}

/* "FROM:" / "TO:", case-insensitive, then any spaces. */
static const char *after_keyword(const char *arg, const char *kw)
{
	size_t n = strlen(kw);
	if (strncasecmp(arg, kw, n) != 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	return arg;
}

static enum smtp_path_error parse_arg(const char *arg, const char *kw,
                                      struct smtp_path *p, int rcpt)
{
	memset(p, 0, sizeof *p);
	const char *s = after_keyword(arg, kw);
	enum smtp_path_error e = s ? parse_path(&s, p, rcpt) : PATH_SYNTAX;
	if (e == PATH_OK)
		e = parse_params(s, p, rcpt);
	if (e != PATH_OK)
		memset(p, 0, sizeof *p);
	return e;
}

enum smtp_path_error smtpcmd_mail_from(const char *arg, struct smtp_path *p)
{
	return parse_arg(arg, "FROM:", p, 0);
}

enum smtp_path_error smtpcmd_rcpt_to(const char *arg, struct smtp_path *p)
{
	return parse_arg(arg, "TO:", p, 1);
}

const char *smtpcmd_strerror(enum smtp_path_error e)
{
	switch (e) {
	case PATH_OK:
		return "ok";
	case PATH_SYNTAX:
		return "syntax error in the path";
	case PATH_TOO_LONG:
		return "path too long";
	case PATH_BAD_PARAM:
		return "parameter not recognised";
	case PATH_NULL_NOT_ALLOWED:
		return "the null path cannot be a recipient";
	}
	return "unknown error";
}
