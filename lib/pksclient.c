/*
 * pksclient - the client of pksd's REST API v1. See pksclient.h.
 *
 * Layout: configuration, reply parsing (pure functions on text, so the
 * tests can feed them), the transport (one libcurl easy handle), then one
 * short function per call.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "addr.h"
#include "control.h"
#include "pki.h"
#include "pksclient.h"
#include "sbuf.h"

#define CRED_FILE_MAX 4096
#define URL_MAX 1024
#define WHY_MAX 256

struct pks_client {
	CURL *curl;
	struct curl_slist *hdr_plain;   /* requests without a body */
	struct curl_slist *hdr_json;    /* requests with a JSON body */
	char base[sizeof ((struct pks_config *)0)->url];
	struct sbuf reply;      /* secret: it can hold wrapped PDKs */
	int too_big;            /* the write callback hit PKS_REPLY_MAX */
	char curlerr[CURL_ERROR_SIZE];
	char why[WHY_MAX];
};

/* Formats a reason into why (if any); returns -1 for the caller to pass on. */
__attribute__((format(printf, 3, 4)))
static int reason(char *why, size_t whylen, const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Records the reason for a result on the client; returns r. */
__attribute__((format(printf, 3, 4)))
static enum pks_result cfail(struct pks_client *c, enum pks_result r,
                             const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	return r;
}

const char *pks_result_name(enum pks_result r)
{
	switch (r) {
	case PKS_OK: return "ok";
	case PKS_NOT_FOUND: return "not_found";
	case PKS_CONFLICT: return "conflict";
	case PKS_REFUSED: return "refused";
	case PKS_LOCKED: return "locked";
	case PKS_TEMP: break;
	}
	return "temporary";
}

/* --- configuration ------------------------------------------------------ */

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
		return reason(why, whylen, "pksurl: not an https:// URL");
	if (len >= outlen)
		return reason(why, whylen, "pksurl: longer than %zu bytes",
		              outlen - 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)url[i];
		if (ch <= ' ' || ch >= 0x7f || ch == '?' || ch == '#' ||
		    ch == '@')
			return reason(why, whylen,
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
		r = reason(why, whylen, "pksurl: %s", strerror(errno));
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
		return reason(why, whylen, "%s: %s", name, strerror(errno));
	if (r < 0 || secs == 0)
		return reason(why, whylen, "%s: not a number of seconds from 1 "
		              "to %d", name, PKS_TIMEOUT_MAX);
	*ms = (long)secs * 1000;
	return 0;
}

/* Checks now, at start-up, what curl would only find at the first
 * request: a missing CA file is a set-up error to report at once. */
static int load_cafile(struct pks_config *cfg, const char *ctldir, char *why,
                       size_t whylen)
{
	int n = snprintf(cfg->cafile, sizeof cfg->cafile, "%s/ca.pem", ctldir);
	if (n < 0 || (size_t)n >= sizeof cfg->cafile)
		return reason(why, whylen, "ca.pem: path too long");
	int fd = open(cfg->cafile, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return reason(why, whylen, "ca.pem: %s", strerror(errno));
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
		return reason(why, whylen, "not ID:SECRET");
	uint64_t v = 0;
	size_t digits = (size_t)(colon - line);
	if (digits == 0 || digits > 10)
		return reason(why, whylen, "ID is not a 32-bit decimal");
	for (const char *p = line; p < colon; p++) {
		if (*p < '0' || *p > '9')
			return reason(why, whylen, "ID is not a 32-bit decimal");
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return reason(why, whylen, "ID is larger than 32 bits");
	const char *s = colon + 1;
	size_t slen = strlen(s);
	if (slen == 0 || slen > PKS_SECRET_MAX)
		return reason(why, whylen, "secret must be 1 to %d bytes",
		              PKS_SECRET_MAX);
	/* A blank or control byte is a copy-and-paste accident, not entropy. */
	for (size_t i = 0; i < slen; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return reason(why, whylen, "secret byte %zu is not "
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
		r = reason(why, whylen, "not a text file of short lines");
	else if (n != 1)
		r = reason(why, whylen, "want one line ID:SECRET, found %zu", n);
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
		reason(why, whylen, "%s: %s", credname, strerror(errno));
	else if (sbuf_read_fd(&raw, fd) < 0)
		reason(why, whylen, "%s: %s", credname, errno == EMSGSIZE ?
		       "longer than 4096 bytes" : strerror(errno));
	else if (pks_parse_credentials(raw.s ? raw.s : "", raw.len,
	                               &cfg->client_id, cfg->secret, sub,
	                               sizeof sub) < 0)
		reason(why, whylen, "%s: %s", credname, sub);
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

/* --- reply parsing ------------------------------------------------------ */

/* jansson frees its strings without wiping; clear a wrapped PDK in place
 * before the tree goes. (The bytes also passed through OpenSSL's and
 * curl's buffers, which we cannot reach: this is hygiene, and the scrypt
 * wrap is the protection.) */
static void wipe_json_string(json_t *s)
{
	if (json_is_string(s))
		OPENSSL_cleanse((char *)json_string_value(s),
		                json_string_length(s));
}

static json_t *load_object(const char *text, size_t len, char *why,
                           size_t whylen)
{
	json_error_t err;
	/* Not err.text: its "near '...'" could quote a piece of a PDK. */
	json_t *root = json_loadb(text ? text : "", len,
	                          JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		reason(why, whylen, "not JSON (line %d, column %d)", err.line,
		       err.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		reason(why, whylen, "not a JSON object");
		return NULL;
	}
	return root;
}

static int get_int(json_t *obj, const char *name, json_int_t min,
                   json_int_t max, json_int_t *out, char *why, size_t whylen)
{
	json_t *v = json_object_get(obj, name);
	if (!json_is_integer(v))
		return reason(why, whylen, "\"%s\" missing or not an integer",
		              name);
	json_int_t i = json_integer_value(v);
	if (i < min || i > max)
		return reason(why, whylen, "\"%s\" out of range", name);
	*out = i;
	return 0;
}

/* A non-empty string member; jansson has already refused NUL bytes. */
static json_t *get_string(json_t *obj, const char *name, char *why,
                          size_t whylen)
{
	json_t *v = json_object_get(obj, name);
	if (!json_is_string(v) || json_string_length(v) == 0) {
		reason(why, whylen, "\"%s\" missing or not a string", name);
		return NULL;
	}
	return v;
}

static char *dup_string(json_t *s)
{
	size_t n = json_string_length(s);
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, json_string_value(s), n);
		p[n] = '\0';
	}
	return p;
}

/* Two digits (or four) at s into *v. */
static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	                            30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return days[m - 1] + (m == 2 && leap);
}

int pks_parse_time(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec;
	if (strlen(s) < 20 || digits(s, 4, &y) < 0 || s[4] != '-' ||
	    digits(s + 5, 2, &mo) < 0 || s[7] != '-' ||
	    digits(s + 8, 2, &d) < 0 || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) < 0 || s[13] != ':' ||
	    digits(s + 14, 2, &mi) < 0 || s[16] != ':' ||
	    digits(s + 17, 2, &sec) < 0)
		return -1;
	const char *p = s + 19;
	if (*p == '.') {
		const char *frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == frac)
			return -1;
	}
	if ((*p != 'Z' && *p != 'z') || p[1] != '\0')
		return -1;
	/* 60 is a leap second; timegm carries it into the next minute. */
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	if (t <= 0)
		return -1;
	*out = t;
	return 0;
}

/* "locked_until": absent, null, or an RFC 3339 UTC time. */
static int get_time(json_t *obj, const char *name, time_t *out, char *why,
                    size_t whylen)
{
	json_t *v = json_object_get(obj, name);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || pks_parse_time(json_string_value(v), out) < 0)
		return reason(why, whylen, "\"%s\" is not an RFC 3339 UTC time",
		              name);
	return 0;
}

/* A row of a PDK reply: "pdk", unless the row is locked (then it is
 * served without one). */
static int parse_pdk(json_t *k, struct pks_key *key, char *why,
                     size_t whylen)
{
	if (get_time(k, "locked_until", &key->locked_until, why, whylen) < 0)
		return -1;
	if (key->locked_until && !json_object_get(k, "pdk"))
		return 0;
	json_t *pdk = get_string(k, "pdk", why, whylen);
	if (!pdk)
		return -1;
	if (!(key->pdk = dup_string(pdk)))
		return reason(why, whylen, "out of memory");
	return 0;
}

static int parse_key(json_t *k, int want_pdk, struct pks_key *key, char *why,
                     size_t whylen)
{
	json_int_t row, version;
	json_t *pek;
	if (!json_is_object(k))
		return reason(why, whylen, "a key is not an object");
	if (get_int(k, "row", 1, (json_int_t)PKS_ROW_MAX, &row, why,
	            whylen) < 0 ||
	    get_int(k, "version", 1, UINT_MAX, &version, why, whylen) < 0 ||
	    !(pek = get_string(k, "pek", why, whylen)))
		return -1;
	key->row = (uint64_t)row;
	key->version = (unsigned)version;
	if (!(key->pek = dup_string(pek)))
		return reason(why, whylen, "out of memory");
	return want_pdk ? parse_pdk(k, key, why, whylen) : 0;
}

static int check_hash(json_t *root, uint32_t hash, char *why, size_t whylen)
{
	char hex[9];
	addr_hash_hex(hash, hex);
	json_t *h = get_string(root, "hash", why, whylen);
	if (!h)
		return -1;
	if (strcmp(json_string_value(h), hex) != 0)
		return reason(why, whylen, "\"hash\" is not the one asked");
	return 0;
}

static int parse_key_array(json_t *keys, int want_pdk, struct pks_keys *out,
                           char *why, size_t whylen)
{
	size_t n = json_array_size(keys);
	if (n == 0)
		return 0;
	out->key = calloc(n, sizeof *out->key);
	if (!out->key)
		return reason(why, whylen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		out->n = i + 1; /* so that pks_keys_free sees a partial row */
		if (parse_key(json_array_get(keys, i), want_pdk, &out->key[i],
		              why, whylen) < 0)
			return -1;
	}
	return 0;
}

static void wipe_json_pdks(json_t *keys)
{
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k)
		wipe_json_string(json_object_get(k, "pdk"));
}

