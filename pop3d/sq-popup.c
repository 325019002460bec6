/*
 * NAME
 *	sq-popup - the POP3 greeting and login, with STLS
 * SYNOPSIS
 *	tcpserver ... sq-popup [-T] sq-checkpw sq-pop3d [-s]
 *	sq-popup -l [-u user] [-a host:port ...] [-T] sq-checkpw sq-pop3d [-s]
 * DESCRIPTION
 *	The AUTHORIZATION state of RFC 1939: USER and PASS, CAPA (RFC
 *	2449), STLS (RFC 2595) and QUIT; no APOP, for the password itself
 *	unlocks the subscriber's key. -T makes the TLS handshake first (a
 *	port in the manner of 995). PASS runs the checkpassword program
 *	given (the password on its descriptor 3) with a socket pair as its
 *	descriptors 0 and 1, and relays the session between it and the
 *	client, inside TLS when there is TLS. A program that ends without
 *	a word failed the login: exit 1 is a wrong password (-ERR [AUTH]),
 *	any other "try later" (-ERR [SYS/TEMP]: sq-checkpw's 111 when the
 *	key store throttles the login or is down); each costs a growing
 *	pause, and the third closes the connection. With -l it is its
 *	own listener (tcplisten: tcpserver's rules and environment, a fork
 *	and no exec per connection) on the -a addresses, else those of
 *	control/pop3-listen (pop3s-listen with -T), as user (the POP3 user
 *	by default) after binding.
 * SECURITY
 *	Talks to the Internet, as the POP3 user (sqmailp) under tcpserver;
 *	never as root. Sees the password once, at PASS: it goes to the
 *	checkpassword program on a pipe (descriptor 3), never argv or the
 *	environment, and its buffer is wiped; core dumps are off
 *	(secret_nodump). Holds no key: the unlocked PDK lives only in the
 *	process after sq-checkpw. Every command line is bounded; passwords
 *	in the clear only over TLS, from loopback or control/pop3cleartext.
 * STANDARDS
 *	RFC 1939, RFC 2449 (CAPA), RFC 2595 (STLS), RFC 8314 (TLS first)
 * SEE ALSO
 *	sq-popup(8)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auto_users.h"
#include "util/atomicfile.h"
#include "checkpw.h"
#include "cleartext.h"
#include "util/control.h"
#include "util/die.h"
#include "util/home.h"
#include "util/log.h"
#include "net/tcplisten.h"
#include "net/netio.h"
#include "util/path.h"
#include "util/privdrop.h"
#include "popcmd.h"
#include "util/secretfd.h"

#define TIMEOUT_DEFAULT 600     /* RFC 1939: at least 10 minutes */
#define FAILURES_MAX 3          /* wrong passwords before we close */
#define ERRORS_MAX 20           /* other mistakes before we close */
#define USER_MAX 255

struct popup {
	struct netio io;
	struct control ctl;
	char me[256];
	char certfile[SQ_PATH_MAX];
	char remoteip[64];
	int tls_offered;
	int cleartext;          /* PASS before TLS allowed from this peer */
	char user[USER_MAX + 1];
	int failures, errors;
	char **checkpw;         /* the program and its arguments */
};

static void __attribute__((noreturn)) bye(struct popup *p, int code)
{
	netio_flush(&p->io);
	netio_fini(&p->io);
	control_close(&p->ctl);
	exit(code);
}

static void __attribute__((noreturn)) unavailable(struct popup *p,
                                                  const char *why)
{
	log_msg(SQLOG_ALERT, "%s", why);
	netio_reply(&p->io, "-ERR [SYS/TEMP] temporarily unavailable, try "
	            "again later");
	bye(p, 111);
}

