/*
 * check_db - the key store's MariaDB layer (pks/db.h) against a real,
 * throwaway MariaDB (pkstest.h): configuration, schema versions, key
 * rows under one 32-bit hash, login state, API clients, transactions,
 * lock conflicts, lost connections, an unreachable server, and input
 * that would be SQL if it were ever pasted into a statement.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clientauth.h"
#include "db.h"
#include "pkstest.h"
#include "testutil.h"

#define HASH 0x93e896f4u
#define HOSTILE "x'); DROP TABLE keyrow; -- \\' \" ` %s \\0 ;"

static struct db *db;

static void setup(void)
{
	db = testdb_fresh();
}

static void teardown(void)
{
	db_close(db);
	db = NULL;
}

/* A row of HASH with a recognisable blob and DRS. */
static struct keyrow row_of(uint64_t id, uint32_t hash, unsigned char *blob,
                            size_t bloblen)
{
	struct keyrow r;
	memset(&r, 0, sizeof r);
	r.row = id;
	r.hash = hash;
	r.version = 1;
	r.pks_key_id = 0xa1b2c3d4u;
	for (size_t i = 0; i < bloblen; i++)
		blob[i] = (unsigned char)(id + i);
	r.blob = blob;
	r.bloblen = bloblen;
	r.drslen = 97;
	for (size_t i = 0; i < r.drslen; i++)
		r.drs[i] = (unsigned char)(255 - i);
	return r;
}

static void insert(uint64_t id, uint32_t hash)
{
	unsigned char blob[64];
	struct keyrow r = row_of(id, hash, blob, sizeof blob);
	ck_assert_int_eq(db_row_insert(db, &r), DB_OK);
}

static void assert_same_row(const struct keyrow *got, const struct keyrow *want)
{
	ck_assert_uint_eq(got->row, want->row);
	ck_assert_uint_eq(got->hash, want->hash);
	ck_assert_uint_eq(got->version, want->version);
	ck_assert_uint_eq(got->pks_key_id, want->pks_key_id);
	ck_assert_uint_eq(got->bloblen, want->bloblen);
	ck_assert_int_eq(memcmp(got->blob, want->blob, want->bloblen), 0);
	ck_assert_uint_eq(got->drslen, want->drslen);
	ck_assert_int_eq(memcmp(got->drs, want->drs, want->drslen), 0);
}

/* --- configuration ------------------------------------------------------ */

static int load_config(const char *text, struct db_config *cfg, char *why,
                       size_t n)
{
	struct control ctl;
	char *dir = make_tmpdir();
	if (text)
		write_file(dir, "pksdb", text, strlen(text));
	ck_assert_int_eq(control_open(&ctl, dir), 0);
	*why = '\0';
	int r = db_config_load(cfg, &ctl, why, n);
	control_close(&ctl);
	rm_rf(dir);
	free(dir);
	return r;
}

START_TEST(config_defaults_and_every_key)
{
	struct db_config cfg;
	char why[256];
	ck_assert_int_eq(load_config(NULL, &cfg, why, sizeof why), 0);
	ck_assert_str_eq(cfg.database, "pks");
	ck_assert_uint_eq(cfg.timeout, 5);
	ck_assert_str_eq(cfg.socket, "");
	ck_assert_str_eq(cfg.user, "");
	ck_assert_uint_eq(cfg.port, 0);
	ck_assert_int_eq(load_config("# the database\nsocket=/run/m.sock\n"
	                             "host=db.example\nport=3307\ndatabase=keys\n"
	                             "user=sqpks\ntimeout=3600\n", &cfg, why,
	                             sizeof why), 0);
	ck_assert_str_eq(cfg.socket, "/run/m.sock");
	ck_assert_str_eq(cfg.host, "db.example");
	ck_assert_uint_eq(cfg.port, 3307);
	ck_assert_str_eq(cfg.database, "keys");
	ck_assert_str_eq(cfg.user, "sqpks");
	ck_assert_uint_eq(cfg.timeout, 3600);
}
END_TEST

START_TEST(config_refuses_bad_lines_and_values)
{
	static const char *const bad[] = {
		"socket\n", "=x\n", "port=0\n", "port=65536\n", "port=-1\n",
		"port=\n", "timeout=0\n", "timeout=3601\n", "timeout=5s\n",
		"colour=red\n", "colour=5\n",
		"a_key_name_longer_than_thirty_two_octets=1\n",
		"database=a_database_name_that_is_much_longer_than_the_sixty_four"
		"_octets_a_name_may_have"
		"_in_all\n",
	};
	struct db_config cfg;
	char why[256], text[400];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(load_config(bad[i], &cfg, why, sizeof why) == -1,
		              "accepted %s", bad[i]);
		ck_assert_msg(strncmp(why, "control/pksdb: bad ", 19) == 0,
		              "%s: %s", bad[i], why);
	}
	memset(text, 's', sizeof text);
	memcpy(text, "socket=/", 8);
	snprintf(text + 300, 20, "\n");
	ck_assert_int_eq(load_config(text, &cfg, why, sizeof why), -1);
	ck_assert_str_eq(why, "control/pksdb: bad value for socket");
}
END_TEST