int pks_parse_keys(const char *json, size_t len, uint32_t hash, int want_pdk,
                   struct pks_keys *out, char *why, size_t whylen)
{
	out->n = 0;
	out->key = NULL;
	json_t *root = load_object(json, len, why, whylen);
	if (!root)
		return -1;
	json_t *keys = json_object_get(root, "keys");
	int r = check_hash(root, hash, why, whylen);
	if (r == 0 && !json_is_array(keys))
		r = reason(why, whylen, "\"keys\" missing or not an array");
	if (r == 0)
		r = parse_key_array(keys, want_pdk, out, why, whylen);
	if (json_is_array(keys))
		wipe_json_pdks(keys);
	json_decref(root);
	if (r < 0)
		pks_keys_free(out);
	return r;
}

void pks_keys_free(struct pks_keys *k)
{
	for (size_t i = 0; i < k->n; i++) {
		if (k->key[i].pdk)
			OPENSSL_cleanse(k->key[i].pdk, strlen(k->key[i].pdk));
		free(k->key[i].pdk);
		free(k->key[i].pek);
	}
	free(k->key);
	k->key = NULL;
	k->n = 0;
}

/* Copies src into dst with anything but printable ASCII as '?': the
 * server's words end up in logs. */
static void printable_copy(char *dst, size_t dstlen, const char *src)
{
	size_t i;
	for (i = 0; src[i] && i + 1 < dstlen; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = ch >= ' ' && ch < 0x7f ? (char)ch : '?';
	}
	dst[i] = '\0';
}

