/*
 * clientfile - edhd's clients and their secrets. See clientfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clientfile.h"
#include "crypto/clientsecret.h"
#include "util/control.h"

int edh_role_parse(const char *s)
{
	if (strcmp(s, "deliver") == 0)
		return EDH_ROLE_DELIVER;
	if (strcmp(s, "retrieve") == 0)
		return EDH_ROLE_RETRIEVE;
	return 0;
}

const char *edh_role_name(int role)
{
	return role == EDH_ROLE_DELIVER ? "deliver"
	     : role == EDH_ROLE_RETRIEVE ? "retrieve" : "unknown";
}

int edh_client_id_parse(const char *s, size_t len, uint32_t *id)
{
	unsigned long long v = 0;
	if (len == 0 || len > 10 || s[0] == '0')
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 0xffffffffULL)
		goto bad;
	*id = (uint32_t)v;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* Exactly 2n lower-case hex digits into n octets. */
static int unhex(const char *s, size_t len, unsigned char *out, size_t n)
{
	if (len != 2 * n)
		return -1;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0'
		      : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		out[i / 2] = (unsigned char)(i % 2 ? out[i / 2] | v : v << 4);
	}
	return 0;
}

static int note_valid(const char *s)
{
	if (strlen(s) > EDH_NOTE_MAX)
		return 0;
	for (; *s; s++)
		if (*s < 32 || *s > 126)
			return 0;
	return 1;
}

/* The next field of a line: a run of non-blanks after any blanks. */
static const char *field(const char **p, size_t *len)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
	const char *start = *p;
	while (**p && **p != ' ' && **p != '\t')
		(*p)++;
	*len = (size_t)(*p - start);
	return start;
}

static int parse_line(const char *line, struct edh_client *c)
{
	const char *p = line, *f;
	size_t n;
	char role[16];
	memset(c, 0, sizeof *c);
	f = field(&p, &n);
	if (edh_client_id_parse(f, n, &c->id) < 0)
		return -1;
	f = field(&p, &n);
	if (n == 0 || n >= sizeof role)
		return -1;
	memcpy(role, f, n);
	role[n] = '\0';
	if (!(c->role = edh_role_parse(role)))
		return -1;
	f = field(&p, &n);
	if (unhex(f, n, c->salt, sizeof c->salt) < 0)
		return -1;
	f = field(&p, &n);
	if (unhex(f, n, c->hash, sizeof c->hash) < 0)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!note_valid(p))
		return -1;
	memcpy(c->note, p, strlen(p) + 1);
	return 0;
}

static int add(struct edh_clients *out, const struct edh_client *c)
{
	struct edh_client *grown = realloc(out->v, (out->n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	out->v = grown;
	out->v[out->n++] = *c;
	return 0;
}

int edh_clients_parse(const char *text, size_t len, struct edh_clients *out,
                      size_t *badline)
{
	struct sbuf lines;
	size_t count, no = 0;
	int r = 0;
	out->v = NULL;
	out->n = 0;
	*badline = 0;
	sbuf_init(&lines, CONTROL_FILE_MAX);
	if (control_split(text, len, &lines, &count) < 0)
		r = -1;
	for (const char *l = r ? NULL : control_nextline(&lines, NULL); l;
	     l = control_nextline(&lines, l)) {
		struct edh_client c;
		no++;
		if (parse_line(l, &c) < 0 || edh_clients_find(out, c.id)) {
			*badline = no;
			errno = EINVAL;
			r = -1;
			break;
		}
		if ((r = add(out, &c)) < 0)
			break;
	}
	int saved = errno;
	sbuf_free(&lines);
	if (r < 0)
		edh_clients_free(out);
	errno = saved;
	return r;
}

int edh_clients_load(int dirfd, const char *name, struct edh_clients *out,
                     size_t *badline)
{
	struct sbuf raw;
	out->v = NULL;
	out->n = 0;
	*badline = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	sbuf_init(&raw, CONTROL_FILE_MAX);
	int r = sbuf_read_fd(&raw, fd);
	int saved = errno;
	close(fd);
	if (r == 0)
		r = edh_clients_parse(raw.s ? raw.s : "", raw.len, out, badline);
	saved = r < 0 ? errno : saved;
	sbuf_free(&raw);
	errno = saved;
	return r < 0 ? -1 : 1;
}

void edh_clients_free(struct edh_clients *c)
{
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

const struct edh_client *edh_clients_find(const struct edh_clients *c,
                                          uint32_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].id == id)
			return &c->v[i];
	return NULL;
}

int edh_client_new(struct edh_client *c, int role, const char *note,
                   const struct edh_clients *existing,
                   char secret[EDH_SECRET_LEN + 1])
{
	memset(c, 0, sizeof *c);
	if ((role != EDH_ROLE_DELIVER && role != EDH_ROLE_RETRIEVE) ||
	    !note_valid(note ? note : "")) {
		errno = EINVAL;
		return -1;
	}
	do {
		if (clientsecret_id(&c->id) < 0)
			return -1;
	} while (existing && edh_clients_find(existing, c->id));
	c->role = role;
	memcpy(c->note, note ? note : "", strlen(note ? note : "") + 1);
	return clientsecret_new(secret, c->salt, c->hash);
}

int edh_client_verify(const struct edh_client *c, const char *secret,
                      size_t len)
{
	return clientsecret_verify(c ? c->salt : NULL, c ? c->hash : NULL,
	                           secret, len);
}

static int put_hex(struct sbuf *out, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		char two[2] = { hex[p[i] >> 4], hex[p[i] & 15] };
		if (sbuf_put(out, two, 2) < 0)
			return -1;
	}
	return 0;
}

int edh_client_format(const struct edh_client *c, struct sbuf *out)
{
	if (sbuf_printf(out, "%lu %s ", (unsigned long)c->id,
	                edh_role_name(c->role)) < 0 ||
	    put_hex(out, c->salt, sizeof c->salt) < 0 || sbuf_putc(out, ' ') < 0 ||
	    put_hex(out, c->hash, sizeof c->hash) < 0)
		return -1;
	if (c->note[0] && sbuf_printf(out, " %s", c->note) < 0)
		return -1;
	return sbuf_putc(out, '\n');
}
