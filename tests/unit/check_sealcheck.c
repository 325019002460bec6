/* check_sealcheck - only authEnveloped-data with one X-SQ-Plaintext-Size
 * line in front passes; plain text, enveloped (CBC) and signed data, and
 * every malformed header are refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "crypto/pki.h"
#include "crypto/seal.h"
#include "crypto/sealcheck.h"
#include "testutil.h"

#define PLAIN "From: a@example.org\nSubject: hi\n\nhello, world\n"

static EVP_PKEY *ca_key, *key;
static X509 *ca, *pek;
static struct sbuf sealed, smime, msg;

static void setup(void)
{
	ca_key = pki_keygen();
	key = pki_keygen();
	ca = ca_key ? pki_ca_create(ca_key, "test CA", 30) : NULL;
	pek = ca ? pki_issue_pek(ca_key, ca, key, "a@example.org", 30) : NULL;
	if (!pek)
		abort();
}

static void teardown(void)
{
	X509_free(pek);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

static void buffers_setup(void)
{
	sbuf_init(&sealed, 1 << 20);
	sbuf_init(&msg, 1 << 20);
	/* the entity alone (seal_fd: seal_mem would put its own size line
	 * in front, which the tests compose themselves) */
	int in = memfd_create("plain", MFD_CLOEXEC);
	int fd = memfd_create("sealed", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(in, PLAIN, strlen(PLAIN)), (ssize_t)strlen(PLAIN));
	lseek(in, 0, SEEK_SET);
	ck_assert_int_eq(seal_fd(in, fd, pek, (uint64_t)1 << 32, NULL), 0);
	close(in);
	lseek(fd, 0, SEEK_SET);
	ck_assert_int_eq(sbuf_read_fd(&sealed, fd), 0);
	close(fd);
	sbuf_init(&smime, 1 << 20);     /* as older versions stored it */
	ck_assert_int_eq(seal_to_smime(sealed.s, sealed.len, &smime), 0);
}

static void buffers_teardown(void)
{
	sbuf_free(&sealed);
	sbuf_free(&smime);
	sbuf_free(&msg);
}

/* msg = head + body */
static void compose(const char *head, const char *body, size_t n)
{
	sbuf_reset(&msg);
	ck_assert_int_eq(sbuf_puts(&msg, head), 0);
	ck_assert_int_eq(sbuf_put(&msg, body, n), 0);
}

static int check(unsigned long long *size)
{
	*size = 424242;
	errno = 0;
	return sealcheck(msg.s, msg.len, size, NULL);
}

/* An entity made with OpenSSL's own CMS_encrypt (the CLI's code path). */
static void cms_encrypt(const EVP_CIPHER *cipher, struct sbuf *out)
{
	BIO *in = BIO_new_mem_buf(PLAIN, -1), *mem = BIO_new(BIO_s_mem());
	STACK_OF(X509) *certs = sk_X509_new_null();
	sk_X509_push(certs, pek);
	CMS_ContentInfo *cms = CMS_encrypt(certs, in, cipher, CMS_BINARY);
	ck_assert_ptr_nonnull(cms);
	ck_assert_int_eq(SMIME_write_CMS(mem, cms, NULL, CMS_BINARY), 1);
	char *p;
	long n = BIO_get_mem_data(mem, &p);
	sbuf_reset(out);
	ck_assert_int_eq(sbuf_put(out, p, (size_t)n), 0);
	CMS_ContentInfo_free(cms);
	sk_X509_free(certs);
	BIO_free(mem);
	BIO_free(in);
}

static void read_corpus(const char *name, struct sbuf *out)
{
	char path[256];
	snprintf(path, sizeof path, "tests/fuzz/corpus/seal_open/%s", name);
	int fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "%s (run from the top of the tree)", path);
	sbuf_reset(out);
	ck_assert_int_eq(sbuf_read_fd(out, fd), 0);
	close(fd);
}