/* {"error": code, "message": text} of a failure reply; 0, or -1 when the
 * body is not such an object. */
static int parse_error(const char *text, size_t len, char *code,
                       size_t codelen, char *msg, size_t msglen)
{
	json_t *root = load_object(text, len, NULL, 0);
	json_t *e = json_object_get(root, "error");
	json_t *m = json_object_get(root, "message");
	printable_copy(code, codelen, json_is_string(e) ? json_string_value(e)
	                                                : "");
	printable_copy(msg, msglen, json_is_string(m) ? json_string_value(m)
	                                              : "");
	int r = json_is_string(e) ? 0 : -1; /* e dies with root */
	json_decref(root);
	return r;
}

enum pks_result pks_status_result(long status)
{
	switch (status) {
	case 404:
		return PKS_NOT_FOUND;
	case 409:
		return PKS_CONFLICT;
	case 400: case 401: case 403: case 413: case 422:
		return PKS_REFUSED;
	case 429:
		return PKS_LOCKED;
	}
	return status >= 200 && status <= 299 ? PKS_OK : PKS_TEMP;
}

int pks_pct_encode(const char *s, size_t n, struct sbuf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		            ch == '_' || ch == '~';
		char esc[3] = { '%', hex[ch >> 4], hex[ch & 15] };
		if ((plain ? sbuf_putc(out, (char)ch) : sbuf_put(out, esc, 3)) < 0)
			return -1;
	}
	return 0;
}

/* --- key selection -------------------------------------------------------- */

