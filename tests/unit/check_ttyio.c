/*
 * check_ttyio - what the provisioning tools read from a person: a child
 * made the session leader of a pseudo-terminal (openpty) calls
 * tty_line or tty_password on /dev/tty while the test types on the
 * master side and reads what the terminal showed; passwords from a
 * descriptor, one a line; and no terminal at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ttyio.h"
#include "testutil.h"

/* --- on a pseudo-terminal ---------------------------------------------------- */

struct pty {
	int master;
	int result;             /* the child's report, read end */
	pid_t pid;
	char shown[8192];       /* what the terminal showed */
	size_t used;
};

/* Runs fn(report fd) in a child whose controlling terminal is a new pty. */
static void pty_start(struct pty *p, void (*fn)(int))
{
	int slave, rp[2];
	memset(p, 0, sizeof *p);
	ck_assert_int_eq(openpty(&p->master, &slave, NULL, NULL, NULL), 0);
	ck_assert_int_eq(pipe(rp), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		close(p->master);
		close(rp[0]);
		/* check's runner handles these (it kills the test's group)
		 * and a forked child inherits its handlers */
		signal(SIGALRM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		alarm(10);
		if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
			_exit(3);
		/* slave stays open: the master would read EIO while no one has
		 * it open; the code under test opens /dev/tty itself */
		fn(rp[1]);
		_exit(0);
	}
	close(slave);
	close(rp[1]);
	p->result = rp[0];
}

/* Reads what the terminal shows until want appears (or 3 s pass). */
static int pty_wait_for(struct pty *p, const char *want)
{
	struct pollfd pf = { .fd = p->master, .events = POLLIN };
	for (int i = 0; i < 60 && !strstr(p->shown, want); i++) {
		if (poll(&pf, 1, 50) <= 0)
			continue;
		ssize_t n = read(p->master, p->shown + p->used,
		                 sizeof p->shown - 1 - p->used);
		if (n <= 0)
			break;
		p->used += (size_t)n;
		p->shown[p->used] = '\0';
	}
	return strstr(p->shown, want) != NULL;
}

/* 1 when the terminal echoes (its settings, seen from the master side). */
static int pty_echo(struct pty *p)
{
	struct termios t;
	ck_assert_int_eq(tcgetattr(p->master, &t), 0);
	return (t.c_lflag & ECHO) != 0;
}

/* Waits until echo is off (the child turns it off after the prompt). */
static int pty_wait_quiet(struct pty *p)
{
	for (int i = 0; i < 100; i++) {
		if (!pty_echo(p))
			return 1;
		usleep(20000);
	}
	return 0;
}

static void pty_type(struct pty *p, const char *keys)
{
	size_t n = strlen(keys);
	ck_assert_int_eq(write(p->master, keys, n), (ssize_t)n);
}

/* Collects the rest of what was shown and the child's report into
 * report; returns its exit status. The master stays open. */
static int pty_finish_keep(struct pty *p, char *report, size_t n)
{
	size_t used = 0;
	ssize_t got;
	while (used + 1 < n &&
	       (got = read(p->result, report + used, n - 1 - used)) > 0)
		used += (size_t)got;
	report[used] = '\0';
	pty_wait_for(p, "\x01never\x01"); /* drain, briefly */
	int status;
	ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
	close(p->result);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int pty_finish(struct pty *p, char *report, size_t n)
{
	int r = pty_finish_keep(p, report, n);
	close(p->master);
	return r;
}

/* Reports "r=R echo=E out=OUT" of a tty_password call, E whether the
 * terminal echoes again afterwards. */
static void report_password(int fd)
{
	struct sbuf pw;
	char msg[2048];
	sbuf_init_secret(&pw, 1024);
	int r = tty_password("Password: ", NULL, &pw);
	int tty = open("/dev/tty", O_RDWR);
	struct termios t;
	int echo = tty >= 0 && tcgetattr(tty, &t) == 0 && (t.c_lflag & ECHO);
	int n = snprintf(msg, sizeof msg, "r=%d echo=%d out=%s", r, echo,
	                 pw.s ? pw.s : "");
	if (write(fd, msg, (size_t)n) != n)
		_exit(4);
	sbuf_free(&pw);
}

START_TEST(a_password_is_read_without_echo_and_echo_comes_back)
{
	struct pty p;
	char report[2048];
	pty_start(&p, report_password);
	ck_assert(pty_wait_for(&p, "Password: "));
	ck_assert_msg(pty_wait_quiet(&p), "echo never turned off");
	pty_type(&p, "c0rrect horse\n");
	ck_assert_int_eq(pty_finish(&p, report, sizeof report), 0);
	ck_assert_str_eq(report, "r=0 echo=1 out=c0rrect horse");
	/* the terminal showed the prompt and the newline, not the password */
	ck_assert_ptr_null(strstr(p.shown, "c0rrect"));
	ck_assert_ptr_nonnull(strstr(p.shown, "Password: "));
	ck_assert_ptr_nonnull(strchr(p.shown, '\n'));
}
END_TEST

START_TEST(end_of_input_at_the_password_prompt_fails_and_restores_echo)
{
	struct pty p;
	char report[2048];
	pty_start(&p, report_password);
	ck_assert(pty_wait_for(&p, "Password: "));
	ck_assert(pty_wait_quiet(&p));
	pty_type(&p, "\x04"); /* ^D on an empty line */
	ck_assert_int_eq(pty_finish(&p, report, sizeof report), 0);
	ck_assert_str_eq(report, "r=-1 echo=1 out=");
}
END_TEST

START_TEST(a_password_longer_than_a_line_is_refused)
{
	struct pty p;
	char report[2048], keys[1300];
	pty_start(&p, report_password);
	ck_assert(pty_wait_for(&p, "Password: "));
	ck_assert(pty_wait_quiet(&p));
	memset(keys, 'p', 1200);
	memcpy(keys + 1200, "\n", 2);
	pty_type(&p, keys);
	ck_assert_int_eq(pty_finish(&p, report, sizeof report), 0);
	ck_assert_str_eq(report, "r=-1 echo=1 out=");
}
END_TEST

/* ^C at the password prompt: the program dies of SIGINT (the tools
 * install no handler); the terminal must not be left without echo. */
START_TEST(an_interrupted_password_prompt_leaves_echo_on)
{
	struct pty p;
	char report[2048];
	pty_start(&p, report_password);
	ck_assert(pty_wait_for(&p, "Password: "));
	ck_assert(pty_wait_quiet(&p));
	pty_type(&p, "\x03"); /* the INTR character */
	ck_assert_int_eq(pty_finish_keep(&p, report, sizeof report),
	                 128 + SIGINT);
	int echo = pty_echo(&p);
	close(p.master);
	ck_assert_msg(echo, "the terminal was left without echo");
}
END_TEST

static void report_line(int fd)
{
	char out[8], msg[64];
	memset(out, 'z', sizeof out);
	int r = tty_line("Address: ", out, sizeof out);
	int n = snprintf(msg, sizeof msg, "r=%d out=%s", r, r == 0 ? out : "");
	if (write(fd, msg, (size_t)n) != n)
		_exit(4);
}

START_TEST(a_line_is_read_with_echo_and_cut_to_the_buffer)
{
	struct pty p;
	char report[256];
	pty_start(&p, report_line);
	ck_assert(pty_wait_for(&p, "Address: "));
	ck_assert_int_eq(pty_echo(&p), 1);
	pty_type(&p, "bob@example.org\n");
	ck_assert_int_eq(pty_finish(&p, report, sizeof report), 0);
	/* 8 octets with the NUL, without the line end */
	ck_assert_str_eq(report, "r=0 out=bob@exa");
	ck_assert_ptr_nonnull(strstr(p.shown, "bob@example.org"));
}
END_TEST

START_TEST(a_short_line_and_end_of_input)
{
	struct pty p;
	char report[256];
	pty_start(&p, report_line);
	ck_assert(pty_wait_for(&p, "Address: "));
	pty_type(&p, "a@b\r");  /* the terminal maps CR to LF */
	ck_assert_int_eq(pty_finish(&p, report, sizeof report), 0);
	ck_assert_str_eq(report, "r=0 out=a@b");
	pty_start(&p, report_line);
	ck_assert(pty_wait_for(&p, "Address: "));
	pty_type(&p, "\x04");
	ck_assert_int_eq(pty_finish(&p, report, sizeof report), 0);
	ck_assert_str_eq(report, "r=-1 out=");
}
END_TEST

/* --- without a terminal -------------------------------------------------- */

static void no_terminal(void *arg)
{
	struct sbuf pw;
	char line[16] = "unchanged";
	(void)arg;
	if (setsid() < 0)
		_exit(3);
	sbuf_init_secret(&pw, 100);
	int a = tty_line("Address: ", line, sizeof line);
	int b = tty_password("Password: ", NULL, &pw);
	fprintf(stderr, "%d %d %s %zu", a, b, line, pw.len);
	sbuf_free(&pw);
}

START_TEST(without_a_terminal_both_calls_fail)
{
	char out[128];
	ck_assert_int_eq(run_capture(no_terminal, NULL, out, sizeof out), 0);
	ck_assert_str_eq(out, "-1 -1 unchanged 0");
}
END_TEST

/* --- from a descriptor (--password-fd) ----------------------------------- */

START_TEST(passwords_from_a_descriptor_one_a_line)
{
	struct rbuf rb;
	struct sbuf pw;
	int p[2];
	static const char data[] = "first\r\nsecond\n\nlast";
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], data, sizeof data - 1),
	                 (ssize_t)sizeof data - 1);
	close(p[1]);
	rbuf_init(&rb, p[0], 1000);
	sbuf_init_secret(&pw, 1024);
	ck_assert_int_eq(tty_password("unused", &rb, &pw), 0);
	ck_assert_str_eq(pw.s, "first");
	ck_assert_int_eq(tty_password("unused", &rb, &pw), 0);
	ck_assert_str_eq(pw.s, "second");       /* replaced, not appended */
	ck_assert_int_eq(tty_password("unused", &rb, &pw), 0);
	ck_assert_uint_eq(pw.len, 0);
	ck_assert_int_eq(tty_password("unused", &rb, &pw), 0);
	ck_assert_str_eq(pw.s, "last");         /* no line end at EOF */
	ck_assert_int_eq(tty_password("unused", &rb, &pw), -1);
	close(p[0]);
	sbuf_free(&pw);
}
END_TEST

