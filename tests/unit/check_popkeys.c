/* check_popkeys - the keys on descriptor 4, and opening a message with
 * whichever version it was sealed for. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto/pki.h"
#include "popkeys.h"
#include "crypto/seal.h"
#include "testutil.h"

static EVP_PKEY *ca_key, *old_key, *new_key, *eve_key;
static X509 *ca, *old_pek, *new_pek, *eve_pek;

static void setup(void)
{
	ca_key = pki_keygen();
	old_key = pki_keygen();
	new_key = pki_keygen();
	eve_key = pki_keygen();
	ca = pki_ca_create(ca_key, "test CA", 30);
	old_pek = pki_issue_pek(ca_key, ca, old_key, "a@example.org", 30);
	new_pek = pki_issue_pek(ca_key, ca, new_key, "a@example.org", 30);
	eve_pek = pki_issue_pek(ca_key, ca, eve_key, "eve@example.org", 30);
	if (!old_pek || !new_pek || !eve_pek)
		abort();
}

static void teardown(void)
{
	X509 *certs[] = { ca, old_pek, new_pek, eve_pek };
	EVP_PKEY *keys[] = { ca_key, old_key, new_key, eve_key };
	for (int i = 0; i < 4; i++) {
		X509_free(certs[i]);
		EVP_PKEY_free(keys[i]);
	}
}

/* Appends a certificate and its key, as sq-checkpw does. */
static void add_pair(struct sbuf *pem, X509 *cert, EVP_PKEY *key)
{
	struct sbuf one;
	sbuf_init_secret(&one, 65536);
	ck_assert_int_eq(pki_cert_to_pem(cert, &one), 0);
	ck_assert_int_eq(sbuf_put(pem, one.s, one.len), 0);
	ck_assert_int_eq(pki_key_to_pem(key, &one), 0);
	ck_assert_int_eq(sbuf_put(pem, one.s, one.len), 0);
	sbuf_free(&one);
}

/* msg sealed for pek, as the stores keep it. */
static void seal(const char *msg, X509 *pek, struct sbuf *out)
{
	int fd = memfd_create("sealed", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(seal_mem(msg, strlen(msg), fd, pek, NULL), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	sbuf_init(out, 1 << 20);
	ck_assert_int_eq(sbuf_read_fd(out, fd), 0);
	close(fd);
}

START_TEST(every_version_opens_its_own_mail)
{
	struct sbuf pem, s_old, s_new, s_eve, plain;
	struct popkeys k;
	sbuf_init_secret(&pem, POPKEYS_PEM_MAX);
	add_pair(&pem, new_pek, new_key);
	add_pair(&pem, old_pek, old_key);
	int fd = memfd_create("keys", MFD_CLOEXEC);
	ck_assert_int_eq(write(fd, pem.s, pem.len), (ssize_t)pem.len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(popkeys_take(&k, fd), 0); /* and closes fd */
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_uint_eq(k.n, 2);
	ck_assert_int_eq(CRYPTO_secure_malloc_initialized(), 1);
	ck_assert_uint_gt(CRYPTO_secure_used(), 0); /* the PDKs' scalars */
	seal("Subject: old\r\n\r\nsealed before the reset\r\n", old_pek, &s_old);
	seal("Subject: new\r\n\r\nsealed after\r\n", new_pek, &s_new);
	seal("Subject: eve\r\n\r\nnot ours\r\n", eve_pek, &s_eve);
	sbuf_init_secret(&plain, 1 << 20);
	/* each open frees the sealed copy it was given */
	ck_assert_int_eq(popkeys_open(&k, &s_old, &plain), 0);
	ck_assert_ptr_nonnull(strstr(plain.s, "sealed before the reset"));
	ck_assert_ptr_null(s_old.s);
	sbuf_reset(&plain);
	ck_assert_int_eq(popkeys_open(&k, &s_new, &plain), 0);
	ck_assert_ptr_nonnull(strstr(plain.s, "sealed after"));
	sbuf_reset(&plain);
	ck_assert_int_eq(popkeys_open(&k, &s_eve, &plain), -1);
	ck_assert_uint_eq(plain.len, 0);
	/* one octet changed in the ciphertext: nothing comes out */
	seal("Subject: new\r\n\r\nsealed after\r\n", new_pek, &s_new);
	s_new.s[s_new.len - 80] ^= 1;
	ck_assert_int_eq(popkeys_open(&k, &s_new, &plain), -1);
	ck_assert_uint_eq(plain.len, 0);
	popkeys_free(&k);
	sbuf_free(&plain);
	sbuf_free(&s_eve);
	sbuf_free(&s_new);
	sbuf_free(&s_old);
	sbuf_free(&pem);
}
END_TEST

START_TEST(bad_input_is_refused)
{
	struct popkeys k;
	struct sbuf pem;
	ck_assert_int_eq(popkeys_parse(&k, "", 0), -1);
	ck_assert_int_eq(popkeys_parse(&k, "garbage\n", 8), -1);
	sbuf_init_secret(&pem, POPKEYS_PEM_MAX);
	ck_assert_int_eq(pki_cert_to_pem(new_pek, &pem), 0);
	/* a certificate without its key */
	ck_assert_int_eq(popkeys_parse(&k, pem.s, pem.len), -1);
	ck_assert_uint_eq(k.n, 0);
	sbuf_free(&pem);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("popkeys");
	TCase *tc = tcase_create("popkeys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_version_opens_its_own_mail);
	tcase_add_test(tc, bad_input_is_refused);
	suite_add_tcase(s, tc);
	return s;
}
