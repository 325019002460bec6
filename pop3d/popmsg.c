/*
 * popmsg - a message as POP3 sends it. See popmsg.h.
 */
#include <string.h>

#include <openssl/evp.h>

#include "popmsg.h"

unsigned long long popmsg_size(const char *msg, size_t len)
{
	unsigned long long n = len;
	for (size_t i = 0; i < len; i++)
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			n++;
	if (len > 0 && msg[len - 1] != '\n')
		n += 2;
	return n;
}

/* Appends one line (without its end) with stuffing and CRLF. */
static int put_line(struct sbuf *out, const char *p, size_t n)
{
	if ((n > 0 && p[0] == '.' && sbuf_putc(out, '.') < 0) ||
	    sbuf_put(out, p, n) < 0 || sbuf_put(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* What has been formatted goes to emit once it passes this many octets. */
#define SEND_CHUNK 65536

int popmsg_send(const char *msg, size_t len, long toplines,
                int (*emit)(void *arg, const char *p, size_t n), void *arg)
{
	struct sbuf chunk;
	int in_body = 0, r = 0;
	long body_lines = 0;
	size_t pos = 0;
	/* a line may be longer than a chunk: the buffer takes the longest */
	sbuf_init_secret(&chunk, SEND_CHUNK + len + 3);
	while (r == 0 && pos < len) {
		if (in_body && toplines >= 0 && body_lines++ >= toplines)
			break;
		const char *nl = memchr(msg + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - msg) : len;
		size_t n = end - pos;
		if (n > 0 && msg[end - 1] == '\r' && nl)
			n--;
		r = put_line(&chunk, msg + pos, n);
		if (n == 0)
			in_body = 1; /* the blank line ends the header */
		pos = nl ? end + 1 : len;
		if (r == 0 && chunk.len >= SEND_CHUNK) {
			r = emit(arg, chunk.s, chunk.len);
			sbuf_reset(&chunk);
		}
	}
	if (r == 0 && sbuf_put(&chunk, ".\r\n", 3) == 0)
		r = emit(arg, chunk.s, chunk.len);
	sbuf_free(&chunk);
	return r < 0 ? -1 : 0;
}

static int append(void *out, const char *p, size_t n)
{
	return sbuf_put(out, p, n);
}

int popmsg_format(const char *msg, size_t len, long toplines,
                  struct sbuf *out)
{
	return popmsg_send(msg, len, toplines, append, out);
}

void popmsg_uidl(const char *uid, size_t len, char *out)
{
	if (len <= POP_UIDL_MAX) {
		memcpy(out, uid, len);
		out[len] = '\0';
		return;
	}
	unsigned char md[32];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";
	EVP_Digest(uid, len, md, &mdlen, EVP_sha256(), NULL);
	out[0] = 'H';
	for (unsigned i = 0; i < 32; i++) {
		out[1 + 2 * i] = hex[md[i] >> 4];
		out[2 + 2 * i] = hex[md[i] & 15];
	}
	out[65] = '\0';
}
