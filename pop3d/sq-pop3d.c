/*
 * NAME
 *	sq-pop3d - serve a subscriber's mailbox over POP3, opened in memory
 * SYNOPSIS
 *	sq-checkpw sq-pop3d [-s]
 * DESCRIPTION
 *	The TRANSACTION and UPDATE states of RFC 1939 for the mailbox
 *	SQ_MAILBOX, after sq-checkpw(8) has unlocked the subscriber's keys
 *	(on descriptor 4). Commands on descriptor 0, replies on 1 (sq-popup
 *	relays them, inside TLS when the client asked for it). Messages are
 *	fetched sealed, from the maildir itself in combined mode or from
 *	edhd's retrieval protocol, and opened in memory only; -s serves the
 *	sealed, as S/MIME, for clients that hold their own key.
 * SECURITY
 *	Runs as the POP3 user with the subscriber's unlocked PDKs in memory
 *	for the session only (core dumps off); opens each message in memory
 *	for RETR or TOP and writes no plaintext anywhere but to the client.
 *	Its input comes through sq-popup: every command line is bounded and
 *	message numbers are checked against the listing.
 * STANDARDS
 *	RFC 1939, RFC 2449 (CAPA, UIDL, TOP)
 * SEE ALSO
 *	sq-pop3d(8)
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "util/control.h"
#include "util/home.h"
#include "util/log.h"
#include "net/netio.h"
#include "util/path.h"
#include "crypto/pki.h"
#include "crypto/seal.h"
#include "popcmd.h"
#include "popkeys.h"
#include "popmsg.h"
#include "popstore.h"
#include "util/secretfd.h"

#define KEYS_FD 4
#define MESSAGES_MAX 100000UL           /* listed per session, at most */
#define MESSAGE_MAX (512UL << 20)       /* sealed or opened octets */
#define TIMEOUT_DEFAULT 600             /* RFC 1939: at least 10 minutes */
#define ERRORS_MAX 50                   /* bad commands before we close */

struct pop {
	struct netio io;
	struct popstore store;
	struct popkeys keys;
	int sealed;                     /* -s: serve S/MIME as stored */
	unsigned char *deleted;
	unsigned long long *sealed_size; /* -s: as sent, 0 until read */
	size_t retrieved, errors;
	const char *mailbox;
};

static void __attribute__((noreturn)) quit_temp(struct pop *p,
                                                const char *why)
{
	netio_reply(&p->io, "-ERR [SYS/TEMP] %s, try again later", why);
	netio_flush(&p->io);
	exit(111);
}

/* ---- sizes --------------------------------------------------------- */

/* With -s, a message stored binary is served as S/MIME (sq-sealed(5));
 * one stored as S/MIME by an older version is served as it is. */
static int as_served(struct pop *p, struct sbuf *msg)
{
	struct sbuf smime;
	if (!p->sealed || !msg->len || (unsigned char)msg->s[0] != SEAL_DER_FIRST)
		return 0;
	sbuf_init(&smime, MESSAGE_MAX);
	if (seal_to_smime(msg->s, msg->len, &smime) < 0) {
		sbuf_free(&smime);
		return -1;
	}
	sbuf_free(msg);
	*msg = smime;
	return 0;
}

/* Fetches message i, sealed, into out (as served); 0, or -1 with the
 * reply said. */
static int fetch(struct pop *p, size_t i, struct sbuf *out)
{
	char why[512];
	enum popstore_result r = popstore_fetch(&p->store, i, out, why,
	                                        sizeof why);
	if (r == POPSTORE_OK && as_served(p, out) < 0) {
		log_msg(SQLOG_WARN, "%s: message %s: not a CMS entity: %s",
		        p->mailbox, p->store.msgs[i].uid,
		        pki_errstr(why, sizeof why));
		netio_reply(&p->io, "-ERR message %zu cannot be served: it is "
		            "damaged", i + 1);
		return -1;
	}
	if (r == POPSTORE_OK)
		return 0;
	log_msg(SQLOG_WARN, "%s: message %s: %s", p->mailbox, p->store.msgs[i].uid, why);
	if (r == POPSTORE_GONE)
		netio_reply(&p->io, "-ERR message %zu has been removed meanwhile",
		            i + 1);
	else
		netio_reply(&p->io, "-ERR [SYS/TEMP] message %zu cannot be read "
		            "now, try again later", i + 1);
	return -1;
}

/* The size message i has as sent: the plaintext's, from the listing; with
 * -s the stored entity's, which only reading it tells (S= counts bare LFs
 * once). */
