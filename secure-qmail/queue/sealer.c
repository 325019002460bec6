/*
 * sealer - seal one message for its local recipients and queue it. See
 * sealer.h and sq-seal(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "util/atomicfile.h"
#include "receive/databytes.h"
#include "deliver/dsn.h"
#include "receive/envelope.h"
#include "util/fail.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "crypto/pki.h"
#include "queue/fdpass.h"
#include "queue/queueprog.h"
#include "crypto/seal.h"
#include "queue/sealer.h"

#define ENVELOPE_MAX (1024 * 1024)
#define NOTICE_HEADERS_MAX (64 * 1024)
#define NOKEY_REASON "5.7.1 no encryption key for this recipient"

/* One recipient's fate. */
enum { TO_REMOTE, TO_SEALED, TO_NOKEY };
struct rcpt {
	int kind;
	X509 *pek;              /* TO_SEALED: our own reference */
	const char *to;         /* the envelope recipient of its copy */
};

/* The reason goes to s->error; returns code. */
#define fail(s, code, ...) \
	fail_why((s)->error, sizeof (s)->error, (code), __VA_ARGS__)

int sealer_init(struct sealer *s, struct control *ctl, struct pekcache *peks)
{
	struct sbuf v;
	char def[SQ_PATH_MAX];
	memset(s, 0, sizeof *s);
	s->qsock = -1;
	s->ctl = ctl;
	s->peks = peks;
	localdom_init(&s->locals, ctl);
	s->max = DATABYTES_DEFAULT + DATABYTES_RECEIVED;
	if (sq_path(def, sizeof def, "bin/sq-queue") < 0)
		return -1;
	sbuf_init(&v, CONTROL_LINE_MAX);
	int r = control_rldef(ctl, "sealqueue", 0, def, &v);
	if (r == 1 && path_join(s->queue_program, sizeof s->queue_program,
	                        v.s, NULL) < 0)
		r = -1;
	sbuf_free(&v);
	if (r < 0 || localdom_reload(&s->locals) < 0 || dsn_sender(ctl, s->me, sizeof s->me, s->bouncefrom,
	                                    sizeof s->bouncefrom) < 0)
		return -1;
	/* the limit sq-smtpd applies, and room for its Received: line */
	unsigned long databytes = 0;
	if (control_readulong(ctl, "databytes", DATABYTES_MAX, &databytes) < 0)
		return -1;
	s->max = (databytes ? databytes : DATABYTES_DEFAULT) + DATABYTES_RECEIVED;
	const char *base = strrchr(s->queue_program, '/');
	s->serve = strcmp(base ? base + 1 : s->queue_program, "sq-queue") == 0;
	return 0;
}

/* Ends the worker's sq-queue --serve (end of file on its socket). */
static void stop_queue_server(struct sealer *s)
{
	if (s->qsock < 0)
		return;
	close(s->qsock);
	s->qsock = -1;
	queueprog_wait(s->qpid);
}

void sealer_fini(struct sealer *s)
{
	stop_queue_server(s);
	localdom_free(&s->locals);
}

int sealer_is_local(struct sealer *s, const char *address)
{
	return localdom_match(&s->locals, address, NULL);
}

/* Starts the worker's sq-queue --serve on one end of a socket pair; 0,
 * or -1 (errno). */
static int start_queue_server(struct sealer *s)
{
	static char *const argv[] = { "sq-queue", "--serve", NULL };
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	s->qpid = queueprog_spawn(s->queue_program, argv, sv[1], sv[1]);
	int saved = errno;
	close(sv[1]);
	if (s->qpid < 0) {
		close(sv[0]);
		errno = saved;
		return -1;
	}
	s->qsock = sv[0];
	return 0;
}

/* Hands msgfd and a pipe with the envelope to the worker's sq-queue
 * --serve (started on first use, and again when it is gone before a
 * request: nothing of that request was queued); its answer, the exit
 * code of a run of its own. */
