/* fuzz_pop3 - a POP3 session and the message formatter. The input is all
 * a client sends in the TRANSACTION state: lines read through netio's
 * bounded reader (as sq-pop3d's serve does), each parsed by popcmd and
 * served as sq-pop3d's command() serves it over a mailbox of three fixed
 * messages (STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, CAPA, QUIT),
 * the messages formatted by popmsg; then the whole input is formatted as
 * a message itself. sq-pop3d keeps that loop in its main file, with the
 * store and the keys, so it is repeated here around the same units.
 * Never crash; a parsed keyword is 3 or 4 upper-case letters; a number
 * accepted is in range; the formatted message ends in ".\r\n", has no
 * bare LF, and, unstuffed, is popmsg_size octets long. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzzio.h"
#include "popcmd.h"
#include "popmsg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

#define NMSG 3

static const char *const mailbox[NMSG] = {
	"From: a@example.org\nSubject: one\n\nbody\n.\n..two dots\n",
	"Subject: crlf\r\n\r\nline\r\n.\r\nlast line without end",
	"",
};

/* The checks on one parsed command line. */
static void parsed(const struct pop_cmd *c)
{
	unsigned long n, m;
	size_t v = strlen(c->verb);
	if (v < 3 || v > 4)
		abort();
	for (size_t i = 0; i < v; i++)
		if (!isupper((unsigned char)c->verb[i]))
			abort();
	if (popcmd_number(c->arg, 100, &n) == 0 && (n < 1 || n > 100))
		abort();
	if (popcmd_two_numbers(c->arg, 100, &n, &m) == 0 && (n < 1 || n > 100))
		abort();
}

/* A message the session names: its index, or -1 as sq-pop3d refuses. */
static long numbered(const char *arg, const unsigned char *deleted)
{
	unsigned long n;
	if (popcmd_number(arg, NMSG, &n) < 0 || n > NMSG || deleted[n - 1])
		return -1;
	return (long)n - 1;
}

static void send_message(size_t i, long lines)
{
	struct sbuf out;
	const char *msg = mailbox[i];
	sbuf_init(&out, 2 * strlen(msg) + 8);
	if (popmsg_format(msg, strlen(msg), lines, &out) < 0 || out.len < 3)
		abort();
	sbuf_free(&out);
}

/* One command of the TRANSACTION state; 1 at QUIT. */
static int serve(const struct pop_cmd *c, unsigned char *deleted)
{
	unsigned long n, lines;
	long i;
	char uid[POP_UIDL_MAX + 1];
	int noarg = !*c->arg;
	if (!strcmp(c->verb, "QUIT") && noarg)
		return 1;
	if (!strcmp(c->verb, "RETR") && (i = numbered(c->arg, deleted)) >= 0)
		send_message((size_t)i, -1);
	else if (!strcmp(c->verb, "TOP") &&
	         popcmd_two_numbers(c->arg, NMSG, &n, &lines) == 0 &&
	         n <= NMSG && !deleted[n - 1])
		send_message(n - 1, lines > LONG_MAX ? LONG_MAX : (long)lines);
	else if (!strcmp(c->verb, "DELE") && (i = numbered(c->arg, deleted)) >= 0)
		deleted[i] = 1;
	else if (!strcmp(c->verb, "RSET") && noarg)
		memset(deleted, 0, NMSG);
	else if (!strcmp(c->verb, "UIDL") && (i = numbered(c->arg, deleted)) >= 0)
		popmsg_uidl(mailbox[i], strlen(mailbox[i]), uid);
	else if (!strcmp(c->verb, "LIST") && (i = numbered(c->arg, deleted)) >= 0)
		popmsg_size(mailbox[i], strlen(mailbox[i]));
	return 0;
}

/* The session: every line the client sends, as sq-pop3d reads them. */
static void session(const uint8_t *data, size_t size)
{
	struct netio io;
	struct sbuf line;
	struct pop_cmd c;
	unsigned char deleted[NMSG] = { 0 };
	int fd = fuzz_netio_open(&io, data, size);
	sbuf_init(&line, POP_LINE_MAX);
	for (;;) {
		enum rbuf_line r = netio_getline(&io, &line, POP_LINE_MAX);
		if (r == RBUF_TOOLONG)
			continue;
		if (r != RBUF_LINE)
			break;
		if (popcmd_parse(&line, &c) < 0)
			continue;
		parsed(&c);
		if (serve(&c, deleted))
			break;
	}
	sbuf_free(&line);
	fuzz_netio_close(&io, fd);
}

static void message(const uint8_t *data, size_t size)
{
	struct sbuf out;
	sbuf_init(&out, 4 * size + 16);
	const char *msg = (const char *)data;
	if (popmsg_format(msg, size, -1, &out) < 0 || out.len < 3 ||
	    memcmp(out.s + out.len - 3, ".\r\n", 3))
		abort();
	size_t sent = out.len - 3;
	for (size_t i = 0; i < out.len; i++) {
		if (out.s[i] == '\n' && (i == 0 || out.s[i - 1] != '\r'))
			abort();
		if (out.s[i] == '.' && (i == 0 || out.s[i - 1] == '\n') &&
		    i + 3 < out.len)
			sent--; /* each line's stuffed dot */
	}
	if (sent != popmsg_size(msg, size))
		abort();
	sbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	session(data, size);
	message(data, size);
	return 0;
}