static int size_of(struct pop *p, size_t i, unsigned long long *size)
{
	if (!p->sealed || p->sealed_size[i]) {
		*size = p->sealed ? p->sealed_size[i] : p->store.msgs[i].plainsize;
		return 0;
	}
	struct sbuf raw;
	sbuf_init(&raw, MESSAGE_MAX);
	int r = fetch(p, i, &raw);
	if (r == 0)
		*size = p->sealed_size[i] = popmsg_size(raw.s, raw.len);
	sbuf_free(&raw);
	return r;
}

/* ---- commands ------------------------------------------------------ */

/* The message a number names: its index, or -1 (replied). */
static long message(struct pop *p, const char *arg)
{
	unsigned long n;
	if (popcmd_number(arg, p->store.n ? p->store.n : 1, &n) < 0 || n > p->store.n) {
		netio_reply(&p->io, "-ERR no such message");
		return -1;
	}
	if (p->deleted[n - 1]) {
		netio_reply(&p->io, "-ERR message %lu is deleted", n);
		return -1;
	}
	return (long)n - 1;
}

static void cmd_stat(struct pop *p)
{
	unsigned long long total = 0, size;
	size_t count = 0;
	for (size_t i = 0; i < p->store.n; i++) {
		if (p->deleted[i])
			continue;
		if (size_of(p, i, &size) < 0)
			return;
		total += size;
		count++;
	}
	netio_reply(&p->io, "+OK %zu %llu", count, total);
}

/* LIST and UIDL: one message, or all that are not deleted. */
static void cmd_scan(struct pop *p, const char *arg, int uidl)
{
	char uid[POP_UIDL_MAX + 1];
	unsigned long long size = 0;
	size_t first = 0, end = p->store.n;
	if (*arg) {
		long i = message(p, arg);
		if (i < 0)
			return;
		first = (size_t)i;
		end = first + 1;
	} else {
		/* sizes first: a failure must not cut a multi-line answer */
		for (size_t i = 0; !uidl && i < p->store.n; i++)
			if (!p->deleted[i] && size_of(p, i, &size) < 0)
				return;
		netio_reply(&p->io, "+OK %s follows", uidl ? "unique-id listing"
		                                          : "scan listing");
	}
	for (size_t i = first; i < end; i++) {
		if (p->deleted[i] || (!uidl && size_of(p, i, &size) < 0))
			continue;
		const char *ok = *arg ? "+OK " : "";
		if (uidl) {
			popmsg_uidl(p->store.msgs[i].uid, strlen(p->store.msgs[i].uid), uid);
			netio_reply(&p->io, "%s%zu %s", ok, i + 1, uid);
		} else {
			netio_reply(&p->io, "%s%zu %llu", ok, i + 1, size);
		}
	}
	if (!*arg)
		netio_reply(&p->io, ".");
}

static int send_piece(void *io, const char *p, size_t n)
{
	return netio_send(io, p, n);
}

/* RETR (lines < 0) and TOP: the message opened in memory, then sent as it
 * is formatted, wiped. At most the opened message and the parsed sealed
 * one are held at once (popkeys_open frees the fetched copy). A message
 * that cannot be opened gets -ERR and a log line; the session goes on. */
static void send_message(struct pop *p, size_t i, long lines)
{
	struct sbuf sealed, plain;
	const struct pop_msg *m = &p->store.msgs[i];
	sbuf_init(&sealed, MESSAGE_MAX);
	sbuf_init_secret(&plain, MESSAGE_MAX);
	const struct sbuf *msg = p->sealed ? &sealed : &plain;
	char why[256];
	/* the sizes the names give, ahead: each buffer grown once, not
	 * doubled past the message (a hint; a wrong one costs only that) */
	if (m->size < MESSAGE_MAX)
		sbuf_reserve(&sealed, (size_t)m->size);
	if (fetch(p, i, &sealed) < 0)
		goto done;
	if (!p->sealed && m->plainsize < MESSAGE_MAX)
		sbuf_reserve(&plain, (size_t)m->plainsize);
	if (!p->sealed && popkeys_open(&p->keys, &sealed, &plain) < 0) {
		log_msg(SQLOG_WARN, "%s: message %s cannot be opened: %s",
		        p->mailbox, m->uid, pki_errstr(why, sizeof why));
		netio_reply(&p->io, "-ERR message %zu cannot be opened: it is "
		            "damaged or sealed to another key", i + 1);
		goto done;
	}
	unsigned long long size = popmsg_size(msg->s ? msg->s : "", msg->len);
	if (!p->sealed && size != m->plainsize)
		log_msg(SQLOG_WARN, "%s: message %s: %llu octets, its name says "
		        "%llu", p->mailbox, m->uid, size, m->plainsize);
	netio_reply(&p->io, "+OK %llu octets", size);
	if (popmsg_send(msg->s ? msg->s : "", msg->len, lines, send_piece,
	                &p->io) == 0 && lines < 0)
		p->retrieved++;
done:
	sbuf_free(&plain);
	sbuf_free(&sealed);
}

