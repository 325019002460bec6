/*
 * NAME
 *	sq-lspawn - local delivery: seal for the recipient, store on the EDH
 * SYNOPSIS
 *	sq-lspawn (started by sq-start, as the delivery user)
 * DESCRIPTION
 *	qmail-lspawn's job, with the encryption stage in front of the store.
 *	Requests come from sq-send on descriptor 0, each four NUL-ended
 *	fields: slot, message number, sender, recipient. Every answer on
 *	descriptor 1 is the slot and one field: K (delivered), Z (try again
 *	later) or D (failed for good), then the reason.
 *	A pool of control/concurrencylocal workers does the deliveries; each
 *	keeps its connection to the PKS open. A worker that dies answers Z
 *	for what it held and is replaced.
 * SECURITY
 *	Runs as the delivery user (sqmailv) and refuses root; core dumps
 *	off. Holds the PKS deliver credential (control/pkslocal: public keys
 *	only) and the EDH client secret. Reads sealed messages from the
 *	queue; a message not sealed for its recipient is sealed here in
 *	memory, and nothing unsealed is ever stored (fail closed, 111).
 *	Requests from sq-send are bounded NUL-ended fields.
 * STANDARDS
 *	RFC 2033 (LMTP to edhd), RFC 5083 (what it stores)
 * SEE ALSO
 *	sq-lspawn(8), sq-send(8), sq-dot-qmail(5), sq-sealed(5)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "util/atomicfile.h"
#include "util/control.h"
#include "util/die.h"
#include "deliver/dotqmail.h"
#include "deliver/encrypt_local.h"
#include "util/home.h"
#include "deliver/localdom.h"
#include "deliver/lsreq.h"
#include "util/log.h"
#include "util/path.h"
#include "crypto/pki.h"
#include "deliver/qsched.h"
#include "queue/queue.h"
#include "util/rbuf.h"
#include "util/secretfd.h"
#include "deliver/mailstore.h"

#define WORKERS_MAX 1000
#define ANSWER_MAX 1024
#define MESSAGE_MAX (256ULL * 1024 * 1024)      /* sealed, in the queue */
#define RELEASE_OVER (1024 * 1024)     /* a buffer kept between deliveries */
#define KEY_CACHE_SLOTS 4096

/* ---- one worker ------------------------------------------------------------ */

struct worker {
	struct control ctl;
	struct localdom ours;
	struct queue q;
	struct mailstore st;
	struct pks_client *pks;
	struct el_cache keys;           /* control/pekcachetime */
	X509 *ca;
	char userscdb[SQ_PATH_MAX];
	struct sbuf msg, sealed;
};

static char answer_text[ANSWER_MAX];

