/*
 * check_store - the key store's operations (pks/store.h) on a real,
 * throwaway MariaDB (pkstest.h), a real PKS key and a test CA: rows
 * created, served, re-keyed and deleted; what is refused before anything
 * is written; two addresses under one 32-bit hash; rows tampered with or
 * moved in the database; the login failure counter, its delays, lock
 * and forgiveness; and a database that cannot be reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "crypto/pdk.h"
#include "crypto/pki.h"
#include "mail/addr.h"
#include "pkstest.h"
#include "rowseal.h"
#include "store.h"
#include "testutil.h"

#define ALICE "alice@example.org"
#define BOB "bob@example.org"
/* two addresses with one hash (b6e9b850): a collision, as sq-addrhash(5)
 * says there will be */
#define TWIN1 "c3393@example.org"
#define TWIN2 "c80349@example.org"
#define BACKOFF 3
#define LOCK 5
#define LOCK_SECONDS 3600
/* net_free, net_max, addr_free, addr_max, known_seconds */
#define NET_FREE 3
#define ADDR_FREE 6
#define ADDR_WAIT_MAX 60
#define THROTTLE { NET_FREE, LOCK_SECONDS, ADDR_FREE, ADDR_WAIT_MAX, 86400 }

/* For the whole suite: the CA, and two wrapped PDKs (scrypt is slow). */
static EVP_PKEY *ca_key;
static X509 *ca;
static char *pdk1, *pdk2;

/* For each check. */
static char *dir;
static struct db *db;
static struct keyring kr;
static struct store st;

static char *wrapped_pdk(const char *password)
{
	struct sbuf pem;
	EVP_PKEY *k = pki_keygen();
	sbuf_init(&pem, PDK_PEM_MAX);
	ck_assert_int_eq(pdk_wrap(k, password, strlen(password), &pem), 0);
	char *s = strdup(pem.s);
	sbuf_free(&pem);
	EVP_PKEY_free(k);
	return s;
}

static void suite_setup(void)
{
	ca_key = pki_keygen();
	ca = pki_ca_create(ca_key, "store test CA", 30);
	ck_assert_ptr_nonnull(ca);
	pdk1 = wrapped_pdk("first password");
	pdk2 = wrapped_pdk("second password");
}

static void suite_teardown(void)
{
	free(pdk1);
	free(pdk2);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

static void setup(void)
{
	char keydir[4200];
	struct lockout lo = { BACKOFF, LOCK, LOCK_SECONDS, THROTTLE };
	db = testdb_fresh();
	dir = make_tmpdir();
	testpks_keydir(dir, keydir, sizeof keydir);
	ck_assert_int_eq(keyring_open(&kr, keydir, geteuid()), 0);
	ck_assert_int_eq(store_init(&st, db, &kr, ca, &lo), 0);
}

static void teardown(void)
{
	store_fini(&st);
	keyring_close(&kr);
	db_close(db);
	rm_rf(dir);
	free(dir);
	ERR_clear_error();
}

/* A PEK for address from issuer (PEM, to free). */
static char *pek_from(EVP_PKEY *key, X509 *issuer, const char *address)
{
	struct sbuf pem;
	EVP_PKEY *k = pki_keygen();
	X509 *c = pki_issue_pek(key, issuer, k, address, 30);
	ck_assert_ptr_nonnull(c);
	sbuf_init(&pem, 65536);
	ck_assert_int_eq(pki_cert_to_pem(c, &pem), 0);
	char *s = strdup(pem.s);
	sbuf_free(&pem);
	X509_free(c);
	EVP_PKEY_free(k);
	return s;
}

static char *pek_of(const char *address)
{
	return pek_from(ca_key, ca, address);
}

/* Creates a key version of address (new_version 0: the first); the row. */
static uint64_t make(const char *address, int new_version, unsigned want)
{
	uint32_t hash, version = 0;
	uint64_t row = 0;
	char *pek = pek_of(address);
	ck_assert_int_eq(store_create(&st, address, pek, pdk1, new_version, &hash,
	                              &row, &version), STORE_OK);
	ck_assert_uint_eq(hash, addr_hash(address));
	ck_assert_uint_eq(version, want);
	ck_assert_uint_gt(row, 0);
	ck_assert_uint_lt(row, (uint64_t)1 << 53);
	free(pek);
	return row;
}

static long long rows_in_db(void)
{
	return testdb_scalar("SELECT COUNT(*) FROM keyrow");
}

/* --- create and serve ---------------------------------------------------- */

START_TEST(a_created_key_is_served_by_its_hash_with_its_address)
{
	struct key_list l;
	uint32_t hash, version;
	uint64_t row;
	char *pek = pek_of(ALICE);
	ck_assert_int_eq(store_create(&st, ALICE, pek, pdk1, 0, &hash, &row,
	                              &version), STORE_OK);
	ck_assert_uint_eq(version, 1);
	ck_assert_int_eq(store_keys(&st, hash, 0, &l), STORE_OK);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_uint_eq(l.key[0].row, row);
	ck_assert_uint_eq(l.key[0].version, 1);
	ck_assert_str_eq(l.key[0].pek, pek);
	ck_assert_str_eq(l.key[0].address, ALICE);
	ck_assert_ptr_null(l.key[0].pdk);       /* PEKs only */
	ck_assert_int_eq(l.key[0].locked_until, 0);
	key_list_free(&l);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(store_keys(&st, hash, 1, &l), STORE_OK);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.key[0].pek, pek);
	ck_assert_str_eq(l.key[0].pdk, pdk1);
	key_list_free(&l);
	ck_assert_int_eq(store_keys(&st, hash + 1, 0, &l), STORE_NOTFOUND);
	ck_assert_uint_eq(l.n, 0);
	free(pek);
}
END_TEST

