/* check_seal - S/MIME authEnveloped-data: seal, open, refuse tampering. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "crypto/pki.h"
#include "crypto/seal.h"
#include "crypto/sealsplit.h"
#include "mail/limits.h"
#include "testutil.h"

static EVP_PKEY *ca_key, *key, *other_key;
static X509 *ca, *pek, *other_pek;
static struct sbuf sealed, plain;       /* fresh for every test */
static struct seal_size size;

static void buffers_setup(void)
{
	sbuf_init(&sealed, 1 << 20);
	sbuf_init(&plain, 1 << 20);
}

static void buffers_teardown(void)
{
	sbuf_free(&sealed);
	sbuf_free(&plain);
}

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

/* An in-memory file holding data, positioned at 0. */
static int memfile(const void *data, size_t n)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* A limit no test message reaches (0 is refused: every read is bounded). */
#define ANY ((uint64_t)1 << 32)

/* Seals data for pek into sealed; returns seal_fd's result. */
static int seal_to_sbuf(const void *data, size_t n, uint64_t max,
                    struct sbuf *out, struct seal_size *sz)
{
	int in = memfile(data, n), outfd = memfile("", 0);
	int r = seal_fd(in, outfd, pek, max, sz);
	lseek(outfd, 0, SEEK_SET);
	sbuf_reset(out);
	ck_assert_int_eq(sbuf_read_fd(out, outfd), 0);
	close(in);
	close(outfd);
	return r;
}

static int open_mem(const struct sbuf *in, EVP_PKEY *k, X509 *c,
                    struct sbuf *out)
{
	BIO *b = BIO_new_mem_buf(in->s, (int)in->len);
	int r = seal_open_bio(b, ANY, k, c, out);
	BIO_free(b);
	ERR_clear_error();
	return r;
}

START_TEST(round_trip_restores_every_byte)
{
	unsigned char msg[4096];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (unsigned char)(i * 7);
	ck_assert_int_eq(seal_to_sbuf(msg, sizeof msg, ANY, &sealed, &size), 0);
	ck_assert_uint_eq(size.octets, sizeof msg);
	/* binary at rest: the ContentInfo, no MIME header, no base64 */
	ck_assert_int_eq((unsigned char)sealed.s[0], SEAL_DER_FIRST);
	ck_assert_ptr_null(memmem(sealed.s, sealed.len, "Content-", 8));
	ck_assert_uint_lt(sealed.len, sizeof msg + 1024);
	ck_assert_ptr_null(memmem(sealed.s, sealed.len, msg + 100, 16));
	ck_assert_int_eq(open_mem(&sealed, key, pek, &plain), 0);
	ck_assert_uint_eq(plain.len, sizeof msg);
	ck_assert_int_eq(memcmp(plain.s, msg, sizeof msg), 0);
}
END_TEST

/* A worker seals and opens message after message: its BIOs keep their
 * type numbers, never taking new ones that come to equal OpenSSL's own
 * (BIO_TYPE_CIPHER's number after 394 calls, BIO_TYPE_MEM's after 897). */
START_TEST(many_messages_take_no_new_bio_types)
{
	static const char msg[] = "Subject: one of many\r\n\r\nbody\r\n";
	struct sbuf smime;
	sbuf_init(&smime, ANY);
	int before = BIO_get_new_index();
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(seal_to_sbuf(msg, sizeof msg - 1, ANY, &sealed,
		                              &size), 0);
		sbuf_reset(&plain);
		ck_assert_int_eq(open_mem(&sealed, key, pek, &plain), 0);
		sbuf_reset(&smime);
		ck_assert_int_eq(seal_to_smime(sealed.s, sealed.len, &smime), 0);
		struct sealsplit split;
		ck_assert_int_eq(sealsplit_parse(sealed.s, sealed.len, &split), 0);
		sbuf_reset(&plain);
		ck_assert_int_eq(sealsplit_open(&split, key, pek, &plain), 0);
		sealsplit_free(&split);
		ck_assert_uint_eq(plain.len, sizeof msg - 1);
	}
	sbuf_free(&smime);
	/* the three kinds (meter, sink, split content), and ours above */
	ck_assert_int_le(BIO_get_new_index() - before, 4);
}
END_TEST

