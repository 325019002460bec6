#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/pem.h>

#include "mail/addr.h"
#include "deliver/encrypt_local.h"
#include "util/fail.h"
#include "crypto/pki.h"
#include "crypto/seal.h"
#include "crypto/sealcheck.h"
#include "crypto/sealsplit.h"

void el_keys_free(struct el_keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		X509_free(k->cert[i]);
	free(k->cert);
	memset(k, 0, sizeof *k);
}

/* Keeps key i's certificate if the CA issued it for address. */
static int keep(struct el_keys *k, const struct pks_key *key, X509 *ca,
                const char *address)
{
	X509 *cert = key->pek ? pki_cert_from_pem(key->pek, strlen(key->pek))
	                      : NULL;
	if (!cert || pki_verify_pek(cert, ca, address, NULL, 0) != 1) {
		X509_free(cert);
		return 0;
	}
	k->cert[k->n] = cert;
	if (k->n == 0 || key->row < k->mailbox_row)
		k->mailbox_row = key->row;
	return 1;
}

enum el_result el_keys_fetch(struct pks_client *pks, X509 *ca,
                             const char *address, struct el_keys *k,
                             char *why, size_t whylen)
{
	struct pks_keys keys;
	unsigned best_version = 0;
	uint64_t best_row = 0;
	memset(k, 0, sizeof *k);
	k->hash = addr_hash(address);
	int r = pks_get_peks(pks, k->hash, &keys);
	if (r == PKS_NOT_FOUND)
		return EL_NOKEY;
	if (r != PKS_OK)
		return fail_why(why, whylen, EL_TEMP, "PKS: %s",
		                pks_client_error(pks));
	k->cert = calloc(keys.n ? keys.n : 1, sizeof *k->cert);
	if (!k->cert) {
		pks_keys_free(&keys);
		return fail_why(why, whylen, EL_TEMP, "out of memory");
	}
	for (size_t i = 0; i < keys.n; i++) {
		const struct pks_key *key = &keys.key[i];
		if (!keep(k, key, ca, address))
			continue;
		if (key->version > best_version ||
		    (key->version == best_version && key->row > best_row)) {
			best_version = key->version;
			best_row = key->row;
			k->newest = k->n;
		}
		k->n++;
	}
	pks_keys_free(&keys);
	if (k->n == 0) {
		el_keys_free(k);
		return EL_NOKEY;
	}
	return EL_OK;
}

struct el_cache_slot {
	char address[ADDR_MAX + 1];
	time_t until;           /* CLOCK_MONOTONIC seconds */
	struct el_keys keys;    /* n 0: empty */
};

int el_cache_init(struct el_cache *c, size_t n, unsigned long ttl)
{
	c->slot = calloc(n ? n : 1, sizeof *c->slot);
	c->n = n ? n : 1;
	c->ttl = ttl;
	return c->slot ? 0 : -1;
}

void el_cache_free(struct el_cache *c)
{
	for (size_t i = 0; c->slot && i < c->n; i++)
		el_keys_free(&c->slot[i].keys);
	free(c->slot);
	c->slot = NULL;
}

/* dst: src with references of its own. 0, or -1 (ENOMEM). */
static int keys_copy(struct el_keys *dst, const struct el_keys *src)
{
	*dst = *src;
	dst->cert = calloc(src->n, sizeof *dst->cert);
	if (!dst->cert) {
		memset(dst, 0, sizeof *dst);
		return -1;
	}
	for (size_t i = 0; i < src->n; i++) {
		X509_up_ref(src->cert[i]);
		dst->cert[i] = src->cert[i];
	}
	return 0;
}

static time_t now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