/* --- reaching the server ----------------------------------------------------- */

START_TEST(a_server_that_cannot_be_reached_is_down_not_failed)
{
	struct db_config cfg;
	struct keyrows rows;
	struct client_rec c;
	unsigned v;
	char why[256] = "";
	testdb_config(&cfg, TESTDB_NAME);
	snprintf(cfg.socket, sizeof cfg.socket, "%s/no-such.sock", testdb.dir);
	ck_assert_ptr_null(db_connect(&cfg, why, sizeof why));
	ck_assert_msg(strncmp(why, "connect: ", 9) == 0, "%s", why);
	struct db *lazy = db_lazy(&cfg);
	ck_assert_ptr_nonnull(lazy);
	ck_assert_int_eq(db_rows_by_hash(lazy, HASH, 0, &rows), DB_DOWN);
	ck_assert_uint_eq(rows.n, 0);
	ck_assert_int_eq(db_client_get(lazy, 1, &c), DB_DOWN);
	ck_assert_int_eq(db_schema_version(lazy, &v), DB_DOWN);
	ck_assert_int_eq(db_begin(lazy), DB_DOWN);
	ck_assert_int_eq(db_ping(lazy), DB_DOWN);
	ck_assert_int_eq(db_exec(lazy, "SELECT 1"), DB_DOWN);
	ck_assert_str_ne(db_error(lazy), "");
	db_close(lazy);
}
END_TEST

START_TEST(a_lazy_handle_connects_at_its_first_use)
{
	struct db_config cfg;
	struct client_rec c;
	testdb_config(&cfg, TESTDB_NAME);
	struct db *lazy = db_lazy(&cfg);
	ck_assert_int_eq(db_client_get(lazy, 77, &c), DB_NOTFOUND);
	ck_assert_int_eq(db_ping(lazy), DB_OK);
	db_close(lazy);
	db_close(NULL);         /* harmless */
}
END_TEST

/* Outside a transaction a killed connection is reopened, the statement
 * prepared again and run once more, unseen by the caller. */
START_TEST(a_lost_connection_is_reopened_outside_a_transaction)
{
	struct keyrows rows;
	insert(10, HASH);
	ck_assert_int_eq(db_row_by_id(db, 10, 0, &rows), DB_OK);
	keyrows_free(&rows);
	ck_assert_int_ge(testdb_kill_others(), 1);
	ck_assert_int_eq(db_row_by_id(db, 10, 0, &rows), DB_OK);
	ck_assert_uint_eq(rows.n, 1);
	ck_assert_uint_eq(rows.row[0].row, 10);
	keyrows_free(&rows);
}
END_TEST

/* Inside one, the caller gets DB_DOWN and starts over; nothing of the
 * lost transaction remains. */
START_TEST(a_lost_connection_inside_a_transaction_is_down_and_undone)
{
	struct keyrows rows;
	ck_assert_int_eq(db_begin(db), DB_OK);
	insert(10, HASH);
	ck_assert_int_ge(testdb_kill_others(), 1);
	unsigned char blob[8];
	struct keyrow r = row_of(11, HASH, blob, sizeof blob);
	ck_assert_int_eq(db_row_insert(db, &r), DB_DOWN);
	/* the next transaction runs on a new connection */
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(db_row_insert(db, &r), DB_OK);
	ck_assert_int_eq(db_commit(db), DB_OK);
	ck_assert_int_eq(db_rows_by_hash(db, HASH, 0, &rows), DB_OK);
	ck_assert_uint_eq(rows.n, 1);
	ck_assert_uint_eq(rows.row[0].row, 11);
	keyrows_free(&rows);
}
END_TEST

/* --- schema ---------------------------------------------------------------- */

START_TEST(the_schema_version_is_zero_before_and_the_latest_after)
{
	struct db_config cfg;
	unsigned v = 99;
	char why[256];
	testdb_sql("CREATE DATABASE pks_empty");
	testdb_config(&cfg, "pks_empty");
	struct db *empty = db_connect(&cfg, why, sizeof why);
	ck_assert_ptr_nonnull(empty);
	ck_assert_int_eq(db_schema_version(empty, &v), DB_OK);   /* no table */
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(db_schema_init(empty), DB_OK);
	ck_assert_int_eq(db_schema_version(empty, &v), DB_OK);   /* no row */
	ck_assert_uint_eq(v, 0);
	testdb_migrate(empty);
	ck_assert_int_eq(db_schema_version(empty, &v), DB_OK);
	ck_assert_uint_eq(v, schema_version_expected());
	ck_assert_uint_ge(v, 1);
	db_close(empty);
	testdb_sql("DROP DATABASE pks_empty");
}
END_TEST