START_TEST(served_as_smime_and_either_form_opens)
{
	struct sbuf smime, line;
	sbuf_init(&smime, 1 << 20);
	sbuf_init(&line, 1 << 20);
	ck_assert_int_eq(seal_to_sbuf("Subject: s\n\nbody\n", 18, ANY, &sealed,
	                              &size), 0);
	ck_assert_int_eq(seal_to_smime(sealed.s, sealed.len, &smime), 0);
	ck_assert_ptr_nonnull(strstr(smime.s,
		"Content-Type: application/pkcs7-mime; "
		"smime-type=authEnveloped-data"));
	ck_assert_int_eq(open_mem(&smime, key, pek, &plain), 0);
	ck_assert_str_eq(plain.s, "Subject: s\n\nbody\n");
	/* the queue's form: the size line, then the binary entity */
	ck_assert_int_eq(sbuf_printf(&line, SEAL_SIZE_HEADER ": 19\n"), 0);
	ck_assert_int_eq(sbuf_put(&line, sealed.s, sealed.len), 0);
	ck_assert_uint_eq(seal_entity_start(line.s, line.len),
	                  line.len - sealed.len);
	ck_assert_uint_eq(seal_entity_start(sealed.s, sealed.len), 0);
	sbuf_reset(&plain);
	ck_assert_int_eq(open_mem(&line, key, pek, &plain), 0);
	ck_assert_str_eq(plain.s, "Subject: s\n\nbody\n");
	/* nothing may follow the entity */
	ck_assert_int_eq(sbuf_putc(&sealed, '\n'), 0);
	ck_assert_int_eq(open_mem(&sealed, key, pek, &plain), -1);
	ck_assert_int_eq(seal_to_smime("garbage", 7, &smime), -1);
	ERR_clear_error();
	sbuf_free(&smime);
	sbuf_free(&line);
}
END_TEST

START_TEST(empty_message_round_trips)
{
	size.octets = size.crlf_octets = 9;
	ck_assert_int_eq(seal_to_sbuf("", 0, ANY, &sealed, &size), 0);
	ck_assert_uint_eq(size.octets, 0);
	ck_assert_uint_eq(size.crlf_octets, 0);
	ck_assert_int_eq(open_mem(&sealed, key, pek, &plain), 0);
	ck_assert_uint_eq(plain.len, 0);
}
END_TEST

START_TEST(sizes_count_bare_lf_across_read_chunks)
{
	char msg[3000];
	memset(msg, 'x', sizeof msg);
	msg[10] = '\n';           /* bare */
	msg[1023] = '\r';         /* CRLF split at OpenSSL's 1024-byte reads */
	msg[1024] = '\n';
	msg[2047] = '\n';         /* bare, at a chunk end */
	msg[2999] = '\n';         /* bare */
	ck_assert_int_eq(seal_to_sbuf(msg, sizeof msg, ANY, &sealed, &size), 0);
	ck_assert_uint_eq(size.octets, 3000);
	ck_assert_uint_eq(size.crlf_octets, 3003);
}
END_TEST

START_TEST(format_is_aes256gcm_with_ecdh_sha256_kdf_and_aes256_wrap)
{
	ck_assert_int_eq(seal_to_sbuf("Subject: x\n\nhi\n", 15, ANY, &sealed, &size),
	                 0);
	CMS_ContentInfo *cms = seal_parse(sealed.s, sealed.len);
	ck_assert_ptr_nonnull(cms);
	ck_assert_int_eq(OBJ_obj2nid(CMS_get0_type(cms)),
	                 NID_id_smime_ct_authEnvelopedData);
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	ck_assert_int_eq(sk_CMS_RecipientInfo_num(ris), 1);
	CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, 0);
	ck_assert_int_eq(CMS_RecipientInfo_type(ri), CMS_RECIPINFO_AGREE);
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *ukm;
	ck_assert_int_eq(CMS_RecipientInfo_kari_get0_alg(ri, &alg, &ukm), 1);
	ck_assert_int_eq(OBJ_obj2nid(alg->algorithm),
	                 NID_dhSinglePass_stdDH_sha256kdf_scheme);
	X509_ALGOR *wrap = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
	                                             alg->parameter);
	ck_assert_int_eq(OBJ_obj2nid(wrap->algorithm), NID_id_aes256_wrap);
	X509_ALGOR_free(wrap);
	CMS_ContentInfo_free(cms);
}
END_TEST

