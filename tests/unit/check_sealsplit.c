/* check_sealsplit - a binary sealed entity opened where it lies: the
 * same plaintext and the same refusals as a parse of the whole. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "crypto/pki.h"
#include "crypto/seal.h"
#include "crypto/sealsplit.h"
#include "testutil.h"

static EVP_PKEY *ca_key, *key, *other_key;
static X509 *ca, *pek, *other_pek;
static struct sbuf sealed, plain;
static char msg[100000];

static void setup(void)
{
	ca_key = pki_keygen();
	key = pki_keygen();
	other_key = pki_keygen();
	ca = pki_ca_create(ca_key, "test CA", 30);
	pek = pki_issue_pek(ca_key, ca, key, "john.smith@example.org", 30);
	other_pek = pki_issue_pek(ca_key, ca, other_key, "eve@example.org", 30);
	if (!pek || !other_pek)
		abort();
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (char)('a' + i % 23);
}

static void teardown(void)
{
	X509_free(other_pek);
	X509_free(pek);
	X509_free(ca);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

/* msg sealed for pek, as a maildir holds it: the entity alone. */
static void buffers_setup(void)
{
	sbuf_init(&sealed, 1 << 20);
	sbuf_init(&plain, 1 << 20);
	int out = memfd_create("t", MFD_CLOEXEC);
	ck_assert_int_eq(seal_mem(msg, sizeof msg, out, pek, NULL), 0);
	lseek(out, 0, SEEK_SET);
	ck_assert_int_eq(sbuf_read_fd(&sealed, out), 0);
	close(out);
	size_t start = seal_entity_start(sealed.s, sealed.len);
	ck_assert_uint_gt(start, 0);
	memmove(sealed.s, sealed.s + start, sealed.len - start);
	sbuf_truncate(&sealed, sealed.len - start);
}

static void buffers_teardown(void)
{
	sbuf_free(&sealed);
	sbuf_free(&plain);
}

/* Splits sealed and opens it with k and c: sealsplit_open's answer, or
 * -9 when it does not split. */
static int split_open(EVP_PKEY *k, X509 *c)
{
	struct sealsplit s;
	if (sealsplit_parse(sealed.s, sealed.len, &s) < 0)
		return -9;
	int r = sealsplit_open(&s, k, c, &plain);
	sealsplit_free(&s);
	ERR_clear_error();
	return r;
}

START_TEST(a_split_entity_opens_to_every_byte)
{
	struct sealsplit s;
	ck_assert_int_eq(sealsplit_parse(sealed.s, sealed.len, &s), 0);
	/* the content is read in place: the structure kept is small */
	ck_assert(s.content > (const unsigned char *)sealed.s &&
	          s.content + s.content_len < (const unsigned char *)sealed.s +
	                                      sealed.len);
	ck_assert_uint_gt(s.content_len, sizeof msg);
	ck_assert_uint_lt(sealed.len - s.content_len, 1024);
	sealsplit_free(&s);
	ck_assert_int_eq(split_open(key, pek), 0);
	ck_assert_uint_eq(plain.len, sizeof msg);
	ck_assert_int_eq(memcmp(plain.s, msg, sizeof msg), 0);
}
END_TEST

/* The first octet of the content's first chunk of data. */
static size_t first_data_octet(void)
{
	struct sealsplit s;
	ck_assert_int_eq(sealsplit_parse(sealed.s, sealed.len, &s), 0);
	size_t at = (size_t)(s.content - (const unsigned char *)sealed.s);
	sealsplit_free(&s);
	ck_assert_int_eq((unsigned char)sealed.s[at], 0xa0);   /* [0] */
	ck_assert_int_eq((unsigned char)sealed.s[at + 1], 0x80);
	ck_assert_int_eq((unsigned char)sealed.s[at + 2], 0x04); /* chunk */
	unsigned lenlen = (unsigned char)sealed.s[at + 3] & 0x7f;
	return at + 4 + lenlen;
}

START_TEST(a_changed_ciphertext_opens_nothing)
{
	ck_assert_int_eq(sbuf_puts(&plain, "kept"), 0);
	sealed.s[first_data_octet() + 100] ^= 0x01;
	ck_assert_int_eq(split_open(key, pek), -1);
	ck_assert_str_eq(plain.s, "kept"); /* no unverified plaintext */
}
END_TEST

START_TEST(a_changed_tag_opens_nothing)
{
	/* the streamed form ends: mac (04 10, 16 octets), then the
	 * end-of-contents of AuthEnvelopedData, [0] and ContentInfo */
	size_t n = sealed.len;
	ck_assert_int_eq((unsigned char)sealed.s[n - 24], 0x04);
	ck_assert_int_eq((unsigned char)sealed.s[n - 23], 16);
	sealed.s[n - 7] ^= 0x01;
	ck_assert_int_eq(split_open(key, pek), -1);
	ck_assert_uint_eq(plain.len, 0);
}
END_TEST

START_TEST(another_key_opens_nothing)
{
	ck_assert_int_eq(split_open(other_key, other_pek), -1);
	ck_assert_uint_eq(plain.len, 0);
}
END_TEST

START_TEST(what_is_not_the_streamed_layout_does_not_split)
{
	struct sealsplit s;
	/* octets after the entity; the entity cut short */
	ck_assert_int_eq(sbuf_put(&sealed, "\0", 1), 0);
	ck_assert_int_eq(sealsplit_parse(sealed.s, sealed.len, &s), -1);
	ck_assert_int_eq(sealsplit_parse(sealed.s, sealed.len - 10, &s), -1);
	sbuf_truncate(&sealed, sealed.len - 1);
	/* a chunk header that says more than there is */
	size_t at = first_data_octet();
	char keep = sealed.s[at - 1];
	sealed.s[at - 1] = (char)0xff;
	ck_assert_int_eq(sealsplit_parse(sealed.s, sealed.len, &s), -1);
	sealed.s[at - 1] = keep;
	/* DER (definite lengths): parsed whole by seal_parse instead */
	CMS_ContentInfo *cms = seal_parse(sealed.s, sealed.len);
	unsigned char *der = NULL;
	int n = i2d_CMS_ContentInfo(cms, &der);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(sealsplit_parse((char *)der, (size_t)n, &s), -1);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	/* S/MIME */
	struct sbuf smime;
	sbuf_init(&smime, 1 << 20);
	ck_assert_int_eq(seal_to_smime(sealed.s, sealed.len, &smime), 0);
	ck_assert_int_eq(sealsplit_parse(smime.s, smime.len, &s), -1);
	sbuf_free(&smime);
	/* and the untouched entity still splits */
	ck_assert_int_eq(split_open(key, pek), 0);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("sealsplit");
	TCase *tc = tcase_create("sealsplit");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, buffers_setup, buffers_teardown);
	tcase_add_test(tc, a_split_entity_opens_to_every_byte);
	tcase_add_test(tc, a_changed_ciphertext_opens_nothing);
	tcase_add_test(tc, a_changed_tag_opens_nothing);
	tcase_add_test(tc, another_key_opens_nothing);
	tcase_add_test(tc, what_is_not_the_streamed_layout_does_not_split);
	suite_add_tcase(s, tc);
	return s;
}