static int serve_queue(struct sealer *s, int msgfd, const struct sbuf *env)
{
	int p[2], sent = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return fail(s, QQ_TEMP, "pipe: %s", strerror(errno));
	int fds[2] = { msgfd, p[0] };
	for (int attempt = 0; attempt < 2 && sent < 0; attempt++) {
		if (s->qsock < 0 && start_queue_server(s) < 0)
			break;
		sent = fdpass_send(s->qsock, "QUEUE\n", 6, fds, 2);
		if (sent < 0)
			stop_queue_server(s);
	}
	int saved = errno;
	close(p[0]);
	int wr = sent == 0 ? write_all(p[1], env->s, env->len) : -1;
	close(p[1]);
	if (sent < 0)
		return fail(s, QQ_TEMP, "cannot reach %s --serve: %s",
		            s->queue_program, strerror(saved));
	char answer[16];
	int got[FDPASS_MAX];
	size_t ngot;
	ssize_t n = fdpass_recv(s->qsock, answer, sizeof answer - 1, got,
	                        &ngot);
	for (size_t i = 0; n > 0 && i < ngot; i++)
		close(got[i]);
	if (n <= 0) { /* it may have queued the copy: the caller retries */
		stop_queue_server(s);
		return fail(s, QQ_TEMP, "%s --serve went away",
		            s->queue_program);
	}
	answer[n] = '\0';
	int code = fdpass_answer_code(answer);
	if (code < 0)
		return fail(s, QQ_TEMP, "%s --serve answered nonsense",
		            s->queue_program);
	if (code == 0 && wr < 0)
		return fail(s, QQ_TEMP, "cannot write the envelope");
	if (code)
		fail(s, code, "the queue program exited %d", code);
	return code;
}

/* Runs the queue program with msgfd on its fd 0 and the envelope on a
 * pipe at fd 1, as qmail-queue is run (or asks the worker's sq-queue
 * --serve to); its exit code. */
static int run_queue(struct sealer *s, int msgfd, const struct sbuf *env)
{
	if (s->serve)
		return serve_queue(s, msgfd, env);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return fail(s, QQ_TEMP, "pipe: %s", strerror(errno));
	pid_t pid = queueprog_start(s->queue_program, "sq-queue", msgfd, p[0]);
	int spawn_errno = errno;
	close(p[0]);
	int wr = pid > 0 ? write_all(p[1], env->s, env->len) : -1;
	close(p[1]);
	if (pid < 0)
		return fail(s, spawn_errno == ENOENT || spawn_errno == EACCES
		               ? QQ_CONFIG : QQ_TEMP, "cannot run %s: %s",
		            s->queue_program, strerror(spawn_errno));
	int code = queueprog_wait(pid);
	if (code < 0)
		return fail(s, QQ_TEMP, "the queue program was killed");
	if (code == 0 && wr < 0)
		return fail(s, QQ_TEMP, "cannot write the envelope");
	if (code)
		fail(s, code, "the queue program exited %d", code);
	return code;
}

/* Seals msg for one recipient and queues the copy. */
static int queue_sealed(struct sealer *s, const struct sbuf *msg, X509 *pek,
                        const char *sender, const char *rcpt)
{
	struct sbuf env;
	char err[256];
	int fd = memfd_create("sq-sealed", MFD_CLOEXEC);
	if (fd < 0)
		return fail(s, QQ_TEMP, "memfd: %s", strerror(errno));
	int code = seal_mem(msg->s ? msg->s : "", msg->len, fd, pek, NULL) < 0
	           ? fail(s, QQ_TEMP, "seal: %s", pki_errstr(err, sizeof err))
	           : QQ_OK;
	sbuf_init(&env, ENVELOPE_MAX);
	if (code == QQ_OK && (lseek(fd, 0, SEEK_SET) < 0 ||
	                      envelope_format(&env, sender, &rcpt, 1) < 0))
		code = fail(s, QQ_NOMEM, "envelope");
	if (code == QQ_OK)
		code = run_queue(s, fd, &env);
	sbuf_free(&env);
	close(fd);
	return code;
}

/* Queues msg as it is for the remote recipients (relayed mail: the only
 * plaintext a queue may hold). */