/* Re-encodes a sealed entity as DER (definite lengths), lets mutate()
 * change it, and keeps the result as the entity. */
static void tamper(struct sbuf *entity, long (*mutate)(unsigned char *,
                                                      long))
{
	CMS_ContentInfo *cms = seal_parse(entity->s, entity->len);
	unsigned char *der = NULL;
	long n = i2d_CMS_ContentInfo(cms, &der);
	ck_assert_int_gt(n, 0);
	n = mutate(der, n);
	const unsigned char *p = der;
	CMS_ContentInfo *bad = d2i_CMS_ContentInfo(NULL, &p, n);
	ck_assert_ptr_nonnull(bad);
	ck_assert_int_eq(sbuf_copy(entity, der, (size_t)n), 0);
	CMS_ContentInfo_free(bad);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(der);
}

/* The mac is the last field: the DER's final 16 octets are the tag. */
static long flip_tag(unsigned char *der, long n)
{
	ck_assert_int_eq(der[n - 18], 0x04);
	ck_assert_int_eq(der[n - 17], 16);
	der[n - 1] ^= 0x01;
	return n;
}

/* Cuts the mac to its first octet: still the right tag for OpenSSL,
 * which takes the mac's length as the tag's. ContentInfo, its [0] and
 * the AuthEnvelopedData (at 0, 17 and 21, each with a two-octet length
 * at this size) shrink by the 15 octets. */
static long cut_tag(unsigned char *der, long n)
{
	static const long at[] = { 0, 17, 21 };
	for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
		unsigned char *h = der + at[i];
		ck_assert_int_eq(h[1], 0x82);
		unsigned len = (unsigned)h[2] << 8 | h[3];
		ck_assert_uint_gt(len, 300);
		len -= 15;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
	}
	ck_assert_int_eq(der[n - 18], 0x04);
	ck_assert_int_eq(der[n - 17], 16);
	der[n - 17] = 1;
	return n - 15;
}

/* Deep inside the 8 KiB encrypted content. */
static long flip_ciphertext(unsigned char *der, long n)
{
	der[n - 4000] ^= 0x80;
	return n;
}

static void check_tamper_refused(long (*mutate)(unsigned char *, long))
{
	static char msg[8192];
	memset(msg, 'm', sizeof msg);
	ck_assert_int_eq(sbuf_puts(&plain, "kept"), 0);
	ck_assert_int_eq(seal_to_sbuf(msg, sizeof msg, ANY, &sealed, &size), 0);
	tamper(&sealed, mutate);
	ck_assert_int_eq(open_mem(&sealed, key, pek, &plain), -1);
	ck_assert_str_eq(plain.s, "kept"); /* no unverified plaintext */
}

START_TEST(tampered_tag_is_refused)
{
	check_tamper_refused(flip_tag);
}
END_TEST

START_TEST(tampered_ciphertext_is_refused)
{
	check_tamper_refused(flip_ciphertext);
}
END_TEST

START_TEST(a_tag_cut_short_is_refused)
{
	/* a one-octet tag would let a changed ciphertext open once in 256 */
	check_tamper_refused(cut_tag);
}
END_TEST

static long no_change(unsigned char *der, long n)
{
	(void)der;
	return n;
}

START_TEST(untouched_reencoding_still_opens)
{
	/* the control for the two tests above: tamper() itself is lossless */
	ck_assert_int_eq(seal_to_sbuf("hello\n", 6, ANY, &sealed, &size), 0);
	tamper(&sealed, no_change);
	ck_assert_int_eq(open_mem(&sealed, key, pek, &plain), 0);
	ck_assert_str_eq(plain.s, "hello\n");
}
END_TEST

START_TEST(wrong_key_opens_nothing)
{
	ck_assert_int_eq(seal_to_sbuf("secret\n", 7, ANY, &sealed, &size), 0);
	ck_assert_int_eq(open_mem(&sealed, other_key, other_pek, &plain), -1);
	ck_assert_int_eq(open_mem(&sealed, other_key, pek, &plain), -1);
	ck_assert_uint_eq(plain.len, 0);
}
END_TEST