/* pks-ctl migrate may run again after a migration was cut short. */
START_TEST(migrations_may_run_again_and_a_version_is_recorded_once)
{
	unsigned v;
	ck_assert_int_eq(db_schema_init(db), DB_OK);
	for (const struct migration *m = migrations; m->version; m++)
		for (const char *const *st = m->statements; *st; st++)
			ck_assert_int_eq(db_exec(db, *st), DB_OK);
	ck_assert_int_eq(db_schema_record(db, migrations[0].version, "again"),
	                 DB_DUPLICATE);
	ck_assert_int_eq(db_schema_version(db, &v), DB_OK);
	ck_assert_uint_eq(v, schema_version_expected());
	ck_assert_int_eq(db_exec(db, "THIS IS NOT SQL"), DB_FAIL);
	ck_assert_str_ne(db_error(db), "");
}
END_TEST

/* --- key rows ---------------------------------------------------------------- */

START_TEST(a_row_reads_back_octet_for_octet)
{
	/* NULs, quotes, backslashes and high octets: data, never text */
	unsigned char blob[] = "\0'\"\\%_;\n\r\377-- x";
	struct keyrows rows;
	struct keyrow r = row_of(((uint64_t)1 << 53) - 1, 0xffffffffu, blob,
	                         sizeof blob);
	memcpy(blob, "\0'\"\\%_;\n\r\377-- x", sizeof blob);
	r.version = 4000000000u;
	time_t now = time(NULL);
	ck_assert_int_eq(db_row_insert(db, &r), DB_OK);
	ck_assert_int_eq(db_row_by_id(db, r.row, 0, &rows), DB_OK);
	ck_assert_uint_eq(rows.n, 1);
	assert_same_row(&rows.row[0], &r);
	ck_assert_int_le(llabs(rows.row[0].created - (long long)now), 60);
	ck_assert_int_eq(rows.row[0].updated, rows.row[0].created);
	keyrows_free(&rows);
	ck_assert_uint_eq(rows.n, 0);
	ck_assert_int_eq(db_rows_by_hash(db, 0xffffffffu, 1, &rows), DB_OK);
	ck_assert_uint_eq(rows.n, 1);
	assert_same_row(&rows.row[0], &r);
	keyrows_free(&rows);
}
END_TEST

/* A 32-bit hash names a set of rows: every row of it, in row order, and
 * no row of another hash. */
START_TEST(several_rows_under_one_hash_come_back_in_row_order)
{
	struct keyrows rows;
	insert(30, HASH);
	insert(15, HASH + 1);
	insert(10, HASH);
	insert(20, HASH);
	insert(25, HASH - 1);
	ck_assert_int_eq(db_rows_by_hash(db, HASH, 0, &rows), DB_OK);
	ck_assert_uint_eq(rows.n, 3);
	ck_assert_uint_eq(rows.row[0].row, 10);
	ck_assert_uint_eq(rows.row[1].row, 20);
	ck_assert_uint_eq(rows.row[2].row, 30);
	for (size_t i = 0; i < rows.n; i++) {
		unsigned char blob[64];
		struct keyrow want = row_of(rows.row[i].row, HASH, blob, sizeof blob);
		assert_same_row(&rows.row[i], &want);
	}
	keyrows_free(&rows);
}
END_TEST

START_TEST(an_unknown_row_is_notfound_and_an_unknown_hash_empty)
{
	struct keyrows rows;
	unsigned char blob[8];
	struct keyrow r = row_of(99, HASH, blob, sizeof blob);
	insert(10, HASH);
	ck_assert_int_eq(db_row_by_id(db, 99, 0, &rows), DB_NOTFOUND);
	ck_assert_uint_eq(rows.n, 0);
	ck_assert_int_eq(db_row_by_id(db, 99, 1, &rows), DB_NOTFOUND);
	ck_assert_int_eq(db_rows_by_hash(db, HASH + 7, 0, &rows), DB_OK);
	ck_assert_uint_eq(rows.n, 0);
	ck_assert_ptr_null(rows.row);
	ck_assert_int_eq(db_row_update_seal(db, &r), DB_NOTFOUND);
	ck_assert_int_eq(db_row_delete(db, 99), DB_NOTFOUND);
}
END_TEST