static void configure(struct popup *p)
{
	char dir[SQ_PATH_MAX];
	struct sbuf me;
	unsigned long timeout = TIMEOUT_DEFAULT;
	const char *ip = getenv("TCPREMOTEIP");
	snprintf(p->remoteip, sizeof p->remoteip, "%s", ip ? ip : "unknown");
	if (sq_path(dir, sizeof dir, "control") < 0 ||
	    control_open(&p->ctl, dir) < 0)
		unavailable(p, "cannot open the control directory");
	sbuf_init(&me, CONTROL_LINE_MAX);
	if (control_rldef(&p->ctl, "me", 0, "localhost", &me) < 0 ||
	    control_readulong(&p->ctl, "timeoutpop3d", 86400, &timeout) < 0 ||
	    timeout == 0)
		unavailable(p, "control/me or control/timeoutpop3d unreadable");
	snprintf(p->me, sizeof p->me, "%s", me.s);
	sbuf_free(&me);
	netio_set_timeout(&p->io, (int)timeout * 1000);
	p->cleartext = cleartext_allowed(&p->ctl, ip);
	if (p->cleartext < 0)
		unavailable(p, "control/" CLEARTEXT_CONTROL " unreadable or malformed");
	/* its own file where the SMTP server's belongs to another user */
	if (path_join(p->certfile, sizeof p->certfile, dir, "pop3cert.pem",
	              NULL) < 0 || access(p->certfile, R_OK) < 0)
		path_join(p->certfile, sizeof p->certfile, dir, "servercert.pem",
		          NULL);
	p->tls_offered = *p->certfile && access(p->certfile, R_OK) == 0;
}

static int start_tls(struct popup *p)
{
	if (netio_tls_load(&p->io, p->certfile) < 0) {
		log_msg(SQLOG_ALERT, "cannot load %s", p->certfile);
		return -1;
	}
	if (netio_starttls(&p->io) < 0) {
		log_msg(SQLOG_WARN, "TLS handshake with %s failed", p->remoteip);
		return -1;
	}
	return 0;
}

/* ---- the login: the checkpassword program, then the relay ---------- */

/* Starts the checkpassword program with the credentials on descriptor 3
 * and a socket pair on 0 and 1; our end of the pair, or -1. */
static int spawn(struct popup *p, const char *password, pid_t *pid)
{
	char in[CHECKPW_INPUT_MAX + 1];
	int n = snprintf(in, sizeof in, "%s%c%s%c%ld.%ld@%s%c", p->user, 0,
	                 password, 0, (long)getpid(), (long)time(NULL), p->me,
	                 0);
	int sv[2] = { -1, -1 };
	int cred = n > 0 && n <= CHECKPW_INPUT_MAX ? secret_pipe(in, (size_t)n)
	                                           : -1;
	explicit_bzero(in, sizeof in);
	if (cred < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    (*pid = fork()) < 0) {
		if (cred >= 0)
			close(cred);
		if (sv[0] >= 0)
			close(sv[0]), close(sv[1]);
		return -1;
	}
	if (*pid == 0) {
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0 ||
		    secret_pass(cred, 3) < 0)
			_exit(111);
		signal(SIGPIPE, SIG_DFL);
		execvp(p->checkpw[0], p->checkpw);
		log_msg(SQLOG_ALERT, "cannot run %s: %s", p->checkpw[0],
		        strerror(errno));
		_exit(111);
	}
	close(cred);
	close(sv[1]);
	return sv[0];
}

/* Relays between the client and the program on fd until the program
 * closes its end. Nothing from the client goes to it before it has
 * spoken (the login succeeded): a failed login's program must not eat
 * the client's next command. 1 if it spoke. */
static int relay(struct popup *p, int fd)
{
	char buf[65536];
	int spoke = 0, client_open = 1;
	for (;;) {
		int buffered = spoke && client_open && netio_buffered(&p->io);
		struct pollfd fds[2] = { { .fd = fd, .events = POLLIN },
		                         { .fd = p->io.rfd, .events = POLLIN } };
		int r = poll(fds, spoke && client_open ? 2 : 1,
		             buffered ? 0 : p->io.timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (r == 0 && !buffered))
			break; /* idle too long: the program goes with us */
		if (fds[0].revents) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n <= 0)
				break;
			spoke = 1;
			if (netio_send(&p->io, buf, (size_t)n) < 0)
				break;
		}
		if (spoke && client_open && (buffered || fds[1].revents)) {
			ssize_t n = netio_read(&p->io, buf, sizeof buf);
			if (n <= 0 || write_all(fd, buf, (size_t)n) < 0) {
				shutdown(fd, SHUT_WR); /* it sees EOF and ends */
				client_open = 0;
			}
		}
	}
	close(fd);
	return spoke;
}

