/* check_rowseal - the PKS key pair, Dynamic Row Secrets and sealed rows. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "pkskey.h"
#include "rowseal.h"
#include "testutil.h"

static struct pkskey key, other;
static const struct row_id id = { 0x93e896f4, 1234567, 1 };
static const char plain[] = "{\"pek\":\"-----BEGIN CERTIFICATE-----\"}";

static void setup(void)
{
	if (pks_crypto_init() < 0 || pkskey_generate(&key) < 0 ||
	    pkskey_generate(&other) < 0)
		abort();
}

static void teardown(void)
{
	pkskey_free(&key);
	pkskey_free(&other);
}

static void unhex(const char *h, unsigned char *out)
{
	for (size_t i = 0; i < 32; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

START_TEST(x25519_matches_rfc7748)
{
	unsigned char a[32], a_pub[32], b_pub[32], shared[32], want[32];
	unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	      a);
	unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
	      b_pub);
	ck_assert_int_eq(x25519(a_pub, a, NULL), 0);
	unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
	      want);
	ck_assert_int_eq(memcmp(a_pub, want, 32), 0);
	ck_assert_int_eq(x25519(shared, a, b_pub), 0);
	unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
	      want);
	ck_assert_int_eq(memcmp(shared, want, 32), 0);
	unsigned char zero_point[32] = { 0 };
	ck_assert_int_eq(x25519(shared, a, zero_point), -1);
}
END_TEST

START_TEST(sealed_row_opens_and_hides_its_content)
{
	struct sbuf blob, out;
	unsigned char drs[SEALED_DRS_LEN];
	sbuf_init(&blob, 65536);
	sbuf_init_secret(&out, 65536);
	ck_assert_int_eq(row_seal(&key, &id, plain, sizeof plain, &blob, drs), 0);
	ck_assert_uint_eq(blob.len, sizeof plain + BLOB_OVERHEAD);
	ck_assert_ptr_null(memmem(blob.s, blob.len, "BEGIN", 5));
	ck_assert_uint_eq(row_drs_key_id(drs, sizeof drs), key.id);
	ck_assert_int_eq(row_open(&key, &id, blob.s, blob.len, drs, sizeof drs,
	                          &out), 0);
	ck_assert_uint_eq(out.len, sizeof plain);
	ck_assert_str_eq(out.s, plain);
	sbuf_free(&blob);
	sbuf_free(&out);
}
END_TEST

/* The DRS inside a row sealed under k for id, opened; the blob must open
 * with it too. */
static void drs_of(const struct pkskey *k, const struct sbuf *blob,
                   const unsigned char *sealed, unsigned char *drs)
{
	struct sbuf out;
	sbuf_init_secret(&out, 65536);
	ck_assert_int_eq(row_open_drs(k, &id, sealed, SEALED_DRS_LEN, drs), 0);
	ck_assert_int_eq(row_open(k, &id, blob->s, blob->len, sealed,
	                          SEALED_DRS_LEN, &out), 0);
	sbuf_free(&out);
}

/* The DRSs themselves, not their seals (which differ anyway, by their
 * ephemeral keys and nonces): a write of the same content (a retry), a
 * write of new content under the same row id (replace-PDK), and a re-seal
 * under the next PKS key (rotation) each get a DRS of their own. */
START_TEST(every_write_has_a_fresh_drs)
{
	static const char other_plain[] = "{\"pdk\":\"new wrapping\"}";
	struct sbuf b[4];
	unsigned char sealed[4][SEALED_DRS_LEN];
	unsigned char *drs = gcry_malloc_secure(4 * DRS_LEN);
	ck_assert_ptr_nonnull(drs);
	for (int i = 0; i < 4; i++)
		sbuf_init(&b[i], 65536);
	ck_assert_int_eq(row_seal(&key, &id, plain, sizeof plain, &b[0],
	                          sealed[0]), 0);
	ck_assert_int_eq(row_seal(&key, &id, plain, sizeof plain, &b[1],
	                          sealed[1]), 0);
	ck_assert_int_eq(row_seal(&key, &id, other_plain, sizeof other_plain,
	                          &b[2], sealed[2]), 0);
	ck_assert_int_eq(row_seal(&other, &id, plain, sizeof plain, &b[3],
	                          sealed[3]), 0);
	for (int i = 0; i < 3; i++)
		drs_of(&key, &b[i], sealed[i], drs + i * DRS_LEN);
	drs_of(&other, &b[3], sealed[3], drs + 3 * DRS_LEN);
	/* and the accessor refuses a DRS moved to another row */
	struct row_id moved = id;
	moved.row++;
	ck_assert_int_eq(row_open_drs(&key, &moved, sealed[0], SEALED_DRS_LEN,
	                              drs), -1);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			ck_assert_int_ne(memcmp(drs + i * DRS_LEN,
			                        drs + j * DRS_LEN, DRS_LEN), 0);
	gcry_free(drs);
	for (int i = 0; i < 4; i++)
		sbuf_free(&b[i]);
}
END_TEST

/* Opening blob/drs (sealed for id) as row `as` must fail. */
static void refuse_as(const struct row_id *as)
{
	struct sbuf blob, out;
	unsigned char drs[SEALED_DRS_LEN];
	sbuf_init(&blob, 65536);
	sbuf_init_secret(&out, 65536);
	ck_assert_int_eq(row_seal(&key, &id, plain, sizeof plain, &blob, drs), 0);
	ck_assert_int_eq(row_open(&key, as, blob.s, blob.len, drs, sizeof drs,
	                          &out), -1);
	ck_assert_uint_eq(out.len, 0);
	sbuf_free(&blob);
	sbuf_free(&out);
}