START_TEST(unauthenticated_enveloped_data_is_refused)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	sk_X509_push(certs, pek);
	BIO *msg = BIO_new_mem_buf("Subject: cbc\n\nno tag\n", -1);
	CMS_ContentInfo *cms = CMS_encrypt(certs, msg, EVP_aes_256_cbc(),
	                                   CMS_BINARY);
	ck_assert_ptr_nonnull(cms);
	BIO *out = BIO_new(BIO_s_mem());
	ck_assert_int_eq(SMIME_write_CMS(out, cms, NULL, CMS_BINARY), 1);
	ck_assert_int_eq(seal_open_bio(out, ANY, key, pek, &plain), -1);
	char err[512];
	ck_assert_ptr_nonnull(strstr(pki_errstr(err, sizeof err),
	                             "not authEnveloped-data"));
	ck_assert_uint_eq(plain.len, 0);
	BIO_free(out);
	BIO_free(msg);
	CMS_ContentInfo_free(cms);
	sk_X509_free(certs);
}
END_TEST

START_TEST(garbage_and_truncated_input_open_nothing)
{
	ck_assert_int_eq(seal_to_sbuf("secret\n", 7, ANY, &sealed, &size), 0);
	sbuf_truncate(&sealed, sealed.len - 20);
	ck_assert_int_eq(open_mem(&sealed, key, pek, &plain), -1);
	sbuf_copy(&sealed, "Subject: plain text\n\nhello\n", 27);
	ck_assert_int_eq(open_mem(&sealed, key, pek, &plain), -1);
	ck_assert_uint_eq(plain.len, 0);
}
END_TEST

