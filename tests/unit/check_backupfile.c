/* check_backupfile - the PKS backup file (pks-backup(5)): scrypt, the
 * sealed file and its refusals, the payload's encoding and its bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#include "backupfile.h"
#include "testutil.h"

/* Cheap costs keep the checks fast; the format is the same. */
#define LOG_N 10
static const char pass[] = "correct horse battery staple";
static const char payload_text[] = "a payload of some length, sealed";

static void setup(void)
{
	if (pks_crypto_init() < 0)
		abort();
}

static void teardown(void)
{
}

static void unhex(const char *h, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

/* A sealed file of payload_text into file. */
static void seal_sample(struct sbuf *file)
{
	sbuf_init(file, 4096);
	ck_assert_int_eq(backup_seal(pass, strlen(pass), LOG_N, 1, payload_text,
	                             strlen(payload_text), file), BACKUP_OK);
}

static int open_file(const void *data, size_t n, const char *pw,
                     struct sbuf *out)
{
	sbuf_init_secret(out, 4096);
	return backup_open(pw, strlen(pw), data, n, out);
}

START_TEST(scrypt_matches_rfc7914)
{
	unsigned char got[64], want[64];
	unhex("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
	      "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
	      want, 64);
	ck_assert_int_eq(backup_kdf("password", 8, (const unsigned char *)"NaCl",
	                            4, 10, 16, got, 64), 0);
	ck_assert_int_eq(memcmp(got, want, 64), 0);
}
END_TEST

START_TEST(sealed_file_opens_with_the_passphrase_only)
{
	struct sbuf file, out;
	seal_sample(&file);
	ck_assert_uint_eq(file.len, BACKUP_HEADER_LEN + strlen(payload_text) +
	                  BACKUP_TAG_LEN);
	ck_assert_int_eq(memcmp(file.s, "SQPKSBAK\1\1", 10), 0);
	ck_assert_ptr_null(memmem(file.s, file.len, payload_text, 8));
	ck_assert_ptr_null(memmem(file.s, file.len, pass, 8));
	ck_assert_int_eq(open_file(file.s, file.len, pass, &out), BACKUP_OK);
	ck_assert_uint_eq(out.len, strlen(payload_text));
	ck_assert_int_eq(memcmp(out.s, payload_text, out.len), 0);
	sbuf_free(&out);
	ck_assert_int_eq(open_file(file.s, file.len, "correct horse battery",
	                           &out), BACKUP_PASSPHRASE);
	ck_assert_uint_eq(out.len, 0);
	sbuf_free(&out);
	/* a fresh salt and nonce each time: two seals differ everywhere */
	struct sbuf again;
	seal_sample(&again);
	ck_assert_int_ne(memcmp(file.s + 16, again.s + 16, 32), 0);
	ck_assert_int_ne(memcmp(file.s + BACKUP_HEADER_LEN,
	                        again.s + BACKUP_HEADER_LEN, 16), 0);
	sbuf_free(&again);
	sbuf_free(&file);
}
END_TEST

START_TEST(every_flipped_octet_is_refused)
{
	struct sbuf file, out;
	seal_sample(&file);
	for (size_t i = 0; i < file.len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			file.s[i] ^= (char)(1 << bit);
			int r = open_file(file.s, file.len, pass, &out);
			ck_assert_msg(r != BACKUP_OK, "octet %zu bit %d", i, bit);
			ck_assert_uint_eq(out.len, 0);
			sbuf_free(&out);
			file.s[i] ^= (char)(1 << bit);
		}
	}
	/* in the body or the tag it is told as tampering, not a passphrase */
	file.s[BACKUP_HEADER_LEN + 3] ^= 1;
	ck_assert_int_eq(open_file(file.s, file.len, pass, &out),
	                 BACKUP_TAMPERED);
	sbuf_free(&out);
	file.s[BACKUP_HEADER_LEN + 3] ^= 1;
	file.s[file.len - 1] ^= 1;
	ck_assert_int_eq(open_file(file.s, file.len, pass, &out),
	                 BACKUP_TAMPERED);
	sbuf_free(&out);
	sbuf_free(&file);
}
END_TEST

START_TEST(cut_or_grown_file_is_refused)
{
	struct sbuf file, out;
	seal_sample(&file);
	for (size_t n = 0; n < file.len; n++) {
		ck_assert_int_eq(open_file(file.s, n, pass, &out),
		                 BACKUP_MALFORMED);
		sbuf_free(&out);
	}
	ck_assert_int_eq(sbuf_putc(&file, 0), 0);
	ck_assert_int_eq(open_file(file.s, file.len, pass, &out),
	                 BACKUP_MALFORMED);
	sbuf_free(&out);
	sbuf_free(&file);
}
END_TEST