long pks_select(const struct pks_keys *keys, X509 *ca, const char *address)
{
	char norm[ADDR_MAX + 1];
	long best = -1;
	if (addr_normalize(address, strlen(address), norm) != ADDR_OK)
		return -1;
	for (size_t i = 0; i < keys->n; i++) {
		const struct pks_key *k = &keys->key[i];
		X509 *cert = k->pek ? pki_cert_from_pem(k->pek, strlen(k->pek))
		                    : NULL;
		int ok = cert && pki_verify_pek(cert, ca, norm, NULL, 0) == 1;
		X509_free(cert);
		if (!ok)
			continue;
		const struct pks_key *b = best < 0 ? NULL : &keys->key[best];
		if (!b || k->version > b->version ||
		    (k->version == b->version && k->row > b->row))
			best = (long)i;
	}
	return best;
}

/* --- transport ------------------------------------------------------------ */

/* curl_global_init must come before any other libcurl call and is not
 * thread-safe; our programs are single-threaded, so a flag suffices.
 * There is no matching cleanup: clients may live until exit. */
static int global_init(void)
{
	static int done;
	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	done = 1;
	return 0;
}

/* Bounded: a reply past PKS_REPLY_MAX aborts the transfer (PKS_TEMP). */
static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct pks_client *c = arg;
	size_t n = size * nmemb;
	if (sbuf_put(&c->reply, data, n) < 0) {
		c->too_big = errno == EMSGSIZE;
		return 0;
	}
	return n;
}

#define SET(h, opt, val) (curl_easy_setopt(h, opt, val) == CURLE_OK)

/* Only our CA, only https, no proxy from the environment, no redirects:
 * the credentials and the keys go to the configured server or nowhere. */
static int set_tls(CURL *h, const struct pks_config *cfg)
{
	return SET(h, CURLOPT_PROTOCOLS_STR, "https") &&
	       SET(h, CURLOPT_FOLLOWLOCATION, 0L) &&
	       SET(h, CURLOPT_PROXY, "") &&
	       SET(h, CURLOPT_CAINFO, cfg->cafile) &&
	       SET(h, CURLOPT_CAPATH, (char *)NULL) &&
	       SET(h, CURLOPT_SSL_VERIFYPEER, 1L) &&
	       SET(h, CURLOPT_SSL_VERIFYHOST, 2L) &&
	       SET(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
}

static int set_transfer(struct pks_client *c, const struct pks_config *cfg)
{
	CURL *h = c->curl;
	long total = cfg->timeout_ms > 0 ? cfg->timeout_ms
	                                 : PKS_TIMEOUT_DEFAULT * 1000L;
	long conn = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
	                                        : PKS_CONNECT_TIMEOUT_DEFAULT * 1000L;
	/* NOSIGNAL: no SIGALRM for DNS timeouts in programs with their own
	 * signal handling. PATH_AS_IS: our paths are exact, never "fixed". */
	return SET(h, CURLOPT_NOSIGNAL, 1L) &&
	       SET(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) &&
	       SET(h, CURLOPT_PATH_AS_IS, 1L) &&
	       SET(h, CURLOPT_CONNECTTIMEOUT_MS, conn) &&
	       SET(h, CURLOPT_TIMEOUT_MS, total) &&
	       SET(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)PKS_REPLY_MAX) &&
	       SET(h, CURLOPT_WRITEFUNCTION, on_data) &&
	       SET(h, CURLOPT_WRITEDATA, c) &&
	       SET(h, CURLOPT_ERRORBUFFER, c->curlerr) &&
	       SET(h, CURLOPT_USERAGENT, "secure-qmail-pksclient/1");
}

/* libcurl copies both strings and builds the header itself. */
static int set_auth(CURL *h, const struct pks_config *cfg)
{
	char user[11];
	if (!cfg->secret[0])
		return 1;
	snprintf(user, sizeof user, "%" PRIu32, cfg->client_id);
	return SET(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) &&
	       SET(h, CURLOPT_USERNAME, user) &&
	       SET(h, CURLOPT_PASSWORD, cfg->secret);
}

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *p = curl_slist_append(*list, line);
	if (p)
		*list = p;
	return p != NULL;
}

/* "Expect:" turns off 100-continue (a wasted round trip for a few KiB);
 * "Content-Type:" stops curl labelling an empty POST as a form. */
static int make_headers(struct pks_client *c)
{
	return add_header(&c->hdr_plain, "Accept: application/json") &&
	       add_header(&c->hdr_plain, "Expect:") &&
	       add_header(&c->hdr_plain, "Content-Type:") &&
	       add_header(&c->hdr_json, "Accept: application/json") &&
	       add_header(&c->hdr_json, "Expect:") &&
	       add_header(&c->hdr_json, "Content-Type: application/json");
}

