/*
 * addr - address normalisation and hash. See addr.h and sq-addrhash(5).
 */
#include <string.h>

#include <openssl/sha.h>

#include "mail/addr.h"

/* RFC 5322 atext: letters, digits and these specials. */
static int is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* dot-atom: atext runs separated by single dots. */
static int valid_local(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* Host name: labels of 1-63 LDH characters, no hyphen at either end. */
static int valid_domain(const char *s, size_t n)
{
	size_t label = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - label] == '-' ||
			    s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (is_ldh((unsigned char)s[i])) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

enum addr_error addr_normalize(const char *addr, size_t len, char *out)
{
	out[0] = '\0';
	if (len == 0)
		return ADDR_EMPTY;
	if (len > ADDR_MAX + 1) /* +1: a trailing root dot is allowed */
		return ADDR_TOO_LONG;
	const char *at = memrchr(addr, '@', len);
	if (!at)
		return ADDR_NO_AT;
	size_t llen = (size_t)(at - addr);
	size_t dlen = len - llen - 1;
	if (dlen > 0 && at[dlen] == '.')
		dlen--;
	if (llen == 0 || dlen == 0)
		return ADDR_EMPTY;
	if (llen > ADDR_LOCAL_MAX || dlen > ADDR_DOMAIN_MAX ||
	    llen + 1 + dlen > ADDR_MAX)
		return ADDR_TOO_LONG;
	if (!valid_local(addr, llen))
		return ADDR_BAD_LOCAL;
	if (!valid_domain(at + 1, dlen))
		return ADDR_BAD_DOMAIN;
	size_t n = llen + 1 + dlen;
	for (size_t i = 0; i < n; i++)
		out[i] = lower(addr[i]);
	out[n] = '\0';
	return ADDR_OK;
}

const char *addr_strerror(enum addr_error e)
{
	switch (e) {
	case ADDR_OK: return "valid";
	case ADDR_EMPTY: return "empty local part or domain";
	case ADDR_TOO_LONG: return "address too long";
	case ADDR_NO_AT: return "no @ in address";
	case ADDR_BAD_LOCAL: return "local part is not a dot-atom";
	case ADDR_BAD_DOMAIN: return "domain is not a valid host name";
	}
	return "invalid address";
}

uint32_t addr_hash(const char *normalized)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)normalized, strlen(normalized), md);
	return (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
	       (uint32_t)md[2] << 8 | (uint32_t)md[3];
}

void addr_hash_hex(uint32_t hash, char out[9])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 7; i >= 0; i--) {
		out[i] = hex[hash & 15];
		hash >>= 4;
	}
	out[8] = '\0';
}
