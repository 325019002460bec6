/*
 * lmtp - edhd's LMTP side. See lmtp.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clientfile.h"
#include "util/control.h"
#include "lmtp.h"
#include "util/log.h"
#include "mail/maildir.h"
#include "mail/quota.h"
#include "crypto/sealcheck.h"
#include "mail/smtpcmd.h"
#include "mail/smtpdata.h"

struct lmtp {
	struct edh_session *s;
	int hello;                      /* LHLO seen */
	int mail;                       /* MAIL seen */
	unsigned long long declared;    /* MAIL's SIZE=, 0 if none */
	char did[MAILDIR_UID_MAX + 1];  /* MAIL's XDELIVERY-ID=, or "" */
	size_t n;
	char rcpt[LMTP_RCPT_MAX][MAILDIR_ID_SIZE];
	struct sbuf chunks;             /* BDAT's octets so far */
	int big;                        /* BDAT passed databytes */
};

/* What became of the DATA octets. */
enum data_end { DATA_OK, DATA_GONE, DATA_BARE, DATA_BIG, DATA_NOMEM };

static void reset(struct lmtp *l)
{
	l->mail = 0;
	l->declared = 0;
	l->did[0] = '\0';
	l->n = 0;
	sbuf_free(&l->chunks);
	sbuf_init(&l->chunks, l->s->cfg->databytes);
	l->big = 0;
}

int lmtp_bdat_parse(const char *arg, unsigned long long *size, int *last)
{
	size_t digits = strspn(arg, "0123456789");
	if (digits == 0 || digits > 12)
		return -1;
	*size = strtoull(arg, NULL, 10);
	arg += digits;
	*last = !strcasecmp(arg, " LAST");
	return *arg && !*last ? -1 : 0;
}

int lmtp_rcpt_parse(const char *arg, char *box)
{
	size_t len = strlen(arg);
	if (strncasecmp(arg, "TO:", 3) != 0)
		return -1;
	arg += 3, len -= 3;
	if (len < 2 || arg[0] != '<' || arg[len - 1] != '>')
		return -1; /* parameters, blanks, or no angle brackets */
	if (len - 2 >= MAILDIR_ID_SIZE)
		return -2;
	memcpy(box, arg + 1, len - 2);
	box[len - 2] = '\0';
	return maildir_id_valid(box) ? 0 : -2;
}

#define DID_PARAM "XDELIVERY-ID="

int lmtp_mail_did(const char *arg, char *rest, size_t restlen, char *did)
{
	size_t k = strlen(DID_PARAM), used = 0;
	did[0] = '\0';
	if (strlen(arg) >= restlen)
		return -2;
	while (*arg) {
		size_t blanks = strspn(arg, " "), n = strcspn(arg + blanks, " ");
		const char *w = arg + blanks;
		if (n >= k && strncasecmp(w, DID_PARAM, k) == 0) {
			if (did[0] || n - k > MAILDIR_UID_MAX)
				return -1;
			memcpy(did, w + k, n - k);
			did[n - k] = '\0';
			if (!maildir_did_valid(did))
				return -1;
		} else {
			memcpy(rest + used, arg, blanks + n);
			used += blanks + n;
		}
		arg = w + n;
	}
	rest[used] = '\0';
	return 0;
}

/* ---- commands ----------------------------------------------------------- */

static void cmd_lhlo(struct lmtp *l, const char *arg)
{
	struct netio *io = &l->s->io;
	if (!*arg) {
		netio_reply(io, "501 5.5.4 LHLO wants a host name");
		return;
	}
	reset(l);
	l->hello = 1;
	netio_reply(io, "250-%s", l->s->cfg->me);
	netio_reply(io, "250-PIPELINING");
	netio_reply(io, "250-ENHANCEDSTATUSCODES");
	netio_reply(io, "250-SIZE %lu", l->s->cfg->databytes);
	netio_reply(io, "250-XDELIVERY-ID");
	netio_reply(io, "250-CHUNKING");
	netio_reply(io, "250-BINARYMIME");
	netio_reply(io, "250 AUTH PLAIN");
}