static void cmd_retr(struct pop *p, const char *arg)
{
	long i = message(p, arg);
	if (i >= 0)
		send_message(p, (size_t)i, -1);
}

static void cmd_top(struct pop *p, const char *arg)
{
	unsigned long n, lines;
	if (popcmd_two_numbers(arg, p->store.n ? p->store.n : 1, &n, &lines) < 0 ||
	    n > p->store.n) {
		netio_reply(&p->io, "-ERR usage: TOP message lines");
		return;
	}
	if (p->deleted[n - 1]) {
		netio_reply(&p->io, "-ERR message %lu is deleted", n);
		return;
	}
	send_message(p, n - 1, lines > (unsigned long)LONG_MAX ? LONG_MAX
	                                                     : (long)lines);
}

static void cmd_dele(struct pop *p, const char *arg)
{
	long i = message(p, arg);
	if (i < 0)
		return;
	p->deleted[i] = 1;
	netio_reply(&p->io, "+OK message %ld deleted", i + 1);
}

static void cmd_capa(struct pop *p)
{
	netio_reply(&p->io, "+OK capability list follows");
	for (const char *const *c = pop_capabilities; *c; c++)
		netio_reply(&p->io, "%s", *c);
	netio_reply(&p->io, ".");
}

/* UPDATE: the messages marked deleted go, synced before the +OK. */
static int update(struct pop *p)
{
	size_t gone = 0, kept = 0;
	char why[512];
	for (size_t i = 0; i < p->store.n; i++) {
		if (!p->deleted[i])
			continue;
		if (popstore_remove(&p->store, i, why, sizeof why) == POPSTORE_OK) {
			gone++;
			continue;
		}
		log_msg(SQLOG_WARN, "%s: message %s not removed: %s", p->mailbox,
		        p->store.msgs[i].uid, why);
		kept++;
	}
	if (gone && popstore_sync(&p->store, why, sizeof why) != POPSTORE_OK) {
		log_msg(SQLOG_WARN, "%s: %s", p->mailbox, why);
		kept = gone; /* unlinked, but not surely on disk */
	}
	log_msg(SQLOG_INFO, "%s: %zu retrieved, %zu removed%s", p->mailbox,
	        p->retrieved, gone, kept ? ", some removals failed" : "");
	if (kept)
		netio_reply(&p->io, "-ERR [SYS/TEMP] %zu deleted messages not "
		            "removed for sure", kept);
	else
		netio_reply(&p->io, "+OK bye, %zu messages removed", gone);
	return kept ? 111 : 0;
}

/* One command; 1 when the session ends (QUIT). */
static int command(struct pop *p, const struct pop_cmd *c)
{
	const char *v = c->verb;
	int noarg = !*c->arg;
	if (!strcmp(v, "QUIT") && noarg)
		return 1;
	if (!strcmp(v, "STAT") && noarg)
		cmd_stat(p);
	else if (!strcmp(v, "LIST"))
		cmd_scan(p, c->arg, 0);
	else if (!strcmp(v, "UIDL"))
		cmd_scan(p, c->arg, 1);
	else if (!strcmp(v, "RETR"))
		cmd_retr(p, c->arg);
	else if (!strcmp(v, "TOP"))
		cmd_top(p, c->arg);
	else if (!strcmp(v, "DELE"))
		cmd_dele(p, c->arg);
	else if (!strcmp(v, "RSET") && noarg) {
		memset(p->deleted, 0, p->store.n);
		netio_reply(&p->io, "+OK");
	} else if (!strcmp(v, "NOOP") && noarg)
		netio_reply(&p->io, "+OK");
	else if (!strcmp(v, "CAPA") && noarg)
		cmd_capa(p);
	else {
		netio_reply(&p->io, "-ERR unknown command or wrong arguments");
		p->errors++;
	}
	return 0;
}