/* The database holds no address, certificate or PDK in the clear: each
 * row is sealed under the current PKS key. */
START_TEST(the_database_holds_only_sealed_rows)
{
	make(ALICE, 0, 1);
	ck_assert_int_eq(rows_in_db(), 1);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM keyrow WHERE "
	                               "LOCATE('alice', sealed_blob) > 0 OR "
	                               "LOCATE('BEGIN', sealed_blob) > 0 OR "
	                               "LOCATE('pek', sealed_blob) > 0"), 0);
	ck_assert_int_eq(testdb_scalar("SELECT LENGTH(sealed_drs) FROM keyrow"),
	                 SEALED_DRS_LEN);
	ck_assert_int_eq(testdb_scalar("SELECT pks_key_id FROM keyrow"),
	                 keyring_sealer(&kr)->id);
	ck_assert_int_eq(testdb_scalar("SELECT addr_hash FROM keyrow"),
	                 addr_hash(ALICE));
}
END_TEST

START_TEST(an_address_with_keys_is_taken_and_versions_need_a_first)
{
	struct key_list l;
	uint32_t hash, version;
	uint64_t row;
	char *pek = pek_of(ALICE), *bobs = pek_of(BOB);
	uint64_t first = make(ALICE, 0, 1);
	ck_assert_int_eq(store_create(&st, ALICE, pek, pdk1, 0, &hash, &row,
	                              &version), STORE_TAKEN);
	ck_assert_int_eq(store_create(&st, BOB, bobs, pdk1, 1, &hash, &row,
	                              &version), STORE_NOTFOUND);
	ck_assert_int_eq(rows_in_db(), 1);
	uint64_t second = make(ALICE, 1, 2);
	uint64_t third = make(ALICE, 1, 3);
	ck_assert_int_eq(store_keys(&st, addr_hash(ALICE), 0, &l), STORE_OK);
	ck_assert_uint_eq(l.n, 3);
	for (size_t i = 0; i < l.n; i++) {
		ck_assert_str_eq(l.key[i].address, ALICE);
		ck_assert(l.key[i].row == first || l.key[i].row == second ||
		          l.key[i].row == third);
		if (i)  /* in row order */
			ck_assert_uint_lt(l.key[i - 1].row, l.key[i].row);
	}
	key_list_free(&l);
	free(pek);
	free(bobs);
}
END_TEST

/* PEK and PDK are checked before anything else, and nothing is
 * written for a key that cannot be right. */
START_TEST(keys_that_cannot_be_right_are_invalid_and_write_nothing)
{
	uint32_t hash, version;
	uint64_t row;
	EVP_PKEY *other_key = pki_keygen();
	X509 *other_ca = pki_ca_create(other_key, "store test CA", 30);
	char *forged = pek_from(other_key, other_ca, ALICE);
	char *bobs = pek_of(BOB);
	char *good = pek_of(ALICE);
	struct sbuf capem, big, plain;
	sbuf_init(&capem, 65536);
	ck_assert_int_eq(pki_cert_to_pem(ca, &capem), 0);
	sbuf_init(&big, 65536);
	sbuf_puts(&big, good);
	while (big.len <= 8192)
		sbuf_puts(&big, "\n");
	/* a PDK that is a private key, but not a wrapped one */
	sbuf_init(&plain, 65536);
	BIO *b = BIO_new(BIO_s_mem());
	ck_assert_int_eq(PEM_write_bio_PrivateKey(b, ca_key, NULL, NULL, 0, NULL,
	                                          NULL), 1);
	char *p;
	long n = BIO_get_mem_data(b, &p);
	sbuf_put(&plain, p, (size_t)n);
	sbuf_putc(&plain, '\0');
	BIO_free(b);
	const char *bad_pek[] = { forged, bobs, capem.s, big.s, "", "garbage" };
	for (size_t i = 0; i < sizeof bad_pek / sizeof bad_pek[0]; i++)
		ck_assert_msg(store_create(&st, ALICE, bad_pek[i], pdk1, 0, &hash,
		                           &row, &version) == STORE_INVALID,
		              "PEK %zu accepted", i);
	const char *bad_pdk[] = { plain.s, good, "", "-----BEGIN ENCRYPTED "
	                          "PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED "
	                          "PRIVATE KEY-----\n" };
	for (size_t i = 0; i < sizeof bad_pdk / sizeof bad_pdk[0]; i++)
		ck_assert_msg(store_create(&st, ALICE, good, bad_pdk[i], 0, &hash,
		                           &row, &version) == STORE_INVALID,
		              "PDK %zu accepted", i);
	ck_assert_int_eq(rows_in_db(), 0);
	/* the same for a new version of an address that has keys */
	make(ALICE, 0, 1);
	ck_assert_int_eq(store_create(&st, ALICE, forged, pdk1, 1, &hash, &row,
	                              &version), STORE_INVALID);
	ck_assert_int_eq(rows_in_db(), 1);
	sbuf_free(&plain);
	sbuf_free(&big);
	sbuf_free(&capem);
	free(good);
	free(bobs);
	free(forged);
	X509_free(other_ca);
	EVP_PKEY_free(other_key);
}
END_TEST

