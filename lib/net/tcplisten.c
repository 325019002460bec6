/*
 * tcplisten - a daemon's own listener. See tcplisten.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/home.h"
#include "util/log.h"
#include "net/tcprules.h"
#include "net/tcplisten.h"

int tcplisten_open(struct tcplisten *tl, struct control *ctl,
                   const struct tcplisten_names *names, char *const *addrs,
                   size_t naddrs)
{
	tl->n = 0;
	tl->concurrency = CONCURRENCY_DEFAULT;
	if (control_readulong(ctl, names->concurrency, CONCURRENCY_MAX,
	                      &tl->concurrency) < 0) {
		snprintf(tl->why, sizeof tl->why, "control/%s: %s",
		         names->concurrency, strerror(errno));
		return -1;
	}
	if (tl->concurrency == 0)
		tl->concurrency = 1;
	if (sq_path(tl->rules, sizeof tl->rules, names->rules) < 0) {
		snprintf(tl->why, sizeof tl->why, "path too long");
		return -1;
	}
	if (naddrs == 0)
		return listener_open(ctl, names->listen, names->fallback, 0,
		                     tl->l, LISTEN_MAX, &tl->n, tl->why,
		                     sizeof tl->why);
	for (size_t i = 0; i < naddrs; i++)
		if (listener_add(addrs[i], 0, tl->l, LISTEN_MAX, &tl->n, tl->why,
		                 sizeof tl->why) < 0)
			return -1;
	return 0;
}

static int crash_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
	       sig == SIGFPE || sig == SIGABRT || sig == SIGSYS;
}

/* Collects ended children (waiting for one when block); how many ended.
 * *crashed is set when one ended by a crash signal. */
static unsigned long reap(int block, int *crashed)
{
	unsigned long ended = 0;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, block && !ended ? 0 : WNOHANG)) > 0 ||
	       (pid < 0 && errno == EINTR)) {
		if (pid < 0)
			continue;
		ended++;
		if (WIFSIGNALED(status) && crash_signal(WTERMSIG(status))) {
			log_msg(SQLOG_ALERT, "session %ld crashed (signal %d): "
			        "restarting for a fresh address space once the "
			        "others end", (long)pid, WTERMSIG(status));
			*crashed = 1;
		}
	}
	return ended;
}

/* addr's numeric address into ip and its port into port. */
static void numeric(const struct sockaddr_storage *ss, char *ip, size_t n,
                    char port[8])
{
	unsigned p = 0;
	ip[0] = '\0';
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)n);
		p = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)n);
		p = ntohs(a->sin6_port);
	}
	snprintf(port, 8, "%u", p);
}

/* The ucspi-tcp environment of the connection on c, as tcpserver -HR
 * sets it: no names looked up, nothing inherited that a rule must give
 * (RELAYCLIENT). 0, or -1. */
static int ucspi_environment(int c, const struct sockaddr_storage *peer,
                             char *remoteip, size_t n)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof local;
	char ip[INET6_ADDRSTRLEN], port[8];
	static const char *const unset[] = { "TCPREMOTEHOST", "TCPREMOTEINFO",
	                                     "TCPLOCALHOST", "RELAYCLIENT" };
	for (size_t i = 0; i < sizeof unset / sizeof *unset; i++)
		if (unsetenv(unset[i]) < 0)
			return -1;
	if (getsockname(c, (struct sockaddr *)&local, &len) < 0)
		return -1;
	numeric(&local, ip, sizeof ip, port);
	if (setenv("PROTO", "TCP", 1) < 0 || setenv("TCPLOCALIP", ip, 1) < 0 ||
	    setenv("TCPLOCALPORT", port, 1) < 0)
		return -1;
	numeric(peer, remoteip, n, port);
	return setenv("TCPREMOTEIP", remoteip, 1) < 0 ||
	       setenv("TCPREMOTEPORT", port, 1) < 0 ? -1 : 0;
}