static void cmd_mail(struct lmtp *l, const char *arg)
{
	struct smtp_path p;
	struct netio *io = &l->s->io;
	char rest[SMTP_LINE_MAX + 1];
	if (l->mail) {
		netio_reply(io, "503 5.5.1 nested MAIL command");
		return;
	}
	int d = lmtp_mail_did(arg, rest, sizeof rest, l->did);
	if (d < 0) {
		netio_reply(io, d == -1 ? "555 5.5.4 XDELIVERY-ID wants one "
		            "delivery id" : "500 5.5.2 line too long");
		return;
	}
	enum smtp_path_error e = smtpcmd_mail_from(rest, &p);
	if (e != PATH_OK) {
		netio_reply(io, "%s %s", e == PATH_BAD_PARAM ? "555 5.5.4"
		             : "501 5.1.7", smtpcmd_strerror(e));
		return;
	}
	if (p.size > l->s->cfg->databytes) {
		netio_reply(io, "552 5.3.4 message size exceeds the limit of %lu "
		             "octets", l->s->cfg->databytes);
		return;
	}
	l->mail = 1;
	l->declared = p.size;
	netio_reply(io, "250 2.1.0 ok");
}

static void cmd_rcpt(struct lmtp *l, const char *arg)
{
	struct netio *io = &l->s->io;
	char box[MAILDIR_ID_SIZE];
	struct maildir md;
	if (!l->mail) {
		netio_reply(io, "503 5.5.1 MAIL first");
		return;
	}
	int r = lmtp_rcpt_parse(arg, box);
	if (r == -1) {
		netio_reply(io, "501 5.5.4 syntax: RCPT TO:<MAILBOX>");
		return;
	}
	if (r == -2) {
		netio_reply(io, "550 5.1.1 no such mailbox");
		return;
	}
	if (l->n >= LMTP_RCPT_MAX) {
		netio_reply(io, "452 4.5.3 too many recipients");
		return;
	}
	/* a full mailbox is refused here already, sparing the transfer */
	md.dirfd = -1;
	if (maildir_open(&md, l->s->cfg->maildirs, box, 0) < 0)
		md.dirfd = -1;
	r = quota_check_once(&l->s->cfg->ctl, &md, box,
	                     l->declared ? l->declared : 1, l->did);
	if (md.dirfd >= 0)
		maildir_close(&md);
	if (r != 0) {
		log_msg(SQLOG_INFO, "delivery %s: %s at RCPT, client %lu", box,
		        r > 0 ? "over quota" : "quota unknown",
		        (unsigned long)l->s->client);
		netio_reply(io, r > 0 ? "452 4.2.2 mailbox full"
		             : "451 4.3.0 quota unknown; try again later");
		return;
	}
	memcpy(l->rcpt[l->n++], box, MAILDIR_ID_SIZE);
	netio_reply(io, "250 2.1.5 ok");
}