static int queue_plain(struct sealer *s, const struct sbuf *msg,
                       const char *sender, char **rcpt, size_t n)
{
	struct sbuf env;
	int fd = memfd_create("sq-relay", MFD_CLOEXEC);
	if (fd < 0)
		return fail(s, QQ_TEMP, "memfd: %s", strerror(errno));
	sbuf_init(&env, ENVELOPE_MAX);
	int code = write_all(fd, msg->s ? msg->s : "", msg->len) < 0 ||
	           lseek(fd, 0, SEEK_SET) < 0 ||
	           envelope_format(&env, sender, (const char *const *)rcpt, n) < 0
	           ? fail(s, QQ_TEMP, "cannot stage the relayed message")
	           : run_queue(s, fd, &env);
	sbuf_free(&env);
	close(fd);
	return code;
}

/* Reads fd to EOF into b (bounded by b's max: too_big past it) before
 * the monotonic time deadline (0: none; QQ_TEMP with ETIMEDOUT past it). */
static int slurp(int fd, struct sbuf *b, int too_big, time_t deadline)
{
	char chunk[8192];
	int r = QQ_OK;
	for (;;) {
		if (deadline) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int left = now.tv_sec >= deadline ? 0
			           : (int)(deadline - now.tv_sec) * 1000;
			int k = left ? poll(&p, 1, left) : 0;
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				r = QQ_READ;
				break;
			}
			if (k == 0) {
				errno = ETIMEDOUT;
				r = QQ_TEMP;
				break;
			}
		}
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? QQ_READ : QQ_OK;
			break;
		}
		if (sbuf_put(b, chunk, (size_t)n) < 0) {
			r = errno == EMSGSIZE ? too_big : QQ_READ;
			break;
		}
	}
	explicit_bzero(chunk, sizeof chunk);
	return r;
}

/* control/postmaster, normalised, into s->postmaster: 1, 0 when it is
 * missing or not an address (logged: mail to postmaster then has no
 * key), -1 when it cannot be read. Read for each message that needs it,
 * so a change takes effect without a restart. */
static int read_postmaster(struct sealer *s)
{
	struct sbuf v;
	sbuf_init(&v, CONTROL_LINE_MAX);
	int r = control_readline(s->ctl, "postmaster", &v);
	if (r == 1 && addr_normalize(v.s ? v.s : "", v.len, s->postmaster)
	              != ADDR_OK) {
		log_msg(SQLOG_WARN, "control/postmaster is not an address: mail "
		        "to postmaster cannot be sealed");
		r = 0;
	} else if (r == 0)
		log_msg(SQLOG_WARN, "control/postmaster is missing: mail to "
		        "postmaster cannot be sealed");
	sbuf_free(&v);
	return r;
}

/* The hash of address, as the logs name addresses (never in clear). */
static void address_tag(const char *address, char out[9])
{
	char norm[ADDR_MAX + 1];
	if (addr_normalize(address, strlen(address), norm) == ADDR_OK)
		addr_hash_hex(addr_hash(norm), out);
	else
		snprintf(out, 9, "invalid");
}

/* What becomes of one address: remote (queued as it is), sealed (with a
 * reference of our own to its PEK; postmaster goes to the address in
 * control/postmaster) or keyless. A qmail-queue code: anything but QQ_OK
 * fails the whole message. */
static int resolve(struct sealer *s, const char *address, struct rcpt *r)
{
	char norm[ADDR_MAX + 1];
	X509 *pek;
	r->kind = TO_REMOTE;
	r->pek = NULL;
	r->to = address;
	/* local by its domain, whatever the rest looks like: a local
	 * recipient the sealer cannot name is keyless, never plaintext */
	int local = sealer_is_local(s, address);
	if (local < 0)
		return fail(s, QQ_CONFIG, "cannot read the local domains");
	if (!local)
		return QQ_OK;
	r->kind = TO_NOKEY;
	if (localdom_is_postmaster(address)) {
		int p = read_postmaster(s);
		if (p < 0)
			return fail(s, QQ_CONFIG, "cannot read control/postmaster");
		if (p == 0)
			return QQ_OK;
		r->to = s->postmaster;
	}
	if (addr_normalize(r->to, strlen(r->to), norm) != ADDR_OK)
		return QQ_OK;
	int k = pekcache_get(s->peks, norm, &pek);
	if (k == PEK_TEMP)
		return fail(s, QQ_TEMP, "%s", s->peks->error);
	if (k == PEK_OK) {
		/* the cache may replace it: keep our own reference */
		X509_up_ref(pek);
		r->pek = pek;
		r->kind = TO_SEALED;
	}
	return QQ_OK;
}

