/*
 * pkslogin - the login relay's socket: requests, answers and the client.
 * See pkslogin.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/unixsock.h"
#include "pkslogin.h"
#include "util/fail.h"
#include "util/sbuf.h"

int pkslogin_request_parse(const unsigned char *req, size_t n, char *op,
                           uint32_t *hash, char ip[PKSLOGIN_IP_MAX + 1])
{
	unsigned char bin[16];
	if (n < PKSLOGIN_REQ_HEAD || n > PKSLOGIN_REQ_HEAD + PKSLOGIN_IP_MAX ||
	    (req[0] != 'A' && req[0] != 'S'))
		return -1;
	size_t iplen = n - PKSLOGIN_REQ_HEAD;
	memcpy(ip, req + PKSLOGIN_REQ_HEAD, iplen);
	ip[iplen] = '\0';
	if (strlen(ip) != iplen || (iplen && inet_pton(AF_INET, ip, bin) != 1 &&
	                            inet_pton(AF_INET6, ip, bin) != 1))
		return -1;
	*op = (char)req[0];
	*hash = (uint32_t)req[1] << 24 | (uint32_t)req[2] << 16 |
	        (uint32_t)req[3] << 8 | req[4];
	return 0;
}

int pkslogin_answer(int fd, enum pks_result r, const char *text, size_t len)
{
	unsigned char code = (unsigned char)(r + 1);
	if (len > PKSLOGIN_ANSWER_MAX - 1)
		len = PKSLOGIN_ANSWER_MAX - 1;
	/* one datagram from two pieces: the reply is not copied */
	struct iovec iov[2] = { { &code, 1 }, { (void *)text, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	return sendmsg(fd, &m, MSG_NOSIGNAL) == (ssize_t)(1 + len) ? 0 : -1;
}

/* One request to the relay; its answer's text in text (a secret sbuf).
 * The result, or PKS_TEMP with the reason. */
static enum pks_result ask(const char *path, int wait_ms, char op,
                           uint32_t hash, const char *client_ip,
                           struct sbuf *text, char *why, size_t whylen)
{
	unsigned char req[PKSLOGIN_REQ_HEAD + PKSLOGIN_IP_MAX];
	size_t iplen = client_ip ? strlen(client_ip) : 0;
	if (iplen > PKSLOGIN_IP_MAX)
		return fail_why(why, whylen, PKS_TEMP, "client address too long");
	req[0] = (unsigned char)op;
	for (int i = 0; i < 4; i++)
		req[1 + i] = (unsigned char)(hash >> (24 - 8 * i));
	memcpy(req + PKSLOGIN_REQ_HEAD, client_ip ? client_ip : "", iplen);
	int fd = unixsock_dial(path, wait_ms);
	if (fd < 0)
		return fail_why(why, whylen, PKS_TEMP, "login relay %s: %s", path,
		                strerror(errno));
	char *buf = NULL;
	ssize_t n = -1;
	if (send(fd, req, PKSLOGIN_REQ_HEAD + iplen, MSG_NOSIGNAL) ==
	    (ssize_t)(PKSLOGIN_REQ_HEAD + iplen) &&
	    (buf = sbuf_grow(text, PKSLOGIN_ANSWER_MAX)) != NULL)
		while ((n = recv(fd, buf, PKSLOGIN_ANSWER_MAX, 0)) < 0 &&
		       errno == EINTR)
			;
	int e = errno;
	close(fd);
	if (n <= 0) {
		sbuf_reset(text);
		return fail_why(why, whylen, PKS_TEMP, "login relay: %s",
		                n == 0 ? "no answer" : e == EAGAIN
		                ? "no answer in time" : strerror(e));
	}
	unsigned code = (unsigned char)buf[0];
	sbuf_truncate(text, (size_t)n);
	sbuf_consume(text, 1);
	if (code > PKS_LOCKED + 1) { /* PKS_TEMP (-1) is 0 */
		sbuf_reset(text);
		return fail_why(why, whylen, PKS_TEMP, "login relay: a bad answer");
	}
	enum pks_result r = (enum pks_result)((int)code - 1);
	if (r != PKS_OK)
		fail_why(why, whylen, r, "%.*s", (int)(text->len < 300 ? text->len
		         : 300), text->s);
	return r;
}

enum pks_result pkslogin_attempt(const char *socket_path, int wait_ms,
                                 uint32_t hash, const char *client_ip,
                                 struct pks_keys *out, char *why,
                                 size_t whylen)
{
	struct sbuf text;
	char bad[200];
	out->n = 0;
	out->key = NULL;
	sbuf_init_secret(&text, PKSLOGIN_ANSWER_MAX);
	enum pks_result r = ask(socket_path, wait_ms, 'A', hash, client_ip,
	                        &text, why, whylen);
	if (r == PKS_OK && pks_parse_keys(text.s, text.len, hash, 1, out, bad,
	                                  sizeof bad) < 0)
		r = fail_why(why, whylen, PKS_TEMP, "bad reply: %s", bad);
	sbuf_free(&text);
	return r;
}

enum pks_result pkslogin_succeeded(const char *socket_path, int wait_ms,
                                   uint32_t hash, const char *client_ip,
                                   char *why, size_t whylen)
{
	struct sbuf text;
	sbuf_init_secret(&text, PKSLOGIN_ANSWER_MAX);
	enum pks_result r = ask(socket_path, wait_ms, 'S', hash, client_ip,
	                        &text, why, whylen);
	sbuf_free(&text);
	return r;
}
