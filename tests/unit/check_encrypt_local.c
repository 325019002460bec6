/* check_encrypt_local - a message leaves sealed for its recipient only. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "deliver/encrypt_local.h"
#include "crypto/pki.h"
#include "crypto/seal.h"
#include "crypto/sealcheck.h"
#include "testutil.h"

#define ADDRESS "john.smith@example.org"
#define TEXT "Subject: hi\n\nhello\n"

static EVP_PKEY *ca_key, *old_key, *new_key, *other_key;
static X509 *ca, *other;
static struct el_keys keys;     /* two versions: old, new */

static void setup(void)
{
	ca_key = pki_keygen();
	old_key = pki_keygen();
	new_key = pki_keygen();
	other_key = pki_keygen();
	ca = pki_ca_create(ca_key, "test CA", 30);
	keys.n = 2;
	keys.cert = calloc(2, sizeof *keys.cert);
	keys.cert[0] = pki_issue_pek(ca_key, ca, old_key, ADDRESS, 30);
	keys.cert[1] = pki_issue_pek(ca_key, ca, new_key, ADDRESS, 30);
	keys.newest = 1;
	keys.hash = 0x93e896f4;
	keys.mailbox_row = 42;
	other = pki_issue_pek(ca_key, ca, other_key, "eve@example.org", 30);
	if (!keys.cert[0] || !keys.cert[1] || !other)
		abort();
}

static void teardown(void)
{
	el_keys_free(&keys);
	X509_free(other);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(old_key);
	EVP_PKEY_free(new_key);
	EVP_PKEY_free(other_key);
}

/* TEXT sealed (size line first) for cert, into out. */
static void sealed_for(X509 *cert, struct sbuf *out)
{
	struct seal_size size;
	int fd = memfd_create("t", MFD_CLOEXEC);
	ck_assert_int_eq(seal_mem(TEXT, strlen(TEXT), fd, cert, &size), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(sbuf_read_fd(out, fd), 0);
	close(fd);
}

static void opens_with(const char *msg, size_t len, EVP_PKEY *key,
                       X509 *cert)
{
	struct sbuf plain;
	const char *entity = memchr(msg, '\n', len) + 1;
	BIO *in = BIO_new_mem_buf(entity, (int)(len - (size_t)(entity - msg)));
	sbuf_init(&plain, 1 << 20);
	ck_assert_int_eq(seal_open_bio(in, (uint64_t)1 << 32, key, cert, &plain), 0);
	ck_assert_uint_eq(plain.len, strlen(TEXT));
	ck_assert_int_eq(memcmp(plain.s, TEXT, plain.len), 0);
	BIO_free(in);
	sbuf_free(&plain);
}

START_TEST(plaintext_is_sealed_now_with_the_newest_key)
{
	struct sbuf scratch;
	const char *out;
	size_t len;
	unsigned long long plainsize = 0, checked = 0;
	char why[200];
	sbuf_init(&scratch, 1 << 20);
	ck_assert_int_eq(el_prepare(TEXT, strlen(TEXT), &keys, &scratch, &out,
	                            &len, &plainsize, why, sizeof why), EL_OK);
	ck_assert_ptr_eq(out, scratch.s);
	ck_assert_uint_eq(plainsize, strlen(TEXT) + 3); /* LF counted CRLF */
	ck_assert_int_eq(sealcheck(out, len, &checked, NULL), 0);
	ck_assert_uint_eq(checked, plainsize);
	ck_assert_ptr_null(memmem(out, len, "hello", 5));
	opens_with(out, len, new_key, keys.cert[1]);
	sbuf_free(&scratch);
}
END_TEST

START_TEST(mail_sealed_to_an_old_version_passes_as_it_is)
{
	struct sbuf msg, scratch;
	const char *out;
	size_t len;
	unsigned long long plainsize;
	char why[200];
	sbuf_init(&msg, 1 << 20);
	sbuf_init(&scratch, 1 << 20);
	sealed_for(keys.cert[0], &msg);
	ck_assert_int_eq(el_sealed_for(msg.s, msg.len, &keys), 1);
	ck_assert_int_eq(el_prepare(msg.s, msg.len, &keys, &scratch, &out, &len,
	                            &plainsize, why, sizeof why), EL_OK);
	ck_assert_ptr_eq(out, msg.s);
	ck_assert_uint_eq(len, msg.len);
	ck_assert_uint_eq(plainsize, strlen(TEXT) + 3);
	sbuf_free(&msg);
	sbuf_free(&scratch);
}
END_TEST

START_TEST(mail_sealed_for_someone_else_is_refused)
{
	struct sbuf msg, scratch;
	const char *out = NULL;
	size_t len;
	unsigned long long plainsize;
	char why[200] = "";
	sbuf_init(&msg, 1 << 20);
	sbuf_init(&scratch, 1 << 20);
	sealed_for(other, &msg);
	ck_assert_int_eq(el_sealed_for(msg.s, msg.len, &keys), 0);
	ck_assert_int_eq(el_prepare(msg.s, msg.len, &keys, &scratch, &out, &len,
	                            &plainsize, why, sizeof why), EL_PERM);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(why, "another key"));
	ck_assert_int_eq(el_sealed_for("garbage\nnot cms", 15, &keys), -1);
	sbuf_free(&msg);
	sbuf_free(&scratch);
}
END_TEST

START_TEST(the_mailbox_is_hash_and_first_row)
{
	char id[MAILDIR_ID_SIZE];
	el_mailbox(&keys, id);
	ck_assert_str_eq(id, "93e896f4-42");
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("encrypt_local");
	TCase *tc = tcase_create("encrypt_local");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plaintext_is_sealed_now_with_the_newest_key);
	tcase_add_test(tc, mail_sealed_to_an_old_version_passes_as_it_is);
	tcase_add_test(tc, mail_sealed_for_someone_else_is_refused);
	tcase_add_test(tc, the_mailbox_is_hash_and_first_row);
	suite_add_tcase(s, tc);
	return s;
}
