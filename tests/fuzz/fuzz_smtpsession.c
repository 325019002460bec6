/* fuzz_smtpsession - a whole SMTP session as sq-smtpd reads it: the input
 * is everything the client sends, read through netio's bounded line
 * reader, each line parsed by smtpcmd and driven through the HELO, MAIL,
 * RCPT, DATA state machine; RCPT asks rcptcheck against a fixed control
 * directory (rcpthosts, locals, virtualdomains, postmaster), DATA reads
 * raw octets through smtpdata and gives the pipelined rest back, and an
 * accepted message's envelope is formatted and parsed again, as sq-seal
 * and the sealer will. sq-smtpd keeps its session in main(), so this
 * target repeats that loop (sq-smtpd.c: main, command, cmd_*) around the
 * very units it calls; keep the two in step.
 * Never crashes; an envelope survives its round trip; a message read
 * whole is at most databytes octets. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "fuzzio.h"
#include "receive/envelope.h"
#include "receive/rcptcheck.h"
#include "mail/smtpcmd.h"
#include "mail/smtpdata.h"
#include "util/control.h"

#define DATABYTES 4096          /* small: the limit is reached too */
#define MAXRCPT 5

static struct control ctl;
static struct rcptcheck rc;
static struct sbuf badmailfrom;

struct smtp {
	struct netio io;
	int helo, mail;
	char sender[ADDR_MAX + 1];
	char rcpt[MAXRCPT][ADDR_MAX + 1];
	size_t n;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char dir[512];
	size_t n;
	snprintf(dir, sizeof dir, "%s/control", fuzz_home("smtp"));
	fuzz_write_str(dir, "me", "mx.example.org\n");
	fuzz_write_str(dir, "rcpthosts", "example.org\n.example.net\n"
	               "relay.example.com\n");
	fuzz_write_str(dir, "locals", "example.org\n");
	fuzz_write_str(dir, "virtualdomains", "v.example.net:vv\n");
	fuzz_write_str(dir, "postmaster", "fuzz@example.org\n");
	fuzz_write_str(dir, "badmailfrom", "bad@example.org\n@spam.example\n");
	sbuf_init(&badmailfrom, CONTROL_FILE_MAX);
	if (control_open(&ctl, dir) < 0 || rcptcheck_init(&rc, &ctl) < 0 ||
	    control_readfile(&ctl, "badmailfrom", &badmailfrom, &n) < 0)
		abort();
	return 0;
}

static int bad_sender(const char *addr)
{
	const char *at = strrchr(addr, '@');
	for (const char *l = control_nextline(&badmailfrom, NULL); l;
	     l = control_nextline(&badmailfrom, l))
		if (!strcasecmp(l, addr) || (l[0] == '@' && at && !strcasecmp(l, at)))
			return 1;
	return 0;
}

static void cmd_mail(struct smtp *s, const char *arg)
{
	struct smtp_path p;
	if (!s->helo || s->mail || smtpcmd_mail_from(arg, &p) != PATH_OK ||
	    p.size > DATABYTES || bad_sender(p.addr))
		return;
	if (strlen(p.addr) > ADDR_MAX)
		abort();
	snprintf(s->sender, sizeof s->sender, "%s", p.addr);
	s->mail = 1;
}

static void cmd_rcpt(struct smtp *s, const char *arg)
{
	struct smtp_path p;
	if (!s->mail || smtpcmd_rcpt_to(arg, &p) != PATH_OK || s->n >= MAXRCPT)
		return;
	if (rcptcheck(&rc, p.addr) == RCPT_OK)
		snprintf(s->rcpt[s->n++], ADDR_MAX + 1, "%s", p.addr);
}

/* The envelope sq-smtpd hands to sq-seal, read back as the sealer does. */
static void envelope_round_trip(const struct smtp *s)
{
	const char *rcpt[MAXRCPT];
	struct sbuf env;
	struct envelope e;
	for (size_t i = 0; i < s->n; i++)
		rcpt[i] = s->rcpt[i];
	sbuf_init(&env, 1 << 20);
	if (envelope_format(&env, s->sender, rcpt, s->n) < 0)
		abort();
	/* every address fits (ADDR_MAX) and none is empty: it must parse */
	if (envelope_parse(&e, env.s, env.len) < 0)
		abort();
	if (strcmp(e.sender, s->sender) || e.n != s->n)
		abort();
	for (size_t i = 0; i < e.n; i++)
		if (strcmp(e.rcpt[i], s->rcpt[i]))
			abort();
	envelope_free(&e);
	sbuf_free(&env);
}

/* DATA as read_data does it; 1 when the connection must close. */
static int cmd_data(struct smtp *s)
{
	struct smtpdata d;
	struct sbuf msg;
	char buf[512]; /* small reads: the end falls across them */
	int fatal = 0;
	if (!s->mail || s->n == 0)
		return 0;
	sbuf_init_secret(&msg, DATABYTES + 1);
	smtpdata_init(&d, DATABYTES);
	while (!fatal && !smtpdata_done(&d)) {
		ssize_t n = netio_read(&s->io, buf, sizeof buf);
		size_t used = n > 0 ? smtpdata_feed(&d, buf, (size_t)n, &msg) : 0;
		fatal = n <= 0 || smtpdata_bare(&d);
		if (!fatal && used < (size_t)n && smtpdata_done(&d))
			rbuf_unread(&s->io.in, (size_t)n - used);
	}
	if (!fatal && msg.len > DATABYTES)
		abort();
	if (!fatal && !smtpdata_too_big(&d) && !smtpdata_error(&d) &&
	    msg.len != smtpdata_octets(&d))
		abort();
	if (!fatal)
		envelope_round_trip(s);
	sbuf_free(&msg);
	s->mail = 0;
	s->n = 0;
	return fatal;
}

/* One command; 1 to end the session. */
static int command(struct smtp *s, const struct smtp_cmd *c)
{
	switch (c->verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
		/* RELAYCLIENT comes from the environment; here a HELO of
		 * "relay" stands for it, so both views are fuzzed */
		rc.relayclient = strcmp(c->arg, "relay") == 0;
		s->helo = 1;
		s->mail = 0;
		s->n = 0;
		return 0;
	case SMTP_MAIL: cmd_mail(s, c->arg); return 0;
	case SMTP_RCPT: cmd_rcpt(s, c->arg); return 0;
	case SMTP_DATA: return cmd_data(s);
	case SMTP_RSET: s->mail = 0; s->n = 0; return 0;
	case SMTP_QUIT: return 1;
	default: return 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp s;
	struct sbuf line;
	memset(&s, 0, sizeof s);
	int fd = fuzz_netio_open(&s.io, data, size);
	sbuf_init(&line, SMTP_LINE_MAX + 2);
	for (;;) {
		struct smtp_cmd c;
		enum rbuf_line r = netio_getline(&s.io, &line, SMTP_LINE_MAX + 2);
		if (r == RBUF_EOF || r == RBUF_ERROR)
			break;
		if (r == RBUF_TOOLONG)
			continue;
		size_t len = line.len;
		while (len && (line.s[len - 1] == '\n' || line.s[len - 1] == '\r'))
			len--;
		sbuf_truncate(&line, len);
		if (smtpcmd_parse(line.s, len, &c) == 0 && command(&s, &c))
			break;
	}
	sbuf_free(&line);
	fuzz_netio_close(&s.io, fd);
	return 0;
}