struct pks_client *pks_client_new(const struct pks_config *cfg)
{
	if (global_init() < 0)
		return NULL;
	struct pks_client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	sbuf_init_secret(&c->reply, PKS_REPLY_MAX);
	snprintf(c->base, sizeof c->base, "%s", cfg->url);
	c->curl = curl_easy_init();
	if (!c->curl || !make_headers(c) || !set_tls(c->curl, cfg) ||
	    !set_transfer(c, cfg) || !set_auth(c->curl, cfg)) {
		pks_client_free(c);
		return NULL;
	}
	return c;
}

void pks_client_free(struct pks_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->hdr_plain);
	curl_slist_free_all(c->hdr_json);
	sbuf_free(&c->reply);
	OPENSSL_cleanse(c, sizeof *c);
	free(c);
}

const char *pks_client_error(const struct pks_client *c)
{
	if (!c)
		return "no PKS client";
	return c->why[0] ? c->why : "no error";
}

/* A request body: NULL for GET and DELETE, an empty sbuf for an empty
 * POST. CUSTOMREQUEST sticks to the handle, so every call sets it. */
static int set_method(struct pks_client *c, const char *method,
                      const struct sbuf *body)
{
	CURL *h = c->curl;
	const char *custom = strcmp(method, "GET") == 0 ||
	                     strcmp(method, "POST") == 0 ? NULL : method;
	if (!SET(h, CURLOPT_CUSTOMREQUEST, custom))
		return 0;
	if (!body)
		return SET(h, CURLOPT_HTTPGET, 1L) &&
		       SET(h, CURLOPT_HTTPHEADER, c->hdr_plain);
	return SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len) &&
	       SET(h, CURLOPT_POSTFIELDS, body->s ? body->s : "") &&
	       SET(h, CURLOPT_HTTPHEADER,
	           body->len ? c->hdr_json : c->hdr_plain);
}

static enum pks_result transport_failure(struct pks_client *c, CURLcode rc)
{
	const char *detail = c->curlerr[0] ? c->curlerr : curl_easy_strerror(rc);
	long err = 0;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return cfail(c, PKS_TEMP, "resolve: %s", detail);
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &err);
		return cfail(c, PKS_TEMP, "connect: %s",
		             err ? strerror((int)err) : detail);
	case CURLE_OPERATION_TIMEDOUT:
		return cfail(c, PKS_TEMP, "timeout: %s", detail);
	case CURLE_PEER_FAILED_VERIFICATION:
		curl_easy_getinfo(c->curl, CURLINFO_SSL_VERIFYRESULT, &err);
		if (err)
			return cfail(c, PKS_TEMP, "TLS: certificate verify "
			             "failed: %s", X509_verify_cert_error_string(err));
		return cfail(c, PKS_TEMP, "TLS: %s", detail);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return cfail(c, PKS_TEMP, "TLS: %s", detail);
	case CURLE_FILESIZE_EXCEEDED:
		return cfail(c, PKS_TEMP, "reply longer than %d bytes",
		             PKS_REPLY_MAX);
	case CURLE_WRITE_ERROR:
		if (c->too_big)
			return cfail(c, PKS_TEMP, "reply longer than %d bytes",
			             PKS_REPLY_MAX);
		break;
	default:
		break;
	}
	return cfail(c, PKS_TEMP, "curl: %s", detail);
}

/* A status other than the call's success status. A 404 counts as "no such
 * thing" only with pksd's error object: a proxy's or a wrong pksurl's 404
 * page must not make mail bounce. */
static enum pks_result http_failure(struct pks_client *c, long status)
{
	char code[64], msg[128];
	enum pks_result r = pks_status_result(status);
	int has_error = parse_error(c->reply.s, c->reply.len, code, sizeof code,
	                            msg, sizeof msg) == 0;
	if (r == PKS_OK)
		return cfail(c, PKS_TEMP, "HTTP %ld: unexpected status", status);
	if (!has_error)
		return cfail(c, r == PKS_NOT_FOUND ? PKS_TEMP : r,
		             "HTTP %ld without an error object", status);
	char extra[64] = "";
	curl_off_t after = 0;
	if (r == PKS_LOCKED &&
	    curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK &&
	    after > 0)
		snprintf(extra, sizeof extra, ", retry after %" CURL_FORMAT_CURL_OFF_T
		         " s", after);
	return cfail(c, r, "HTTP %ld: %s%s%s%s%s", status, code,
	             msg[0] ? " (" : "", msg, msg[0] ? ")" : "", extra);
}

/* One request. PKS_OK means the status was expect; the reply body is
 * then in c->reply for the caller to parse (and sbuf_reset, which wipes). */
