/*
 * smtp-load - an SMTP load generator for bench/smtp-bench: CONC processes,
 * each delivering one message per connection (the way qmail-remote does)
 * for SECONDS, round-robin over the recipients in RCPTFILE. Times each
 * end-of-DATA to its reply and prints one line:
 *
 *	messages N seconds S rate R p50_ms A p99_ms B errors E
 *
 * Any reply other than the expected one counts as an error and ends that
 * process's run; the exit status is then 1. Not installed.
 *
 * usage: smtp-load PORT CONC SECONDS SIZE RCPTFILE
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RCPT_MAX 1024

struct load {
	int port, seconds;
	char *body;
	char *rcpt[RCPT_MAX];
	int nrcpt;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A body of SIZE bytes in 78-octet CRLF lines, so DATA needs no stuffing,
 * the last one ended by a CRLF too. */
static char *make_body(size_t size)
{
	char *b = size >= 2 ? malloc(size + 1) : NULL;
	if (!b)
		return NULL;
	for (size_t i = 0; i < size; i++)
		b[i] = i % 78 == 76 ? '\r' : i % 78 == 77 ? '\n'
		       : "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
	memcpy(b + size - 2, "\r\n", 3);
	return b;
}

static int sendall(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one (possibly multi-line) reply and returns its code, or -1. */
static int reply(int fd)
{
	char buf[4096];
	size_t have = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		/* the last line is the one whose 4th octet is a space */
		char *line = buf, *end;
		while ((end = strstr(line, "\r\n"))) {
			if (end - line >= 4 && line[3] == ' ')
				return atoi(line);
			line = end + 2;
		}
		if (have == sizeof buf - 1)
			return -1;
	}
}

/* Sends cmd (none: just read) and expects the reply code want; a
 * mismatch is reported, since it ends the run. */
static int step(int fd, const char *cmd, int want)
{
	if (cmd && sendall(fd, cmd, strlen(cmd)) < 0) {
		perror("smtp-load: write");
		return -1;
	}
	int got = reply(fd);
	if (got != want)
		fprintf(stderr, "smtp-load: %.*s: reply %d, not %d\n",
		        cmd ? (int)strcspn(cmd, "\r") : 8, cmd ? cmd : "greeting",
		        got, want);
	return got == want ? 0 : -1;
}

static int dial(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One connection, one message; *latency is end of DATA to the 250. */
static int deliver(const struct load *l, int n, double *latency)
{
	char cmd[1024];
	int fd = dial(l->port);
	if (fd < 0) {
		perror("smtp-load: connect");
		return -1;
	}
	/* no pipelining: reply() may not keep what follows a reply */
	snprintf(cmd, sizeof cmd, "RCPT TO:<%s>\r\n", l->rcpt[n % l->nrcpt]);
	int ok = step(fd, NULL, 220) == 0 &&
	         step(fd, "EHLO load.example\r\n", 250) == 0 &&
	         step(fd, "MAIL FROM:<bench@load.example>\r\n", 250) == 0 &&
	         step(fd, cmd, 250) == 0 && step(fd, "DATA\r\n", 354) == 0;
	if (ok) {
		snprintf(cmd, sizeof cmd, "From: <bench@load.example>\r\n"
		         "To: <%s>\r\nSubject: load %d\r\n"
		         "Message-ID: <%d.%d@load.example>\r\n\r\n",
		         l->rcpt[n % l->nrcpt], n, (int)getpid(), n);
		ok = sendall(fd, cmd, strlen(cmd)) == 0 &&
		     sendall(fd, l->body, strlen(l->body)) == 0;
		double t0 = now();
		ok = ok && step(fd, ".\r\n", 250) == 0;
		*latency = now() - t0;
		ok = ok && step(fd, "QUIT\r\n", 221) == 0;
	}
	close(fd);
	return ok ? 0 : -1;
}

/* One load process: latencies, one float of seconds each, go to out. */
static int run(const struct load *l, int id, FILE *out)
{
	double end = now() + l->seconds, latency;
	for (int n = id; now() < end; n += 64) {
		if (deliver(l, n, &latency) < 0)
			return 1;
		fwrite(&latency, sizeof latency, 1, out);
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int read_rcpts(struct load *l, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	while (f && l->nrcpt < RCPT_MAX && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (*line)
			l->rcpt[l->nrcpt++] = strdup(line);
	}
	if (f)
		fclose(f);
	return l->nrcpt ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct load l = { 0 };
	if (argc != 6) {
		fputs("usage: smtp-load PORT CONC SECONDS SIZE RCPTFILE\n", stderr);
		return 100;
	}
	l.port = atoi(argv[1]);
	int conc = atoi(argv[2]);
	l.seconds = atoi(argv[3]);
	l.body = make_body(strtoul(argv[4], NULL, 10));
	if (conc < 1 || conc > 64 || l.seconds < 1 || !l.body ||
	    read_rcpts(&l, argv[5]) < 0) {
		fputs("smtp-load: bad arguments\n", stderr);
		return 100;
	}
	FILE *out[64];
	double t0 = now();
	for (int i = 0; i < conc; i++) {
		out[i] = tmpfile();
		if (!out[i])
			return 111;
		pid_t pid = fork();
		if (pid == 0)
			_exit(run(&l, i, out[i]) || fflush(out[i]) ? 1 : 0);
		if (pid < 0)
			return 111;
	}
	int status, errors = 0;
	while (wait(&status) > 0)
		errors += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	double elapsed = now() - t0;

	size_t n = 0, cap = 1 << 16;
	double *lat = malloc(cap * sizeof *lat);
	for (int i = 0; i < conc && lat; i++) {
		rewind(out[i]);
		for (;;) {
			if (n == cap && !(lat = realloc(lat, (cap *= 2) * sizeof *lat)))
				return 111;
			if (fread(&lat[n], sizeof *lat, 1, out[i]) != 1)
				break;
			n++;
		}
		fclose(out[i]);
	}
	if (!lat || n == 0) {
		fputs("smtp-load: no message was accepted\n", stderr);
		return 1;
	}
	qsort(lat, n, sizeof *lat, cmp);
	printf("messages %zu seconds %.2f rate %.1f p50_ms %.2f p99_ms %.2f "
	       "errors %d\n", n, elapsed, n / elapsed, lat[n / 2] * 1000,
	       lat[(n * 99) / 100] * 1000, errors);
	free(lat);
	return errors ? 1 : 0;
}