/* --- two addresses, one hash -------------------------------------------------- */

START_TEST(two_addresses_under_one_hash_keep_their_own_rows)
{
	struct key_list l;
	unsigned deleted = 0;
	int available = -1;
	ck_assert_uint_eq(addr_hash(TWIN1), addr_hash(TWIN2));
	uint64_t a = make(TWIN1, 0, 1);
	ck_assert_int_eq(store_available(&st, TWIN2, &available), STORE_OK);
	ck_assert_int_eq(available, 1);
	ck_assert_int_eq(store_available(&st, TWIN1, &available), STORE_OK);
	ck_assert_int_eq(available, 0);
	uint64_t b1 = make(TWIN2, 0, 1);        /* not "taken" */
	uint64_t b2 = make(TWIN2, 1, 2);        /* its own versions */
	ck_assert_int_eq(store_keys(&st, addr_hash(TWIN1), 0, &l), STORE_OK);
	ck_assert_uint_eq(l.n, 3);
	for (size_t i = 0; i < l.n; i++)
		ck_assert_str_eq(l.key[i].address, l.key[i].row == a ? TWIN1 : TWIN2);
	key_list_free(&l);
	ck_assert_int_eq(store_delete_address(&st, TWIN1, &deleted), STORE_OK);
	ck_assert_uint_eq(deleted, 1);
	ck_assert_int_eq(store_keys(&st, addr_hash(TWIN2), 0, &l), STORE_OK);
	ck_assert_uint_eq(l.n, 2);
	ck_assert(l.key[0].row == b1 || l.key[0].row == b2);
	ck_assert(l.key[1].row == b1 || l.key[1].row == b2);
	key_list_free(&l);
	ck_assert_int_eq(store_available(&st, TWIN1, &available), STORE_OK);
	ck_assert_int_eq(available, 1);
}
END_TEST

START_TEST(delete_takes_every_version_of_the_address_and_nothing_else)
{
	struct key_list l;
	unsigned deleted = 99;
	int available = 0;
	make(ALICE, 0, 1);
	make(ALICE, 1, 2);
	uint64_t bob = make(BOB, 0, 1);
	ck_assert_int_eq(db_login_set(db, bob, 2, 0), DB_OK);
	ck_assert_int_eq(store_delete_address(&st, ALICE, &deleted), STORE_OK);
	ck_assert_uint_eq(deleted, 2);
	ck_assert_int_eq(store_keys(&st, addr_hash(ALICE), 0, &l), STORE_NOTFOUND);
	ck_assert_int_eq(store_available(&st, ALICE, &available), STORE_OK);
	ck_assert_int_eq(available, 1);
	ck_assert_int_eq(store_delete_address(&st, ALICE, &deleted),
	                 STORE_NOTFOUND);
	ck_assert_uint_eq(deleted, 0);
	ck_assert_int_eq(rows_in_db(), 1);
	ck_assert_int_eq(testdb_scalar("SELECT failures FROM login_state"), 2);
}
END_TEST

/* --- rows that do not open --------------------------------------------------- */

/* Tampered with, or copied from another row: the hash's lookups fail
 * closed (none served, not even the
 * good rows), and the store cannot tell whose the row is. */
START_TEST(a_row_that_does_not_open_fails_its_hash_closed)
{
	for (int t = 0; t < 3; t++) {
		struct key_list l;
		unsigned deleted = 0;
		int available = 1;
		uint32_t hash, version;
		uint64_t row;
		testdb_sql("DELETE FROM keyrow");
		unsigned long broken = st.broken_rows;
		uint64_t a = make(TWIN1, 0, 1);
		make(TWIN2, 0, 1);
		unsigned long long id = a;
		if (t == 0)     /* one bit of the sealed blob flipped */
			testdb_sql("UPDATE keyrow SET sealed_blob = CONCAT("
			           "LEFT(sealed_blob, 20), CHAR(ASCII(SUBSTR("
			           "sealed_blob, 21, 1)) ^ 1), SUBSTR(sealed_blob, "
			           "22)) WHERE row_id = %llu", id);
		else if (t == 1) /* the other row's sealed DRS copied in */
			testdb_sql("UPDATE keyrow a JOIN keyrow b ON b.row_id <> "
			           "a.row_id SET a.sealed_drs = b.sealed_drs WHERE "
			           "a.row_id = %llu", id);
		else            /* the blob of the other row */
			testdb_sql("UPDATE keyrow a JOIN keyrow b ON b.row_id <> "
			           "a.row_id SET a.sealed_blob = b.sealed_blob, "
			           "a.sealed_drs = b.sealed_drs WHERE a.row_id = %llu",
			           id);
		ck_assert_int_eq(store_keys(&st, addr_hash(TWIN2), 0, &l),
		                 STORE_UNREADABLE);
		ck_assert_uint_eq(l.n, 0);
		ck_assert_int_eq(store_keys(&st, addr_hash(TWIN2), 1, &l),
		                 STORE_UNREADABLE);
		ck_assert_uint_ge(st.broken_rows, broken + 2);
		ck_assert_int_eq(store_available(&st, TWIN2, &available),
		                 STORE_FAIL);
		ck_assert_int_eq(available, 0);
		char *pek = pek_of(TWIN2);
		ck_assert_int_eq(store_create(&st, TWIN2, pek, pdk1, 1, &hash, &row,
		                              &version), STORE_FAIL);
		free(pek);
		/* the broken row is not proven to be TWIN1's: it stays */
		ck_assert_int_eq(store_delete_address(&st, TWIN1, &deleted),
		                 STORE_NOTFOUND);
		ck_assert_int_eq(store_delete_address(&st, TWIN2, &deleted),
		                 STORE_OK);
		ck_assert_uint_eq(deleted, 1);
		ck_assert_int_eq(rows_in_db(), 1);
	}
}
END_TEST