static enum pks_result perform(struct pks_client *c, const char *method,
                               const char *path, const struct sbuf *body,
                               long expect)
{
	struct sbuf url;
	long status = 0;
	sbuf_init(&url, URL_MAX);
	sbuf_reset(&c->reply);
	c->too_big = 0;
	c->curlerr[0] = '\0';
	c->why[0] = '\0';
	if (sbuf_printf(&url, "%s%s", c->base, path) < 0 ||
	    !SET(c->curl, CURLOPT_URL, url.s) || !set_method(c, method, body)) {
		sbuf_free(&url);
		return cfail(c, PKS_TEMP, "curl: cannot set up the request");
	}
	sbuf_free(&url);
	CURLcode rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		sbuf_reset(&c->reply);
		return transport_failure(c, rc);
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == expect)
		return PKS_OK;
	enum pks_result r = http_failure(c, status);
	sbuf_reset(&c->reply);
	return r;
}

/* The reply of a successful perform as a JSON object, or NULL with the
 * reason recorded. The raw text is wiped either way. */
static json_t *reply_object(struct pks_client *c)
{
	char why[WHY_MAX - 16];
	json_t *root = load_object(c->reply.s, c->reply.len, why, sizeof why);
	sbuf_reset(&c->reply);
	if (!root)
		cfail(c, PKS_TEMP, "bad reply: %s", why);
	return root;
}

/* Reads an integer member of a reply, recording a bad one as PKS_TEMP. */
static int reply_int(struct pks_client *c, json_t *obj, const char *name,
                     json_int_t min, json_int_t max, json_int_t *out)
{
	char why[WHY_MAX - 16];
	if (get_int(obj, name, min, max, out, why, sizeof why) < 0) {
		cfail(c, PKS_TEMP, "bad reply: %s", why);
		return -1;
	}
	return 0;
}

/* Serialises obj into body, a secret sbuf: it may carry a wrapped PDK. */
static int dump_cb(const char *buf, size_t size, void *arg)
{
	return sbuf_put(arg, buf, size);
}

static enum pks_result json_body(struct pks_client *c, json_t *obj,
                                 struct sbuf *body)
{
	sbuf_init_secret(body, PKS_REPLY_MAX);
	int r = obj ? json_dump_callback(obj, dump_cb, body, JSON_COMPACT) : -1;
	if (obj)
		wipe_json_string(json_object_get(obj, "pdk"));
	json_decref(obj);
	if (r < 0)
		return cfail(c, PKS_REFUSED, "request: cannot encode (not UTF-8, "
		             "or too long)");
	return PKS_OK;
}

/* --- the calls ------------------------------------------------------------ */

static enum pks_result normalise(struct pks_client *c, const char *address,
                                 char norm[ADDR_MAX + 1])
{
	enum addr_error e = address ? addr_normalize(address, strlen(address),
	                                             norm) : ADDR_EMPTY;
	if (e != ADDR_OK)
		return cfail(c, PKS_REFUSED, "address: %s", addr_strerror(e));
	return PKS_OK;
}

static enum pks_result check_row(struct pks_client *c, uint64_t row)
{
	if (row == 0 || row > PKS_ROW_MAX)
		return cfail(c, PKS_REFUSED, "row %" PRIu64 " out of range", row);
	return PKS_OK;
}

enum pks_result pks_health(struct pks_client *c)
{
	enum pks_result r = perform(c, "GET", "/v1/health", NULL, 200);
	json_t *root = r == PKS_OK ? reply_object(c) : NULL;
	if (r != PKS_OK || !root)
		return r == PKS_OK ? PKS_TEMP : r;
	json_t *s = json_object_get(root, "status");
	if (!json_is_string(s) || strcmp(json_string_value(s), "ok") != 0)
		r = cfail(c, PKS_TEMP, "bad reply: \"status\" is not \"ok\"");
	json_decref(root);
	return r;
}

static enum pks_result get_keys(struct pks_client *c, uint32_t hash,
                                int want_pdk, struct pks_keys *out)
{
	char hex[9], path[64], why[WHY_MAX - 16];
	out->n = 0;
	out->key = NULL;
	addr_hash_hex(hash, hex);
	snprintf(path, sizeof path, "/v1/keys/%s%s", hex, want_pdk ? "/pdk" : "");
	enum pks_result r = perform(c, "GET", path, NULL, 200);
	if (r == PKS_OK && pks_parse_keys(c->reply.s, c->reply.len, hash,
	                                  want_pdk, out, why, sizeof why) < 0)
		r = cfail(c, PKS_TEMP, "bad reply: %s", why);
	sbuf_reset(&c->reply);
	return r;
}

enum pks_result pks_get_peks(struct pks_client *c, uint32_t hash,
                             struct pks_keys *out)
{
	return get_keys(c, hash, 0, out);
}