START_TEST(a_taken_row_id_is_a_duplicate_and_changes_nothing)
{
	struct keyrows rows;
	unsigned char blob[64], other[16];
	struct keyrow first = row_of(10, HASH, blob, sizeof blob);
	struct keyrow second = row_of(10, HASH + 1, other, sizeof other);
	ck_assert_int_eq(db_row_insert(db, &first), DB_OK);
	ck_assert_int_eq(db_row_insert(db, &second), DB_DUPLICATE);
	ck_assert_int_eq(db_row_by_id(db, 10, 0, &rows), DB_OK);
	assert_same_row(&rows.row[0], &first);
	keyrows_free(&rows);
}
END_TEST

START_TEST(update_seal_replaces_the_sealed_values_only)
{
	struct keyrows rows;
	unsigned char blob[64], fresh[200];
	struct keyrow r = row_of(10, HASH, blob, sizeof blob);
	ck_assert_int_eq(db_row_insert(db, &r), DB_OK);
	struct keyrow u = row_of(10, 0, fresh, sizeof fresh);
	u.version = 9;
	u.pks_key_id = 7;
	u.drslen = 50;
	memset(u.drs, 0x5a, u.drslen);
	ck_assert_int_eq(db_row_update_seal(db, &u), DB_OK);
	ck_assert_int_eq(db_row_by_id(db, 10, 0, &rows), DB_OK);
	ck_assert_uint_eq(rows.row[0].hash, HASH);     /* not the update's 0 */
	ck_assert_uint_eq(rows.row[0].version, 1);     /* nor its 9 */
	ck_assert_uint_eq(rows.row[0].pks_key_id, 7);
	ck_assert_uint_eq(rows.row[0].bloblen, sizeof fresh);
	ck_assert_int_eq(memcmp(rows.row[0].blob, fresh, sizeof fresh), 0);
	ck_assert_uint_eq(rows.row[0].drslen, 50);
	ck_assert_int_ge(rows.row[0].updated, rows.row[0].created);
	keyrows_free(&rows);
}
END_TEST

/* The columns hold what pksd writes: more is refused, never cut. */
START_TEST(overlong_sealed_values_are_refused_not_truncated)
{
	struct keyrows rows;
	unsigned char *blob = calloc(1, KEYROW_BLOB_MAX + 1);
	ck_assert_ptr_nonnull(blob);
	struct keyrow r = row_of(10, HASH, blob, KEYROW_BLOB_MAX);
	ck_assert_int_eq(db_row_insert(db, &r), DB_OK);   /* the most */
	r = row_of(11, HASH, blob, KEYROW_BLOB_MAX + 1);
	ck_assert_int_eq(db_row_insert(db, &r), DB_FAIL);
	r = row_of(12, HASH, blob, 16);
	r.drslen = sizeof r.drs;                         /* 128: the most */
	ck_assert_int_eq(db_row_insert(db, &r), DB_OK);
	ck_assert_int_eq(db_rows_by_hash(db, HASH, 0, &rows), DB_OK);
	ck_assert_uint_eq(rows.n, 2);
	ck_assert_uint_eq(rows.row[0].bloblen, KEYROW_BLOB_MAX);
	ck_assert_uint_eq(rows.row[1].drslen, sizeof r.drs);
	keyrows_free(&rows);
	free(blob);
}
END_TEST

/* A column larger than the buffers (a database changed behind pksd's
 * back) fails the read instead of handing out a cut value. */
START_TEST(a_column_larger_than_pksd_writes_fails_the_read)
{
	struct keyrows rows;
	insert(10, HASH);
	testdb_sql("ALTER TABLE keyrow MODIFY sealed_drs VARBINARY(300) NOT NULL");
	testdb_sql("UPDATE keyrow SET sealed_drs = REPEAT('x', 200) WHERE "
	           "row_id = 10");
	ck_assert_int_eq(db_rows_by_hash(db, HASH, 0, &rows), DB_FAIL);
	ck_assert_uint_eq(rows.n, 0);
	ck_assert_msg(strstr(db_error(db), "column too large") != NULL, "%s",
	              db_error(db));
	ck_assert_int_eq(db_row_by_id(db, 10, 0, &rows), DB_FAIL);
}
END_TEST

START_TEST(delete_removes_the_row_and_its_login_state)
{
	struct keyrows rows;
	insert(10, HASH);
	insert(11, HASH);
	ck_assert_int_eq(db_login_set(db, 10, 4, 123456), DB_OK);
	ck_assert_int_eq(db_row_delete(db, 10), DB_OK);
	ck_assert_int_eq(db_row_by_id(db, 10, 0, &rows), DB_NOTFOUND);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM login_state"), 0);
	ck_assert_int_eq(db_row_by_id(db, 11, 0, &rows), DB_OK);
	keyrows_free(&rows);
}
END_TEST