/* A row whose hash or version was changed in the database fails to
 * open, even though its PEK was served (and cached) a moment before. */
START_TEST(a_row_moved_in_the_database_is_refused_even_once_cached)
{
	struct key_list l;
	uint64_t row = make(ALICE, 0, 1);
	ck_assert_int_eq(store_keys(&st, addr_hash(ALICE), 0, &l), STORE_OK);
	key_list_free(&l);
	testdb_sql("UPDATE keyrow SET key_version = 2 WHERE row_id = %llu",
	           (unsigned long long)row);
	ck_assert_int_eq(store_keys(&st, addr_hash(ALICE), 0, &l),
	                 STORE_UNREADABLE);
	testdb_sql("UPDATE keyrow SET key_version = 1, addr_hash = %u WHERE "
	           "row_id = %llu", addr_hash(BOB), (unsigned long long)row);
	ck_assert_int_eq(store_keys(&st, addr_hash(BOB), 0, &l),
	                 STORE_UNREADABLE);
	ck_assert_int_eq(store_keys(&st, addr_hash(ALICE), 0, &l),
	                 STORE_NOTFOUND);
	testdb_sql("UPDATE keyrow SET addr_hash = %u", addr_hash(ALICE));
	ck_assert_int_eq(store_keys(&st, addr_hash(ALICE), 0, &l), STORE_OK);
	key_list_free(&l);
}
END_TEST

/* A row naming a PKS key this keyring does not hold opens for nobody:
 * the PDK lookups and a fresh worker's PEK lookups refuse it. */
START_TEST(a_row_under_a_pks_key_not_held_is_refused)
{
	struct key_list l;
	struct store fresh;
	struct lockout lo = { BACKOFF, LOCK, LOCK_SECONDS, THROTTLE };
	uint64_t row = make(ALICE, 0, 1);
	ck_assert_int_eq(store_keys(&st, addr_hash(ALICE), 0, &l), STORE_OK);
	key_list_free(&l);
	testdb_sql("UPDATE keyrow SET pks_key_id = pks_key_id ^ 1 WHERE "
	           "row_id = %llu", (unsigned long long)row);
	ck_assert_int_eq(store_keys(&st, addr_hash(ALICE), 1, &l),
	                 STORE_UNREADABLE);
	ck_assert_int_eq(store_init(&fresh, db, &kr, ca, &lo), 0);
	ck_assert_int_eq(store_keys(&fresh, addr_hash(ALICE), 0, &l),
	                 STORE_UNREADABLE);
	ck_assert_uint_eq(fresh.broken_rows, 1);
	store_fini(&fresh);
}
END_TEST

/* --- PDK replacement ------------------------------------------------------- */

START_TEST(replace_pdk_keeps_the_row_and_its_counter_under_a_fresh_seal)
{
	struct key_list l;
	struct keyrows before, after;
	uint32_t version = 0;
	unsigned failures;
	int64_t until;
	uint32_t hash = addr_hash(ALICE);
	uint64_t row = make(ALICE, 0, 1);
	ck_assert_int_eq(store_login_failure(&st, hash, row, &failures, &until),
	                 STORE_OK);
	ck_assert_int_eq(db_row_by_id(db, row, 0, &before), DB_OK);
	ck_assert_int_eq(store_replace_pdk(&st, hash, row, pdk2, &version),
	                 STORE_OK);
	ck_assert_uint_eq(version, 1);
	ck_assert_int_eq(db_row_by_id(db, row, 0, &after), DB_OK);
	ck_assert_uint_eq(after.row[0].version, 1);
	ck_assert_int_ne(memcmp(before.row[0].drs, after.row[0].drs,
	                        SEALED_DRS_LEN), 0);
	ck_assert_int_ne(memcmp(before.row[0].blob, after.row[0].blob,
	                        GCM_NONCE_LEN), 0);
	keyrows_free(&before);
	keyrows_free(&after);
	ck_assert_int_eq(store_keys(&st, hash, 1, &l), STORE_OK);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_uint_eq(l.key[0].row, row);
	ck_assert_str_eq(l.key[0].pdk, pdk2);
	key_list_free(&l);
	ck_assert_int_eq(db_login_get(db, row, &failures, &until), DB_OK);
	ck_assert_uint_eq(failures, 1);
}
END_TEST