/* Reads the message after 354 into msg, LF line ends, unstuffed. */
static enum data_end read_data(struct lmtp *l, struct sbuf *msg)
{
	struct smtpdata d;
	char buf[8192];
	smtpdata_init(&d, l->s->cfg->databytes);
	while (!smtpdata_done(&d)) {
		ssize_t got = netio_read(&l->s->io, buf, sizeof buf);
		if (got <= 0)
			return DATA_GONE;
		size_t used = smtpdata_feed(&d, buf, (size_t)got, msg);
		if (smtpdata_bare(&d))
			return DATA_BARE;
		if (used < (size_t)got && smtpdata_done(&d))
			rbuf_unread(&l->s->io.in, (size_t)got - used);
	}
	if (smtpdata_too_big(&d))
		return DATA_BIG;
	return smtpdata_error(&d) ? DATA_NOMEM : DATA_OK;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* One line per recipient and attempt, for multilog. */
static void log_delivery(struct lmtp *l, const char *box, const char *result,
                         size_t size, const struct timespec *t0)
{
	log_msg(SQLOG_INFO, "delivery %s: %s, %zu octets, %ld ms, client %lu "
	        "from %s", box, result, size, ms_since(t0),
	        (unsigned long)l->s->client, l->s->ip);
}

/* Stores the sealed entity (len octets at msg, without its size line) for
 * one recipient; its reply and log line. */
static void deliver_one(struct lmtp *l, const char *box, const char *msg,
                        size_t len, unsigned long long plainsize,
                        const struct timespec *t0)
{
	struct netio *io = &l->s->io;
	struct maildir md;
	struct maildir_delivered out;
	if (maildir_open(&md, l->s->cfg->maildirs, box, 1) < 0) {
		log_msg(SQLOG_ALERT, "%s: cannot open the mailbox: %s", box,
		        strerror(errno));
		log_delivery(l, box, "deferred: mailbox unavailable", len, t0);
		netio_reply(io, "451 4.3.0 <%s> mailbox unavailable", box);
		return;
	}
	int q = quota_check_once(&l->s->cfg->ctl, &md, box, len, l->did);
	if (q != 0) {
		log_delivery(l, box, q > 0 ? "deferred: over quota"
		             : "deferred: quota unknown", len, t0);
		netio_reply(io, q > 0 ? "452 4.2.2 <%s> mailbox full"
		             : "451 4.3.0 <%s> quota unknown", box);
	} else if ((l->did[0] ? maildir_deliver_once(&md, l->did, msg,
	                                             len, plainsize, &out)
	            : maildir_deliver(&md, l->s->cfg->me, msg, len,
	                              plainsize, &out)) < 0) {
		int e = errno;
		log_msg(SQLOG_ALERT, "%s: delivery failed: %s", box, strerror(e));
		log_delivery(l, box, "deferred: write failed", len, t0);
		netio_reply(io, e == ENOSPC || e == EDQUOT
		             ? "452 4.3.1 <%s> insufficient system storage"
		             : "451 4.3.0 <%s> write failed; try again later", box);
	} else {
		log_delivery(l, box, out.again ? "ok, stored before (a retry)"
		             : "ok", len, t0);
		netio_reply(io, "250 2.0.0 <%s> %s %.*s", box, out.again
		             ? "delivered before as" : "delivered",
		             (int)out.uidlen, out.name);
	}
	maildir_close(&md);
}

/* The same reply for every recipient (LMTP wants one each), and the log. */
static void refuse_all(struct lmtp *l, const char *reply, const char *result,
                       size_t size, const struct timespec *t0)
{
	for (size_t i = 0; i < l->n; i++) {
		log_delivery(l, l->rcpt[i], result, size, t0);
		netio_reply(&l->s->io, "%s", reply);
	}
}

/* The octets are in: check the seal, then deliver to each recipient. */
static void finish_data(struct lmtp *l, enum data_end end, struct sbuf *msg,
                        const struct timespec *t0)
{
	unsigned long long plain;
	size_t entity;
	if (end == DATA_BIG)
		refuse_all(l, "552 5.3.4 message size exceeds the limit",
		           "refused: too big", msg->len, t0);
	else if (end == DATA_NOMEM)
		refuse_all(l, "451 4.3.0 cannot hold the message now",
		           "deferred: out of memory", msg->len, t0);
	else if (sealcheck(msg->s ? msg->s : "", msg->len, &plain, &entity) < 0)
		refuse_all(l, errno == EINVAL
		           ? "554 5.6.0 no valid X-SQ-Plaintext-Size line: refused"
		           : "554 5.6.0 not an authEnveloped-data message: "
		             "refused", errno == EINVAL ? "refused: bad size line"
		           : "refused: not sealed", msg->len, t0);
	else
		for (size_t i = 0; i < l->n; i++)
			deliver_one(l, l->rcpt[i], msg->s + entity,
			            msg->len - entity, plain, t0);
}

/* 0 to go on, 1 when the connection must end. */
static int cmd_data(struct lmtp *l)
{
	struct netio *io = &l->s->io;
	struct sbuf msg;
	struct timespec t0;
	if (!l->mail || l->n == 0 || l->chunks.len) {
		netio_reply(io, l->chunks.len ? "503 5.5.1 BDAT under way" :
		            l->mail ? "503 5.5.1 no valid recipients"
		                    : "503 5.5.1 MAIL first");
		return 0;
	}
	netio_reply(io, "354 go ahead, end with <CRLF>.<CRLF>");
	/* bounded: smtpdata keeps at most databytes, and only counts beyond */
	sbuf_init(&msg, l->s->cfg->databytes + 1);
	enum data_end end = read_data(l, &msg);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (end == DATA_GONE || end == DATA_BARE) {
		log_msg(SQLOG_WARN, "%s: %s during DATA; nothing stored", l->s->ip,
		        end == DATA_BARE ? "bare LF or CR" : "timeout or disconnect");
		refuse_all(l, end == DATA_BARE ? "451 4.6.0 bare LF or CR in the "
		           "message; closing" : "451 4.4.2 connection lost",
		           "deferred: incomplete", msg.len, &t0);
		sbuf_free(&msg);
		return 1;
	}
	finish_data(l, end, &msg, &t0);
	sbuf_free(&msg);
	reset(l);
	return 0;
}

/* Reads a chunk of n octets after BDAT into l->chunks, or, past
 * databytes, only counts them. 0, or -1 when the connection is lost. */
static int read_chunk(struct lmtp *l, unsigned long long n)
{
	char buf[16384];
	/* room for it at once: a large message is not doubled past its size */
	if (n <= l->s->cfg->databytes)
		sbuf_reserve(&l->chunks, (size_t)n);
	while (n > 0) {
		ssize_t got = netio_read(&l->s->io, buf,
		                         n < sizeof buf ? (size_t)n : sizeof buf);
		if (got <= 0)
			return -1;
		n -= (unsigned long long)got;
		l->big |= l->chunks.len + (size_t)got > l->s->cfg->databytes;
		if (!l->big && sbuf_put(&l->chunks, buf, (size_t)got) < 0)
			return -1;
	}
	return 0;
}

/* BDAT (RFC 3030): the message in chunks of a stated size, as they are,
 * with no dot-stuffing: how a sealed message travels in binary. The
 * octets follow the command whatever the answer, so they are read even
 * when it is a refusal. 0 to go on, 1 when the connection must end. */
static int cmd_bdat(struct lmtp *l, const char *arg)
{
	struct netio *io = &l->s->io;
	unsigned long long n;
	int last;
	struct timespec t0;
	if (lmtp_bdat_parse(arg, &n, &last) < 0) {
		/* how many octets follow is unknown: the stream is lost */
		netio_reply(io, "501 5.5.4 syntax: BDAT SIZE [LAST]; closing");
		return 1;
	}
	if (read_chunk(l, n) < 0) {
		log_msg(SQLOG_WARN, "%s: timeout or disconnect during BDAT; "
		        "nothing stored", l->s->ip);
		return 1;
	}
	if (!l->mail || l->n == 0) {
		netio_reply(io, l->mail ? "503 5.5.1 no valid recipients"
		                         : "503 5.5.1 MAIL first");
		sbuf_reset(&l->chunks);
		l->big = 0;
		return 0;
	}
	if (!last) {
		netio_reply(io, "250 2.0.0 %llu octets received", n);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	finish_data(l, l->big ? DATA_BIG : DATA_OK, &l->chunks, &t0);
	reset(l);
	return 0;
}

/* ---- the session ------------------------------------------------------------ */

/* One command line; 1 when the session ends. */
static int command(struct lmtp *l)
{
	char verb[8];
	const char *arg = session_verb(l->s, verb, sizeof verb);
	struct netio *io = &l->s->io;
	if (!strcmp(verb, "QUIT")) {
		netio_reply(io, "221 2.0.0 %s closing", l->s->cfg->me);
		return 1;
	}
	if (!strcmp(verb, "NOOP")) {
		netio_reply(io, "250 2.0.0 ok");
	} else if (!strcmp(verb, "RSET")) {
		reset(l);
		netio_reply(io, "250 2.0.0 ok");
	} else if (!strcmp(verb, "LHLO")) {
		cmd_lhlo(l, arg);
	} else if (strcmp(verb, "AUTH") && strcmp(verb, "MAIL") &&
	           strcmp(verb, "RCPT") && strcmp(verb, "DATA") &&
	           strcmp(verb, "BDAT")) {
		netio_reply(io, "500 5.5.1 unrecognized command");
	} else if (!l->hello) {
		netio_reply(io, "503 5.5.1 LHLO first");
	} else if (!strcmp(verb, "AUTH")) {
		return session_auth(l->s, arg) < 0;
	} else if (!l->s->client) {
		netio_reply(io, "530 5.7.0 authentication required");
	} else if (!strcmp(verb, "MAIL")) {
		cmd_mail(l, arg);
	} else if (!strcmp(verb, "RCPT")) {
		cmd_rcpt(l, arg);
	} else if (!strcmp(verb, "BDAT")) {
		return cmd_bdat(l, arg);
	} else {
		return *arg ? (netio_reply(io, "501 5.5.4 DATA takes no argument"),
		               0) : cmd_data(l);
	}
	return 0;
}

void lmtp_run(struct edh_session *s)
{
	static struct lmtp l;
	memset(&l, 0, sizeof l);
	l.s = s;
	reset(&l);
	netio_reply(&s->io, "220 %s LMTP edhd", s->cfg->me);
	for (;;) {
		int r = session_getline(s);
		if (r == 0)
			break;
		if (r > 0 && command(&l))
			break;
	}
	sbuf_free(&l.chunks);
}
