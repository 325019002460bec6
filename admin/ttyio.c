/*
 * ttyio - terminal and descriptor input for the provisioning tools. See
 * ttyio.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ttyio.h"

#define LINE_MAX_TTY 1100

/* Strips one trailing LF and CR. */
static void chomp(struct sbuf *b)
{
	if (b->len && b->s[b->len - 1] == '\n')
		sbuf_truncate(b, b->len - 1);
	if (b->len && b->s[b->len - 1] == '\r')
		sbuf_truncate(b, b->len - 1);
}

/* One line from fd into out (bounded). */
static int read_line(struct rbuf *rb, struct sbuf *out)
{
	struct sbuf line;
	sbuf_init_secret(&line, LINE_MAX_TTY);
	int r = rbuf_getline(rb, &line, LINE_MAX_TTY) == RBUF_LINE ? 0 : -1;
	if (r == 0) {
		chomp(&line);
		r = sbuf_copy(out, line.s, line.len);
	}
	sbuf_free(&line);
	return r;
}

int tty_line(const char *prompt, char *out, size_t n)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct rbuf rb;
	struct sbuf line;
	rbuf_init(&rb, fd, -1);
	sbuf_init(&line, LINE_MAX_TTY);
	int r = write(fd, prompt, strlen(prompt)) < 0 ? -1 : read_line(&rb, &line);
	if (r == 0)
		snprintf(out, n, "%s", line.s ? line.s : "");
	sbuf_free(&line);
	close(fd);
	return r;
}

/* The terminal whose echo is off, and how to put it back, for a signal
 * that ends the tool during the password prompt: ^C must not leave the
 * user's shell without echo. */
static int quiet_fd = -1;
static struct termios quiet_saved;
static const int ending[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NENDING (sizeof ending / sizeof *ending)

static void restore_and_end(int sig)
{
	if (quiet_fd >= 0)
		tcsetattr(quiet_fd, TCSANOW, &quiet_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* While echo is off on fd: the ending signals put saved back first; the
 * handlers they had go to was. */
static void guard_echo(int fd, const struct termios *saved,
                       struct sigaction *was)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = restore_and_end;
	quiet_saved = *saved;
	quiet_fd = fd;
	for (size_t i = 0; i < NENDING; i++)
		sigaction(ending[i], &sa, &was[i]);
}

/* Echo is back: the handlers of before. */
static void unguard_echo(const struct sigaction *was)
{
	for (size_t i = 0; i < NENDING; i++)
		sigaction(ending[i], &was[i], NULL);
	quiet_fd = -1;
}

int tty_password(const char *prompt, struct rbuf *in, struct sbuf *out)
{
	struct sigaction was[NENDING];
	if (in)
		return read_line(in, out);
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	struct termios old, quiet;
	if (fd < 0 || tcgetattr(fd, &old) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	struct rbuf rb;
	rbuf_init(&rb, fd, -1);
	/* echo off before the prompt: a line typed as soon as the prompt
	 * shows is neither echoed nor (as TCSAFLUSH would) thrown away, and
	 * restoring it keeps what is typed ahead for the next prompt */
	guard_echo(fd, &old, was);
	int r = tcsetattr(fd, TCSANOW, &quiet) < 0 ||
	        write(fd, prompt, strlen(prompt)) < 0 ? -1 : read_line(&rb, out);
	tcsetattr(fd, TCSADRAIN, &old);
	unguard_echo(was);
	if (write(fd, "\n", 1) < 0)
		r = -1;
	close(fd);
	return r;
}