START_TEST(replace_pdk_needs_the_row_under_its_hash_and_a_wrapped_key)
{
	uint32_t version;
	uint32_t hash = addr_hash(ALICE);
	uint64_t row = make(ALICE, 0, 1);
	ck_assert_int_eq(store_replace_pdk(&st, hash + 1, row, pdk2, &version),
	                 STORE_NOTFOUND);
	ck_assert_int_eq(store_replace_pdk(&st, hash, row + 1, pdk2, &version),
	                 STORE_NOTFOUND);
	ck_assert_int_eq(store_replace_pdk(&st, hash, row, "not a key",
	                                   &version), STORE_INVALID);
	ck_assert_int_eq(store_replace_pdk(&st, hash, row, "", &version),
	                 STORE_INVALID);
	struct key_list l;
	ck_assert_int_eq(store_keys(&st, hash, 1, &l), STORE_OK);
	ck_assert_str_eq(l.key[0].pdk, pdk1);
	key_list_free(&l);
}
END_TEST

/* --- login lockout ----------------------------------------------------------- */

/* No delay before BACKOFF failures, then 1, 2, ... seconds, then the
 * full lock from LOCK failures on (pksd(8), LOGIN LOCKOUT). */
START_TEST(failures_delay_then_lock_the_address)
{
	static const int64_t delay[] = { 0, 0, 1, 2, LOCK_SECONDS, LOCK_SECONDS };
	uint32_t hash = addr_hash(ALICE);
	uint64_t row = make(ALICE, 0, 1);
	for (unsigned n = 1; n <= 6; n++) {
		unsigned failures = 0;
		int64_t until = -1;
		int64_t t0 = time(NULL);
		ck_assert_int_eq(store_login_failure(&st, hash, row, &failures,
		                                     &until), STORE_OK);
		int64_t t1 = time(NULL);
		ck_assert_uint_eq(failures, n);
		if (!delay[n - 1]) {
			ck_assert_int_eq(until, 0);
		} else {
			ck_assert_int_ge(until, t0 + delay[n - 1]);
			ck_assert_int_le(until, t1 + delay[n - 1]);
		}
	}
	ck_assert_int_eq(store_login_success(&st, hash, row), STORE_OK);
	unsigned failures;
	int64_t until;
	ck_assert_int_eq(db_login_get(db, row, &failures, &until), DB_OK);
	ck_assert_uint_eq(failures, 0);
	ck_assert_int_eq(until, 0);
}
END_TEST

static void fail_times(uint32_t hash, uint64_t row, unsigned n)
{
	unsigned failures;
	int64_t until;
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(store_login_failure(&st, hash, row, &failures,
		                                     &until), STORE_OK);
}

/* A lock withholds the PDK of every key version of the address (not the
 * PEKs); a success lifts it for all. */
START_TEST(a_lock_withholds_every_versions_pdk_until_a_success)
{
	struct key_list l;
	uint32_t hash = addr_hash(ALICE);
	uint64_t v1 = make(ALICE, 0, 1);
	uint64_t v2 = make(ALICE, 1, 2);
	fail_times(hash, v1, LOCK);
	int64_t now = time(NULL);
	ck_assert_int_eq(store_keys(&st, hash, 1, &l), STORE_OK);
	ck_assert_uint_eq(l.n, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_ptr_null(l.key[i].pdk);
		ck_assert_int_ge(l.key[i].locked_until, now + LOCK_SECONDS - 60);
		ck_assert_ptr_nonnull(l.key[i].pek);
	}
	key_list_free(&l);
	ck_assert_int_eq(store_keys(&st, hash, 0, &l), STORE_OK);
	ck_assert_int_eq(l.key[0].locked_until, 0);
	key_list_free(&l);
	ck_assert_int_eq(store_login_success(&st, hash, v2), STORE_OK);
	ck_assert_int_eq(store_keys(&st, hash, 1, &l), STORE_OK);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_str_eq(l.key[i].pdk, pdk1);
		ck_assert_int_eq(l.key[i].locked_until, 0);
	}
	key_list_free(&l);
}
END_TEST

/* Failures count per address: shared by its versions, never by another
 * address of the same hash. */
START_TEST(failures_count_per_address_not_per_row_or_hash)
{
	unsigned failures;
	int64_t until;
	uint32_t hash = addr_hash(TWIN1);
	uint64_t a1 = make(TWIN1, 0, 1);
	uint64_t a2 = make(TWIN1, 1, 2);
	uint64_t b = make(TWIN2, 0, 1);
	ck_assert_int_eq(store_login_failure(&st, hash, a1, &failures, &until),
	                 STORE_OK);
	ck_assert_uint_eq(failures, 1);
	ck_assert_int_eq(store_login_failure(&st, hash, a2, &failures, &until),
	                 STORE_OK);
	ck_assert_uint_eq(failures, 2);
	ck_assert_int_eq(db_login_get(db, a1, &failures, &until), DB_OK);
	ck_assert_uint_eq(failures, 2);
	ck_assert_int_eq(store_login_failure(&st, hash, b, &failures, &until),
	                 STORE_OK);
	ck_assert_uint_eq(failures, 1);
	ck_assert_int_eq(store_login_success(&st, hash, b), STORE_OK);
	ck_assert_int_eq(db_login_get(db, a2, &failures, &until), DB_OK);
	ck_assert_uint_eq(failures, 2);
}
END_TEST