/* Every recipient's fate; the keyless, each logged by its hash, counted
 * in s->keyless. */
static int resolve_all(struct sealer *s, const struct envelope *e,
                       struct rcpt *r)
{
	char tag[9];
	s->keyless = 0;
	for (size_t i = 0; i < e->n; i++) {
		int code = resolve(s, e->rcpt[i], &r[i]);
		if (code != QQ_OK)
			return code;
		if (r[i].kind != TO_NOKEY)
			continue;
		s->keyless++;
		address_tag(e->rcpt[i], tag);
		log_msg(SQLOG_WARN, "recipient hash %s has no key: not queued "
		        "for it", tag);
	}
	return QQ_OK;
}

/* The failure notice (RFC 3464) to the sender for the keyless
 * recipients: their addresses, the reason, and (when the notice is sealed)
 * the header section of the message, never its body. */
static int build_notice(struct sealer *s, const struct sbuf *msg,
                        const struct envelope *e, const struct rcpt *r,
                        int with_headers, struct sbuf *out)
{
	struct sbuf failures;
	const char *text = msg->s ? msg->s : "";
	time_t now = time(NULL);
	int bad = 0;
	sbuf_init(&failures, ENVELOPE_MAX);
	for (size_t i = 0; !bad && i < e->n; i++)
		if (r[i].kind == TO_NOKEY)
			bad = sbuf_putc(&failures, 'R') < 0 ||
			      sbuf_put(&failures, e->rcpt[i],
			               strlen(e->rcpt[i]) + 1) < 0 ||
			      sbuf_put(&failures, NOKEY_REASON,
			               sizeof NOKEY_REASON) < 0;
	s->notices++;
	struct dsn d = { s->me, s->bouncefrom, e->sender,
	                 ((unsigned long long)getpid() << 32) | s->notices,
	                 now, now, failures.s, failures.len };
	if (!bad && with_headers)
		bad = dsn_build_headers(&d, text, dsn_header_section(text,
		                        msg->len, NOTICE_HEADERS_MAX), out) < 0;
	else if (!bad)
		bad = dsn_build(&d, out) < 0;
	sbuf_free(&failures);
	return bad ? fail(s, QQ_NOMEM, "cannot make the failure notice")
	           : QQ_OK;
}

/* Queues the notice for the keyless recipients to the sender, as sq-send
 * queues its notices: null sender, sealed for a local sender, as it is
 * for a remote one (then without the headers: a local recipient's mail
 * leaves no plaintext in the queue); none for a null sender or one
 * without a key. */
static int queue_notice(struct sealer *s, const struct sbuf *msg,
                        const struct envelope *e, const struct rcpt *r,
                        const struct rcpt *to)
{
	struct sbuf notice;
	char tag[9];
	if (!to) {
		log_msg(SQLOG_INFO, "the sender is null: no failure notice");
		return QQ_OK;
	}
	if (to->kind == TO_NOKEY) {
		address_tag(e->sender, tag);
		log_msg(SQLOG_WARN, "the sender (hash %s) is local without a "
		        "key: no failure notice", tag);
		return QQ_OK;
	}
	sbuf_init_secret(&notice, NOTICE_HEADERS_MAX + ENVELOPE_MAX + 65536);
	int code = build_notice(s, msg, e, r, to->kind == TO_SEALED, &notice);
	if (code == QQ_OK)
		code = to->kind == TO_SEALED
		       ? queue_sealed(s, &notice, to->pek, "", to->to)
		       : queue_plain(s, &notice, "", (char **)&e->sender, 1);
	if (code == QQ_OK)
		s->notice = 1;
	sbuf_free(&notice);
	return code;
}

/* 1 for the null sender, and qmail's "#@[]" of a notice about a notice. */
static int null_sender(const char *sender)
{
	return !*sender || strcmp(sender, "#@[]") == 0;
}