START_TEST(an_oversize_or_overflowing_password_line_fails)
{
	struct rbuf rb;
	struct sbuf pw;
	int p[2];
	char big[1200];
	memset(big, 'x', sizeof big);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], big, sizeof big), (ssize_t)sizeof big);
	ck_assert_int_eq(write(p[1], "\nfits\n0123456789\n", 17), 17);
	close(p[1]);
	rbuf_init(&rb, p[0], 1000);
	sbuf_init_secret(&pw, 8);
	ck_assert_int_eq(tty_password("", &rb, &pw), -1);   /* over 1100 */
	ck_assert_int_eq(tty_password("", &rb, &pw), 0);    /* the next line */
	ck_assert_str_eq(pw.s, "fits");
	ck_assert_int_eq(tty_password("", &rb, &pw), -1);   /* over out's max */
	close(p[0]);
	sbuf_free(&pw);
}
END_TEST

START_TEST(a_descriptor_that_says_nothing_times_out)
{
	struct rbuf rb;
	struct sbuf pw;
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	rbuf_init(&rb, p[0], 100);
	sbuf_init_secret(&pw, 100);
	ck_assert_int_eq(tty_password("", &rb, &pw), -1);
	close(p[0]);
	close(p[1]);
	sbuf_free(&pw);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("ttyio");
	TCase *tty = tcase_create("terminal");
	tcase_set_timeout(tty, 30);
	tcase_add_test(tty, a_password_is_read_without_echo_and_echo_comes_back);
	tcase_add_test(tty, end_of_input_at_the_password_prompt_fails_and_restores_echo);
	tcase_add_test(tty, a_password_longer_than_a_line_is_refused);
	tcase_add_test(tty, a_line_is_read_with_echo_and_cut_to_the_buffer);
	tcase_add_test(tty, a_short_line_and_end_of_input);
	tcase_add_test(tty, without_a_terminal_both_calls_fail);
	/* ^C at the prompt ended the tool with echo still off */
	tcase_add_test(tty, an_interrupted_password_prompt_leaves_echo_on);
	suite_add_tcase(s, tty);
	TCase *fd = tcase_create("descriptor");
	tcase_add_test(fd, passwords_from_a_descriptor_one_a_line);
	tcase_add_test(fd, an_oversize_or_overflowing_password_line_fails);
	tcase_add_test(fd, a_descriptor_that_says_nothing_times_out);
	suite_add_tcase(s, fd);
	return s;
}