enum pks_result pks_get_pdks(struct pks_client *c, uint32_t hash,
                             struct pks_keys *out)
{
	return get_keys(c, hash, 1, out);
}

/* The {"hash","row","version"} answer to a new key. */
static enum pks_result parse_created(struct pks_client *c, uint32_t hash,
                                     uint64_t *row, unsigned *version)
{
	char why[WHY_MAX - 16];
	json_int_t r, v;
	json_t *root = reply_object(c);
	if (!root)
		return PKS_TEMP;
	int bad = check_hash(root, hash, why, sizeof why) < 0;
	if (bad)
		cfail(c, PKS_TEMP, "bad reply: %s", why);
	else
		bad = reply_int(c, root, "row", 1, (json_int_t)PKS_ROW_MAX, &r) < 0 ||
		      reply_int(c, root, "version", 1, UINT_MAX, &v) < 0;
	json_decref(root);
	if (bad)
		return PKS_TEMP;
	if (row)
		*row = (uint64_t)r;
	if (version)
		*version = (unsigned)v;
	return PKS_OK;
}

static enum pks_result send_key(struct pks_client *c, int new_version,
                                const char *address, const char *pek,
                                const char *pdk, uint64_t *row,
                                unsigned *version)
{
	char norm[ADDR_MAX + 1], hex[9], path[64];
	struct sbuf body;
	enum pks_result r = normalise(c, address, norm);
	if (r != PKS_OK)
		return r;
	if (!pek || !pdk)
		return cfail(c, PKS_REFUSED, "request: no PEK or no PDK");
	uint32_t hash = addr_hash(norm);
	addr_hash_hex(hash, hex);
	if (new_version)
		snprintf(path, sizeof path, "/v1/keys/%s/versions", hex);
	else
		snprintf(path, sizeof path, "/v1/keys");
	r = json_body(c, json_pack("{s:s, s:s, s:s}", "address", norm,
	                           "pek", pek, "pdk", pdk), &body);
	if (r == PKS_OK)
		r = perform(c, "POST", path, &body, 201);
	sbuf_free(&body);
	return r == PKS_OK ? parse_created(c, hash, row, version) : r;
}

enum pks_result pks_create(struct pks_client *c, const char *address,
                           const char *pek, const char *pdk, uint64_t *row,
                           unsigned *version)
{
	return send_key(c, 0, address, pek, pdk, row, version);
}

enum pks_result pks_new_version(struct pks_client *c, const char *address,
                                const char *pek, const char *pdk,
                                uint64_t *row, unsigned *version)
{
	return send_key(c, 1, address, pek, pdk, row, version);
}

/* "/v1/keys/{hash}/rows/{row}/" followed by what. */
static void row_path(char *path, size_t len, uint32_t hash, uint64_t row,
                     const char *what)
{
	char hex[9];
	addr_hash_hex(hash, hex);
	snprintf(path, len, "/v1/keys/%s/rows/%" PRIu64 "/%s", hex, row, what);
}

enum pks_result pks_replace_pdk(struct pks_client *c, uint32_t hash,
                                uint64_t row, const char *pdk)
{
	char path[96];
	struct sbuf body;
	json_int_t r_row, v;
	enum pks_result r = check_row(c, row);
	if (r != PKS_OK)
		return r;
	if (!pdk)
		return cfail(c, PKS_REFUSED, "request: no PDK");
	row_path(path, sizeof path, hash, row, "pdk");
	r = json_body(c, json_pack("{s:s}", "pdk", pdk), &body);
	if (r == PKS_OK)
		r = perform(c, "PUT", path, &body, 200);
	sbuf_free(&body);
	json_t *root = r == PKS_OK ? reply_object(c) : NULL;
	if (r != PKS_OK || !root)
		return r == PKS_OK ? PKS_TEMP : r;
	if (reply_int(c, root, "row", 1, (json_int_t)PKS_ROW_MAX, &r_row) < 0 ||
	    reply_int(c, root, "version", 1, UINT_MAX, &v) < 0)
		r = PKS_TEMP;
	else if ((uint64_t)r_row != row)
		r = cfail(c, PKS_TEMP, "bad reply: \"row\" is not the one asked");
	json_decref(root);
	return r;
}

/* "/v1/addresses/{address}" (percent-encoded) followed by what. */
static enum pks_result address_path(struct pks_client *c, const char *norm,
                                    const char *what, struct sbuf *path)
{
	sbuf_init(path, URL_MAX);
	if (sbuf_puts(path, "/v1/addresses/") < 0 ||
	    pks_pct_encode(norm, strlen(norm), path) < 0 ||
	    sbuf_puts(path, what) < 0)
		return cfail(c, PKS_REFUSED, "address: path too long");
	return PKS_OK;
}