/* PASS: the session, when the program spoke; else a failed login. */
static void login(struct popup *p, const char *password)
{
	pid_t pid;
	int status = 0;
	int fd = spawn(p, password, &pid);
	if (fd < 0)
		unavailable(p, "cannot start the login program");
	int spoke = relay(p, fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 111;
	if (spoke) {
		log_msg(SQLOG_INFO, "session from %s ended (%d)", p->remoteip, code);
		bye(p, code);
	}
	p->user[0] = '\0';
	/* "not now" paces the client as a wrong password does: a throttled
	 * login must not become a fast loop of logins the key store refuses */
	p->failures++;
	if (code != 1)
		log_msg(SQLOG_WARN, "login from %s: checkpassword exit %d",
		        p->remoteip, code);
	else
		log_msg(SQLOG_WARN, "login from %s failed (%d)", p->remoteip,
		        p->failures);
	sleep(1U << p->failures); /* 2, 4, 8 seconds */
	/* RFC 3206: SYS/TEMP is "try later" (a throttled login or a key store
	 * down: no password was tried); AUTH is a wrong password */
	if (code != 1)
		netio_reply(&p->io, "-ERR [SYS/TEMP] cannot check the password "
		            "now, try again later");
	else
		netio_reply(&p->io, "-ERR [AUTH] authorization failed");
	if (p->failures >= FAILURES_MAX) {
		netio_reply(&p->io, "-ERR too many failures, closing");
		bye(p, 0);
	}
}

/* ---- the AUTHORIZATION state --------------------------------------- */

static void cmd_capa(struct popup *p)
{
	netio_reply(&p->io, "+OK capability list follows");
	if (p->io.ssl || p->cleartext)
		netio_reply(&p->io, "USER");
	if (p->tls_offered && !p->io.ssl)
		netio_reply(&p->io, "STLS");
	for (const char *const *c = pop_capabilities; *c; c++)
		netio_reply(&p->io, "%s", *c);
	netio_reply(&p->io, ".");
}

static void cmd_stls(struct popup *p)
{
	if (p->io.ssl || !p->tls_offered) {
		netio_reply(&p->io, "-ERR %s", p->io.ssl ? "already in TLS"
		                                         : "STLS not available");
		return;
	}
	netio_reply(&p->io, "+OK begin TLS negotiation");
	p->user[0] = '\0'; /* RFC 2595: nothing said before TLS counts */
	if (start_tls(p) < 0)
		bye(p, 0);
}

static void cmd_user(struct popup *p, const char *arg)
{
	if (!*arg || strlen(arg) > USER_MAX || strchr(arg, ' ')) {
		netio_reply(&p->io, "-ERR usage: USER address");
		return;
	}
	snprintf(p->user, sizeof p->user, "%s", arg);
	netio_reply(&p->io, "+OK now PASS");
}

static void cmd_pass(struct popup *p, const char *arg)
{
	if (!p->io.ssl && !p->cleartext) {
		netio_reply(&p->io, "-ERR [AUTH] STLS first: no password in the "
		            "clear from your network");
		return;
	}
	if (!p->user[0] || !*arg) {
		netio_reply(&p->io, "-ERR %s", p->user[0] ? "usage: PASS password"
		                                          : "USER first");
		return;
	}
	login(p, arg);
}

/* One line of the AUTHORIZATION state; 1 when the client quits. */
static int command(struct popup *p, struct sbuf *line)
{
	struct pop_cmd c;
	if (popcmd_parse(line, &c) < 0) {
		netio_reply(&p->io, "-ERR unknown command");
		p->errors++;
	} else if (!strcmp(c.verb, "QUIT")) {
		netio_reply(&p->io, "+OK bye");
		return 1;
	} else if (!strcmp(c.verb, "CAPA")) {
		cmd_capa(p);
	} else if (!strcmp(c.verb, "STLS")) {
		cmd_stls(p);
	} else if (!strcmp(c.verb, "USER")) {
		cmd_user(p, c.arg);
	} else if (!strcmp(c.verb, "PASS")) {
		cmd_pass(p, c.arg);
	} else if (!strcmp(c.verb, "APOP")) {
		netio_reply(&p->io, "-ERR APOP not available: your password "
		            "unlocks your key, use USER and PASS");
	} else {
		netio_reply(&p->io, "-ERR unknown command or not before login");
		p->errors++;
	}
	return 0;
}

#define USAGE "usage: sq-popup [-l [-u user] [-a host:port ...]] [-T] " \
              "checkpassword-program ..."

/* sq-popup -l [-u USER] [-a HOST:PORT ...] [-T] PROG...: opens the
 * addresses (none: control/pop3-listen, or pop3s-listen with -T), becomes
 * USER and returns in each connection's child (tcplisten) the index of
 * the argument before the session's own. */
static int listen_mode(int argc, char **argv)
{
	static const struct tcplisten_names plain = {
		"pop3-listen", "0.0.0.0:110", "concurrencypop3",
		"control/tcp.pop3.cdb"
	}, tls = {
		"pop3s-listen", "0.0.0.0:995", "concurrencypop3",
		"control/tcp.pop3.cdb"
	};
	struct tcplisten tl;
	struct control ctl;
	char dir[SQ_PATH_MAX], *addrs[LISTEN_MAX];
	const char *user = SQ_USER_POP;
	size_t naddrs = 0;
	int i = 2;
	if (i + 1 < argc && strcmp(argv[i], "-u") == 0) {
		user = argv[i + 1];
		i += 2;
	}
	for (; i + 1 < argc && strcmp(argv[i], "-a") == 0; i += 2) {
		if (naddrs == LISTEN_MAX)
			die_badarg("more than %d addresses", LISTEN_MAX);
		addrs[naddrs++] = argv[i + 1];
	}
	if (i >= argc)
		die_usage(USAGE);
	int implicit_tls = strcmp(argv[i], "-T") == 0;
	if (sq_path(dir, sizeof dir, "control") < 0 ||
	    control_open(&ctl, dir) < 0)
		die_sys_temp("cannot open the control directory: %s",
		             strerror(errno));
	if (tcplisten_open(&tl, &ctl, implicit_tls ? &tls : &plain, addrs,
	                   naddrs) < 0)
		die_sys_temp("%s", tl.why);
	control_close(&ctl);
	if (privdrop(user) < 0)
		die_sys_temp("cannot become %s: %s", user, strerror(errno));
	tcplisten_serve(&tl);
	return i - 1;
}

int main(int argc, char **argv)
{
	static struct popup p;
	struct sbuf line;
	int implicit_tls = 0;
	log_init("sq-popup");
	if (argc > 1 && strcmp(argv[1], "-l") == 0) {
		int skip = listen_mode(argc, argv);
		argv += skip, argc -= skip;
	}
	/* after the listener's privdrop too, which resets it */
	secret_nodump_or_die(); /* passwords pass through here */
	signal(SIGPIPE, SIG_IGN);
	netio_init(&p.io, 0, 1, TIMEOUT_DEFAULT * 1000);
	/* the relay writes whole chunks: nothing gains from Nagle's wait */
	setsockopt(1, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (argc > 1 && !strcmp(argv[1], "-T")) {
		implicit_tls = 1;
		argv++, argc--;
	}
	if (argc < 2)
		unavailable(&p, USAGE);
	p.checkpw = argv + 1;
	configure(&p);
	if (implicit_tls && (!p.tls_offered || start_tls(&p) < 0))
		bye(&p, 111);
	netio_reply(&p.io, "+OK %s POP3 server ready", p.me);
	sbuf_init_secret(&line, POP_LINE_MAX); /* it may hold a password */
	for (;;) {
		enum rbuf_line r = netio_getline(&p.io, &line, POP_LINE_MAX);
		if (r == RBUF_TOOLONG) {
			netio_reply(&p.io, "-ERR line too long");
			p.errors++;
		} else if (r != RBUF_LINE) {
			if (r == RBUF_ERROR && errno == ETIMEDOUT)
				netio_reply(&p.io, "-ERR autologout: idle too long");
			break;
		} else if (command(&p, &line)) {
			break;
		}
		if (p.errors > ERRORS_MAX) {
			netio_reply(&p.io, "-ERR too many errors, closing");
			break;
		}
	}
	sbuf_free(&line);
	bye(&p, 0);
}