/* What pks-ctl rotate walks: rows under any key but the new one. */
START_TEST(rows_not_under_a_key_are_listed_in_order_and_counted)
{
	struct keyrows rows;
	unsigned char blob[8];
	uint64_t all = 0, other = 0;
	for (uint64_t id = 1; id <= 5; id++) {
		struct keyrow r = row_of(id, HASH, blob, sizeof blob);
		r.pks_key_id = id == 3 ? 2 : 1;
		ck_assert_int_eq(db_row_insert(db, &r), DB_OK);
	}
	ck_assert_int_eq(db_rows_not_under(db, 1, 10, &rows), DB_OK);
	ck_assert_uint_eq(rows.n, 1);
	ck_assert_uint_eq(rows.row[0].row, 3);
	keyrows_free(&rows);
	ck_assert_int_eq(db_rows_not_under(db, 2, 2, &rows), DB_OK);
	ck_assert_uint_eq(rows.n, 2);
	ck_assert_uint_eq(rows.row[0].row, 1);
	ck_assert_uint_eq(rows.row[1].row, 2);
	keyrows_free(&rows);
	ck_assert_int_eq(db_row_count(db, &all, &other, 1), DB_OK);
	ck_assert_uint_eq(all, 5);
	ck_assert_uint_eq(other, 1);
	ck_assert_int_eq(db_row_count(db, &all, &other, 9), DB_OK);
	ck_assert_uint_eq(other, 5);
}
END_TEST

/* --- login state ------------------------------------------------------------ */

START_TEST(login_state_is_none_until_set_and_then_replaced)
{
	unsigned failures = 99;
	int64_t until = 99;
	insert(10, HASH);
	ck_assert_int_eq(db_login_get(db, 10, &failures, &until), DB_OK);
	ck_assert_uint_eq(failures, 0);
	ck_assert_int_eq(until, 0);
	ck_assert_int_eq(db_login_set(db, 10, 3, 1700000000), DB_OK);
	ck_assert_int_eq(db_login_get(db, 10, &failures, &until), DB_OK);
	ck_assert_uint_eq(failures, 3);
	ck_assert_int_eq(until, 1700000000);
	ck_assert_int_eq(db_login_set(db, 10, 4000000000u, INT64_MAX), DB_OK);
	ck_assert_int_eq(db_login_get(db, 10, &failures, &until), DB_OK);
	ck_assert_uint_eq(failures, 4000000000u);
	ck_assert_int_eq(until, INT64_MAX);
	ck_assert_int_eq(db_login_set(db, 10, 0, 0), DB_OK);
	ck_assert_int_eq(db_login_get(db, 10, &failures, &until), DB_OK);
	ck_assert_uint_eq(failures, 0);
	ck_assert_int_eq(until, 0);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM login_state"), 1);
}
END_TEST

/* A counter belongs to a row: none can exist without one. */
START_TEST(login_state_for_a_missing_row_is_refused)
{
	unsigned failures;
	int64_t until;
	ck_assert_int_eq(db_login_set(db, 12345, 1, 0), DB_FAIL);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM login_state"), 0);
	ck_assert_int_eq(db_login_get(db, 12345, &failures, &until), DB_OK);
	ck_assert_uint_eq(failures, 0);
}
END_TEST

/* A throttle row is keyed by hash and network: a missing one reads as
 * zeros, a set one is replaced whole, and another network or hash is
 * another row. */
START_TEST(throttle_rows_are_per_hash_and_network_and_replaced_whole)
{
	struct throttle_state in = { 7, 1000, 990, 500 }, out;
	ck_assert_int_eq(db_throttle_get(db, 42, "192.0.2.0/24", &out), DB_OK);
	ck_assert_uint_eq(out.failures, 0);
	ck_assert_int_eq(out.not_before + out.last_failure + out.last_success, 0);
	ck_assert_int_eq(db_throttle_set(db, 42, "192.0.2.0/24", &in), DB_OK);
	in.failures = 8;
	ck_assert_int_eq(db_throttle_set(db, 42, "192.0.2.0/24", &in), DB_OK);
	ck_assert_int_eq(db_throttle_get(db, 42, "192.0.2.0/24", &out), DB_OK);
	ck_assert_uint_eq(out.failures, 8);
	ck_assert_int_eq(out.not_before, 1000);
	ck_assert_int_eq(out.last_failure, 990);
	ck_assert_int_eq(out.last_success, 500);
	ck_assert_int_eq(db_throttle_get(db, 42, "*", &out), DB_OK);
	ck_assert_uint_eq(out.failures, 0);
	ck_assert_int_eq(db_throttle_get(db, 43, "192.0.2.0/24", &out), DB_OK);
	ck_assert_uint_eq(out.failures, 0);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM login_throttle"), 1);
}
END_TEST