enum pks_result pks_delete_address(struct pks_client *c, const char *address,
                                   unsigned *deleted)
{
	char norm[ADDR_MAX + 1];
	struct sbuf path;
	json_int_t n;
	enum pks_result r = normalise(c, address, norm);
	if (r != PKS_OK)
		return r;
	r = address_path(c, norm, "", &path);
	if (r == PKS_OK)
		r = perform(c, "DELETE", path.s, NULL, 200);
	sbuf_free(&path);
	json_t *root = r == PKS_OK ? reply_object(c) : NULL;
	if (r != PKS_OK || !root)
		return r == PKS_OK ? PKS_TEMP : r;
	if (reply_int(c, root, "deleted", 0, UINT_MAX, &n) < 0)
		r = PKS_TEMP;
	else if (deleted)
		*deleted = (unsigned)n;
	json_decref(root);
	return r;
}

/* The server's normalisation must agree with ours (sq-addrhash(5)), or
 * hashes computed here would name other keys: a mismatch is an error. */
static enum pks_result parse_availability(struct pks_client *c,
                                          const char *norm, int *available)
{
	json_t *root = reply_object(c);
	if (!root)
		return PKS_TEMP;
	json_t *a = json_object_get(root, "address");
	json_t *av = json_object_get(root, "available");
	enum pks_result r = PKS_OK;
	if (!json_is_string(a) || strcmp(json_string_value(a), norm) != 0)
		r = cfail(c, PKS_TEMP, "bad reply: \"address\" is not ours "
		          "normalised");
	else if (!json_is_boolean(av))
		r = cfail(c, PKS_TEMP, "bad reply: \"available\" missing or not "
		          "a boolean");
	else if (available)
		*available = json_is_true(av);
	json_decref(root);
	return r;
}

enum pks_result pks_availability(struct pks_client *c, const char *address,
                                 int *available)
{
	char norm[ADDR_MAX + 1];
	struct sbuf path;
	enum pks_result r = normalise(c, address, norm);
	if (r != PKS_OK)
		return r;
	r = address_path(c, norm, "/availability", &path);
	if (r == PKS_OK)
		r = perform(c, "GET", path.s, NULL, 200);
	sbuf_free(&path);
	return r == PKS_OK ? parse_availability(c, norm, available) : r;
}

/* POST with an empty body to a row's login-failure or login-success. */
static enum pks_result login_report(struct pks_client *c, uint32_t hash,
                                    uint64_t row, const char *what,
                                    json_t **root)
{
	char path[96];
	struct sbuf empty;
	*root = NULL;
	enum pks_result r = check_row(c, row);
	if (r != PKS_OK)
		return r;
	row_path(path, sizeof path, hash, row, what);
	sbuf_init(&empty, 0);
	r = perform(c, "POST", path, &empty, 200);
	if (r == PKS_OK && !(*root = reply_object(c)))
		r = PKS_TEMP;
	return r;
}

enum pks_result pks_login_failure(struct pks_client *c, uint32_t hash,
                                  uint64_t row, unsigned *failures,
                                  time_t *locked_until)
{
	char why[WHY_MAX - 16];
	json_t *root;
	json_int_t n = 0;
	time_t until = 0;
	enum pks_result r = login_report(c, hash, row, "login-failure", &root);
	if (r != PKS_OK)
		return r;
	/* "locked_until" must be there, even as null: silence is not "no". */
	if (reply_int(c, root, "failures", 0, UINT_MAX, &n) < 0)
		r = PKS_TEMP;
	else if (!json_object_get(root, "locked_until"))
		r = cfail(c, PKS_TEMP, "bad reply: \"locked_until\" missing");
	else if (get_time(root, "locked_until", &until, why, sizeof why) < 0)
		r = cfail(c, PKS_TEMP, "bad reply: %s", why);
	json_decref(root);
	if (r == PKS_OK && failures)
		*failures = (unsigned)n;
	if (r == PKS_OK && locked_until)
		*locked_until = until;
	return r;
}

enum pks_result pks_login_success(struct pks_client *c, uint32_t hash,
                                  uint64_t row)
{
	json_t *root;
	json_int_t n;
	enum pks_result r = login_report(c, hash, row, "login-success", &root);
	if (r != PKS_OK)
		return r;
	if (reply_int(c, root, "failures", 0, 0, &n) < 0)
		r = PKS_TEMP;
	json_decref(root);
	return r;
}
