/*
 * pkskey - the PKS key pair. See pkskey.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "util/atomicfile.h"
#include "pkskey.h"
#include "util/sbuf.h"

#define KEYFILE_MAGIC "sq-pks-key 1"

int pks_crypto_init(void)
{
	if (!gcry_check_version("1.10.0"))
		return -1;
	/* Locked memory for the private key; without the privilege to lock
	 * it libgcrypt still wipes it, so the warning is not useful noise. */
	gcry_control(GCRYCTL_DISABLE_SECMEM_WARN);
	if (gcry_control(GCRYCTL_INIT_SECMEM, 65536, 0))
		return -1;
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	return 0;
}

int x25519(unsigned char out[PKSKEY_LEN], const unsigned char *scalar,
           const unsigned char *point)
{
	static const unsigned char base[PKSKEY_LEN] = { 9 };
	static const unsigned char zero[PKSKEY_LEN];
	if (gcry_ecc_mul_point(GCRY_ECC_CURVE25519, out, scalar,
	                       point ? point : base))
		return -1;
	return memcmp(out, zero, PKSKEY_LEN) ? 0 : -1;
}

/* Fills in pub and id from priv. */
static int complete(struct pkskey *k)
{
	unsigned char md[32];
	if (x25519(k->pub, k->priv, NULL) < 0)
		return -1;
	gcry_md_hash_buffer(GCRY_MD_SHA256, md, k->pub, PKSKEY_LEN);
	k->id = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
	        (uint32_t)md[2] << 8 | md[3];
	return 0;
}

int pkskey_generate(struct pkskey *k)
{
	k->priv = gcry_malloc_secure(PKSKEY_LEN);
	if (!k->priv)
		return -1;
	gcry_randomize(k->priv, PKSKEY_LEN, GCRY_VERY_STRONG_RANDOM);
	if (complete(k) < 0) {
		pkskey_free(k);
		return -1;
	}
	return 0;
}

int pkskey_from_priv(struct pkskey *k, const unsigned char *priv)
{
	k->priv = gcry_malloc_secure(PKSKEY_LEN);
	if (!k->priv)
		return -1;
	memcpy(k->priv, priv, PKSKEY_LEN);
	if (complete(k) < 0) {
		pkskey_free(k);
		return -1;
	}
	return 0;
}

int pkskey_save(const struct pkskey *k, int dirfd, const char *name,
                uid_t uid, gid_t gid)
{
	static const char hex[] = "0123456789abcdef";
	struct sbuf text;
	sbuf_init_secret(&text, 256);
	int r = sbuf_printf(&text, "%s %08lx\n", KEYFILE_MAGIC,
	                    (unsigned long)k->id);
	for (size_t i = 0; r == 0 && i < PKSKEY_LEN; i++) {
		r = sbuf_putc(&text, hex[k->priv[i] >> 4]);
		if (r == 0)
			r = sbuf_putc(&text, hex[k->priv[i] & 15]);
	}
	if (r == 0)
		r = sbuf_putc(&text, '\n');
	struct atomicfile af;
	if (r == 0 && atomic_begin(&af, dirfd, name, 0400) == 0) {
		if ((uid != (uid_t)-1 && fchown(af.fd, uid, gid) < 0) ||
		    atomic_write(&af, text.s, text.len) < 0) {
			atomic_abort(&af);
			r = -1;
		} else {
			r = atomic_commit(&af, ATOMIC_REPLACE);
		}
	} else {
		r = -1;
	}
	sbuf_free(&text);
	return r;
}

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parses the file's text into k; 0 or -1. */
static int parse(struct pkskey *k, const struct sbuf *text)
{
	const char *p = text->s;
	size_t magic = strlen(KEYFILE_MAGIC);
	/* "sq-pks-key 1 xxxxxxxx\n" then 64 hex digits and "\n" */
	if (!p || text->len != magic + 10 + 2 * PKSKEY_LEN + 1 ||
	    memcmp(p, KEYFILE_MAGIC " ", magic + 1) != 0 || p[magic + 9] != '\n')
		return -1;
	const char *h = p + magic + 10;
	for (size_t i = 0; i < PKSKEY_LEN; i++) {
		int hi = unhex(h[2 * i]), lo = unhex(h[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		k->priv[i] = (unsigned char)(hi << 4 | lo);
	}
	char id[9];
	if (h[2 * PKSKEY_LEN] != '\n' || complete(k) < 0)
		return -1;
	snprintf(id, sizeof id, "%08lx", (unsigned long)k->id);
	return memcmp(id, p + magic + 1, 8) == 0 ? 0 : -1;
}

int pkskey_load(struct pkskey *k, int dirfd, const char *name, uid_t owner)
{
	struct stat st;
	struct sbuf text;
	k->priv = NULL;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	/* Only its owner, pksd's user, ever reads it: any other bit, or
	 * another owner, is a key that others may have read or replaced. */
	if (fstat(fd, &st) < 0 || (st.st_mode & 07777) != 0400 ||
	    st.st_uid != owner) {
		int e = (st.st_mode & 07777) != 0400 ? EPERM : EACCES;
		close(fd);
		errno = e;
		return -1;
	}
	sbuf_init_secret(&text, 256);
	int r = sbuf_read_fd(&text, fd);
	close(fd);
	k->priv = r == 0 ? gcry_malloc_secure(PKSKEY_LEN) : NULL;
	r = k->priv && parse(k, &text) == 0 ? 1 : -1;
	sbuf_free(&text);
	if (r < 0) {
		pkskey_free(k);
		errno = EINVAL;
	}
	return r;
}

void pkskey_free(struct pkskey *k)
{
	gcry_free(k->priv); /* secure memory is wiped when freed */
	k->priv = NULL;
}