/* --- transactions ------------------------------------------------------------- */

START_TEST(a_rollback_leaves_nothing_and_a_commit_keeps_all)
{
	struct keyrows rows;
	ck_assert_int_eq(db_begin(db), DB_OK);
	insert(10, HASH);
	ck_assert_int_eq(db_login_set(db, 10, 2, 0), DB_OK);
	db_rollback(db);
	ck_assert_int_eq(db_row_by_id(db, 10, 0, &rows), DB_NOTFOUND);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM login_state"), 0);
	ck_assert_int_eq(db_begin(db), DB_OK);
	insert(10, HASH);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM keyrow"), 0);
	ck_assert_int_eq(db_commit(db), DB_OK);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM keyrow"), 1);
}
END_TEST

/* Two writers of one hash: the second waits for the first's lock and,
 * when the wait times out, gets DB_CONFLICT (run it again), not a
 * failure. */
START_TEST(a_lock_wait_that_times_out_is_a_conflict)
{
	struct keyrows rows;
	insert(10, HASH);
	struct db *other = testdb_connect();
	ck_assert_int_eq(db_exec(other, "SET SESSION innodb_lock_wait_timeout = 1"),
	                 DB_OK);
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(db_rows_by_hash(db, HASH, 1, &rows), DB_OK);
	keyrows_free(&rows);
	ck_assert_int_eq(db_begin(other), DB_OK);
	ck_assert_int_eq(db_rows_by_hash(other, HASH, 1, &rows), DB_CONFLICT);
	ck_assert_uint_eq(rows.n, 0);
	db_rollback(other);
	/* a reader without FOR UPDATE does not wait */
	ck_assert_int_eq(db_rows_by_hash(other, HASH, 0, &rows), DB_OK);
	ck_assert_uint_eq(rows.n, 1);
	keyrows_free(&rows);
	db_rollback(db);
	db_close(other);
}
END_TEST

/* --- clients ------------------------------------------------------------------- */

START_TEST(a_client_reads_back_whole_and_its_id_is_unique)
{
	struct client_rec c, got, again;
	char secret[CLIENT_SECRET_LEN + 1];
	ck_assert_int_eq(client_new(&c, ROLE_PROVISION, "ses-adduser on ah1",
	                            secret), 0);
	ck_assert_int_eq(db_client_insert(db, &c), DB_OK);
	ck_assert_int_eq(db_client_get(db, c.id, &got), DB_OK);
	ck_assert_uint_eq(got.id, c.id);
	ck_assert_int_eq(got.role, ROLE_PROVISION);
	ck_assert_int_eq(memcmp(got.salt, c.salt, sizeof c.salt), 0);
	ck_assert_int_eq(memcmp(got.hash, c.hash, sizeof c.hash), 0);
	ck_assert_str_eq(got.note, "ses-adduser on ah1");
	ck_assert_int_gt(got.created, 0);
	ck_assert(client_verify(&got, secret, strlen(secret)));
	ck_assert_int_eq(client_new(&again, ROLE_LOGIN, "", secret), 0);
	again.id = c.id;
	ck_assert_int_eq(db_client_insert(db, &again), DB_DUPLICATE);
	ck_assert_int_eq(db_client_get(db, c.id, &got), DB_OK);
	ck_assert_int_eq(got.role, ROLE_PROVISION);
	ck_assert_int_eq(db_client_delete(db, c.id), DB_OK);
	ck_assert_int_eq(db_client_get(db, c.id, &got), DB_NOTFOUND);
	ck_assert_int_eq(db_client_delete(db, c.id), DB_NOTFOUND);
}
END_TEST

