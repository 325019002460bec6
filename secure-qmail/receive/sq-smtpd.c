/*
 * NAME
 *	sq-smtpd - receive mail over SMTP for the subscribers
 * SYNOPSIS
 *	sq-smtpd -l [-u user] [host:port ...]
 *	tcpserver ... sq-smtpd
 * DESCRIPTION
 *	One process per connection, reading the ucspi-tcp environment
 *	(TCPREMOTEIP, TCPREMOTEHOST, TCPLOCALIP, TCPLOCALHOST, RELAYCLIENT):
 *	under tcpserver, or forked without an exec by its own listener (-l:
 *	tcplisten, tcpserver's rules and environment, then the same
 *	session).
 *	Commands: EHLO, HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, VRFY (252),
 *	HELP and STARTTLS; extensions PIPELINING, SIZE, 8BITMIME,
 *	ENHANCEDSTATUSCODES and STARTTLS. Recipients are our subscribers
 *	(users/cdb, with a key: rcptcheck) or, for a relay client, anyone in
 *	control/rcpthosts's domains; a missing rcpthosts admits no one. The
 *	message goes, with a Received: line, to sq-sealerd over run/sealer
 *	(as sq-seal would hand it, without running sq-seal), which seals it
 *	before it is stored; or, when $QMAILQUEUE is set, to that qmail-queue
 *	program. 250 comes only after the queue has it on disk.
 * SECURITY
 *	Talks to the Internet. Runs as sqmaild, holds no keys and never writes
 *	the queue itself. Every line it reads is bounded (RFC 5321 4.5.3.1:
 *	512 octets for a command, 1000 for a line of text), and the message
 *	by control/databytes (DATABYTES_DEFAULT when 0 or missing); a bare LF
 *	or CR in DATA ends the session with 451 (no SMTP smuggling); input
 *	pipelined before the TLS handshake is discarded. The message is held
 *	in a secret sbuf (no copies left as it grows) with core dumps off.
 * STANDARDS
 *	RFC 5321, RFC 1870 (SIZE), RFC 2920 (PIPELINING), RFC 3207 (STARTTLS),
 *	RFC 2034 (ENHANCEDSTATUSCODES), RFC 6152 (8BITMIME), RFC 5322
 * DIAGNOSTICS
 *	One line per message and per refusal on stderr.
 * SEE ALSO
 *	sq-seal(8), sq-queue(8), sq-control(5), tcpserver(1)
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "util/control.h"
#include "receive/databytes.h"
#include "auto_users.h"
#include "util/die.h"
#include "queue/fdpass.h"
#include "receive/envelope.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "util/privdrop.h"
#include "queue/qqcodes.h"
#include "queue/queueprog.h"
#include "receive/rcptcheck.h"
#include "net/tcplisten.h"
#include "util/secretfd.h"
#include "mail/smtpcmd.h"
#include "mail/smtpdata.h"
#include "net/netio.h"

#define RCPT_MAX_DEFAULT 100
#define RCPT_MAX 100000
#define TIMEOUT_DEFAULT 1200
#define TIMEOUT_MAX 86400
#define HOPS_MAX 100            /* qmail's MAXHOPS */

struct session {
	struct control ctl;
	struct netio io;
	struct rcptcheck rcpt;
	char me[256];
	char greeting[512];
	char remoteip[64], remotehost[256];
	char localip[64], localhost[256];       /* "" when not set */
	char helo[256];
	int seen_helo, esmtp;
	char sender[ADDR_MAX + 1];
	int seen_mail;
	char **rcpts;
	size_t nrcpt;
	unsigned long maxrcpt, databytes, timeout;
	struct sbuf badmailfrom;
	char qqprogram[SQ_PATH_MAX];
	char tlscert[SQ_PATH_MAX];
	int tls_possible;
};

/* ---- configuration --------------------------------------------------- */

/* Tells the client to come back later (a 421, as qmail-smtpd says when
 * it cannot read its control files), logs why and exits 111. */