START_TEST(cost_out_of_bounds_is_refused)
{
	struct sbuf file, out;
	sbuf_init(&file, 4096);
	ck_assert_int_eq(backup_seal(pass, strlen(pass), BACKUP_LOG_N_MAX + 1, 1,
	                             "x", 1, &file), BACKUP_FAIL);
	ck_assert_int_eq(backup_seal(pass, strlen(pass), LOG_N, 0, "x", 1,
	                             &file), BACKUP_FAIL);
	ck_assert_uint_eq(file.len, 0);
	sbuf_free(&file);
	seal_sample(&file);
	/* a file that asks for more memory or time than the bound, or less
	 * than the floor, is refused before scrypt runs */
	const struct { int off; unsigned char v; } bad[] = {
		{ 10, BACKUP_LOG_N_MAX + 1 }, { 10, BACKUP_LOG_N_MIN - 1 },
		{ 12, 0 }, { 12, BACKUP_P_MAX + 1 }, { 11, 1 }, { 8, 2 },
		{ 9, 2 }, { 13, 1 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned char was = (unsigned char)file.s[bad[i].off];
		file.s[bad[i].off] = (char)bad[i].v;
		ck_assert_int_eq(open_file(file.s, file.len, pass, &out),
		                 BACKUP_MALFORMED);
		sbuf_free(&out);
		file.s[bad[i].off] = (char)was;
	}
	sbuf_free(&file);
}
END_TEST

START_TEST(integers_and_bytes_round_trip_within_bounds)
{
	struct sbuf b;
	struct breader r;
	unsigned u8, u16;
	uint32_t u32;
	uint64_t u64;
	const unsigned char *p;
	size_t n;
	sbuf_init(&b, 64);
	ck_assert_int_eq(bput_u8(&b, 256), -1);
	ck_assert_int_eq(bput_u16(&b, 65536), -1);
	ck_assert_int_eq(bput_u8(&b, 0xab) | bput_u16(&b, 0x1234) |
	                 bput_u32(&b, 0xdeadbeef) |
	                 bput_u64(&b, 0x0102030405060708ULL) |
	                 bput_bytes(&b, "hello", 5), 0);
	ck_assert_int_eq(memcmp(b.s, "\xab\x12\x34\xde\xad\xbe\xef", 7), 0);
	breader_init(&r, b.s, b.len);
	ck_assert_int_eq(bget_u8(&r, &u8) | bget_u16(&r, &u16) |
	                 bget_u32(&r, &u32) | bget_u64(&r, &u64), 0);
	ck_assert_uint_eq(u8, 0xab);
	ck_assert_uint_eq(u16, 0x1234);
	ck_assert_uint_eq(u32, 0xdeadbeef);
	ck_assert_uint_eq(u64, 0x0102030405060708ULL);
	struct breader r2 = r;
	ck_assert_int_eq(bget_bytes(&r2, &p, &n, 4), -1); /* over its bound */
	ck_assert_int_eq(bget_u8(&r2, &u8), -1);          /* and stays failed */
	ck_assert_int_eq(bget_bytes(&r, &p, &n, 5), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(memcmp(p, "hello", 5), 0);
	ck_assert(breader_done(&r));
	ck_assert_int_eq(bget_u8(&r, &u8), -1);           /* past the end */
	ck_assert(!breader_done(&r));
	sbuf_free(&b);
}
END_TEST

/* A backup_data with two keys, two clients, three rows and a login. */
static void sample(struct backup_data *d)
{
	memset(d, 0, sizeof *d);
	d->made = 1765000000;
	d->schema = 1;
	ck_assert_int_eq(pkskey_generate(&d->key[KEY_CURRENT]), 0);
	ck_assert_int_eq(pkskey_generate(&d->key[KEY_OLD]), 0);
	d->have[KEY_CURRENT] = d->have[KEY_OLD] = 1;
	d->nclient = 2;
	d->client = calloc(2, sizeof *d->client);
	for (size_t i = 0; i < 2; i++) {
		d->client[i].id = 1000 + (uint32_t)i;
		d->client[i].role = ROLE_DELIVER + (int)i;
		memset(d->client[i].salt, 's' + (int)i, 16);
		memset(d->client[i].hash, 'h' + (int)i, 32);
		snprintf(d->client[i].note, sizeof d->client[i].note, "note %zu", i);
		d->client[i].created = 1700000000 + (int64_t)i;
	}
	d->rows.n = 3;
	d->rows.row = calloc(3, sizeof *d->rows.row);
	for (size_t i = 0; i < 3; i++) {
		struct keyrow *k = &d->rows.row[i];
		k->row = 77 + i;
		k->hash = 0x93e896f4;
		k->version = 1 + (uint32_t)i;
		k->pks_key_id = d->key[i ? KEY_CURRENT : KEY_OLD].id;
		k->bloblen = i == 2 ? KEYROW_BLOB_MAX : 40 + i;
		k->blob = malloc(k->bloblen);
		memset(k->blob, 'b' + (int)i, k->bloblen);
		k->drslen = SEALED_DRS_LEN;
		memset(k->drs, 'd', k->drslen);
		k->created = 1700000000123456LL;
		k->updated = 1700000000654321LL + (int64_t)i;
	}
	d->nlogin = 1;
	d->login = calloc(1, sizeof *d->login);
	d->login->row = 78;
	d->login->failures = 3;
	d->login->locked_until = 1765000300;
}

static void encode(const struct backup_data *d, struct sbuf *out)
{
	sbuf_init_secret(out, 1 << 20);
	ck_assert_int_eq(backup_encode(d, out), 0);
}

START_TEST(payload_round_trips)
{
	struct backup_data d, back;
	struct sbuf p;
	sample(&d);
	encode(&d, &p);
	ck_assert_int_eq(backup_decode(&back, p.s, p.len), 0);
	ck_assert_int_eq(back.made, d.made);
	ck_assert_uint_eq(back.schema, 1);
	for (int i = 0; i < KEY_SLOTS; i++) {
		ck_assert_int_eq(back.have[i], d.have[i]);
		if (d.have[i]) {
			ck_assert_uint_eq(back.key[i].id, d.key[i].id);
			ck_assert_int_eq(memcmp(back.key[i].priv, d.key[i].priv,
			                        PKSKEY_LEN), 0);
		}
	}
	ck_assert_uint_eq(back.nclient, 2);
	ck_assert_int_eq(memcmp(back.client, d.client, 2 * sizeof *d.client), 0);
	ck_assert_uint_eq(back.rows.n, 3);
	for (size_t i = 0; i < 3; i++) {
		struct keyrow *a = &d.rows.row[i], *b = &back.rows.row[i];
		ck_assert(a->row == b->row && a->hash == b->hash &&
		          a->version == b->version &&
		          a->pks_key_id == b->pks_key_id &&
		          a->bloblen == b->bloblen && a->drslen == b->drslen &&
		          a->created == b->created && a->updated == b->updated);
		ck_assert_int_eq(memcmp(a->blob, b->blob, a->bloblen), 0);
		ck_assert_int_eq(memcmp(a->drs, b->drs, a->drslen), 0);
	}
	ck_assert_uint_eq(back.nlogin, 1);
	ck_assert(back.login->row == 78 && back.login->failures == 3 &&
	          back.login->locked_until == 1765000300);
	ck_assert_int_eq(backup_key_slot(&back, d.key[KEY_OLD].id), KEY_OLD);
	ck_assert_int_eq(backup_key_slot(&back, d.key[KEY_CURRENT].id ^ 1), -1);
	backup_data_free(&back);
	backup_data_free(&d);
	sbuf_free(&p);
}
END_TEST

START_TEST(payload_cut_or_grown_is_refused)
{
	struct backup_data d, back;
	struct sbuf p;
	sample(&d);
	encode(&d, &p);
	for (size_t n = 0; n < p.len; n += n < 200 ? 1 : 97) {
		ck_assert_int_eq(backup_decode(&back, p.s, n), -1);
		backup_data_free(&back);
	}
	ck_assert_int_eq(sbuf_putc(&p, 0), 0);
	ck_assert_int_eq(backup_decode(&back, p.s, p.len), -1);
	backup_data_free(&back);
	backup_data_free(&d);
	sbuf_free(&p);
}
END_TEST

/* Offsets in sample()'s payload: made(8) schema(4) nkeys(1), then a key
 * (slot 1, id 4, 32). */
#define OFF_NKEYS 12
#define OFF_KEY1 13
#define OFF_NCLIENT (OFF_KEY1 + 2 * 37)

START_TEST(payload_with_bad_keys_or_counts_is_refused)
{
	struct backup_data d, back;
	struct sbuf p;
	sample(&d);
	encode(&d, &p);
	unsigned char *s = (unsigned char *)p.s;
	const struct { size_t off; unsigned char v; } bad[] = {
		{ OFF_NKEYS, 0 },               /* no key at all */
		{ OFF_NKEYS, KEY_SLOTS + 1 },
		{ OFF_KEY1, KEY_SLOTS },        /* no such slot */
		{ OFF_KEY1, KEY_OLD },          /* the same slot twice */
		{ OFF_KEY1 + 1, 0x5a },         /* an id not the key's */
		{ OFF_KEY1 + 6, 0x5a },         /* a key not its id's */
		{ OFF_NCLIENT, 0xff },          /* more clients than octets */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned char was = s[bad[i].off];
		s[bad[i].off] = bad[i].v == was ? was ^ 1 : bad[i].v;
		ck_assert_msg(backup_decode(&back, p.s, p.len) == -1, "case %zu", i);
		backup_data_free(&back);
		s[bad[i].off] = was;
	}
	ck_assert_int_eq(backup_decode(&back, p.s, p.len), 0);
	backup_data_free(&back);
	backup_data_free(&d);
	sbuf_free(&p);
}
END_TEST

START_TEST(payload_over_a_bound_is_refused)
{
	struct backup_data d, back;
	struct sbuf p;
	sample(&d);
	/* a blob one octet larger than any row, a note larger than the
	 * column: both encode, neither decodes */
	struct keyrow *k = &d.rows.row[2];
	k->blob = realloc(k->blob, KEYROW_BLOB_MAX + 1);
	k->blob[KEYROW_BLOB_MAX] = 'b';
	k->bloblen = KEYROW_BLOB_MAX + 1;
	encode(&d, &p);
	ck_assert_int_eq(backup_decode(&back, p.s, p.len), -1);
	backup_data_free(&back);
	sbuf_free(&p);
	k->bloblen = KEYROW_BLOB_MAX;
	/* rows counted in the 2^60s: refused before any allocation */
	encode(&d, &p);
	size_t rows_at = OFF_NCLIENT + 4;
	for (size_t i = 0; i < d.nclient; i++)
		rows_at += 4 + 1 + 16 + 32 + 4 + strlen(d.client[i].note) + 8;
	ck_assert_int_eq(p.s[rows_at + 7], 3);
	p.s[rows_at] = 0x10;
	ck_assert_int_eq(backup_decode(&back, p.s, p.len), -1);
	backup_data_free(&back);
	sbuf_free(&p);
	backup_data_free(&d);
}
END_TEST

START_TEST(sealed_payload_round_trips_through_the_file)
{
	struct backup_data d, back;
	struct sbuf p, file, out;
	sample(&d);
	encode(&d, &p);
	sbuf_init(&file, 1 << 20);
	ck_assert_int_eq(backup_seal(pass, strlen(pass), LOG_N, 2, p.s, p.len,
	                             &file), BACKUP_OK);
	ck_assert_ptr_null(memmem(file.s, file.len, d.key[KEY_CURRENT].priv,
	                          PKSKEY_LEN));
	sbuf_init_secret(&out, 1 << 20);
	ck_assert_int_eq(backup_open(pass, strlen(pass), file.s, file.len, &out),
	                 BACKUP_OK);
	ck_assert_int_eq(backup_decode(&back, out.s, out.len), 0);
	ck_assert_uint_eq(back.rows.n, 3);
	ck_assert_int_eq(memcmp(back.key[KEY_CURRENT].priv,
	                        d.key[KEY_CURRENT].priv, PKSKEY_LEN), 0);
	backup_data_free(&back);
	backup_data_free(&d);
	sbuf_free(&p);
	sbuf_free(&file);
	sbuf_free(&out);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("backupfile");
	TCase *tc = tcase_create("backupfile");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, scrypt_matches_rfc7914);
	tcase_add_test(tc, sealed_file_opens_with_the_passphrase_only);
	tcase_add_test(tc, every_flipped_octet_is_refused);
	tcase_add_test(tc, cut_or_grown_file_is_refused);
	tcase_add_test(tc, cost_out_of_bounds_is_refused);
	tcase_add_test(tc, integers_and_bytes_round_trip_within_bounds);
	tcase_add_test(tc, payload_round_trips);
	tcase_add_test(tc, payload_cut_or_grown_is_refused);
	tcase_add_test(tc, payload_with_bad_keys_or_counts_is_refused);
	tcase_add_test(tc, payload_over_a_bound_is_refused);
	tcase_add_test(tc, sealed_payload_round_trips_through_the_file);
	suite_add_tcase(s, tc);
	return s;
}