/* A failure whose time (or lock) ended more than the lock time ago is
 * forgotten: the next one counts as the first. One during a lock counts
 * and starts the lock again. */
START_TEST(old_failures_are_forgiven_and_failures_in_a_lock_relock)
{
	unsigned failures;
	int64_t until;
	uint32_t hash = addr_hash(ALICE);
	uint64_t row = make(ALICE, 0, 1);
	int64_t now = time(NULL);
	ck_assert_int_eq(db_login_set(db, row, LOCK + 3,
	                              now - LOCK_SECONDS - 10), DB_OK);
	ck_assert_int_eq(store_login_failure(&st, hash, row, &failures, &until),
	                 STORE_OK);
	ck_assert_uint_eq(failures, 1);
	ck_assert_int_eq(until, 0);
	/* the lock ran out a moment ago: not forgiven yet */
	ck_assert_int_eq(db_login_set(db, row, LOCK, now - 5), DB_OK);
	ck_assert_int_eq(store_login_failure(&st, hash, row, &failures, &until),
	                 STORE_OK);
	ck_assert_uint_eq(failures, LOCK + 1);
	ck_assert_int_ge(until, now + LOCK_SECONDS);
}
END_TEST

/* A new key version (a password reset) inherits the address's count and
 * lock: a reset is no way around a lock. */
START_TEST(a_new_version_inherits_the_count_and_the_lock)
{
	struct key_list l;
	unsigned failures;
	int64_t until, locked;
	uint32_t hash = addr_hash(ALICE);
	uint64_t v1 = make(ALICE, 0, 1);
	fail_times(hash, v1, LOCK);
	ck_assert_int_eq(db_login_get(db, v1, &failures, &locked), DB_OK);
	uint64_t v2 = make(ALICE, 1, 2);
	ck_assert_int_eq(db_login_get(db, v2, &failures, &until), DB_OK);
	ck_assert_uint_eq(failures, LOCK);
	ck_assert_int_eq(until, locked);
	ck_assert_int_eq(store_keys(&st, hash, 1, &l), STORE_OK);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_ptr_null(l.key[0].pdk);
	ck_assert_ptr_null(l.key[1].pdk);
	key_list_free(&l);
	/* without a count there is nothing to inherit */
	uint64_t b1 = make(BOB, 0, 1);
	uint64_t b2 = make(BOB, 1, 2);
	(void)b1;
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM login_state WHERE "
	                               "row_id = %llu", (unsigned long long)b2),
	                 0);
}
END_TEST

START_TEST(login_results_need_the_row_under_its_hash)
{
	unsigned failures;
	int64_t until;
	uint32_t hash = addr_hash(ALICE);
	uint64_t row = make(ALICE, 0, 1);
	ck_assert_int_eq(store_login_failure(&st, hash + 1, row, &failures,
	                                     &until), STORE_NOTFOUND);
	ck_assert_int_eq(store_login_failure(&st, hash, row + 1, &failures,
	                                     &until), STORE_NOTFOUND);
	ck_assert_int_eq(store_login_success(&st, hash + 1, row),
	                 STORE_NOTFOUND);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM login_state"), 0);
}
END_TEST

/* --- the database down ------------------------------------------------------- */

START_TEST(an_unreachable_database_is_down_for_every_operation)
{
	struct store down;
	struct db_config cfg;
	struct key_list l;
	struct lockout lo = { BACKOFF, LOCK, LOCK_SECONDS, THROTTLE };
	uint32_t hash, version;
	uint64_t row;
	unsigned n;
	int64_t until;
	int available;
	char *pek = pek_of(ALICE);
	testdb_config(&cfg, TESTDB_NAME);
	snprintf(cfg.socket, sizeof cfg.socket, "%s/no-such.sock", dir);
	struct db *lazy = db_lazy(&cfg);
	ck_assert_int_eq(store_init(&down, lazy, &kr, ca, &lo), 0);
	hash = addr_hash(ALICE);
	ck_assert_int_eq(store_keys(&down, hash, 0, &l), STORE_DOWN);
	ck_assert_int_eq(store_keys(&down, hash, 1, &l), STORE_DOWN);
	ck_assert_int_eq(store_create(&down, ALICE, pek, pdk1, 0, &hash, &row,
	                              &version), STORE_DOWN);
	ck_assert_int_eq(store_replace_pdk(&down, hash, 1, pdk1, &version),
	                 STORE_DOWN);
	ck_assert_int_eq(store_delete_address(&down, ALICE, &n), STORE_DOWN);
	ck_assert_int_eq(store_available(&down, ALICE, &available), STORE_DOWN);
	ck_assert_int_eq(available, 0);
	ck_assert_int_eq(store_login_failure(&down, hash, 1, &n, &until),
	                 STORE_DOWN);
	ck_assert_int_eq(store_login_success(&down, hash, 1), STORE_DOWN);
	store_fini(&down);
	db_close(lazy);
	free(pek);
}
END_TEST

/* --- login throttling (throttle.h) ------------------------------------------ */

static long long throttle_failures(uint32_t hash, const char *network)
{
	return testdb_scalar("SELECT COALESCE(SUM(failures), 0) FROM "
	                     "login_throttle WHERE addr_hash = %lu AND "
	                     "network = '%s'", (unsigned long)hash, network);
}