static void unavailable(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static void unavailable(const char *fmt, ...)
{
	static const char reply[] = "421 4.3.0 temporarily unavailable, "
	                            "try again later\r\n";
	char why[SQLOG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	ssize_t w = write(1, reply, sizeof reply - 1);
	(void)w;
	die_sys_temp("%s", why);
}

/* Keeps only printable ASCII of what the client or the environment says,
 * for the log and the Received: line (a header must not be broken). */
static void printable(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	for (; *src && i + 1 < n; src++)
		dst[i++] = *src > ' ' && *src < 127 ? *src : '?';
	dst[i] = '\0';
}

static void line_or(struct session *s, const char *name, int flagme,
                    const char *def, char *out, size_t n)
{
	struct sbuf v;
	sbuf_init(&v, CONTROL_LINE_MAX);
	if (control_rldef(&s->ctl, name, flagme, def, &v) < 0)
		unavailable("control/%s: %s", name, strerror(errno));
	snprintf(out, n, "%s", v.s ? v.s : "");
	sbuf_free(&v);
}

/* A number in [min, max] from control/name, def if there is no file; a
 * value out of range is refused like an unparsable one (421), since
 * maxrcpt 0 would refuse every recipient and timeoutsmtpd 0 time every
 * session out. */
static unsigned long number(struct session *s, const char *name,
                            unsigned long min, unsigned long max,
                            unsigned long def)
{
	unsigned long v = def;
	if (control_readulong(&s->ctl, name, ULONG_MAX, &v) < 0)
		unavailable("control/%s: %s", name, strerror(errno));
	if (v < min || v > max)
		unavailable("control/%s: %lu is out of range (%lu to %lu)", name,
		            v, min, max);
	return v;
}

/* The ucspi-tcp environment, made printable; unset is "unknown" for the
 * client and "" for our own end. */
static void environment(struct session *s)
{
	const char *v;
	v = getenv("TCPREMOTEIP");
	printable(s->remoteip, sizeof s->remoteip, v ? v : "unknown");
	v = getenv("TCPREMOTEHOST");
	printable(s->remotehost, sizeof s->remotehost, v ? v : "unknown");
	v = getenv("TCPLOCALIP");
	printable(s->localip, sizeof s->localip, v ? v : "");
	v = getenv("TCPLOCALHOST");
	printable(s->localhost, sizeof s->localhost, v ? v : "");
}

static void configure(struct session *s)
{
	char dir[SQ_PATH_MAX];
	size_t n;
	if (sq_path(dir, sizeof dir, "control") < 0 || control_open(&s->ctl, dir) < 0)
		unavailable("cannot open the control directory");
	line_or(s, "me", 0, "localhost", s->me, sizeof s->me);
	line_or(s, "smtpgreeting", 1, s->me, s->greeting, sizeof s->greeting);
	s->databytes = number(s, "databytes", 0, DATABYTES_MAX, 0);
	if (s->databytes == 0)
		s->databytes = DATABYTES_DEFAULT;
	s->maxrcpt = number(s, "maxrcpt", 1, RCPT_MAX, RCPT_MAX_DEFAULT);
	s->timeout = number(s, "timeoutsmtpd", 1, TIMEOUT_MAX, TIMEOUT_DEFAULT);
	sbuf_init(&s->badmailfrom, CONTROL_FILE_MAX);
	if (control_readfile(&s->ctl, "badmailfrom", &s->badmailfrom, &n) < 0 ||
	    rcptcheck_init(&s->rcpt, &s->ctl) < 0)
		unavailable("control: %s", strerror(errno));
	/* no QMAILQUEUE: the sealer, straight (qqprogram stays empty) */
	const char *qq = getenv("QMAILQUEUE");
	if (qq && *qq && path_join(s->qqprogram, sizeof s->qqprogram, qq,
	                           NULL) < 0)
		unavailable("path too long");
	environment(s);
}

/* STARTTLS is offered when control/servercert.pem is readable. It is
 * loaded only when asked for: OpenSSL's initialisation costs a few
 * milliseconds, which a session without TLS need not pay. */
static void configure_tls(struct session *s)
{
	s->tls_possible = sq_path(s->tlscert, sizeof s->tlscert,
	                          "control/servercert.pem") == 0 &&
	                  access(s->tlscert, R_OK) == 0;
}

/* ---- the transaction --------------------------------------------------- */

/* In a session, the 421 goes through the session (it may be TLS). */
static void out_of_memory(struct session *s) __attribute__((noreturn));
static void out_of_memory(struct session *s)
{
	netio_reply(&s->io, "421 4.3.0 out of memory, try again later");
	netio_flush(&s->io);
	die_sys_temp("%s: out of memory", s->remoteip);
}


static void clear_transaction(struct session *s)
{
	for (size_t i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpt = 0;
	s->seen_mail = 0;
	s->sender[0] = '\0';
}

static int bad_sender(struct session *s, const char *addr)
{
	const char *at = strrchr(addr, '@');
	for (const char *l = control_nextline(&s->badmailfrom, NULL); l;
	     l = control_nextline(&s->badmailfrom, l))
		if (!strcasecmp(l, addr) || (l[0] == '@' && at && !strcasecmp(l, at)))
			return 1;
	return 0;
}

/* ---- commands ----------------------------------------------------------- */

static void cmd_helo(struct session *s, const char *arg, int esmtp)
{
	printable(s->helo, sizeof s->helo, *arg ? arg : "unknown");
	clear_transaction(s);
	s->seen_helo = 1;
	s->esmtp = esmtp;
	if (!esmtp) {
		netio_reply(&s->io, "250 %s", s->me);
		return;
	}
	netio_reply(&s->io, "250-%s", s->me);
	netio_reply(&s->io, "250-PIPELINING");
	netio_reply(&s->io, "250-8BITMIME");
	netio_reply(&s->io, "250-ENHANCEDSTATUSCODES");
	if (s->tls_possible && !s->io.ssl)
		netio_reply(&s->io, "250-STARTTLS");
	netio_reply(&s->io, "250 SIZE %lu", s->databytes);
}

static void cmd_mail(struct session *s, const char *arg)
{
	struct smtp_path p;
	if (!s->seen_helo) {
		netio_reply(&s->io, "503 5.5.1 send HELO or EHLO first");
		return;
	}
	if (s->seen_mail) {
		netio_reply(&s->io, "503 5.5.1 nested MAIL command");
		return;
	}
	enum smtp_path_error e = smtpcmd_mail_from(arg, &p);
	if (e != PATH_OK) {
		netio_reply(&s->io, "%s %s", e == PATH_BAD_PARAM ? "555 5.5.4"
		             : "501 5.1.7", smtpcmd_strerror(e));
		return;
	}
	if (p.size > s->databytes) {
		netio_reply(&s->io, "552 5.3.4 message size exceeds the limit "
		             "of %lu octets", s->databytes);
		return;
	}
	if (bad_sender(s, p.addr)) {
		log_msg(SQLOG_INFO, "%s: bad sender refused", s->remoteip);
		netio_reply(&s->io, "553 5.7.1 sorry, your envelope sender is in "
		             "my badmailfrom list");
		return;
	}
	snprintf(s->sender, sizeof s->sender, "%s", p.addr);
	s->seen_mail = 1;
	netio_reply(&s->io, "250 2.1.0 ok");
}

static void cmd_rcpt(struct session *s, const char *arg)
{
	struct smtp_path p;
	if (!s->seen_mail) {
		netio_reply(&s->io, "503 5.5.1 MAIL first");
		return;
	}
	enum smtp_path_error e = smtpcmd_rcpt_to(arg, &p);
	if (e != PATH_OK) {
		netio_reply(&s->io, "%s %s", e == PATH_BAD_PARAM ? "555 5.5.4"
		             : "501 5.1.3", smtpcmd_strerror(e));
		return;
	}
	if (s->nrcpt >= s->maxrcpt) {
		netio_reply(&s->io, "452 4.5.3 too many recipients");
		return;
	}
	switch (rcptcheck(&s->rcpt, p.addr)) {
	case RCPT_OK:
		break;
	case RCPT_NO_RELAY:
		log_msg(SQLOG_INFO, "%s: relaying refused", s->remoteip);
		netio_reply(&s->io, "553 5.7.1 sorry, that domain isn't in my "
		             "list of allowed rcpthosts");
		return;
	case RCPT_UNKNOWN:
		netio_reply(&s->io, "550 5.1.1 no such user here");
		return;
	case RCPT_NO_KEY:
		log_msg(SQLOG_ALERT, "a subscriber without a key was refused");
		netio_reply(&s->io, "550 5.7.1 this recipient cannot receive "
		             "sealed mail");
		return;
	default:
		netio_reply(&s->io, "451 4.3.0 the key store is unavailable; "
		             "try again later");
		return;
	}
	char **grown = realloc(s->rcpts, (s->nrcpt + 1) * sizeof *grown);
	if (!grown || !(grown[s->nrcpt] = strdup(p.addr)))
		out_of_memory(s);
	s->rcpts = grown;
	s->nrcpt++;
	netio_reply(&s->io, "250 2.1.5 ok");
}

/* An IP address as an address literal (RFC 5321 4.1.3). */
static void literal(char *dst, size_t n, const char *ip)
{
	snprintf(dst, n, "[%s%s]", strchr(ip, ':') ? "IPv6:" : "", ip);
}

/* The Received: line, with what the client said about itself made
 * printable, and the TLS cipher when there is one. Our end is named as
 * qmail-smtpd names it, by TCPLOCALHOST (else control/me), with
 * TCPLOCALIP as its TCP-info when known (RFC 5321 4.4). */
static int received(struct session *s, struct sbuf *msg)
{
	char date[64], from[80], lit[80], by[90] = "";
	time_t now = time(NULL);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", gmtime(&now));
	literal(from, sizeof from, s->remoteip);
	if (s->localip[0]) {
		literal(lit, sizeof lit, s->localip);
		snprintf(by, sizeof by, " (%s)", lit);
	}
	return sbuf_printf(msg, "Received: from %s (%s %s)\n\tby %s%s "
	                   "(secure-qmail) with %s%s%s%s;\n\t%s\n", s->helo,
	                   s->remotehost, from,
	                   s->localhost[0] ? s->localhost : s->me, by,
	                   s->esmtp ? (s->io.ssl ? "ESMTPS" : "ESMTP") : "SMTP",
	                   s->io.ssl ? " (" : "", s->io.ssl ? s->io.cipher : "",
	                   s->io.ssl ? ")" : "", date);
}

/* The message read whole: 0 to queue it, or the refusal sent and -1. */
static int data_verdict(struct session *s, const struct smtpdata *d)
{
	if (smtpdata_too_big(d)) {
		log_msg(SQLOG_INFO, "%s: message over %lu octets refused",
		        s->remoteip, s->databytes);
		netio_reply(&s->io, "552 5.3.4 message size exceeds the limit "
		             "of %lu octets", s->databytes);
		return -1;
	}
	if (smtpdata_long_line(d)) {
		log_msg(SQLOG_INFO, "%s: message with a line over %d octets "
		        "refused", s->remoteip, SMTPDATA_LINE_MAX);
		netio_reply(&s->io, "554 5.6.0 message has a line over %d octets "
		             "(RFC 5321 4.5.3.1.6)", SMTPDATA_LINE_MAX);
		return -1;
	}
	if (smtpdata_hops(d) > HOPS_MAX) {
		log_msg(SQLOG_INFO, "%s: message with over %d hops refused",
		        s->remoteip, HOPS_MAX);
		netio_reply(&s->io, "554 5.4.6 too many hops: a mail loop?");
		return -1;
	}
	if (smtpdata_error(d)) {
		log_msg(SQLOG_WARN, "%s: cannot hold the message: %s",
		        s->remoteip, strerror(smtpdata_error(d)));
		netio_reply(&s->io, "451 4.3.0 cannot hold the message now; "
		             "try again later");
		return -1;
	}
	return 0;
}

/* Reads DATA into msg; 0, or the reply sent and -1 (connection to close
 * when *fatal). */
static int read_data(struct session *s, struct sbuf *msg, int *fatal)
{
	struct smtpdata d;
	char buf[8192];
	*fatal = 0;
	smtpdata_init(&d, s->databytes);
	while (!smtpdata_done(&d)) {
		ssize_t n = netio_read(&s->io, buf, sizeof buf);
		if (n <= 0) {
			explicit_bzero(buf, sizeof buf);
			*fatal = 1;
			netio_reply(&s->io, "451 4.4.2 timeout or connection lost");
			return -1;
		}
		size_t used = smtpdata_feed(&d, buf, (size_t)n, msg);
		if (smtpdata_bare(&d)) {
			log_msg(SQLOG_WARN, "%s: bare LF or CR in DATA", s->remoteip);
			explicit_bzero(buf, sizeof buf);
			*fatal = 1;
			netio_reply(&s->io, "451 4.6.0 see "
			             "https://cr.yp.to/docs/smtplf.html");
			return -1;
		}
		/* what came after the end is the next command: put it back */
		if (used < (size_t)n && smtpdata_done(&d))
			rbuf_unread(&s->io.in, (size_t)n - used);
	}
	explicit_bzero(buf, sizeof buf);
	return data_verdict(s, &d);
}

/* Hands the message and envelope to sq-sealerd as sq-seal would, without
 * running it (a fork and exec per message saved); its exit code, or -1. */
static int seal_message(struct session *s, const struct sbuf *msg,
                        const struct sbuf *env)
{
	char answer[600];
	struct fdpass_feed in[2] = { { msg->s ? msg->s : "", msg->len },
	                             { env->s, env->len } };
	ssize_t n = fdpass_ask_feed(s->rcpt.sealer, "QUEUE\n", 6, in, 2,
	                            s->rcpt.sealwait, answer, sizeof answer);
	if (n <= 0) {
		log_msg(SQLOG_WARN, "%s: sq-sealerd gave no answer%s: %s",
		        s->remoteip, n < 0 && errno == EAGAIN
		                     ? " in time (control/sealwait)" : "",
		        n < 0 ? strerror(errno) : "closed");
		return -1;
	}
	int code = fdpass_answer_code(answer);
	if (code < 0)
		log_msg(SQLOG_WARN, "%s: sq-sealerd answered nonsense",
		        s->remoteip);
	else if (code)
		log_msg(SQLOG_WARN, "%s: sq-sealerd: %s", s->remoteip, answer);
	return code;
}

/* Runs the qmail-queue program (or, by default, asks the sealer) with the
 * message and envelope; its exit code, or -1. */
static int queue_message(struct session *s, const struct sbuf *msg,
                         const struct sbuf *env)
{
	if (!s->qqprogram[0])
		return seal_message(s, msg, env);
	/* sq-seal waits control/sealwait for the sealer; a little more here,
	 * so its 71 comes first, and never a hang */
	int code = queueprog_run_within(s->qqprogram, "sq-seal",
	                                msg->s ? msg->s : "", msg->len, env->s,
	                                env->len, s->rcpt.sealwait + 5);
	if (code < 0 && errno == ETIMEDOUT)
		log_msg(SQLOG_WARN, "%s: %s gave no answer in time "
		        "(control/sealwait)", s->remoteip, s->qqprogram);
	else if (code < 0 && errno)
		log_msg(SQLOG_ALERT, "cannot run %s: %s", s->qqprogram,
		        strerror(errno));
	return code;
}

static void cmd_data(struct session *s)
{
	struct sbuf msg, env;
	int fatal;
	if (!s->seen_mail || s->nrcpt == 0) {
		netio_reply(&s->io, s->seen_mail ? "554 5.5.1 no valid recipients"
		                                  : "503 5.5.1 MAIL first");
		return;
	}
	netio_reply(&s->io, "354 go ahead");
	/* the plaintext: no copy of it left behind in freed memory */
	sbuf_init_secret(&msg, s->databytes + DATABYTES_RECEIVED);
	sbuf_init(&env, 1024 * 1024);
	if (received(s, &msg) < 0)
		out_of_memory(s);
	int r = read_data(s, &msg, &fatal);
	if (r == 0 && envelope_format(&env, s->sender,
	                              (const char *const *)s->rcpts,
	                              s->nrcpt) < 0)
		out_of_memory(s);
	if (r == 0) {
		int code = queue_message(s, &msg, &env);
		if (code == 0) {
			log_msg(SQLOG_INFO, "%s: message accepted, %zu octets, %zu "
			        "recipient%s", s->remoteip, msg.len, s->nrcpt,
			        s->nrcpt == 1 ? "" : "s");
			netio_reply(&s->io, "250 2.0.0 ok %ld qp %ld",
			             (long)time(NULL), (long)getpid());
		} else if (code == QQ_TOO_BIG) {
			/* sq-seal's "over the size bound" (sq-seal(8)) */
			log_msg(SQLOG_WARN, "%s: message too large for the sealer",
			        s->remoteip);
			netio_reply(&s->io, "552 5.3.4 message too large (#33)");
		} else if (QQ_PERMANENT(code)) {
			log_msg(SQLOG_WARN, "%s: queue refused the message (%d)",
			        s->remoteip, code);
			netio_reply(&s->io, "554 5.7.1 the message cannot be "
			             "sealed for its recipients (#%d)", code);
		} else {
			log_msg(SQLOG_WARN, "%s: queue failed (%d)", s->remoteip, code);
			netio_reply(&s->io, "451 4.3.0 queue temporarily unavailable; "
			             "try again later (#%d)", code);
		}
	}
	sbuf_free(&msg);
	sbuf_free(&env);
	clear_transaction(s);
	if (fatal) {
		netio_flush(&s->io);
		exit(0);
	}
}

static void cmd_starttls(struct session *s, const char *arg)
{
	if (!s->tls_possible || s->io.ssl || *arg) {
		netio_reply(&s->io, *arg ? "501 5.5.4 STARTTLS takes no argument"
		             : "454 4.7.0 TLS not available");
		return;
	}
	if (!s->io.ctx && netio_tls_load(&s->io, s->tlscert) < 0) {
		log_msg(SQLOG_ALERT, "cannot load %s: no STARTTLS", s->tlscert);
		s->tls_possible = 0;
		netio_reply(&s->io, "454 4.7.0 TLS not available");
		return;
	}
	netio_reply(&s->io, "220 2.0.0 ready to start TLS");
	if (netio_starttls(&s->io) < 0) {
		log_msg(SQLOG_WARN, "%s: TLS handshake failed", s->remoteip);
		exit(0);
	}
	/* RFC 3207 4.2: forget everything said before the handshake */
	clear_transaction(s);
	s->seen_helo = 0;
	s->helo[0] = '\0';
}

/* One command; 0 to go on, 1 after QUIT. */
static int command(struct session *s, const struct smtp_cmd *c)
{
	switch (c->verb) {
	case SMTP_HELO: cmd_helo(s, c->arg, 0); break;
	case SMTP_EHLO: cmd_helo(s, c->arg, 1); break;
	case SMTP_MAIL: cmd_mail(s, c->arg); break;
	case SMTP_RCPT: cmd_rcpt(s, c->arg); break;
	case SMTP_DATA: cmd_data(s); break;
	case SMTP_STARTTLS: cmd_starttls(s, c->arg); break;
	case SMTP_RSET:
		clear_transaction(s);
		netio_reply(&s->io, "250 2.0.0 flushed");
		break;
	case SMTP_NOOP: netio_reply(&s->io, "250 2.0.0 ok"); break;
	case SMTP_VRFY:
		netio_reply(&s->io, "252 2.1.5 send some mail, I'll try my best");
		break;
	case SMTP_HELP:
		netio_reply(&s->io, "214 2.0.0 secure-qmail: see RFC 5321");
		break;
	case SMTP_QUIT:
		netio_reply(&s->io, "221 2.0.0 %s", s->me);
		return 1;
	default:
		/* RFC 5321 4.2.4: 500 for a verb we do not know; 502 would
		 * say it is known but not implemented */
		netio_reply(&s->io, "500 5.5.1 command not recognized");
	}
	return 0;
}

/* sq-smtpd -l [-u USER] [HOST:PORT ...]: opens the addresses, becomes
 * USER and returns in each connection's child (tcplisten). */
static void listen_mode(int argc, char **argv)
{
	static const struct tcplisten_names names = {
		"smtp-listen", "0.0.0.0:25", "concurrencyincoming",
		"control/tcp.smtp.cdb"
	};
	struct tcplisten tl;
	struct control ctl;
	char dir[SQ_PATH_MAX];
	const char *user = SQ_USER_SMTPD;
	int i = 2;
	if (i + 1 < argc && strcmp(argv[i], "-u") == 0) {
		user = argv[i + 1];
		i += 2;
	}
	for (int j = i; j < argc; j++)
		if (argv[j][0] == '-')
			die_usage("usage: sq-smtpd [-l [-u user] [host:port ...]]");
	if (sq_path(dir, sizeof dir, "control") < 0 ||
	    control_open(&ctl, dir) < 0)
		die_sys_temp("cannot open the control directory: %s",
		             strerror(errno));
	if (tcplisten_open(&tl, &ctl, &names, argv + i, (size_t)(argc - i)) < 0)
		die_sys_temp("%s", tl.why);
	control_close(&ctl);
	if (privdrop(user) < 0)
		die_sys_temp("cannot become %s: %s", user, strerror(errno));
	tcplisten_serve(&tl);
}

int main(int argc, char **argv)
{
	static struct session s;
	struct sbuf line;
	log_init(argv[0]);
	if (argc > 1 && strcmp(argv[1], "-l") == 0)
		listen_mode(argc, argv);
	else if (argc > 1)
		die_usage("usage: sq-smtpd [-l [-u user] [host:port ...]]");
	if (geteuid() == 0)
		unavailable("refusing to run as root: run sq-smtpd as its "
		         "own user (setuidgid)");
	/* the message is plaintext: no core file may hold it */
	if (secret_nodump() < 0)
		unavailable("cannot disable core dumps: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	configure(&s);
	netio_init(&s.io, 0, 1, (int)s.timeout * 1000);
	configure_tls(&s);
	sbuf_init(&line, SMTP_LINE_MAX + 2);
	netio_reply(&s.io, "220 %s ESMTP", s.greeting);
	for (;;) {
		struct smtp_cmd c;
		enum rbuf_line r = netio_getline(&s.io, &line, SMTP_LINE_MAX + 2);
		if (r == RBUF_EOF || r == RBUF_ERROR) {
			if (r == RBUF_ERROR && errno == ETIMEDOUT) {
				netio_reply(&s.io, "451 4.4.2 timeout; closing");
				netio_flush(&s.io);
			}
			break;
		}
		if (r == RBUF_TOOLONG) {
			netio_reply(&s.io, "500 5.5.2 line too long");
			continue;
		}
		size_t len = line.len;
		while (len && (line.s[len - 1] == '\n' || line.s[len - 1] == '\r'))
			len--;
		sbuf_truncate(&line, len); /* the parser wants the NUL at len */
		if (smtpcmd_parse(line.s, len, &c) < 0) {
			netio_reply(&s.io, "500 5.5.2 unrecognized command");
			continue;
		}
		if (command(&s, &c))
			break;
	}
	netio_flush(&s.io);
	clear_transaction(&s);
	sbuf_free(&line);
	netio_fini(&s.io);
	rcptcheck_fini(&s.rcpt);
	sbuf_free(&s.badmailfrom);
	control_close(&s.ctl);
	return 0;
}