/* The rules' variables ("NAME=value\0" each) into the environment. */
static int rule_environment(const struct sbuf *vars)
{
	for (size_t i = 0; i < vars->len; i += strlen(vars->s + i) + 1) {
		char *v = vars->s + i, *eq = strchr(v, '=');
		*eq = '\0';
		int r = setenv(v, eq + 1, 1);
		*eq = '=';
		if (r < 0)
			return -1;
	}
	return 0;
}

/* In the child: the connection c on descriptors 0 and 1 with its
 * environment, if the rules allow the client; else the child ends. */
static void child(struct tcplisten *tl, int c,
                  const struct sockaddr_storage *peer)
{
	char ip[INET6_ADDRSTRLEN];
	struct sbuf vars;
	for (size_t i = 0; i < tl->n; i++)
		close(tl->l[i].fd);
	if (ucspi_environment(c, peer, ip, sizeof ip) < 0) {
		log_msg(SQLOG_WARN, "cannot set the environment: %s",
		        strerror(errno));
		_exit(111);
	}
	sbuf_init(&vars, TCPRULES_VALUE_MAX);
	enum tcprules_verdict v = tcprules_check(tl->rules, ip, &vars);
	if (v == TCPRULES_ERROR) {
		log_msg(SQLOG_WARN, "%s: dropped: cannot follow %s: %s", ip,
		        tl->rules, errno == ENOENT ? "no such file (make it "
		        "with tcprules)" : strerror(errno));
		_exit(111);
	}
	if (v == TCPRULES_DENY) {
		log_msg(SQLOG_INFO, "%s: denied by %s", ip, tl->rules);
		_exit(0);
	}
	if (rule_environment(&vars) < 0 || dup2(c, 0) < 0 || dup2(c, 1) < 0) {
		log_msg(SQLOG_WARN, "%s: cannot start the session: %s", ip,
		        strerror(errno));
		_exit(111);
	}
	sbuf_free(&vars);
	if (c > 1)
		close(c);
}

/* Accepts one connection on fd and forks its child; 1 in the child (which
 * then returns to the session), 0 in the parent (*live counted). */
static int accept_one(struct tcplisten *tl, int fd, unsigned long *live)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof peer;
	int c = accept4(fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	if (c < 0) {
		if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
			log_msg(SQLOG_WARN, "accept: %s", strerror(errno));
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
			sleep(1); /* do not spin while the system is short */
		return 0;
	}
	pid_t pid = fork();
	if (pid == 0) {
		child(tl, c, &peer);
		return 1;
	}
	if (pid < 0)
		log_msg(SQLOG_WARN, "fork: %s", strerror(errno));
	else
		++*live;
	close(c);
	return 0;
}

void tcplisten_serve(struct tcplisten *tl)
{
	struct pollfd pf[LISTEN_MAX];
	unsigned long live = 0;
	int crashed = 0;
	for (size_t i = 0; i < tl->n; i++)
		pf[i] = (struct pollfd){ .fd = tl->l[i].fd, .events = POLLIN };
	log_msg(SQLOG_INFO, "listening on %s%s with at most %lu sessions",
	        tl->l[0].addr, tl->n > 1 ? " and more" : "", tl->concurrency);
	while (!crashed) {
		live -= reap(0, &crashed);
		while (live >= tl->concurrency && !crashed) {
			unsigned long ended = reap(1, &crashed);
			live = ended ? live - ended : 0; /* 0: none left */
		}
		if (crashed)
			break;
		/* a second at most: ended children are collected, and a full
		 * house is seen, without a SIGCHLD handler */
		int r = poll(pf, (nfds_t)tl->n, 1000);
		if (r < 0 && errno != EINTR) {
			log_msg(SQLOG_ALERT, "poll: %s", strerror(errno));
			exit(111);
		}
		for (size_t i = 0; r > 0 && i < tl->n; i++)
			if ((pf[i].revents & POLLIN) &&
			    accept_one(tl, pf[i].fd, &live))
				return;
	}
	for (size_t i = 0; i < tl->n; i++)
		close(tl->l[i].fd);
	while (reap(1, &crashed) > 0)
		;
	exit(111);
}