/* An attempt is counted before its PDKs are served: the free ones and the
 * one that starts the waits get every version's PDK, the next waits with
 * nothing served and nothing counted. */
START_TEST(a_login_attempt_is_counted_before_its_pdks_are_served)
{
	struct key_list l;
	int64_t wait = -1;
	uint32_t hash = addr_hash(ALICE);
	make(ALICE, 0, 1);
	uint64_t v2 = make(ALICE, 1, 2);
	for (unsigned i = 1; i <= NET_FREE + 1; i++) {
		ck_assert_int_eq(store_login_attempt(&st, hash, "192.0.2.0/24", &l,
		                                     &wait), STORE_OK);
		ck_assert_int_eq(wait, 0);
		ck_assert_uint_eq(l.n, 2);
		ck_assert_str_eq(l.key[0].pdk, pdk1);
		ck_assert_str_eq(l.key[1].pdk, pdk1);
		key_list_free(&l);
		ck_assert_int_eq(throttle_failures(hash, "192.0.2.0/24"), i);
		ck_assert_int_eq(throttle_failures(hash, "*"), i);
	}
	/* Waits are whole seconds: the first, 1 s, may end between two
	 * calls on any machine. Stretched, so that what is tested is the
	 * refusal and not the clock. */
	testdb_sql("UPDATE login_throttle SET not_before = not_before + 3600 "
	           "WHERE addr_hash = %lu AND network = '192.0.2.0/24'",
	           (unsigned long)hash);
	ck_assert_int_eq(store_login_attempt(&st, hash, "192.0.2.0/24", &l,
	                                     &wait), STORE_THROTTLED);
	ck_assert_int_ge(wait, 3600);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_ptr_null(l.key);
	ck_assert_int_eq(throttle_failures(hash, "192.0.2.0/24"), NET_FREE + 1);
	/* another network, and the row lockout of login-failure, do not
	 * stop the owner */
	fail_times(hash, v2, LOCK);
	ck_assert_int_eq(store_login_attempt(&st, hash, "198.51.100.0/24", &l,
	                                     &wait), STORE_OK);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_ptr_nonnull(l.key[1].pdk);
	key_list_free(&l);
	ck_assert_int_eq(store_login_succeeded(&st, hash, "198.51.100.0/24"),
	                 STORE_OK);
	ck_assert_int_eq(throttle_failures(hash, "198.51.100.0/24"), 0);
	ck_assert_int_eq(throttle_failures(hash, "*"), NET_FREE + 1);
	/* the first network still waits */
	ck_assert_int_eq(store_login_attempt(&st, hash, "192.0.2.0/24", &l,
	                                     &wait), STORE_THROTTLED);
	ck_assert_uint_eq(l.n, 0);
}
END_TEST

/* Every row a login attempt serves has its login cache pepper: one per
 * row, and another once the PDK is wrapped under a new password. */
START_TEST(a_login_attempt_gives_each_row_its_pepper)
{
	struct key_list l;
	int64_t wait;
	uint32_t hash = addr_hash(ALICE);
	uint64_t r1 = make(ALICE, 0, 1);
	make(ALICE, 1, 2);
	ck_assert_int_eq(store_login_attempt(&st, hash, "192.0.2.0/24", &l,
	                                     &wait), STORE_OK);
	ck_assert_uint_eq(l.n, 2);
	ck_assert(l.key[0].has_pepper && l.key[1].has_pepper);
	ck_assert_int_ne(memcmp(l.key[0].pepper, l.key[1].pepper,
	                        LOGIN_PEPPER_LEN), 0); /* the same PDK text */
	unsigned char before[LOGIN_PEPPER_LEN];
	size_t i1 = l.key[0].row == r1 ? 0 : 1;
	memcpy(before, l.key[i1].pepper, sizeof before);
	key_list_free(&l);
	uint32_t version;
	ck_assert_int_eq(store_replace_pdk(&st, hash, r1, pdk2, &version),
	                 STORE_OK);
	ck_assert_int_eq(store_login_attempt(&st, hash, "192.0.2.0/24", &l,
	                                     &wait), STORE_OK);
	i1 = l.key[0].row == r1 ? 0 : 1;
	ck_assert_int_ne(memcmp(l.key[i1].pepper, before, sizeof before), 0);
	key_list_free(&l);
	/* only a login attempt carries it */
	ck_assert_int_eq(store_keys(&st, hash, 1, &l), STORE_OK);
	ck_assert_int_eq(l.key[0].has_pepper, 0);
	key_list_free(&l);
}
END_TEST

/* A hash without rows is not found and leaves no state; a success needs
 * rows too. */
START_TEST(a_login_attempt_on_an_unknown_hash_counts_nothing)
{
	struct key_list l;
	int64_t wait;
	ck_assert_int_eq(store_login_attempt(&st, addr_hash(ALICE), "unknown",
	                                     &l, &wait), STORE_NOTFOUND);
	ck_assert_int_eq(store_login_succeeded(&st, addr_hash(ALICE), "unknown"),
	                 STORE_NOTFOUND);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM login_throttle"), 0);
}
END_TEST

/* Deleting the last address of a hash deletes its throttle rows (the
 * networks it logged in from); while another address keeps the hash,
 * they stay. */