/* Queues the copies: the remote recipients' as it is, one sealed copy per
 * local recipient with a key (so no RecipientInfo names another: a Bcc
 * stays blind), then the notice for the keyless. A failure after some
 * copies leaves those queued and the sender told to retry: at least
 * once, never lost (sq-seal(8)). */
static int queue_all(struct sealer *s, const struct sbuf *msg,
                     const struct envelope *e, const struct rcpt *r,
                     const struct rcpt *sender)
{
	char **remote = calloc(e->n, sizeof *remote);
	size_t nremote = 0;
	int code = remote ? QQ_OK : fail(s, QQ_NOMEM, "out of memory");
	for (size_t i = 0; code == QQ_OK && i < e->n; i++)
		if (r[i].kind == TO_REMOTE)
			remote[nremote++] = e->rcpt[i];
	if (code == QQ_OK && nremote &&
	    (code = queue_plain(s, msg, e->sender, remote, nremote)) == QQ_OK)
		s->remote = nremote;
	free(remote);
	for (size_t i = 0; code == QQ_OK && i < e->n; i++)
		if (r[i].kind == TO_SEALED &&
		    (code = queue_sealed(s, msg, r[i].pek, e->sender,
		                         r[i].to)) == QQ_OK)
			s->sealed++;
	if (code == QQ_OK && s->keyless)
		code = queue_notice(s, msg, e, r, sender);
	return code;
}

/* Decides every recipient's fate, then queues: nothing is queued unless
 * each local recipient's key question has an answer, and nothing when no
 * recipient at all can be served. */
static int seal_and_queue(struct sealer *s, const struct sbuf *msg,
                          const struct envelope *e)
{
	struct rcpt *r = calloc(e->n, sizeof *r);
	struct rcpt sender = { TO_REMOTE, NULL, NULL };
	int has_sender = !null_sender(e->sender);
	int code = r ? resolve_all(s, e, r) : fail(s, QQ_NOMEM, "out of memory");
	if (code == QQ_OK && s->keyless == e->n)
		code = fail(s, QQ_REFUSED, "no recipient has a key");
	/* the sender's key too, before anything is queued: a notice that
	 * cannot be sealed now must not half-queue the message */
	if (code == QQ_OK && s->keyless && has_sender)
		code = resolve(s, e->sender, &sender);
	if (code == QQ_OK)
		code = queue_all(s, msg, e, r, has_sender ? &sender : NULL);
	for (size_t i = 0; r && i < e->n; i++)
		X509_free(r[i].pek);
	X509_free(sender.pek);
	free(r);
	return code;
}

int sealer_queue(struct sealer *s, int msgfd, int envfd)
{
	struct sbuf msg, envtext;
	struct envelope e;
	int code;
	*s->error = '\0';
	s->octets = s->sealed = s->remote = s->keyless = 0;
	s->notice = 0;
	sbuf_init_secret(&msg, s->max);
	sbuf_init(&envtext, ENVELOPE_MAX);
	time_t deadline = 0;
	if (s->timeout) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		deadline = now.tv_sec + (time_t)s->timeout;
	}
	if ((code = slurp(msgfd, &msg, QQ_TOO_BIG, deadline)) != QQ_OK ||
	    (code = slurp(envfd, &envtext, QQ_ENVELOPE, deadline)) != QQ_OK) {
		fail(s, code, code == QQ_READ ? "cannot read the input"
		              : code == QQ_TEMP ? "timed out reading the input"
		              : code == QQ_TOO_BIG ? "message too large"
		                                   : "envelope too large");
		sbuf_free(&msg);
		sbuf_free(&envtext);
		return code;
	}
	if (envelope_parse(&e, envtext.s, envtext.len) < 0) {
		code = errno == ENAMETOOLONG ? QQ_ADDR_TOO_LONG : QQ_ENVELOPE;
		sbuf_free(&msg);
		sbuf_free(&envtext);
		return fail(s, code, "bad envelope");
	}
	s->octets = msg.len;
	code = seal_and_queue(s, &msg, &e);
	envelope_free(&e);
	sbuf_free(&msg); /* a secret sbuf: the plaintext is wiped */
	sbuf_free(&envtext);
	ERR_clear_error();
	return code;
}
