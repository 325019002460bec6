/*
 * pksconfig - the PKS client's configuration and credential file. See
 * pksconfig.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/control.h"
#include "util/fail.h"
#include "util/path.h"
#include "client/pksconfig.h"
#include "util/sbuf.h"

#define CRED_FILE_MAX 4096
#define WHY_MAX 256

void pks_config_wipe(struct pks_config *cfg)
{
	OPENSSL_cleanse(cfg, sizeof *cfg);
}

/* The base URL: https only, and nothing that would change the meaning of
 * the paths appended to it (query, fragment, userinfo, blanks). */
static int check_url(const char *url, char *out, size_t outlen, char *why,
                     size_t whylen)
{
	size_t len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	if (len <= 8 || strncasecmp(url, "https://", 8) != 0)
		return fail_why(why, whylen, -1, "pksurl: not an https:// URL");
	if (len >= outlen)
		return fail_why(why, whylen, -1, "pksurl: longer than %zu bytes",
		                outlen - 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)url[i];
		if (ch <= ' ' || ch >= 0x7f || ch == '?' || ch == '#' ||
		    ch == '@')
			return fail_why(why, whylen, -1,
			                "pksurl: byte %zu not allowed", i);
	}
	memcpy(out, url, len);
	out[len] = '\0';
	return 0;
}

static int load_url(struct pks_config *cfg, struct control *ctl, char *why,
                    size_t whylen)
{
	struct sbuf line;
	sbuf_init(&line, CONTROL_LINE_MAX);
	int r = control_rldef(ctl, "pksurl", 0, PKS_URL_DEFAULT, &line);
	if (r < 0)
		r = fail_why(why, whylen, -1, "pksurl: %s", strerror(errno));
	else
		r = check_url(line.s, cfg->url, sizeof cfg->url, why, whylen);
	sbuf_free(&line);
	return r;
}

static int load_timeout(struct control *ctl, const char *name,
                        unsigned long def, long *ms, char *why, size_t whylen)
{
	unsigned long secs = def;
	int r = control_readulong(ctl, name, PKS_TIMEOUT_MAX, &secs);
	if (r < 0 && errno != EINVAL)
		return fail_why(why, whylen, -1, "%s: %s", name, strerror(errno));
	if (r < 0 || secs == 0)
		return fail_why(why, whylen, -1, "%s: not a number of seconds "
		                "from 1 to %d", name, PKS_TIMEOUT_MAX);
	*ms = (long)secs * 1000;
	return 0;
}

/* Checks now, at start-up, what curl would only find at the first
 * request: a missing CA file is a set-up error to report at once. */
static int load_cafile(struct pks_config *cfg, const char *ctldir, char *why,
                       size_t whylen)
{
	if (path_join(cfg->cafile, sizeof cfg->cafile, ctldir, "ca.pem",
	              NULL) < 0)
		return fail_why(why, whylen, -1, "ca.pem: path too long");
	int fd = open(cfg->cafile, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return fail_why(why, whylen, -1, "ca.pem: %s", strerror(errno));
	close(fd);
	return 0;
}

/* ID:SECRET from one line; the reasons never quote the line. */
static int parse_cred_line(const char *line, uint32_t *id,
                           char secret[PKS_SECRET_MAX + 1], char *why,
                           size_t whylen)
{
	const char *colon = strchr(line, ':');
	if (!colon)
		return fail_why(why, whylen, -1, "not ID:SECRET");
	uint64_t v = 0;
	size_t digits = (size_t)(colon - line);
	if (digits == 0 || digits > 10)
		return fail_why(why, whylen, -1, "ID is not a 32-bit decimal");
	for (const char *p = line; p < colon; p++) {
		if (*p < '0' || *p > '9')
			return fail_why(why, whylen, -1,
			                "ID is not a 32-bit decimal");
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return fail_why(why, whylen, -1, "ID is larger than 32 bits");
	const char *s = colon + 1;
	size_t slen = strlen(s);
	if (slen == 0 || slen > PKS_SECRET_MAX)
		return fail_why(why, whylen, -1, "secret must be 1 to %d bytes",
		                PKS_SECRET_MAX);
	/* A blank or control byte is a copy-and-paste accident, not entropy. */
	for (size_t i = 0; i < slen; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return fail_why(why, whylen, -1, "secret byte %zu is not "
			                "printable ASCII", i + 1);
	*id = (uint32_t)v;
	memcpy(secret, s, slen + 1);
	return 0;
}

int pks_parse_credentials(const char *text, size_t len, uint32_t *id,
                          char secret[PKS_SECRET_MAX + 1], char *why,
                          size_t whylen)
{
	struct sbuf lines;
	size_t n = 0;
	int r;
	/* Every value line plus its NUL fits in the input plus one byte. */
	sbuf_init_secret(&lines, len + 1);
	if (control_split(text, len, &lines, &n) < 0)
		r = fail_why(why, whylen, -1, "not a text file of short lines");
	else if (n != 1)
		r = fail_why(why, whylen, -1,
		             "want one line ID:SECRET, found %zu", n);
	else
		r = parse_cred_line(lines.s, id, secret, why, whylen);
	sbuf_free(&lines);
	return r;
}

/* Read here rather than with control_readline, whose buffers are not
 * secret and would leave the password in freed memory. */
static int load_credentials(struct pks_config *cfg, struct control *ctl,
                            const char *credname, char *why, size_t whylen)
{
	struct sbuf raw;
	char sub[WHY_MAX];
	int r = -1;
	sbuf_init_secret(&raw, CRED_FILE_MAX);
	int fd = openat(ctl->dirfd, credname, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		fail_why(why, whylen, -1, "%s: %s", credname, strerror(errno));
	else if (sbuf_read_fd(&raw, fd) < 0)
		fail_why(why, whylen, -1, "%s: %s", credname, errno == EMSGSIZE ?
		         "longer than 4096 bytes" : strerror(errno));
	else if (pks_parse_credentials(raw.s ? raw.s : "", raw.len,
	                               &cfg->client_id, cfg->secret, sub,
	                               sizeof sub) < 0)
		fail_why(why, whylen, -1, "%s: %s", credname, sub);
	else
		r = 0;
	if (fd >= 0)
		close(fd);
	sbuf_free(&raw);
	return r;
}

int pks_config_load(struct pks_config *cfg, struct control *ctl,
                    const char *ctldir, const char *credname, char *why,
                    size_t whylen)
{
	memset(cfg, 0, sizeof *cfg);
	if (load_url(cfg, ctl, why, whylen) < 0 ||
	    load_timeout(ctl, "timeoutpks", PKS_TIMEOUT_DEFAULT,
	                 &cfg->timeout_ms, why, whylen) < 0 ||
	    load_timeout(ctl, "timeoutpksconnect", PKS_CONNECT_TIMEOUT_DEFAULT,
	                 &cfg->connect_timeout_ms, why, whylen) < 0 ||
	    load_cafile(cfg, ctldir, why, whylen) < 0 ||
	    load_credentials(cfg, ctl, credname, why, whylen) < 0) {
		pks_config_wipe(cfg);
		return -1;
	}
	return 0;
}