START_TEST(clients_are_listed_by_id)
{
	struct client_rec c, *list = (struct client_rec *)1;
	char secret[CLIENT_SECRET_LEN + 1];
	size_t n = 99;
	ck_assert_int_eq(db_client_list(db, &list, &n), DB_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(list);
	static const uint32_t ids[] = { 300, 4294967295u, 1 };
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(client_new(&c, i + 1, "n", secret), 0);
		c.id = ids[i];
		ck_assert_int_eq(db_client_insert(db, &c), DB_OK);
	}
	ck_assert_int_eq(db_client_list(db, &list, &n), DB_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(list[0].id, 1);
	ck_assert_int_eq(list[0].role, ROLE_PROVISION);
	ck_assert_uint_eq(list[1].id, 300);
	ck_assert_int_eq(list[1].role, ROLE_DELIVER);
	ck_assert_uint_eq(list[2].id, 4294967295u);
	ck_assert_int_eq(list[2].role, ROLE_LOGIN);
	free(list);
}
END_TEST

START_TEST(roles_have_names_and_only_those_parse)
{
	ck_assert_str_eq(role_name(ROLE_DELIVER), "deliver");
	ck_assert_str_eq(role_name(ROLE_LOGIN), "login");
	ck_assert_str_eq(role_name(ROLE_PROVISION), "provision");
	ck_assert_str_eq(role_name(0), "unknown");
	ck_assert_str_eq(role_name(4), "unknown");
	ck_assert_str_eq(role_name(-1), "unknown");
	ck_assert_int_eq(role_parse("deliver"), ROLE_DELIVER);
	ck_assert_int_eq(role_parse("login"), ROLE_LOGIN);
	ck_assert_int_eq(role_parse("provision"), ROLE_PROVISION);
	ck_assert_int_eq(role_parse("Login"), 0);
	ck_assert_int_eq(role_parse(""), 0);
	ck_assert_int_eq(role_parse("unknown"), 0);
}
END_TEST

/* --- hostile input ------------------------------------------------------------ */

/* Text that would break out of a quoted SQL string is stored as it is,
 * up to the column's length, and every table is still there. */
START_TEST(hostile_text_is_stored_as_data_never_run)
{
	struct client_rec c, got;
	char secret[CLIENT_SECRET_LEN + 1];
	unsigned v;
	ck_assert_int_eq(client_new(&c, ROLE_LOGIN, HOSTILE, secret), 0);
	ck_assert_int_eq(db_client_insert(db, &c), DB_OK);
	ck_assert_int_eq(db_client_get(db, c.id, &got), DB_OK);
	ck_assert_str_eq(got.note, HOSTILE);
	/* the longest note, all of it multi-octet-free quotes */
	ck_assert_int_eq(client_new(&c, ROLE_LOGIN, NULL, secret), 0);
	memset(c.note, '\'', sizeof c.note - 1);
	c.note[sizeof c.note - 1] = '\0';
	ck_assert_int_eq(db_client_insert(db, &c), DB_OK);
	ck_assert_int_eq(db_client_get(db, c.id, &got), DB_OK);
	ck_assert_uint_eq(strlen(got.note), sizeof c.note - 1);
	ck_assert_str_eq(got.note, c.note);
	ck_assert_int_eq(db_schema_record(db, 4000, HOSTILE), DB_OK);
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM schema_migration "
	                               "WHERE name = '%s'",
	                               "x''); DROP TABLE keyrow; -- \\\\'' \" ` "
	                               "%s \\\\0 ;"), 1);
	ck_assert_int_eq(db_schema_version(db, &v), DB_OK);
	ck_assert_uint_eq(v, 4000);
	/* keyrow, client, login_state, login_throttle, schema_migration */
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM information_schema."
	                               "TABLES WHERE TABLE_SCHEMA = 'pks'"), 5);
}
END_TEST