START_TEST(a_sealed_entity_with_its_size_line_passes)
{
	unsigned long long size;
	compose("X-SQ-Plaintext-Size: 47\n", sealed.s, sealed.len);
	ck_assert_int_eq(check(&size), 0);
	ck_assert_uint_eq(size, 47);
	compose("x-sq-plaintext-size:0\n", sealed.s, sealed.len);
	ck_assert_int_eq(check(&size), 0);
	ck_assert_uint_eq(size, 0);
	/* the S/MIME form: the line anywhere before the MIME headers */
	compose("X-Other: 1\nX-SQ-Plaintext-Size:\t1099511627776\n", smime.s,
	        smime.len);
	ck_assert_int_eq(check(&size), 0);
	ck_assert_uint_eq(size, 1ULL << 40);
	/* the binary form: the line, alone, then the entity */
	compose("X-Other: 1\nX-SQ-Plaintext-Size: 5\n", sealed.s, sealed.len);
	ck_assert_int_eq(check(&size), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(the_part_to_store_is_the_binary_entity_alone)
{
	unsigned long long size;
	size_t entity = 1;
	compose("X-SQ-Plaintext-Size: 47\n", sealed.s, sealed.len);
	ck_assert_int_eq(sealcheck(msg.s, msg.len, &size, &entity), 0);
	ck_assert_uint_eq(entity, msg.len - sealed.len);
	compose("X-SQ-Plaintext-Size: 47\n", smime.s, smime.len);
	ck_assert_int_eq(sealcheck(msg.s, msg.len, &size, &entity), 0);
	ck_assert_uint_eq(entity, 0); /* kept whole, its line with it */
	/* octets after the entity: not a sealed message */
	compose("X-SQ-Plaintext-Size: 47\n", sealed.s, sealed.len);
	ck_assert_int_eq(sbuf_puts(&msg, "trailing"), 0);
	ck_assert_int_eq(check(&size), -1);
	ck_assert_int_eq(errno, EBADMSG);
}
END_TEST

START_TEST(crlf_line_ends_pass_too)
{
	unsigned long long size;
	struct sbuf crlf;
	sbuf_init(&crlf, 2 << 20);
	ck_assert_int_eq(sbuf_puts(&crlf, "X-SQ-Plaintext-Size: 12\r\n"), 0);
	for (size_t i = 0; i < smime.len; i++) {
		if (smime.s[i] == '\n')
			ck_assert_int_eq(sbuf_putc(&crlf, '\r'), 0);
		ck_assert_int_eq(sbuf_putc(&crlf, smime.s[i]), 0);
	}
	ck_assert_int_eq(sealcheck(crlf.s, crlf.len, &size, NULL), 0);
	ck_assert_uint_eq(size, 12);
	compose("X-SQ-Plaintext-Size: 13\r\n", sealed.s, sealed.len);
	ck_assert_int_eq(check(&size), 0);
	ck_assert_uint_eq(size, 13);
	sbuf_free(&crlf);
}
END_TEST

START_TEST(a_missing_or_malformed_size_line_is_refused)
{
	static const char *const bad[] = {
		"",                                     /* none */
		"X-SQ-Plaintext-Size: 1\nX-SQ-Plaintext-Size: 1\n",
		"X-SQ-Plaintext-Size: -1\n", "X-SQ-Plaintext-Size: +1\n",
		"X-SQ-Plaintext-Size: 01\n", "X-SQ-Plaintext-Size: 1 \n",
		"X-SQ-Plaintext-Size: 1099511627777\n",
		"X-SQ-Plaintext-Size: 99999999999999999999999\n",
		"X-SQ-Plaintext-Size: 0x10\n", "X-SQ-Plaintext-Size:\n",
		"X-SQ-Plaintext-Size: 1\n 2\n",        /* folded */
		"X-SQ-Plaintext-Size : 1\n", "X-SQ-Plaintext-Size 1\n",
		"X-SQ-Plaintext-Size: 1\r2\n",         /* bare CR */
		" X-SQ-Plaintext-Size: 1\n",           /* a continuation first */
		"X-SQ-Plaintext-Sizes: 1\n",
	};
	unsigned long long size;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		compose(bad[i], sealed.s, sealed.len);
		ck_assert_msg(check(&size) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_uint_eq(size, 424242); /* untouched */
	}
}
END_TEST

START_TEST(the_size_line_must_come_before_the_mime_headers)
{
	unsigned long long size;
	const char *nl = memchr(smime.s, '\n', smime.len);
	ck_assert_ptr_nonnull(nl);
	/* MIME-Version: 1.0, then our line, then the rest */
	sbuf_reset(&msg);
	sbuf_put(&msg, smime.s, (size_t)(nl + 1 - smime.s));
	sbuf_puts(&msg, "X-SQ-Plaintext-Size: 47\n");
	sbuf_put(&msg, nl + 1, smime.len - (size_t)(nl + 1 - smime.s));
	ck_assert_int_eq(check(&size), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* in the body it is no header at all */
	compose("", smime.s, smime.len);
	sbuf_puts(&msg, "X-SQ-Plaintext-Size: 47\n");
	ck_assert_int_eq(check(&size), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(plain_text_is_refused_whatever_its_header_says)
{
	unsigned long long size;
	compose("X-SQ-Plaintext-Size: 47\n", PLAIN, strlen(PLAIN));
	ck_assert_int_eq(check(&size), -1);
	ck_assert_int_eq(errno, EBADMSG);
	compose("X-SQ-Plaintext-Size: 5\nMIME-Version: 1.0\nContent-Type: "
	        "application/pkcs7-mime; smime-type=authEnveloped-data\n"
	        "Content-Transfer-Encoding: base64\n\n", "aGVsbG8K\n", 9);
	ck_assert_int_eq(check(&size), -1);
	ck_assert_int_eq(errno, EBADMSG);
	static const char junk[] = "X-SQ-Plaintext-Size: 1\n\n\0\xff\x30\x80";
	ck_assert_int_eq(sealcheck(junk, sizeof junk, &size, NULL), -1);
	ck_assert_int_eq(sealcheck("", 0, &size, NULL), -1);
	ck_assert_int_eq(sealcheck(NULL, 0, &size, NULL), -1);
}
END_TEST

START_TEST(enveloped_data_with_cbc_is_refused)
{
	unsigned long long size;
	struct sbuf e;
	sbuf_init(&e, 1 << 20);
	cms_encrypt(EVP_aes_256_cbc(), &e);
	compose("X-SQ-Plaintext-Size: 47\n", e.s, e.len);
	ck_assert_int_eq(check(&size), -1);
	ck_assert_int_eq(errno, EBADMSG);
	read_corpus("cli-cbc", &e); /* openssl cms -encrypt -aes-256-cbc */
	compose("X-SQ-Plaintext-Size: 47\n", e.s, e.len);
	ck_assert_int_eq(check(&size), -1);
	ck_assert_int_eq(errno, EBADMSG);
	sbuf_free(&e);
}
END_TEST

/* The binary form is checked without a parse: what it must still refuse. */
START_TEST(a_binary_entity_must_be_whole_and_auth_enveloped)
{
	unsigned long long size;
	BIO *in = BIO_new_mem_buf(PLAIN, -1);
	STACK_OF(X509) *certs = sk_X509_new_null();
	sk_X509_push(certs, pek);
	CMS_ContentInfo *cbc = CMS_encrypt(certs, in, EVP_aes_256_cbc(),
	                                   CMS_BINARY);
	unsigned char *der = NULL;
	int n = i2d_CMS_ContentInfo(cbc, &der);
	ck_assert_int_gt(n, 0);
	compose("X-SQ-Plaintext-Size: 47\n", (const char *)der, (size_t)n);
	ck_assert_int_eq(check(&size), -1); /* enveloped-data, in binary */
	ck_assert_int_eq(errno, EBADMSG);
	for (size_t cut = 1; cut < 40; cut += 7) { /* cut short anywhere */
		compose("X-SQ-Plaintext-Size: 47\n", sealed.s, sealed.len - cut);
		ck_assert_int_eq(check(&size), -1);
		ck_assert_int_eq(errno, EBADMSG);
	}
	compose("X-SQ-Plaintext-Size: 47\n", sealed.s, sealed.len);
	msg.s[msg.len - sealed.len + 1] ^= 0x40; /* the outer length */
	ck_assert_int_eq(check(&size), -1);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cbc);
	sk_X509_free(certs);
	BIO_free(in);
}
END_TEST

START_TEST(openssl_cms_gcm_output_passes)
{
	unsigned long long size;
	struct sbuf e;
	sbuf_init(&e, 1 << 20);
	cms_encrypt(EVP_aes_256_gcm(), &e);
	compose("X-SQ-Plaintext-Size: 47\n", e.s, e.len);
	ck_assert_int_eq(check(&size), 0);
	read_corpus("cli-gcm", &e); /* openssl cms -encrypt -aes-256-gcm */
	compose("X-SQ-Plaintext-Size: 47\n", e.s, e.len);
	ck_assert_int_eq(check(&size), 0);
	sbuf_free(&e);
}
END_TEST

START_TEST(signed_data_is_refused)
{
	unsigned long long size;
	BIO *in = BIO_new_mem_buf(PLAIN, -1), *mem = BIO_new(BIO_s_mem());
	CMS_ContentInfo *cms = CMS_sign(ca, ca_key, NULL, in, CMS_BINARY);
	ck_assert_ptr_nonnull(cms);
	ck_assert_int_eq(SMIME_write_CMS(mem, cms, NULL, CMS_BINARY), 1);
	char *p;
	long n = BIO_get_mem_data(mem, &p);
	compose("X-SQ-Plaintext-Size: 47\n", p, (size_t)n);
	ck_assert(strstr(msg.s, "signed-data") != NULL);
	ck_assert_int_eq(check(&size), -1);
	ck_assert_int_eq(errno, EBADMSG);
	CMS_ContentInfo_free(cms);
	BIO_free(mem);
	BIO_free(in);
}
END_TEST

START_TEST(a_truncated_entity_is_refused)
{
	unsigned long long size;
	compose("X-SQ-Plaintext-Size: 47\n", sealed.s, sealed.len / 2);
	ck_assert_int_eq(check(&size), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_uint_eq(ERR_peek_error(), 0); /* nothing left queued */
}
END_TEST

START_TEST(a_header_block_without_end_is_refused)
{
	unsigned long long size;
	char big[SEALCHECK_HEADER_MAX + 100];
	memset(big, 'a', sizeof big);
	memcpy(big, "X-SQ-Plaintext-Size: 1\nX-Pad: ", 30);
	ck_assert_int_eq(sealcheck_header(big, sizeof big, &size), -1);
	ck_assert_int_eq(sealcheck_header("X-SQ-Plaintext-Size: 1\n", 23,
	                                  &size), -1);
	ck_assert_int_eq(sealcheck_header("X-SQ-Plaintext-Size: 1\n\n", 24,
	                                  &size), 0);
	ck_assert_int_eq(sealcheck_header("X-SQ-Plaintext-Size: 1\r\n\r\n", 26,
	                                  &size), 0);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("sealcheck");
	TCase *tc = tcase_create("sealcheck");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, buffers_setup, buffers_teardown);
	tcase_add_test(tc, a_sealed_entity_with_its_size_line_passes);
	tcase_add_test(tc, a_binary_entity_must_be_whole_and_auth_enveloped);
	tcase_add_test(tc, the_part_to_store_is_the_binary_entity_alone);
	tcase_add_test(tc, crlf_line_ends_pass_too);
	tcase_add_test(tc, a_missing_or_malformed_size_line_is_refused);
	tcase_add_test(tc, the_size_line_must_come_before_the_mime_headers);
	tcase_add_test(tc, plain_text_is_refused_whatever_its_header_says);
	tcase_add_test(tc, enveloped_data_with_cbc_is_refused);
	tcase_add_test(tc, openssl_cms_gcm_output_passes);
	tcase_add_test(tc, signed_data_is_refused);
	tcase_add_test(tc, a_truncated_entity_is_refused);
	tcase_add_test(tc, a_header_block_without_end_is_refused);
	suite_add_tcase(s, tc);
	return s;
}
