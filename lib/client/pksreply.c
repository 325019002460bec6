/*
 * pksreply - reading pksd's replies, percent-encoding and key selection
 * for the PKS client. See pksreply.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "mail/addr.h"
#include "util/fail.h"
#include "crypto/pki.h"
#include "client/pksconfig.h"
#include "client/pksreply.h"
#include "util/sbuf.h"

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

/* jansson frees its strings without wiping; clear a wrapped PDK in place
 * before the tree goes. (The bytes also passed through OpenSSL's and
 * curl's buffers, which we cannot reach: this is hygiene, and the scrypt
 * wrap is the protection.) */
void pks_json_wipe_string(json_t *s)
{
	if (json_is_string(s))
		OPENSSL_cleanse((char *)json_string_value(s),
		                json_string_length(s));
}

json_t *pks_json_load_object(const char *text, size_t len, char *why,
                             size_t whylen)
{
	json_error_t err;
	/* Not err.text: its "near '...'" could quote a piece of a PDK. */
	json_t *root = json_loadb(text ? text : "", len,
	                          JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		fail_why(why, whylen, -1, "not JSON (line %d, column %d)",
		         err.line, err.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		fail_why(why, whylen, -1, "not a JSON object");
		return NULL;
	}
	return root;
}

int pks_json_get_int(json_t *obj, const char *name, json_int_t min,
                     json_int_t max, json_int_t *out, char *why,
                     size_t whylen)
{
	json_t *v = json_object_get(obj, name);
	if (!json_is_integer(v))
		return fail_why(why, whylen, -1,
		                "\"%s\" missing or not an integer", name);
	json_int_t i = json_integer_value(v);
	if (i < min || i > max)
		return fail_why(why, whylen, -1, "\"%s\" out of range", name);
	*out = i;
	return 0;
}

/* A non-empty string member; jansson has already refused NUL bytes. */
static json_t *get_string(json_t *obj, const char *name, char *why,
                          size_t whylen)
{
	json_t *v = json_object_get(obj, name);
	if (!json_is_string(v) || json_string_length(v) == 0) {
		fail_why(why, whylen, -1, "\"%s\" missing or not a string", name);
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
int pks_json_get_time(json_t *obj, const char *name, time_t *out, char *why,
                      size_t whylen)
{
	json_t *v = json_object_get(obj, name);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || pks_parse_time(json_string_value(v), out) < 0)
		return fail_why(why, whylen, -1,
		                "\"%s\" is not an RFC 3339 UTC time", name);
	return 0;
}

/* "cache_pepper" (a login attempt's): absent (an older pksd: no login
 * cache), or 64 lower-case hex digits. */
static int parse_pepper(json_t *k, struct pks_key *key, char *why,
                        size_t whylen)
{
	json_t *v = json_object_get(k, "cache_pepper");
	const char *hex = json_is_string(v) ? json_string_value(v) : NULL;
	if (!v)
		return 0;
	if (!hex || strlen(hex) != 2 * PKS_PEPPER_LEN ||
	    strspn(hex, "0123456789abcdef") != 2 * PKS_PEPPER_LEN)
		return fail_why(why, whylen, -1, "\"cache_pepper\" is not 64 "
		                "hex digits");
	for (size_t i = 0; i < PKS_PEPPER_LEN; i++) {
		unsigned byte;
		sscanf(hex + 2 * i, "%2x", &byte);
		key->pepper[i] = (unsigned char)byte;
	}
	key->has_pepper = 1;
	return 0;
}

/* A row of a PDK reply: "pdk", unless the row is locked (then it is
 * served without one), and a login attempt's pepper. */
static int parse_pdk(json_t *k, struct pks_key *key, char *why,
                     size_t whylen)
{
	if (pks_json_get_time(k, "locked_until", &key->locked_until, why,
	                      whylen) < 0)
		return -1;
	if (key->locked_until && !json_object_get(k, "pdk"))
		return 0;
	json_t *pdk = get_string(k, "pdk", why, whylen);
	if (!pdk)
		return -1;
	if (!(key->pdk = dup_string(pdk)))
		return fail_why(why, whylen, -1, "out of memory");
	return parse_pepper(k, key, why, whylen);
}

static int parse_key(json_t *k, int want_pdk, struct pks_key *key, char *why,
                     size_t whylen)
{
	json_int_t row, version;
	json_t *pek;
	if (!json_is_object(k))
		return fail_why(why, whylen, -1, "a key is not an object");
	if (pks_json_get_int(k, "row", 1, (json_int_t)PKS_ROW_MAX, &row, why,
	                     whylen) < 0 ||
	    pks_json_get_int(k, "version", 1, UINT_MAX, &version, why,
	                     whylen) < 0 ||
	    !(pek = get_string(k, "pek", why, whylen)))
		return -1;
	key->row = (uint64_t)row;
	key->version = (unsigned)version;
	if (!(key->pek = dup_string(pek)))
		return fail_why(why, whylen, -1, "out of memory");
	return want_pdk ? parse_pdk(k, key, why, whylen) : 0;
}

int pks_json_check_hash(json_t *root, uint32_t hash, char *why,
                        size_t whylen)
{
	char hex[9];
	addr_hash_hex(hash, hex);
	json_t *h = get_string(root, "hash", why, whylen);
	if (!h)
		return -1;
	if (strcmp(json_string_value(h), hex) != 0)
		return fail_why(why, whylen, -1, "\"hash\" is not the one asked");
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
		return fail_why(why, whylen, -1, "out of memory");
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
		pks_json_wipe_string(json_object_get(k, "pdk"));
}

int pks_parse_keys(const char *json, size_t len, uint32_t hash, int want_pdk,
                   struct pks_keys *out, char *why, size_t whylen)
{
	out->n = 0;
	out->key = NULL;
	json_t *root = pks_json_load_object(json, len, why, whylen);
	if (!root)
		return -1;
	json_t *keys = json_object_get(root, "keys");
	int r = pks_json_check_hash(root, hash, why, whylen);
	if (r == 0 && !json_is_array(keys))
		r = fail_why(why, whylen, -1, "\"keys\" missing or not an array");
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
		OPENSSL_cleanse(k->key[i].pepper, sizeof k->key[i].pepper);
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
int pks_parse_error(const char *text, size_t len, char *code, size_t codelen,
                    char *msg, size_t msglen)
{
	json_t *root = pks_json_load_object(text, len, NULL, 0);
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

/* Whether row k is a key for norm that fails the check (1), a good key
 * for norm (0), or another address's row, which a shared hash explains
 * (-1). A row that cannot be read, or names no one address, counts as
 * failing: the store holds nothing of the kind unless tampered with. */
static int row_suspect(const struct pks_key *k, X509 *ca, const char *norm,
                       char *why, size_t whylen)
{
	char named[ADDR_MAX + 1];
	X509 *cert = k->pek ? pki_cert_from_pem(k->pek, strlen(k->pek)) : NULL;
	int r;
	if (!cert) {
		snprintf(why, whylen, "row %llu: not a certificate",
		         (unsigned long long)k->row);
		return 1;
	}
	if (pki_cert_address(cert, named) == 0 && strcmp(named, norm) != 0)
		r = -1;
	else {
		char reason[128] = "";
		r = pki_verify_pek(cert, ca, norm, reason, sizeof reason) == 1 ? 0
		                                                                : 1;
		if (r)
			snprintf(why, whylen, "row %llu: %s",
			         (unsigned long long)k->row,
			         *reason ? reason : "cannot verify");
	}
	X509_free(cert);
	return r;
}

long pks_select_checked(const struct pks_keys *keys, X509 *ca,
                        const char *address, size_t *suspect, char *why,
                        size_t whylen)
{
	char norm[ADDR_MAX + 1], dummy[8];
	long best = -1;
	*suspect = 0;
	if (!why || !whylen) {
		why = dummy;
		whylen = sizeof dummy;
	}
	*why = '\0';
	if (addr_normalize(address, strlen(address), norm) != ADDR_OK)
		return -1;
	for (size_t i = 0; i < keys->n; i++) {
		const struct pks_key *k = &keys->key[i];
		int r = row_suspect(k, ca, norm, *suspect ? dummy : why,
		                    *suspect ? sizeof dummy : whylen);
		if (r > 0)
			++*suspect;
		if (r != 0)
			continue;
		const struct pks_key *b = best < 0 ? NULL : &keys->key[best];
		if (!b || k->version > b->version ||
		    (k->version == b->version && k->row > b->row))
			best = (long)i;
	}
	return best;
}

long pks_select(const struct pks_keys *keys, X509 *ca, const char *address)
{
	size_t suspect;
	return pks_select_checked(keys, ca, address, &suspect, NULL, 0);
}