START_TEST(deleting_the_last_address_of_a_hash_forgets_its_throttle)
{
	struct key_list l;
	int64_t wait;
	unsigned n;
	uint32_t hash = addr_hash(TWIN1);
	ck_assert_uint_eq(hash, addr_hash(TWIN2));
	make(TWIN1, 0, 1);
	make(TWIN2, 0, 1);
	ck_assert_int_eq(store_login_attempt(&st, hash, "192.0.2.0/24", &l,
	                                     &wait), STORE_OK);
	key_list_free(&l);
	ck_assert_int_eq(store_login_succeeded(&st, hash, "192.0.2.0/24"),
	                 STORE_OK);
	ck_assert_int_eq(store_delete_address(&st, TWIN1, &n), STORE_OK);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM login_throttle"), 2);
	ck_assert_int_eq(store_delete_address(&st, TWIN2, &n), STORE_OK);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM login_throttle"), 0);
}
END_TEST

/* One attempt in a process of its own, with its own connection: exits 0
 * when it was served the PDKs, 1 when throttled, 2 when it could not
 * start, 10 + the store's answer otherwise. */
static void attempt_in_child(uint32_t hash)
{
	struct store mine;
	struct key_list l;
	int64_t wait;
	struct lockout lo = { BACKOFF, LOCK, LOCK_SECONDS, THROTTLE };
	struct db *conn = testdb_connect();
	if (store_init(&mine, conn, &kr, ca, &lo) < 0)
		_exit(2);
	int r = store_login_attempt(&mine, hash, "203.0.113.0/24", &l, &wait);
	int served = r == STORE_OK && l.n == 1 && l.key[0].pdk;
	key_list_free(&l);
	store_fini(&mine);
	db_close(conn);
	_exit(served ? 0 : r == STORE_THROTTLED ? 1 : 10 + r);
}

/* Concurrent attempts cannot overtake the count: the PDKs served are the
 * failures counted, and no more than the free ones, the one that starts
 * the waits, and one for each wait (1, 2, 4 ... s) that ended meanwhile. */
START_TEST(concurrent_attempts_are_served_no_more_than_counted)
{
	enum { N = 24 };
	pid_t pid[N];
	int served = 0, throttled = 0;
	uint32_t hash = addr_hash(ALICE);
	make(ALICE, 0, 1);
	time_t t0 = time(NULL);
	for (int i = 0; i < N; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0)
			attempt_in_child(hash);
	}
	for (int i = 0; i < N; i++) {
		int status;
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) < 2,
		              "an attempt ended with status %#x", status);
		served += WEXITSTATUS(status) == 0;
		throttled += WEXITSTATUS(status) == 1;
	}
	long long took = time(NULL) - t0, waits = 0;
	while ((1LL << (waits + 1)) - 1 <= took + 1)
		waits++;
	ck_assert_int_eq(served + throttled, N);
	ck_assert_int_eq(throttle_failures(hash, "203.0.113.0/24"), served);
	ck_assert_msg(served <= NET_FREE + 1 + waits, "%d served in %lld s",
	              served, took);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("store");
	if (!testdb_available())
		return testdb_skip_suite(s);
	TCase *tc = tcase_create("store");
	tcase_add_unchecked_fixture(tc, testdb_start, testdb_stop);
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_created_key_is_served_by_its_hash_with_its_address);
	tcase_add_test(tc, the_database_holds_only_sealed_rows);
	tcase_add_test(tc, an_address_with_keys_is_taken_and_versions_need_a_first);
	tcase_add_test(tc, keys_that_cannot_be_right_are_invalid_and_write_nothing);
	tcase_add_test(tc, two_addresses_under_one_hash_keep_their_own_rows);
	tcase_add_test(tc, delete_takes_every_version_of_the_address_and_nothing_else);
	tcase_add_test(tc, a_row_that_does_not_open_fails_its_hash_closed);
	tcase_add_test(tc, a_row_moved_in_the_database_is_refused_even_once_cached);
	tcase_add_test(tc, a_row_under_a_pks_key_not_held_is_refused);
	tcase_add_test(tc, replace_pdk_keeps_the_row_and_its_counter_under_a_fresh_seal);
	tcase_add_test(tc, replace_pdk_needs_the_row_under_its_hash_and_a_wrapped_key);
	tcase_add_test(tc, failures_delay_then_lock_the_address);
	tcase_add_test(tc, a_lock_withholds_every_versions_pdk_until_a_success);
	tcase_add_test(tc, failures_count_per_address_not_per_row_or_hash);
	tcase_add_test(tc, old_failures_are_forgiven_and_failures_in_a_lock_relock);
	tcase_add_test(tc, a_new_version_inherits_the_count_and_the_lock);
	tcase_add_test(tc, login_results_need_the_row_under_its_hash);
	tcase_add_test(tc, an_unreachable_database_is_down_for_every_operation);
	tcase_add_test(tc, a_login_attempt_is_counted_before_its_pdks_are_served);
	tcase_add_test(tc, a_login_attempt_gives_each_row_its_pepper);
	tcase_add_test(tc, a_login_attempt_on_an_unknown_hash_counts_nothing);
	tcase_add_test(tc, concurrent_attempts_are_served_no_more_than_counted);
	tcase_add_test(tc, deleting_the_last_address_of_a_hash_forgets_its_throttle);
	suite_add_tcase(s, tc);
	return s;
}