/* The TRANSACTION state; the exit code once it ends. */
static int serve(struct pop *p)
{
	int code = 0;
	struct sbuf line;
	struct pop_cmd c;
	sbuf_init(&line, POP_LINE_MAX);
	for (;;) {
		enum rbuf_line r = netio_getline(&p->io, &line, POP_LINE_MAX);
		if (r == RBUF_TOOLONG) {
			netio_reply(&p->io, "-ERR line too long");
			p->errors++;
			continue;
		}
		if (r != RBUF_LINE) { /* gone or timed out: nothing is removed */
			log_msg(SQLOG_INFO, "%s: %s, %zu retrieved, none removed",
			        p->mailbox, r == RBUF_EOF ? "client left" : "timeout",
			        p->retrieved);
			if (r == RBUF_ERROR && errno == ETIMEDOUT)
				netio_reply(&p->io, "-ERR autologout: idle too long");
			break;
		}
		if (popcmd_parse(&line, &c) < 0) {
			netio_reply(&p->io, "-ERR unknown command");
			p->errors++;
		} else if (command(p, &c)) {
			code = update(p);
			break;
		}
		if (p->errors > ERRORS_MAX) {
			netio_reply(&p->io, "-ERR too many errors, closing");
			break;
		}
	}
	sbuf_free(&line);
	netio_flush(&p->io);
	return code;
}

static void configure(struct pop *p, struct control *ctl)
{
	char ctldir[SQ_PATH_MAX], why[512];
	unsigned long timeout = TIMEOUT_DEFAULT;
	if (sq_path(ctldir, sizeof ctldir, "control") < 0 ||
	    control_open(ctl, ctldir) < 0)
		quit_temp(p, "cannot read the configuration");
	if (control_readulong(ctl, "timeoutpop3d", 86400, &timeout) < 0 ||
	    timeout == 0)
		quit_temp(p, "bad control/timeoutpop3d");
	netio_set_timeout(&p->io, (int)timeout * 1000);
	if (popstore_open(&p->store, ctl, ctldir, sq_home(), p->mailbox, why,
	                  sizeof why) < 0) {
		log_msg(SQLOG_ALERT, "%s: %s", p->mailbox, why);
		quit_temp(p, "mailbox unavailable");
	}
}

static void list_mailbox(struct pop *p)
{
	char why[512];
	if (popstore_list(&p->store, MESSAGES_MAX, why, sizeof why) !=
	    POPSTORE_OK) {
		log_msg(SQLOG_WARN, "%s: %s", p->mailbox, why);
		quit_temp(p, "mailbox unavailable");
	}
	p->deleted = calloc(p->store.n + 1, 1);
	p->sealed_size = calloc(p->store.n + 1, sizeof *p->sealed_size);
	if (!p->deleted || !p->sealed_size)
		quit_temp(p, "out of memory");
}

int main(int argc, char **argv)
{
	static struct pop p;
	struct control ctl;
	log_init("sq-pop3d");
	secret_nodump_or_die();
	signal(SIGPIPE, SIG_IGN);
	netio_init(&p.io, 0, 1, TIMEOUT_DEFAULT * 1000);
	p.sealed = argc == 2 && !strcmp(argv[1], "-s");
	if (argc > 2 || (argc == 2 && !p.sealed)) {
		log_msg(SQLOG_ALERT, "usage: sq-pop3d [-s]");
		quit_temp(&p, "server misconfigured");
	}
	if (popkeys_take(&p.keys, KEYS_FD) < 0) {
		log_msg(SQLOG_ALERT, "no keys on descriptor %d: run me through "
		        "sq-checkpw", KEYS_FD);
		quit_temp(&p, "server misconfigured");
	}
	p.mailbox = getenv("SQ_MAILBOX");
	if (!p.mailbox || !maildir_id_valid(p.mailbox)) {
		log_msg(SQLOG_ALERT, "SQ_MAILBOX missing or invalid");
		quit_temp(&p, "server misconfigured");
	}
	configure(&p, &ctl);
	list_mailbox(&p);
	unsigned long long total = 0;
	for (size_t i = 0; i < p.store.n; i++)
		total += p.store.msgs[i].plainsize;
	if (p.sealed)
		netio_reply(&p.io, "+OK %zu messages, sealed", p.store.n);
	else
		netio_reply(&p.io, "+OK %zu messages (%llu octets)", p.store.n, total);
	int code = serve(&p);
	popstore_close(&p.store);
	popkeys_free(&p.keys);
	control_close(&ctl);
	netio_fini(&p.io);
	free(p.deleted);
	free(p.sealed_size);
	return code;
}