/* Formats the answer: code K, Z or D, then the reason. */
static const char *say(char code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *say(char code, const char *fmt, ...)
{
	va_list ap;
	answer_text[0] = code;
	va_start(ap, fmt);
	vsnprintf(answer_text + 1, sizeof answer_text - 1, fmt, ap);
	va_end(ap);
	return answer_text;
}

static void worker_init(struct worker *w)
{
	char ctldir[SQ_PATH_MAX], capath[SQ_PATH_MAX], why[300];
	struct pks_config cfg;
	if (sq_path(ctldir, sizeof ctldir, "control") < 0 ||
	    control_open(&w->ctl, ctldir) < 0)
		die_sys_temp("cannot open the control directory");
	localdom_init(&w->ours, &w->ctl);
	if (sq_path(w->userscdb, sizeof w->userscdb, "users/cdb") < 0)
		die_sys_temp("path too long");
	if (path_join(capath, sizeof capath, ctldir, "ca.pem", NULL) < 0 ||
	    !(w->ca = pki_cert_load(capath)))
		die_sys_temp("cannot read control/ca.pem");
	if (pks_config_load(&cfg, &w->ctl, ctldir, "pkslocal", why,
	                    sizeof why) < 0)
		die_sys_temp("%s", why);
	w->pks = pks_client_new(&cfg);
	pks_config_wipe(&cfg);
	unsigned long ttl = 300;
	if (control_readulong(&w->ctl, "pekcachetime", 86400, &ttl) < 0)
		die_sys_temp("control/pekcachetime: %s", strerror(errno));
	if (!w->pks || el_cache_init(&w->keys, KEY_CACHE_SLOTS, ttl) < 0)
		die_nomem();
	if (queue_open(&w->q, sq_home(), QUEUE_BIT(QUEUE_MESS)) < 0)
		die_sys_temp("cannot open the queue: %s", strerror(errno));
	if (mailstore_init(&w->st, &w->ctl, ctldir, sq_home(), why,
	                   sizeof why) < 0)
		die_sys_temp("%s", why);
	/* plaintext may pass through msg (a notice not sealed yet) */
	sbuf_init_secret(&w->msg, MESSAGE_MAX);
	sbuf_init(&w->sealed, MESSAGE_MAX);
}

/* Reads message num into w->msg and names its delivery in did: the
 * queue file's time and number, the same on every retry. */
static int read_message(struct worker *w, unsigned long long num,
                        char did[MAILDIR_UID_MAX + 1])
{
	char path[64];
	struct stat st;
	sbuf_reset(&w->msg);
	if (queue_path(path, sizeof path, QUEUE_MESS, num) < 0)
		return -1;
	int fd = openat(w->q.top, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* its size ahead: one allocation, not doubling past a large message */
	int r = fstat(fd, &st) < 0 ||
	        maildir_did_format(did, (long long)st.st_mtim.tv_sec,
	                           st.st_mtim.tv_nsec / 1000, num,
	                           w->st.host) < 0 ? -1
	        : (sbuf_reserve(&w->msg, (size_t)st.st_size),
	           sbuf_read_fd(&w->msg, fd));
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* Empties a worker's buffer for the next delivery; one a large message
 * grew is given back, so that a worker does not hold it for life. */
static void release(struct sbuf *b)
{
	if (b->cap > RELEASE_OVER)
		sbuf_free(b);
	else
		sbuf_reset(b);
}

/* Seals (or checks the seal) for address and stores the message. */
static const char *seal_and_store(struct worker *w, const char *address,
                                  const char *did)
{
	struct el_keys keys;
	char why[400], mailbox[MAILDIR_ID_SIZE];
	const char *data;
	size_t len;
	unsigned long long plainsize;
	enum el_result r = EL_PERM;
	/* keys from the cache that do not open it: ask the PKS once more */
	for (int fresh = 0; r == EL_PERM && fresh < 2; fresh++) {
		r = el_keys_get(&w->keys, w->pks, w->ca, address, fresh, &keys,
		                why, sizeof why);
		if (r == EL_NOKEY)
			return say('Z', "4.7.1 no valid key for the recipient "
			           "(not delivered in plaintext)");
		if (r != EL_OK)
			return say('Z', "4.4.3 key store: %s", why);
		el_mailbox(&keys, mailbox);
		r = el_prepare(w->msg.s, w->msg.len, &keys, &w->sealed, &data,
		               &len, &plainsize, why, sizeof why);
		int cached = keys.cached;
		el_keys_free(&keys);
		if (!cached)
			break;
	}
	if (r == EL_PERM)
		return say('D', "5.7.5 %s", why);
	if (r != EL_OK)
		return say('Z', "4.7.5 %s", why);
	enum mailstore_result s = mailstore_put(&w->st, mailbox, did, data, len,
	                                        plainsize, why, sizeof why);
	release(&w->sealed);
	return say(s == MAILSTORE_OK ? 'K' : s == MAILSTORE_PERM ? 'D' : 'Z', "%s", why);
}

static const char *deliver(struct worker *w, unsigned long long num,
                           const char *rcpt)
{
	char local[LOCALDOM_NAME_MAX], address[ADDR_MAX + 1];
	char did[MAILDIR_UID_MAX + 1];
	struct assign_entry e;
	const char *why = "";
	int ours = localdom_localname(&w->ours, rcpt, local, sizeof local);
	if (ours == -1)
		return say('Z', "4.3.0 cannot read control/locals or "
		           "virtualdomains");
	if (ours != 1)
		return say('D', "5.1.1 not a local address");
	enum dotqmail_result d = dotqmail_lookup(w->userscdb, local, &e, address,
	                                         &why);
	if (d == DOTQMAIL_TEMP)
		return say('Z', "4.3.0 %s", why);
	if (d == DOTQMAIL_NOUSER)
		return say('D', "5.1.1 %s", why);
	if (d != DOTQMAIL_OK)
		return say('D', "5.7.1 refused: %s", why);
	if (e.uid != (unsigned long)geteuid())
		return say('Z', "4.3.0 assigned to uid %lu, but deliveries run "
		           "as uid %lu", e.uid, (unsigned long)geteuid());
	if (read_message(w, num, did) < 0)
		return say('Z', "4.3.0 cannot read message %llu: %s", num,
		           strerror(errno));
	const char *res = seal_and_store(w, address, did);
	release(&w->msg);
	return res;
}

/* A request is "num\0sender\0rcpt\0" in one datagram. */
static const char *serve(struct worker *w, const char *req, size_t len)
{
	const char *end = req + len, *sender, *rcpt;
	char *stop;
	if (len == 0 || req[len - 1] != '\0')
		return say('Z', "4.3.0 a malformed request");
	unsigned long long num = strtoull(req, &stop, 10);
	if (*stop || stop == req || (sender = stop + 1) >= end ||
	    (rcpt = sender + strlen(sender) + 1) >= end ||
	    rcpt + strlen(rcpt) + 1 != end)
		return say('Z', "4.3.0 a malformed request");
	return deliver(w, num, rcpt);
}

static void worker_main(int sock)
{
	struct worker w;
	char req[LSREQ_MAX];
	memset(&w, 0, sizeof w);
	worker_init(&w);
	for (;;) {
		ssize_t n = recv(sock, req, sizeof req, 0);
		if (n <= 0)
			_exit(0);
		const char *a = serve(&w, req, (size_t)n);
		if (send(sock, a, strlen(a) + 1, MSG_NOSIGNAL) < 0)
			_exit(0);
	}
}

/* ---- the pool ------------------------------------------------------------------ */

struct pool_worker {
	pid_t pid;
	int sock;
	long slot;              /* sq-send's slot being served, or -1 */
};

struct pool {
	struct pool_worker *w;
	unsigned long n;
	struct lsreq *wait;   /* requests waiting for a free worker */
	size_t nwait, capwait;
	struct rbuf in;
	struct sbuf field;
};

static void spawn(struct pool *p, unsigned long i)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die_sys_temp("socketpair: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die_sys_temp("fork: %s", strerror(errno));
	if (pid == 0) {
		close(sv[0]);
		close(0);
		close(1);
		for (unsigned long k = 0; k < p->n; k++)
			if (p->w[k].sock >= 0)
				close(p->w[k].sock);
		worker_main(sv[1]);
	}
	close(sv[1]);
	p->w[i] = (struct pool_worker){ pid, sv[0], -1 };
}

static void answer(long slot, const char *a)
{
	char num[32];
	int n = snprintf(num, sizeof num, "%ld", slot);
	if (write_all(1, num, (size_t)n + 1) < 0 ||
	    write_all(1, a, strlen(a) + 1) < 0)
		die_sys_temp("lost sq-send");
}

static void hand_out(struct pool *p, unsigned long i, struct lsreq *r)
{
	if (send(p->w[i].sock, r->req, r->len, MSG_NOSIGNAL) < 0) {
		answer(r->slot, "Z4.3.0 a delivery worker is gone");
		return;
	}
	p->w[i].slot = r->slot;
}

/* Reads one request from sq-send: slot, num, sender, rcpt. 0 at the end
 * of input. A field over its bound fails that recipient for good, and
 * the next request is read: one message cannot stop the deliveries. */
static int read_request(struct pool *p, struct lsreq *r)
{
	for (;;) {
		switch (lsreq_get(&p->in, &p->field, r)) {
		case LSREQ_OK:
			return 1;
		case LSREQ_EOF:
			return 0;
		case LSREQ_TOOLONG:
			log_msg(SQLOG_WARN, "delivery %ld: a field longer than "
			        "the queue allows (%d octets); refused", r->slot,
			        QUEUE_ADDR_MAX);
			answer(r->slot, "D5.1.3 an address longer than the queue "
			       "allows");
			if (rbuf_pending(&p->in) == 0)
				return -1;
			continue;
		case LSREQ_BAD:
		default:
			die_sys_temp("sq-send sent a malformed request");
		}
	}
}

static void take_request(struct pool *p, const struct lsreq *r)
{
	for (unsigned long i = 0; i < p->n; i++)
		if (p->w[i].slot < 0) {
			struct lsreq copy = *r;
			hand_out(p, i, &copy);
			return;
		}
	if (p->nwait == p->capwait) {
		p->capwait = p->capwait ? 2 * p->capwait : 16;
		struct lsreq *g = realloc(p->wait, p->capwait * sizeof *g);
		if (!g)
			die_nomem();
		p->wait = g;
	}
	p->wait[p->nwait++] = *r;
}

static void worker_done(struct pool *p, unsigned long i)
{
	char a[ANSWER_MAX];
	ssize_t n = recv(p->w[i].sock, a, sizeof a - 1, 0);
	if (n <= 0) { /* died: its delivery is tried again later */
		long slot = p->w[i].slot;
		close(p->w[i].sock);
		waitpid(p->w[i].pid, NULL, 0);
		log_msg(SQLOG_WARN, "delivery worker %ld died; replacing it",
		        (long)p->w[i].pid);
		if (slot >= 0)
			answer(slot, "Z4.3.0 the delivery worker died");
		p->w[i].sock = -1;
		spawn(p, i);
	} else {
		a[n] = '\0';
		if (p->w[i].slot >= 0)
			answer(p->w[i].slot, a);
		p->w[i].slot = -1;
	}
	if (p->w[i].slot < 0 && p->nwait) {
		hand_out(p, i, &p->wait[0]);
		memmove(p->wait, p->wait + 1, --p->nwait * sizeof *p->wait);
	}
}

static void run(struct pool *p)
{
	struct pollfd *fds = calloc(p->n + 1, sizeof *fds);
	if (!fds)
		die_nomem();
	for (;;) {
		fds[0] = (struct pollfd){ 0, POLLIN, 0 };
		for (unsigned long i = 0; i < p->n; i++)
			fds[i + 1] = (struct pollfd){ p->w[i].sock, POLLIN, 0 };
		if (rbuf_pending(&p->in) == 0 &&
		    poll(fds, p->n + 1, -1) < 0 && errno != EINTR)
			die_sys_temp("poll: %s", strerror(errno));
		for (unsigned long i = 0; i < p->n; i++)
			if (fds[i + 1].revents)
				worker_done(p, i);
		if (rbuf_pending(&p->in) || fds[0].revents) {
			struct lsreq r;
			int got = read_request(p, &r);
			if (got == 0)
				break;
			if (got > 0)
				take_request(p, &r);
		}
	}
	free(fds);
}

int main(void)
{
	struct pool p;
	struct control ctl;
	char ctldir[SQ_PATH_MAX];
	unsigned long n = CONCURRENCYLOCAL_DEFAULT;
	log_init("sq-lspawn");
	signal(SIGPIPE, SIG_IGN);
	secret_nodump_or_die();
	die_if_root(1, "sq-start runs sq-lspawn as the delivery user");
	if (sq_path(ctldir, sizeof ctldir, "control") < 0 ||
	    control_open(&ctl, ctldir) < 0 ||
	    control_readulong(&ctl, "concurrencylocal", WORKERS_MAX, &n) < 0)
		die_sys_temp("cannot read control/concurrencylocal");
	control_close(&ctl);
	memset(&p, 0, sizeof p);
	p.n = n ? n : 1;
	if (!(p.w = calloc(p.n, sizeof *p.w)))
		die_nomem();
	for (unsigned long i = 0; i < p.n; i++)
		p.w[i].sock = -1;
	for (unsigned long i = 0; i < p.n; i++)
		spawn(&p, i);
	rbuf_init(&p.in, 0, -1);
	lsreq_field_init(&p.field);
	run(&p);
	/* sq-send is gone: the workers end when their sockets close */
	for (unsigned long i = 0; i < p.n; i++)
		close(p.w[i].sock);
	while (wait(NULL) > 0)
		;
	free(p.w);
	sbuf_free(&p.field);
	log_msg(SQLOG_INFO, "stopped");
	return 0;
}