START_TEST(size_limits_apply_to_sealing_and_opening)
{
	static char msg[5000];
	memset(msg, 'a', sizeof msg);
	errno = 0;
	ck_assert_int_eq(seal_to_sbuf(msg, sizeof msg, 4999, &sealed, &size), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(seal_to_sbuf(msg, sizeof msg, 5000, &sealed, &size), 0);
	BIO *b = BIO_new_mem_buf(sealed.s, (int)sealed.len);
	ck_assert_int_eq(seal_open_bio(b, sealed.len - 1, key, pek, &plain), -1);
	BIO_free(b);
	b = BIO_new_mem_buf(sealed.s, (int)sealed.len);
	ck_assert_int_eq(seal_open_bio(b, sealed.len, key, pek, &plain), 0);
	ck_assert_uint_eq(plain.len, sizeof msg);
	BIO_free(b);
	ERR_clear_error();
}
END_TEST

START_TEST(no_limit_is_refused_in_both_directions)
{
	errno = 0;
	ck_assert_int_eq(seal_to_sbuf("hello\n", 6, 0, &sealed, &size), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(seal_to_sbuf("hello\n", 6, ANY, &sealed, &size), 0);
	BIO *b = BIO_new_mem_buf(sealed.s, (int)sealed.len);
	ck_assert_int_eq(seal_open_bio(b, 0, key, pek, &plain), -1);
	ck_assert_uint_eq(plain.len, 0);
	BIO_free(b);
	ERR_clear_error();
}
END_TEST

START_TEST(read_error_fails_the_seal_instead_of_truncating)
{
	/* a directory descriptor: read(2) fails with EISDIR */
	int in = open("/", O_RDONLY | O_DIRECTORY);
	int out = memfile("", 0);
	errno = 0;
	ck_assert_int_eq(seal_fd(in, out, pek, ANY, &size), -1);
	ck_assert_int_eq(errno, EISDIR);
	ERR_clear_error();
	close(in);
	close(out);
}
END_TEST

START_TEST(message_in_memory_seals_once_per_recipient)
{
	static const char msg[] = "Subject: to two\n\nonly for each of you\n";
	int out1 = memfile("", 0), out2 = memfile("", 0);
	struct seal_size s1, s2;
	ck_assert_int_eq(seal_mem(msg, sizeof msg - 1, out1, pek, &s1), 0);
	ck_assert_int_eq(seal_mem(msg, sizeof msg - 1, out2, other_pek, &s2), 0);
	ck_assert_uint_eq(s1.octets, sizeof msg - 1);
	ck_assert_uint_eq(s1.crlf_octets, sizeof msg - 1 + 3);
	lseek(out1, 0, SEEK_SET);
	lseek(out2, 0, SEEK_SET);
	ck_assert_int_eq(seal_open_fd(out1, ANY, key, pek, &plain), 0);
	ck_assert_str_eq(plain.s, msg);
	sbuf_reset(&plain);
	/* each copy opens only for its own recipient */
	lseek(out1, 0, SEEK_SET);
	ck_assert_int_eq(seal_open_fd(out1, ANY, other_key, other_pek, &plain), -1);
	ck_assert_int_eq(seal_open_fd(out2, ANY, other_key, other_pek, &plain), 0);
	ck_assert_str_eq(plain.s, msg);
	ERR_clear_error();
	close(out1);
	close(out2);
}
END_TEST

START_TEST(open_fd_reads_a_sealed_file)
{
	ck_assert_int_eq(seal_to_sbuf("hello\n", 6, ANY, &sealed, &size), 0);
	int fd = memfile(sealed.s, sealed.len);
	ck_assert_int_eq(seal_open_fd(fd, ANY, key, pek, &plain), 0);
	ck_assert_str_eq(plain.s, "hello\n");
	close(fd);
}
END_TEST

/* edhd's default limit is SEALED_MAX of the plaintext limit: every sealed
 * message must be within it (issue 14), and within SEALED_DER_MAX, the
 * binary form's bound, which is close. */
START_TEST(sealed_size_stays_within_sealed_max)
{
	static const size_t sizes[] = { 0, 1, 1023, 1024, 1025, 3 * 4096 + 7,
	                                300000, 1 << 20 };
	char *msg = malloc(1 << 20);
	ck_assert_ptr_nonnull(msg);
	for (size_t i = 0; i < (1 << 20); i++)
		msg[i] = (i % 65 == 64) ? '\n' : (char)('a' + i % 26);
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		int fd = memfile("", 0);
		struct stat st;
		ck_assert_int_eq(seal_mem(msg, sizes[k], fd, pek, NULL), 0);
		ck_assert_int_eq(fstat(fd, &st), 0);
		ck_assert_uint_le((unsigned long long)st.st_size,
		                  SEALED_DER_MAX(sizes[k]));
		ck_assert_uint_le(SEALED_DER_MAX(sizes[k]), SEALED_MAX(sizes[k]));
		/* and the bound is not loose by more than the fixed part */
		ck_assert_uint_ge((unsigned long long)st.st_size + SEALED_OVERHEAD,
		                  SEALED_DER_MAX(sizes[k]) -
		                  SEALED_DER_MAX(sizes[k]) / 128);
		close(fd);
	}
	free(msg);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("seal");
	TCase *tc = tcase_create("seal");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, buffers_setup, buffers_teardown);
	tcase_add_test(tc, round_trip_restores_every_byte);
	tcase_add_test(tc, served_as_smime_and_either_form_opens);
	tcase_add_test(tc, empty_message_round_trips);
	tcase_add_test(tc, sizes_count_bare_lf_across_read_chunks);
	tcase_add_test(tc, format_is_aes256gcm_with_ecdh_sha256_kdf_and_aes256_wrap);
	tcase_add_test(tc, tampered_tag_is_refused);
	tcase_add_test(tc, tampered_ciphertext_is_refused);
	tcase_add_test(tc, a_tag_cut_short_is_refused);
	tcase_add_test(tc, untouched_reencoding_still_opens);
	tcase_add_test(tc, wrong_key_opens_nothing);
	tcase_add_test(tc, unauthenticated_enveloped_data_is_refused);
	tcase_add_test(tc, garbage_and_truncated_input_open_nothing);
	tcase_add_test(tc, size_limits_apply_to_sealing_and_opening);
	tcase_add_test(tc, read_error_fails_the_seal_instead_of_truncating);
	tcase_add_test(tc, no_limit_is_refused_in_both_directions);
	tcase_add_test(tc, message_in_memory_seals_once_per_recipient);
	tcase_add_test(tc, many_messages_take_no_new_bio_types);
	tcase_add_test(tc, open_fd_reads_a_sealed_file);
	tcase_add_test(tc, sealed_size_stays_within_sealed_max);
	suite_add_tcase(s, tc);
	return s;
}
