/*
 * sealer - seal one message for its local recipients and queue it. See
 * sealer.h and sq-seal(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "atomicfile.h"
#include "envelope.h"
#include "home.h"
#include "pki.h"
#include "queueprog.h"
#include "seal.h"
#include "sealer.h"

#define ENVELOPE_MAX (1024 * 1024)
#define MESSAGE_MAX_DEFAULT (64ULL * 1024 * 1024)

static int fail(struct sealer *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct sealer *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->error, sizeof s->error, fmt, ap);
	va_end(ap);
	return code;
}

int sealer_init(struct sealer *s, struct control *ctl, struct pekcache *peks)
{
	struct sbuf v;
	char def[4200];
	memset(s, 0, sizeof *s);
	s->ctl = ctl;
	s->peks = peks;
	localdom_init(&s->locals, ctl);
	s->max = MESSAGE_MAX_DEFAULT;
	if (sq_path(def, sizeof def, "bin/sq-queue") < 0)
		return -1;
	sbuf_init(&v, CONTROL_LINE_MAX);
	int r = control_rldef(ctl, "sealqueue", 0, def, &v);
	if (r == 1)
		snprintf(s->queue_program, sizeof s->queue_program, "%s", v.s);
	sbuf_free(&v);
	if (r < 0 || localdom_reload(&s->locals) < 0)
		return -1;
	unsigned long databytes = 0;
	if (control_readulong(ctl, "databytes", 1UL << 40, &databytes) < 0)
		return -1;
	if (databytes)
		s->max = databytes + 64 * 1024; /* and its Received: line */
	return 0;
}

void sealer_fini(struct sealer *s)
{
	localdom_free(&s->locals);
}

int sealer_is_local(struct sealer *s, const char *address)
{
	return localdom_match(&s->locals, address, NULL);
}

/* Runs the queue program with msgfd on its fd 0 and the envelope on a
 * pipe at fd 1, as qmail-queue is run; its exit code. */
static int run_queue(struct sealer *s, int msgfd, const struct sbuf *env)
{
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

/* Reads fd to EOF into b (bounded by b's max). */
static int slurp(int fd, struct sbuf *b)
{
	int r = sbuf_read_fd(b, fd);
	return r < 0 ? (errno == EMSGSIZE ? QQ_REFUSED : QQ_READ) : QQ_OK;
}

/* Every local recipient's key, or the reason some have none. */
static int collect_keys(struct sealer *s, const struct envelope *e,
                        X509 **pek, int *local)
{
	for (size_t i = 0; i < e->n; i++) {
		char norm[ADDR_MAX + 1];
		pek[i] = NULL;
		/* local by its domain, whatever the rest looks like: a local
		 * recipient the sealer cannot name is refused, never queued as
		 * plaintext */
		local[i] = sealer_is_local(s, e->rcpt[i]);
		if (local[i] < 0)
			return fail(s, QQ_CONFIG, "cannot read the local domains");
		if (!local[i])
			continue;
		if (addr_normalize(e->rcpt[i], strlen(e->rcpt[i]), norm) != ADDR_OK)
			return fail(s, QQ_REFUSED, "no key for %s", e->rcpt[i]);
		int r = pekcache_get(s->peks, norm, &pek[i]);
		if (r == PEK_TEMP)
			return fail(s, QQ_TEMP, "%s", s->peks->error);
		if (r == PEK_NONE)
			return fail(s, QQ_REFUSED, "no key for %s", norm);
		/* the cache may replace it: keep our own reference */
		X509_up_ref(pek[i]);
	}
	return QQ_OK;
}

int sealer_queue(struct sealer *s, int msgfd, int envfd)
{
	struct sbuf msg, envtext;
	struct envelope e;
	int code;
	*s->error = '\0';
	s->octets = s->sealed = s->remote = 0;
	sbuf_init_secret(&msg, s->max);
	sbuf_init(&envtext, ENVELOPE_MAX);
	if ((code = slurp(msgfd, &msg)) != QQ_OK ||
	    (code = slurp(envfd, &envtext)) != QQ_OK) {
		if (!*s->error)
			fail(s, code, code == QQ_READ ? "cannot read the input"
			                              : "message too large");
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
	X509 **pek = calloc(e.n, sizeof *pek);
	int *local = calloc(e.n, sizeof *local);
	char **remote = calloc(e.n, sizeof *remote);
	size_t nremote = 0;
	code = pek && local && remote ? collect_keys(s, &e, pek, local)
	                              : fail(s, QQ_NOMEM, "out of memory");
	for (size_t i = 0; code == QQ_OK && i < e.n; i++)
		if (!local[i])
			remote[nremote++] = e.rcpt[i];
	s->octets = msg.len;
	if (code == QQ_OK && nremote &&
	    (code = queue_plain(s, &msg, e.sender, remote, nremote)) == QQ_OK)
		s->remote = nremote;
	/* One sealed copy per recipient. A failure after some copies leaves
	 * those queued and the sender told to retry: at least once, never
	 * lost (sq-seal(8)). */
	for (size_t i = 0; code == QQ_OK && i < e.n; i++)
		if (local[i] && (code = queue_sealed(s, &msg, pek[i], e.sender,
		                                     e.rcpt[i])) == QQ_OK)
			s->sealed++;
	for (size_t i = 0; pek && i < e.n; i++)
		X509_free(pek[i]);
	free(pek);
	free(local);
	free(remote);
	envelope_free(&e);
	sbuf_free(&msg); /* a secret sbuf: the plaintext is wiped */
	sbuf_free(&envtext);
	ERR_clear_error();
	return code;
}