enum el_result el_keys_get(struct el_cache *c, struct pks_client *pks,
                           X509 *ca, const char *address, int fresh,
                           struct el_keys *k, char *why, size_t whylen)
{
	struct el_cache_slot *s = &c->slot[addr_hash(address) % c->n];
	if (!fresh && c->ttl && s->keys.n && now() < s->until &&
	    strcmp(s->address, address) == 0 && keys_copy(k, &s->keys) == 0) {
		k->cached = 1;
		return EL_OK;
	}
	enum el_result r = el_keys_fetch(pks, ca, address, k, why, whylen);
	if (r != EL_OK || !c->ttl || strlen(address) >= sizeof s->address)
		return r;
	el_keys_free(&s->keys);
	if (keys_copy(&s->keys, k) == 0) {
		strcpy(s->address, address);
		s->until = now() + (time_t)c->ttl;
	}
	return r;
}

void el_mailbox(const struct el_keys *k, char id[MAILDIR_ID_SIZE])
{
	maildir_id_format(id, k->hash, k->mailbox_row);
}

static int ri_names(CMS_RecipientInfo *ri, X509 *cert)
{
	if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS)
		return CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0;
	if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_AGREE)
		return 0;
	STACK_OF(CMS_RecipientEncryptedKey) *reks =
		CMS_RecipientInfo_kari_get0_reks(ri);
	for (int i = 0; i < sk_CMS_RecipientEncryptedKey_num(reks); i++)
		if (CMS_RecipientEncryptedKey_cert_cmp(
			    sk_CMS_RecipientEncryptedKey_value(reks, i), cert) == 0)
			return 1;
	return 0;
}

int el_sealed_for(const char *msg, size_t len, const struct el_keys *k)
{
	size_t start = seal_entity_start(msg, len);
	struct sealsplit split; /* the recipients only, the content not copied */
	CMS_ContentInfo *cms = sealsplit_take(msg + start, len - start,
	                                      &split) == 0 ? split.cms : NULL;
	STACK_OF(CMS_RecipientInfo) *ris =
		cms ? CMS_get0_RecipientInfos(cms) : NULL;
	int found = ris ? 0 : -1;
	for (int i = 0; ris && !found && i < sk_CMS_RecipientInfo_num(ris); i++)
		for (size_t c = 0; !found && c < k->n; c++)
			found = ri_names(sk_CMS_RecipientInfo_value(ris, i),
			                 k->cert[c]);
	CMS_ContentInfo_free(cms);
	return found;
}

/* Seals msg now with the newest key into sealed, through a memfd (seal_mem
 * writes to a descriptor); the copy never touches a disk. */
static enum el_result seal_now(const char *msg, size_t len,
                               const struct el_keys *k, struct sbuf *sealed,
                               unsigned long long *plainsize, char *why,
                               size_t whylen)
{
	struct seal_size size;
	int fd = memfd_create("sq-sealed", MFD_CLOEXEC);
	int r = fd < 0 ? -1 : seal_mem(msg, len, fd, k->cert[k->newest], &size);
	if (r == 0 && lseek(fd, 0, SEEK_SET) == 0)
		r = sbuf_read_fd(sealed, fd);
	else
		r = -1;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return fail_why(why, whylen, EL_TEMP, "cannot seal the message");
	*plainsize = size.crlf_octets;
	return EL_OK;
}

enum el_result el_prepare(const char *msg, size_t len,
                          const struct el_keys *k, struct sbuf *sealed,
                          const char **out, size_t *outlen,
                          unsigned long long *plainsize, char *why,
                          size_t whylen)
{
	if (sealcheck(msg, len, plainsize, NULL) == 0) {
		int r = el_sealed_for(msg, len, k);
		if (r != 1)
			return fail_why(why, whylen, EL_PERM, "%s",
			                r == 0 ? "sealed for another key"
			                       : "a sealed message that does not "
			                         "parse");
		*out = msg;
		*outlen = len;
		return EL_OK;
	}
	sbuf_reset(sealed);
	enum el_result r = seal_now(msg, len, k, sealed, plainsize, why, whylen);
	if (r == EL_OK) {
		*out = sealed->s;
		*outlen = sealed->len;
	}
	return r;
}