START_TEST(row_copied_to_another_hash_id_or_version_fails_to_open)
{
	struct row_id moved = id;
	moved.hash ^= 1;
	refuse_as(&moved);
	moved = id;
	moved.row++;
	refuse_as(&moved);
	moved = id;
	moved.version = 2;
	refuse_as(&moved);
}
END_TEST

START_TEST(tampered_blob_or_drs_fails_to_open)
{
	struct sbuf blob, out;
	unsigned char drs[SEALED_DRS_LEN];
	sbuf_init(&blob, 65536);
	sbuf_init_secret(&out, 65536);
	ck_assert_int_eq(row_seal(&key, &id, plain, sizeof plain, &blob, drs), 0);
	for (size_t i = 0; i < blob.len; i += 7) {
		blob.s[i] ^= 0x20;
		ck_assert_int_eq(row_open(&key, &id, blob.s, blob.len, drs,
		                          sizeof drs, &out), -1);
		blob.s[i] ^= 0x20;
	}
	for (size_t i = 5; i < sizeof drs; i++) {
		drs[i] ^= 0x01;
		ck_assert_int_eq(row_open(&key, &id, blob.s, blob.len, drs,
		                          sizeof drs, &out), -1);
		drs[i] ^= 0x01;
	}
	ck_assert_int_eq(row_open(&key, &id, blob.s, blob.len - 1, drs,
	                          sizeof drs, &out), -1);
	ck_assert_int_eq(row_open(&key, &id, blob.s, blob.len, drs,
	                          sizeof drs - 1, &out), -1);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(row_open(&key, &id, blob.s, blob.len, drs, sizeof drs,
	                          &out), 0);
	sbuf_free(&blob);
	sbuf_free(&out);
}
END_TEST

START_TEST(another_pks_key_opens_nothing_until_resealed)
{
	struct sbuf blob, out, blob2;
	unsigned char drs[SEALED_DRS_LEN], moved[SEALED_DRS_LEN];
	sbuf_init(&blob, 65536);
	sbuf_init(&blob2, 65536);
	sbuf_init_secret(&out, 65536);
	ck_assert_int_eq(row_seal(&key, &id, plain, sizeof plain, &blob, drs), 0);
	ck_assert_int_eq(row_open(&other, &id, blob.s, blob.len, drs,
	                          sizeof drs, &out), -1);
	/* what rotation does: open with the old key, seal under the new */
	ck_assert_int_eq(row_open(&key, &id, blob.s, blob.len, drs, sizeof drs,
	                          &out), 0);
	ck_assert_int_eq(row_seal(&other, &id, out.s, out.len, &blob2, moved),
	                 0);
	ck_assert_uint_eq(row_drs_key_id(moved, sizeof moved), other.id);
	sbuf_reset(&out);
	ck_assert_int_eq(row_open(&other, &id, blob2.s, blob2.len, moved,
	                          sizeof moved, &out), 0);
	ck_assert_str_eq(out.s, plain);
	ck_assert_int_eq(row_open(&key, &id, blob2.s, blob2.len, moved,
	                          sizeof moved, &out), -1);
	sbuf_free(&blob);
	sbuf_free(&blob2);
	sbuf_free(&out);
}
END_TEST

START_TEST(key_file_round_trips_and_must_be_private)
{
	char *dir = make_tmpdir();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct pkskey back;
	ck_assert_int_eq(pkskey_save(&key, dfd, "pks.key", (uid_t)-1, (gid_t)-1), 0);
	struct stat st;
	ck_assert_int_eq(fstatat(dfd, "pks.key", &st, 0), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0400);
	ck_assert_int_eq(pkskey_load(&back, dfd, "pks.key", geteuid()), 1);
	ck_assert_uint_eq(back.id, key.id);
	ck_assert_int_eq(memcmp(back.pub, key.pub, 32), 0);
	pkskey_free(&back);
	ck_assert_int_eq(pkskey_load(&back, dfd, "missing", geteuid()), 0);
	ck_assert_int_eq(fchmodat(dfd, "pks.key", 0440, 0), 0);
	errno = 0;
	ck_assert_int_eq(pkskey_load(&back, dfd, "pks.key", geteuid()), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fchmodat(dfd, "pks.key", 0600, 0), 0);
	errno = 0;
	ck_assert_int_eq(pkskey_load(&back, dfd, "pks.key", geteuid()), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fchmodat(dfd, "pks.key", 0400, 0), 0);
	errno = 0;
	ck_assert_int_eq(pkskey_load(&back, dfd, "pks.key", geteuid() + 1), -1);
	ck_assert_int_eq(errno, EACCES);
	write_file(dir, "bad.key", "sq-pks-key 1 00000000\nzz\n", 25);
	ck_assert_int_eq(fchmodat(dfd, "bad.key", 0400, 0), 0);
	ck_assert_int_eq(pkskey_load(&back, dfd, "bad.key", geteuid()), -1);
	close(dfd);
	rm_rf(dir);
	free(dir);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("rowseal");
	TCase *tc = tcase_create("rowseal");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, x25519_matches_rfc7748);
	tcase_add_test(tc, sealed_row_opens_and_hides_its_content);
	tcase_add_test(tc, every_write_has_a_fresh_drs);
	tcase_add_test(tc, row_copied_to_another_hash_id_or_version_fails_to_open);
	tcase_add_test(tc, tampered_blob_or_drs_fails_to_open);
	tcase_add_test(tc, another_pks_key_opens_nothing_until_resealed);
	tcase_add_test(tc, key_file_round_trips_and_must_be_private);
	suite_add_tcase(s, tc);
	return s;
}