START_TEST(backup_reads_every_row_and_restore_writes_it_back_exactly)
{
	unsigned char blob[64];
	struct keyrows all, again;
	struct login_rec *logins;
	struct client_rec *clients;
	size_t nlogins, nclients;
	insert(5, HASH);
	insert(3, HASH + 1);
	testdb_sql("UPDATE keyrow SET created_at = '2025-03-30 01:59:59.123456', "
	           "updated_at = '2025-10-26 02:30:00.654321' WHERE row_id = 5");
	ck_assert_int_eq(db_login_set(db, 5, 2, 1765000300), DB_OK);
	struct client_rec c = { .id = 4242, .role = ROLE_LOGIN };
	memset(c.salt, 's', sizeof c.salt);
	memset(c.hash, 'h', sizeof c.hash);
	strcpy(c.note, "login host");
	ck_assert_int_eq(db_client_insert(db, &c), DB_OK);
	/* writes after the snapshot began, before its first read and
	 * between two reads, are not in it: WITH CONSISTENT SNAPSHOT and
	 * REPEATABLE READ */
	struct db *other = testdb_connect();
	ck_assert_int_eq(db_snapshot_begin(db), DB_OK);
	struct keyrow late = row_of(9, HASH, blob, sizeof blob);
	ck_assert_int_eq(db_row_insert(other, &late), DB_OK);
	ck_assert_int_eq(db_rows_all(db, &all), DB_OK);
	late.row = 10;
	ck_assert_int_eq(db_row_insert(other, &late), DB_OK);
	ck_assert_int_eq(db_login_set(other, 9, 1, 0), DB_OK);
	ck_assert_int_eq(db_rows_all(db, &again), DB_OK);
	ck_assert_uint_eq(again.n, 2);
	keyrows_free(&again);
	ck_assert_int_eq(db_login_all(db, &logins, &nlogins), DB_OK);
	ck_assert_int_eq(db_client_list(db, &clients, &nclients), DB_OK);
	db_rollback(db);
	ck_assert_uint_eq(all.n, 2);
	ck_assert_uint_eq(all.row[0].row, 3);
	ck_assert_uint_eq(all.row[1].row, 5);
	ck_assert_uint_eq(nlogins, 1);
	ck_assert(logins[0].row == 5 && logins[0].failures == 2 &&
	          logins[0].locked_until == 1765000300);
	ck_assert_uint_eq(nclients, 1);
	/* into an empty database, as restore does, then read again */
	testdb_sql("DELETE FROM login_state");
	testdb_sql("DELETE FROM keyrow");
	testdb_sql("DELETE FROM client");
	ck_assert_int_eq(db_restore_begin(db), DB_OK);
	for (size_t i = 0; i < all.n; i++)
		ck_assert_int_eq(db_row_restore(db, &all.row[i]), DB_OK);
	ck_assert_int_eq(db_client_restore(db, &clients[0]), DB_OK);
	ck_assert_int_eq(db_login_set(db, 5, 2, 1765000300), DB_OK);
	ck_assert_int_eq(db_commit(db), DB_OK);
	ck_assert_int_eq(db_rows_all(other, &again), DB_OK);
	ck_assert_uint_eq(again.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_same_row(&again.row[i], &all.row[i]);
		ck_assert_int_eq(again.row[i].created, all.row[i].created);
		ck_assert_int_eq(again.row[i].updated, all.row[i].updated);
	}
	ck_assert_int_eq(testdb_scalar("SELECT COUNT(*) FROM keyrow WHERE "
	    "row_id = 5 AND created_at = '2025-03-30 01:59:59.123456' AND "
	    "updated_at = '2025-10-26 02:30:00.654321'"), 1);
	struct client_rec back;
	ck_assert_int_eq(db_client_get(other, 4242, &back), DB_OK);
	ck_assert_int_eq(memcmp(back.hash, c.hash, sizeof c.hash), 0);
	ck_assert_int_eq(back.created, clients[0].created);
	ck_assert_str_eq(back.note, "login host");
	clients[0].role = 9;
	ck_assert_int_eq(db_client_restore(db, &clients[0]), DB_FAIL);
	free(clients);
	free(logins);
	keyrows_free(&all);
	keyrows_free(&again);
	db_close(other);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("db");
	if (!testdb_available())
		return testdb_skip_suite(s);
	TCase *tc = tcase_create("db");
	tcase_add_unchecked_fixture(tc, testdb_start, testdb_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, config_defaults_and_every_key);
	tcase_add_test(tc, config_refuses_bad_lines_and_values);
	tcase_add_test(tc, a_server_that_cannot_be_reached_is_down_not_failed);
	tcase_add_test(tc, a_lazy_handle_connects_at_its_first_use);
	tcase_add_test(tc, a_lost_connection_is_reopened_outside_a_transaction);
	tcase_add_test(tc, a_lost_connection_inside_a_transaction_is_down_and_undone);
	tcase_add_test(tc, the_schema_version_is_zero_before_and_the_latest_after);
	tcase_add_test(tc, migrations_may_run_again_and_a_version_is_recorded_once);
	tcase_add_test(tc, a_row_reads_back_octet_for_octet);
	tcase_add_test(tc, several_rows_under_one_hash_come_back_in_row_order);
	tcase_add_test(tc, an_unknown_row_is_notfound_and_an_unknown_hash_empty);
	tcase_add_test(tc, a_taken_row_id_is_a_duplicate_and_changes_nothing);
	tcase_add_test(tc, update_seal_replaces_the_sealed_values_only);
	tcase_add_test(tc, overlong_sealed_values_are_refused_not_truncated);
	tcase_add_test(tc, a_column_larger_than_pksd_writes_fails_the_read);
	tcase_add_test(tc, delete_removes_the_row_and_its_login_state);
	tcase_add_test(tc, rows_not_under_a_key_are_listed_in_order_and_counted);
	tcase_add_test(tc, login_state_is_none_until_set_and_then_replaced);
	tcase_add_test(tc, login_state_for_a_missing_row_is_refused);
	tcase_add_test(tc, throttle_rows_are_per_hash_and_network_and_replaced_whole);
	tcase_add_test(tc, a_rollback_leaves_nothing_and_a_commit_keeps_all);
	tcase_add_test(tc, a_lock_wait_that_times_out_is_a_conflict);
	tcase_add_test(tc, a_client_reads_back_whole_and_its_id_is_unique);
	tcase_add_test(tc, clients_are_listed_by_id);
	tcase_add_test(tc, roles_have_names_and_only_those_parse);
	tcase_add_test(tc, hostile_text_is_stored_as_data_never_run);
	tcase_add_test(tc, backup_reads_every_row_and_restore_writes_it_back_exactly);
	suite_add_tcase(s, tc);
	return s;
}
