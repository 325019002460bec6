/*
 * db - MariaDB access for the key store. See db.h.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>

#include "db.h"
#include "migrations.h"

enum stmt_id {
	ST_ROWS_BY_HASH, ST_ROWS_BY_HASH_LOCK, ST_ROW_BY_ID, ST_ROW_BY_ID_LOCK,
	ST_ROW_INSERT, ST_ROW_UPDATE, ST_ROW_DELETE, ST_ROWS_NOT_UNDER,
	ST_ROW_COUNT, ST_LOGIN_GET, ST_LOGIN_SET, ST_THROTTLE_GET,
	ST_THROTTLE_SET, ST_THROTTLE_DELETE, ST_CLIENT_GET,
	ST_CLIENT_INSERT, ST_CLIENT_DELETE, ST_CLIENT_LIST, ST_SCHEMA_VERSION,
	ST_SCHEMA_RECORD, ST_TABLE_CRYPT, ST_ROWS_ALL, ST_ROW_RESTORE,
	ST_CLIENT_RESTORE, ST_LOGIN_ALL, ST_COUNT
};

#define ROW_COLUMNS "row_id, addr_hash, key_version, pks_key_id, " \
	"sealed_blob, sealed_drs, CAST(UNIX_TIMESTAMP(created_at) AS SIGNED), " \
	"CAST(UNIX_TIMESTAMP(updated_at) AS SIGNED) FROM keyrow "

static const char *const stmt_sql[ST_COUNT] = {
	[ST_ROWS_BY_HASH] = "SELECT " ROW_COLUMNS
		"WHERE addr_hash = ? ORDER BY row_id",
	[ST_ROWS_BY_HASH_LOCK] = "SELECT " ROW_COLUMNS
		"WHERE addr_hash = ? ORDER BY row_id FOR UPDATE",
	[ST_ROW_BY_ID] = "SELECT " ROW_COLUMNS "WHERE row_id = ?",
	[ST_ROW_BY_ID_LOCK] = "SELECT " ROW_COLUMNS "WHERE row_id = ? FOR UPDATE",
	[ST_ROW_INSERT] = "INSERT INTO keyrow (row_id, addr_hash, key_version, "
		"pks_key_id, sealed_blob, sealed_drs) VALUES (?, ?, ?, ?, ?, ?)",
	[ST_ROW_UPDATE] = "UPDATE keyrow SET pks_key_id = ?, sealed_blob = ?, "
		"sealed_drs = ? WHERE row_id = ?",
	[ST_ROW_DELETE] = "DELETE FROM keyrow WHERE row_id = ?",
	[ST_ROWS_NOT_UNDER] = "SELECT " ROW_COLUMNS
		"WHERE pks_key_id <> ? ORDER BY row_id LIMIT ?",
	[ST_ROW_COUNT] = "SELECT COUNT(*), COALESCE(SUM(pks_key_id <> ?), 0) "
		"FROM keyrow",
	[ST_LOGIN_GET] = "SELECT failures, locked_until FROM login_state "
		"WHERE row_id = ?",
	[ST_LOGIN_SET] = "INSERT INTO login_state (row_id, failures, "
		"locked_until) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE "
		"failures = VALUES(failures), locked_until = VALUES(locked_until)",
	/* a locking read: the latest committed row, whatever the snapshot */
	[ST_THROTTLE_GET] = "SELECT failures, not_before, last_failure, "
		"last_success FROM login_throttle WHERE addr_hash = ? AND "
		"network = ? FOR UPDATE",
	[ST_THROTTLE_SET] = "INSERT INTO login_throttle (addr_hash, network, "
		"failures, not_before, last_failure, last_success) VALUES "
		"(?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
		"failures = VALUES(failures), not_before = VALUES(not_before), "
		"last_failure = VALUES(last_failure), "
		"last_success = VALUES(last_success)",
	[ST_THROTTLE_DELETE] = "DELETE FROM login_throttle WHERE addr_hash = ?",
	[ST_CLIENT_GET] = "SELECT client_id, role + 0, salt, secret_hash, note, "
		"CAST(UNIX_TIMESTAMP(created_at) AS SIGNED) FROM client "
		"WHERE client_id = ?",
	[ST_CLIENT_INSERT] = "INSERT INTO client (client_id, role, salt, "
		"secret_hash, note) VALUES (?, ?, ?, ?, ?)",
	[ST_CLIENT_DELETE] = "DELETE FROM client WHERE client_id = ?",
	[ST_CLIENT_LIST] = "SELECT client_id, role + 0, salt, secret_hash, note, "
		"CAST(UNIX_TIMESTAMP(created_at) AS SIGNED) FROM client "
		"ORDER BY client_id",
	[ST_SCHEMA_VERSION] = "SELECT COALESCE(MAX(version), 0) "
		"FROM schema_migration",
	[ST_SCHEMA_RECORD] = "INSERT INTO schema_migration (version, name) "
		"VALUES (?, ?)",
	/* A tablespace without encryption data has no row: not encrypted. */
	[ST_TABLE_CRYPT] = "SELECT LEFT(t.TABLE_NAME, 64), "
		"CAST(COALESCE(e.ENCRYPTION_SCHEME, 0) AS UNSIGNED), "
		"CAST(COALESCE(e.CURRENT_KEY_ID, 0) AS UNSIGNED), "
		"LEFT(COALESCE(t.CREATE_OPTIONS, ''), 200) "
		"FROM information_schema.TABLES t "
		"LEFT JOIN information_schema.INNODB_TABLESPACES_ENCRYPTION e "
		"ON e.NAME = CONCAT(t.TABLE_SCHEMA, '/', t.TABLE_NAME) "
		"WHERE t.TABLE_SCHEMA = DATABASE() ORDER BY t.TABLE_NAME",
	/* Backup and restore: times in microseconds, exact, through a
	 * session in UTC (db_snapshot_begin, db_restore_begin), where
	 * FROM_UNIXTIME(0) is the epoch. */
	[ST_ROWS_ALL] = "SELECT row_id, addr_hash, key_version, pks_key_id, "
		"sealed_blob, sealed_drs, "
		"CAST(UNIX_TIMESTAMP(created_at) * 1000000 AS SIGNED), "
		"CAST(UNIX_TIMESTAMP(updated_at) * 1000000 AS SIGNED) "
		"FROM keyrow ORDER BY row_id",
	[ST_ROW_RESTORE] = "INSERT INTO keyrow (row_id, addr_hash, key_version, "
		"pks_key_id, sealed_blob, sealed_drs, created_at, updated_at) "
		"VALUES (?, ?, ?, ?, ?, ?, "
		"FROM_UNIXTIME(0) + INTERVAL ? MICROSECOND, "
		"FROM_UNIXTIME(0) + INTERVAL ? MICROSECOND)",
	[ST_CLIENT_RESTORE] = "INSERT INTO client (client_id, role, salt, "
		"secret_hash, note, created_at) VALUES (?, ?, ?, ?, ?, "
		"FROM_UNIXTIME(0) + INTERVAL ? SECOND)",
	[ST_LOGIN_ALL] = "SELECT row_id, failures, locked_until FROM login_state "
		"ORDER BY row_id",
};

static const char schema_table[] =
	"CREATE TABLE IF NOT EXISTS schema_migration ("
	"version INT UNSIGNED NOT NULL PRIMARY KEY, "
	"name VARCHAR(100) NOT NULL, "
	"applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB";

struct db {
	struct db_config cfg;
	MYSQL *conn;
	MYSQL_STMT *stmt[ST_COUNT];
	int in_transaction;
	unsigned errnum;        /* the last server or client error number */
	char error[256];
};

/* ---- configuration ---------------------------------------------------- */

static int set_field(struct db_config *cfg, const char *key, const char *val)
{
	struct { const char *key; char *dst; size_t size; } text[] = {
		{ "socket", cfg->socket, sizeof cfg->socket },
		{ "host", cfg->host, sizeof cfg->host },
		{ "database", cfg->database, sizeof cfg->database },
		{ "user", cfg->user, sizeof cfg->user },
	};
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
		if (strcmp(key, text[i].key) == 0) {
			if (strlen(val) >= text[i].size)
				return -1;
			strcpy(text[i].dst, val);
			return 0;
		}
	}
	char *end;
	unsigned long n = strtoul(val, &end, 10);
	if (*val < '0' || *val > '9' || *end)
		return -1;
	if (strcmp(key, "port") == 0 && n > 0 && n < 65536)
		cfg->port = (unsigned)n;
	else if (strcmp(key, "timeout") == 0 && n > 0 && n <= 3600)
		cfg->timeout = (unsigned)n;
	else
		return -1;
	return 0;
}

int db_config_load(struct db_config *cfg, struct control *ctl, char *why,
                   size_t whylen)
{
	struct sbuf lines;
	size_t count;
	memset(cfg, 0, sizeof *cfg);
	strcpy(cfg->database, "pks");
	cfg->timeout = 5;
	sbuf_init(&lines, CONTROL_FILE_MAX);
	int r = control_readfile(ctl, "pksdb", &lines, &count);
	if (r < 0)
		snprintf(why, whylen, "cannot read control/pksdb: %s",
		         strerror(errno));
	for (const char *l = r == 1 ? control_nextline(&lines, NULL) : NULL; l;
	     l = control_nextline(&lines, l)) {
		char key[32];
		const char *eq = strchr(l, '=');
		size_t klen = eq ? (size_t)(eq - l) : 0;
		if (!eq || klen == 0 || klen >= sizeof key) {
			snprintf(why, whylen, "control/pksdb: bad line: %.60s", l);
			r = -1;
			break;
		}
		memcpy(key, l, klen);
		key[klen] = '\0';
		if (set_field(cfg, key, eq + 1) < 0) {
			snprintf(why, whylen, "control/pksdb: bad value for %s", key);
			r = -1;
			break;
		}
	}
	sbuf_free(&lines);
	return r < 0 ? -1 : 0;
}

/* ---- connection --------------------------------------------------------- */

static void set_error(struct db *db, const char *what)
{
	snprintf(db->error, sizeof db->error, "%s: %s", what,
	         db->conn ? mysql_error(db->conn) : "no connection");
}

static void drop_statements(struct db *db)
{
	for (int i = 0; i < ST_COUNT; i++) {
		if (db->stmt[i])
			mysql_stmt_close(db->stmt[i]);
		db->stmt[i] = NULL;
	}
}

static void disconnect(struct db *db)
{
	drop_statements(db);
	if (db->conn)
		mysql_close(db->conn);
	db->conn = NULL;
	db->in_transaction = 0;
}

static int reconnect(struct db *db)
{
	const struct db_config *c = &db->cfg;
	char user[81];
	disconnect(db);
	snprintf(user, sizeof user, "%s", c->user);
	if (!*user) {
		struct passwd *pw = getpwuid(geteuid());
		if (!pw || strlen(pw->pw_name) >= sizeof user) {
			snprintf(db->error, sizeof db->error, "no user name for uid");
			return DB_FAIL;
		}
		strcpy(user, pw->pw_name);
	}
	db->conn = mysql_init(NULL);
	if (!db->conn) {
		snprintf(db->error, sizeof db->error, "mysql_init: out of memory");
		return DB_FAIL;
	}
	unsigned t = c->timeout;
	my_bool off = 0;
	mysql_options(db->conn, MYSQL_OPT_CONNECT_TIMEOUT, &t);
	mysql_options(db->conn, MYSQL_OPT_READ_TIMEOUT, &t);
	mysql_options(db->conn, MYSQL_OPT_WRITE_TIMEOUT, &t);
	mysql_options(db->conn, MYSQL_OPT_RECONNECT, &off);
	if (!mysql_real_connect(db->conn, *c->socket ? NULL : c->host, user, NULL,
	                        *c->database ? c->database : NULL, c->port,
	                        *c->socket ? c->socket : NULL, 0)) {
		set_error(db, "connect");
		mysql_close(db->conn);
		db->conn = NULL;
		return DB_DOWN;
	}
	return DB_OK;
}

struct db *db_connect(const struct db_config *cfg, char *why, size_t whylen)
{
	struct db *db = calloc(1, sizeof *db);
	if (!db) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	db->cfg = *cfg;
	if (reconnect(db) != DB_OK) {
		snprintf(why, whylen, "%s", db->error);
		db_close(db);
		return NULL;
	}
	return db;
}

struct db *db_lazy(const struct db_config *cfg)
{
	struct db *db = calloc(1, sizeof *db);
	if (db)
		db->cfg = *cfg;
	return db;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	disconnect(db);
	free(db);
}

const char *db_error(const struct db *db)
{
	return db->error;
}

/* Errors that mean the connection is gone, not the statement wrong. */
static int connection_lost(unsigned err)
{
	return err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST ||
	       err == CR_CONNECTION_ERROR || err == CR_CONN_HOST_ERROR ||
	       err == ER_UNKNOWN_STMT_HANDLER || err == ER_CONNECTION_KILLED ||
	       err == ER_SERVER_SHUTDOWN || err == CR_COMMANDS_OUT_OF_SYNC;
}

int db_ping(struct db *db)
{
	if (db->conn && mysql_ping(db->conn) == 0)
		return DB_OK;
	return reconnect(db);
}

/* ---- statements ------------------------------------------------------ */

static MYSQL_STMT *statement(struct db *db, enum stmt_id id)
{
	if (!db->conn && reconnect(db) != DB_OK)
		return NULL;
	if (db->stmt[id])
		return db->stmt[id];
	MYSQL_STMT *st = mysql_stmt_init(db->conn);
	if (!st)
		return NULL;
	if (mysql_stmt_prepare(st, stmt_sql[id], strlen(stmt_sql[id]))) {
		db->errnum = mysql_stmt_errno(st);
		snprintf(db->error, sizeof db->error, "prepare: %s",
		         mysql_stmt_error(st));
		mysql_stmt_close(st);
		return NULL;
	}
	db->stmt[id] = st;
	return st;
}

/* Executes statement id with its parameters bound (and results bound and
 * stored if results is not NULL). On a lost connection outside a
 * transaction, reconnects, prepares again and retries once. */
static int execute(struct db *db, enum stmt_id id, MYSQL_BIND *params,
                   MYSQL_BIND *results)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		db->errnum = 0;
		MYSQL_STMT *st = statement(db, id);
		if (!st) {
			if (db->conn && !connection_lost(db->errnum))
				return DB_FAIL;
		} else if ((params && mysql_stmt_bind_param(st, params)) ||
		           mysql_stmt_execute(st) ||
		           (results && (mysql_stmt_bind_result(st, results) ||
		                        mysql_stmt_store_result(st)))) {
			db->errnum = mysql_stmt_errno(st);
			snprintf(db->error, sizeof db->error, "%s",
			         mysql_stmt_error(st));
			if (db->errnum == ER_DUP_ENTRY)
				return DB_DUPLICATE;
			if (db->errnum == ER_LOCK_DEADLOCK ||
			    db->errnum == ER_LOCK_WAIT_TIMEOUT)
				return DB_CONFLICT;
			if (!connection_lost(db->errnum))
				return DB_FAIL;
		} else {
			return DB_OK;
		}
		/* the connection is gone */
		int in_tx = db->in_transaction;
		disconnect(db);
		if (in_tx || attempt == 1 || reconnect(db) != DB_OK)
			return DB_DOWN;
	}
	return DB_DOWN;
}

static void bind_u64(MYSQL_BIND *b, uint64_t *v)
{
	memset(b, 0, sizeof *b);
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
	b->is_unsigned = 1;
}

static void bind_i64(MYSQL_BIND *b, int64_t *v)
{
	memset(b, 0, sizeof *b);
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
}

static void bind_u32(MYSQL_BIND *b, uint32_t *v)
{
	memset(b, 0, sizeof *b);
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = v;
	b->is_unsigned = 1;
}

static void bind_bytes(MYSQL_BIND *b, enum enum_field_types type, void *buf,
                       size_t size, unsigned long *len)
{
	memset(b, 0, sizeof *b);
	b->buffer_type = type;
	b->buffer = buf;
	b->buffer_length = size;
	b->length = len;
}

static int simple(struct db *db, const char *sql, const char *what)
{
	if (!db->conn && reconnect(db) != DB_OK)
		return DB_DOWN;
	if (mysql_query(db->conn, sql) == 0)
		return DB_OK;
	set_error(db, what);
	db->errnum = mysql_errno(db->conn);
	if (connection_lost(db->errnum)) {
		disconnect(db);
		return DB_DOWN;
	}
	return DB_FAIL;
}

int db_exec(struct db *db, const char *sql)
{
	return simple(db, sql, "schema");
}

int db_begin(struct db *db)
{
	/* a fresh transaction may reconnect first: nothing is lost yet */
	if (!db->conn && reconnect(db) != DB_OK)
		return DB_DOWN;
	int r = simple(db, "START TRANSACTION", "begin");
	if (r == DB_DOWN && reconnect(db) == DB_OK)
		r = simple(db, "START TRANSACTION", "begin");
	db->in_transaction = r == DB_OK;
	return r;
}

int db_commit(struct db *db)
{
	int r = simple(db, "COMMIT", "commit");
	db->in_transaction = 0;
	return r;
}

int db_snapshot_begin(struct db *db)
{
	int r = simple(db, "SET time_zone = '+00:00'", "time zone");
	if (r == DB_OK)
		r = simple(db, "SET SESSION TRANSACTION ISOLATION LEVEL "
		           "REPEATABLE READ", "isolation level");
	if (r == DB_OK)
		r = simple(db, "START TRANSACTION WITH CONSISTENT SNAPSHOT, "
		           "READ ONLY", "begin snapshot");
	db->in_transaction = r == DB_OK;
	return r;
}

int db_restore_begin(struct db *db)
{
	int r = simple(db, "SET time_zone = '+00:00'", "time zone");
	return r == DB_OK ? db_begin(db) : r;
}

void db_rollback(struct db *db)
{
	if (db->conn)
		simple(db, "ROLLBACK", "rollback");
	db->in_transaction = 0;
}

/* ---- key rows --------------------------------------------------------- */

void keyrows_free(struct keyrows *rows)
{
	for (size_t i = 0; i < rows->n; i++)
		free(rows->row[i].blob);
	free(rows->row);
	rows->row = NULL;
	rows->n = 0;
}

/* Runs a SELECT of ROW_COLUMNS and collects every row. */
static int fetch_rows(struct db *db, enum stmt_id id, MYSQL_BIND *params,
                      struct keyrows *out)
{
	struct keyrow r;
	unsigned long bloblen = 0, drslen = 0;
	unsigned char *blob = malloc(KEYROW_BLOB_MAX);
	MYSQL_BIND res[8];
	out->n = 0;
	out->row = NULL;
	if (!blob)
		return DB_FAIL;
	memset(&r, 0, sizeof r);
	bind_u64(&res[0], &r.row);
	bind_u32(&res[1], &r.hash);
	bind_u32(&res[2], &r.version);
	bind_u32(&res[3], &r.pks_key_id);
	bind_bytes(&res[4], MYSQL_TYPE_BLOB, blob, KEYROW_BLOB_MAX, &bloblen);
	bind_bytes(&res[5], MYSQL_TYPE_BLOB, r.drs, sizeof r.drs, &drslen);
	bind_i64(&res[6], &r.created);
	bind_i64(&res[7], &r.updated);
	int rc = execute(db, id, params, res);
	MYSQL_STMT *st = db->stmt[id];
	while (rc == DB_OK) {
		int f = mysql_stmt_fetch(st);
		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1 || f == MYSQL_DATA_TRUNCATED) {
			/* a column larger than any row pksd writes: tampered */
			snprintf(db->error, sizeof db->error,
			         "row %llu: column too large or unreadable",
			         (unsigned long long)r.row);
			rc = DB_FAIL;
			break;
		}
		struct keyrow *grown = realloc(out->row,
		                               (out->n + 1) * sizeof *out->row);
		if (!grown) {
			rc = DB_FAIL;
			break;
		}
		out->row = grown;
		struct keyrow *dst = &out->row[out->n];
		*dst = r;
		dst->drslen = drslen;
		dst->bloblen = bloblen;
		dst->blob = malloc(bloblen ? bloblen : 1);
		if (!dst->blob) {
			rc = DB_FAIL;
			break;
		}
		memcpy(dst->blob, blob, bloblen);
		out->n++;
	}
	if (db->stmt[id])
		mysql_stmt_free_result(db->stmt[id]);
	free(blob);
	if (rc != DB_OK)
		keyrows_free(out);
	return rc;
}

int db_rows_by_hash(struct db *db, uint32_t hash, int for_update,
                    struct keyrows *out)
{
	MYSQL_BIND p[1];
	bind_u32(&p[0], &hash);
	return fetch_rows(db, for_update ? ST_ROWS_BY_HASH_LOCK : ST_ROWS_BY_HASH,
	                  p, out);
}

int db_row_by_id(struct db *db, uint64_t row, int for_update,
                 struct keyrows *out)
{
	MYSQL_BIND p[1];
	bind_u64(&p[0], &row);
	int r = fetch_rows(db, for_update ? ST_ROW_BY_ID_LOCK : ST_ROW_BY_ID, p,
	                   out);
	return r == DB_OK && out->n == 0 ? DB_NOTFOUND : r;
}

/* Inserts r, with its times (microseconds) when restoring. */
static int row_insert(struct db *db, const struct keyrow *r, int restore)
{
	struct keyrow v = *r;
	unsigned long bloblen = r->bloblen, drslen = r->drslen;
	MYSQL_BIND p[8];
	bind_u64(&p[0], &v.row);
	bind_u32(&p[1], &v.hash);
	bind_u32(&p[2], &v.version);
	bind_u32(&p[3], &v.pks_key_id);
	bind_bytes(&p[4], MYSQL_TYPE_BLOB, v.blob, bloblen, &bloblen);
	bind_bytes(&p[5], MYSQL_TYPE_BLOB, v.drs, drslen, &drslen);
	bind_i64(&p[6], &v.created);
	bind_i64(&p[7], &v.updated);
	return execute(db, restore ? ST_ROW_RESTORE : ST_ROW_INSERT, p, NULL);
}

int db_row_insert(struct db *db, const struct keyrow *r)
{
	return row_insert(db, r, 0);
}

int db_row_restore(struct db *db, const struct keyrow *r)
{
	return row_insert(db, r, 1);
}

int db_rows_all(struct db *db, struct keyrows *out)
{
	return fetch_rows(db, ST_ROWS_ALL, NULL, out);
}

/* Rows changed by the last statement: 0 means NOTFOUND. */
static int affected(struct db *db, enum stmt_id id, int rc)
{
	if (rc == DB_OK && mysql_stmt_affected_rows(db->stmt[id]) == 0)
		return DB_NOTFOUND;
	return rc;
}

int db_row_update_seal(struct db *db, const struct keyrow *r)
{
	struct keyrow v = *r;
	unsigned long bloblen = r->bloblen, drslen = r->drslen;
	MYSQL_BIND p[4];
	bind_u32(&p[0], &v.pks_key_id);
	bind_bytes(&p[1], MYSQL_TYPE_BLOB, v.blob, bloblen, &bloblen);
	bind_bytes(&p[2], MYSQL_TYPE_BLOB, v.drs, drslen, &drslen);
	bind_u64(&p[3], &v.row);
	return affected(db, ST_ROW_UPDATE,
	                execute(db, ST_ROW_UPDATE, p, NULL));
}

int db_row_delete(struct db *db, uint64_t row)
{
	MYSQL_BIND p[1];
	bind_u64(&p[0], &row);
	return affected(db, ST_ROW_DELETE, execute(db, ST_ROW_DELETE, p, NULL));
}

int db_rows_not_under(struct db *db, uint32_t key_id, unsigned limit,
                      struct keyrows *out)
{
	uint32_t lim = limit;
	MYSQL_BIND p[2];
	bind_u32(&p[0], &key_id);
	bind_u32(&p[1], &lim);
	return fetch_rows(db, ST_ROWS_NOT_UNDER, p, out);
}

/* Runs a statement whose one result row is read into res; NOTFOUND if
 * it has none. */
static int fetch_one(struct db *db, enum stmt_id id, MYSQL_BIND *params,
                     MYSQL_BIND *res)
{
	int rc = execute(db, id, params, res);
	if (rc != DB_OK)
		return rc;
	int f = mysql_stmt_fetch(db->stmt[id]);
	mysql_stmt_free_result(db->stmt[id]);
	if (f == MYSQL_NO_DATA)
		return DB_NOTFOUND;
	return f == 0 ? DB_OK : DB_FAIL;
}

int db_row_count(struct db *db, uint64_t *rows, uint64_t *not_under,
                 uint32_t key_id)
{
	MYSQL_BIND p[1], res[2];
	bind_u32(&p[0], &key_id);
	bind_u64(&res[0], rows);
	bind_u64(&res[1], not_under);
	return fetch_one(db, ST_ROW_COUNT, p, res);
}

/* ---- login state -------------------------------------------------------- */

int db_login_get(struct db *db, uint64_t row, unsigned *failures,
                 int64_t *locked_until)
{
	uint32_t f = 0;
	MYSQL_BIND p[1], res[2];
	bind_u64(&p[0], &row);
	bind_u32(&res[0], &f);
	bind_i64(&res[1], locked_until);
	*locked_until = 0;
	int rc = fetch_one(db, ST_LOGIN_GET, p, res);
	*failures = rc == DB_OK ? f : 0;
	if (rc == DB_NOTFOUND)
		*locked_until = 0;
	return rc == DB_NOTFOUND ? DB_OK : rc;
}

int db_login_set(struct db *db, uint64_t row, unsigned failures,
                 int64_t locked_until)
{
	uint32_t f = failures;
	MYSQL_BIND p[3];
	bind_u64(&p[0], &row);
	bind_u32(&p[1], &f);
	bind_i64(&p[2], &locked_until);
	return execute(db, ST_LOGIN_SET, p, NULL);
}

int db_login_all(struct db *db, struct login_rec **out, size_t *n)
{
	struct login_rec l;
	MYSQL_BIND res[3];
	*out = NULL;
	*n = 0;
	memset(&l, 0, sizeof l);
	bind_u64(&res[0], &l.row);
	bind_u32(&res[1], &l.failures);
	bind_i64(&res[2], &l.locked_until);
	int rc = execute(db, ST_LOGIN_ALL, NULL, res);
	while (rc == DB_OK) {
		int f = mysql_stmt_fetch(db->stmt[ST_LOGIN_ALL]);
		if (f == MYSQL_NO_DATA)
			break;
		struct login_rec *grown = f == 0 ? realloc(*out, (*n + 1) *
		                                           sizeof **out) : NULL;
		if (!grown) {
			rc = DB_FAIL;
			break;
		}
		*out = grown;
		(*out)[(*n)++] = l;
	}
	if (db->stmt[ST_LOGIN_ALL])
		mysql_stmt_free_result(db->stmt[ST_LOGIN_ALL]);
	if (rc != DB_OK) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* ---- login throttling ----------------------------------------------- */

int db_throttle_get(struct db *db, uint32_t hash, const char *network,
                    struct throttle_state *out)
{
	char net[THROTTLE_NET_MAX];
	unsigned long netlen = strlen(network);
	uint32_t f = 0;
	MYSQL_BIND p[2], res[4];
	if (netlen >= sizeof net)
		return DB_FAIL;
	memcpy(net, network, netlen + 1);
	memset(out, 0, sizeof *out);
	bind_u32(&p[0], &hash);
	bind_bytes(&p[1], MYSQL_TYPE_STRING, net, netlen, &netlen);
	bind_u32(&res[0], &f);
	bind_i64(&res[1], &out->not_before);
	bind_i64(&res[2], &out->last_failure);
	bind_i64(&res[3], &out->last_success);
	int rc = fetch_one(db, ST_THROTTLE_GET, p, res);
	if (rc == DB_NOTFOUND) {
		memset(out, 0, sizeof *out);
		return DB_OK;
	}
	out->failures = f;
	return rc;
}

int db_throttle_set(struct db *db, uint32_t hash, const char *network,
                    const struct throttle_state *in)
{
	char net[THROTTLE_NET_MAX];
	unsigned long netlen = strlen(network);
	struct throttle_state v = *in;
	uint32_t f = v.failures;
	MYSQL_BIND p[6];
	if (netlen >= sizeof net)
		return DB_FAIL;
	memcpy(net, network, netlen + 1);
	bind_u32(&p[0], &hash);
	bind_bytes(&p[1], MYSQL_TYPE_STRING, net, netlen, &netlen);
	bind_u32(&p[2], &f);
	bind_i64(&p[3], &v.not_before);
	bind_i64(&p[4], &v.last_failure);
	bind_i64(&p[5], &v.last_success);
	return execute(db, ST_THROTTLE_SET, p, NULL);
}

int db_throttle_delete(struct db *db, uint32_t hash)
{
	MYSQL_BIND p[1];
	bind_u32(&p[0], &hash);
	return execute(db, ST_THROTTLE_DELETE, p, NULL);
}

/* ---- clients ---------------------------------------------------------- */

static const char *const roles[] = { NULL, "deliver", "login", "provision" };

const char *role_name(int role)
{
	return role >= ROLE_DELIVER && role <= ROLE_PROVISION ? roles[role]
	                                                       : "unknown";
}

int role_parse(const char *name)
{
	for (int i = ROLE_DELIVER; i <= ROLE_PROVISION; i++)
		if (strcmp(name, roles[i]) == 0)
			return i;
	return 0;
}

/* Binds the result columns of a client SELECT to c. */
static void bind_client(MYSQL_BIND *res, struct client_rec *c,
                        unsigned long *lens)
{
	bind_u32(&res[0], &c->id);
	memset(&res[1], 0, sizeof res[1]);
	res[1].buffer_type = MYSQL_TYPE_LONG;
	res[1].buffer = &c->role;
	bind_bytes(&res[2], MYSQL_TYPE_BLOB, c->salt, sizeof c->salt, &lens[0]);
	bind_bytes(&res[3], MYSQL_TYPE_BLOB, c->hash, sizeof c->hash, &lens[1]);
	bind_bytes(&res[4], MYSQL_TYPE_STRING, c->note, sizeof c->note - 1,
	           &lens[2]);
	bind_i64(&res[5], &c->created);
}

int db_client_get(struct db *db, uint32_t id, struct client_rec *out)
{
	unsigned long lens[3] = { 0 };
	MYSQL_BIND p[1], res[6];
	memset(out, 0, sizeof *out);
	bind_u32(&p[0], &id);
	bind_client(res, out, lens);
	int rc = fetch_one(db, ST_CLIENT_GET, p, res);
	out->note[lens[2] < sizeof out->note ? lens[2] : 0] = '\0';
	if (rc == DB_OK && (lens[0] != sizeof out->salt ||
	                    lens[1] != sizeof out->hash))
		rc = DB_FAIL;
	return rc;
}

/* Inserts c, with its creation time when restoring. */
static int client_insert(struct db *db, const struct client_rec *c,
                         int restore)
{
	struct client_rec v = *c;
	char role[16];
	unsigned long rolelen, saltlen = sizeof v.salt, hashlen = sizeof v.hash;
	unsigned long notelen = strlen(v.note);
	snprintf(role, sizeof role, "%s", role_name(c->role));
	rolelen = strlen(role);
	MYSQL_BIND p[6];
	bind_u32(&p[0], &v.id);
	bind_bytes(&p[1], MYSQL_TYPE_STRING, role, rolelen, &rolelen);
	bind_bytes(&p[2], MYSQL_TYPE_BLOB, v.salt, saltlen, &saltlen);
	bind_bytes(&p[3], MYSQL_TYPE_BLOB, v.hash, hashlen, &hashlen);
	bind_bytes(&p[4], MYSQL_TYPE_STRING, v.note, notelen, &notelen);
	bind_i64(&p[5], &v.created);
	return execute(db, restore ? ST_CLIENT_RESTORE : ST_CLIENT_INSERT, p,
	               NULL);
}

int db_client_insert(struct db *db, const struct client_rec *c)
{
	return client_insert(db, c, 0);
}

int db_client_restore(struct db *db, const struct client_rec *c)
{
	if (c->role < ROLE_DELIVER || c->role > ROLE_PROVISION)
		return DB_FAIL;
	return client_insert(db, c, 1);
}

int db_client_delete(struct db *db, uint32_t id)
{
	MYSQL_BIND p[1];
	bind_u32(&p[0], &id);
	return affected(db, ST_CLIENT_DELETE,
	                execute(db, ST_CLIENT_DELETE, p, NULL));
}

int db_client_list(struct db *db, struct client_rec **out, size_t *n)
{
	struct client_rec c;
	unsigned long lens[3] = { 0 };
	MYSQL_BIND res[6];
	*out = NULL;
	*n = 0;
	memset(&c, 0, sizeof c);
	bind_client(res, &c, lens);
	int rc = execute(db, ST_CLIENT_LIST, NULL, res);
	while (rc == DB_OK) {
		int f = mysql_stmt_fetch(db->stmt[ST_CLIENT_LIST]);
		if (f == MYSQL_NO_DATA)
			break;
		struct client_rec *grown = f == 0 ? realloc(*out, (*n + 1) *
		                                            sizeof **out) : NULL;
		if (!grown) {
			rc = DB_FAIL;
			break;
		}
		*out = grown;
		c.note[lens[2] < sizeof c.note ? lens[2] : 0] = '\0';
		(*out)[(*n)++] = c;
	}
	if (db->stmt[ST_CLIENT_LIST])
		mysql_stmt_free_result(db->stmt[ST_CLIENT_LIST]);
	if (rc != DB_OK) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* ---- schema ---------------------------------------------------------- */

unsigned schema_version_expected(void)
{
	unsigned v = 0;
	for (const struct migration *m = migrations; m->version; m++)
		v = m->version;
	return v;
}

int db_schema_init(struct db *db)
{
	return simple(db, schema_table, "schema table");
}

int db_schema_version(struct db *db, unsigned *version)
{
	uint32_t v = 0;
	MYSQL_BIND res[1];
	*version = 0;
	bind_u32(&res[0], &v);
	int rc = fetch_one(db, ST_SCHEMA_VERSION, NULL, res);
	if (rc == DB_FAIL && db->errnum == ER_NO_SUCH_TABLE)
		return DB_OK; /* nothing applied yet */
	*version = v;
	return rc == DB_NOTFOUND ? DB_OK : rc;
}

int db_schema_record(struct db *db, unsigned version, const char *name)
{
	uint32_t v = version;
	char text[100];
	snprintf(text, sizeof text, "%s", name);
	unsigned long len = strlen(text);
	MYSQL_BIND p[2];
	bind_u32(&p[0], &v);
	bind_bytes(&p[1], MYSQL_TYPE_STRING, text, len, &len);
	return execute(db, ST_SCHEMA_RECORD, p, NULL);
}

/* ---- encryption at rest ------------------------------------------------- */

int db_table_crypt(struct db *db, struct table_crypt **out, size_t *n)
{
	struct table_crypt t;
	uint64_t scheme = 0, key_id = 0;
	unsigned long lens[2] = { 0 };
	MYSQL_BIND res[4];
	*out = NULL;
	*n = 0;
	memset(&t, 0, sizeof t);
	bind_bytes(&res[0], MYSQL_TYPE_STRING, t.name, sizeof t.name - 1,
	           &lens[0]);
	bind_u64(&res[1], &scheme);
	bind_u64(&res[2], &key_id);
	bind_bytes(&res[3], MYSQL_TYPE_STRING, t.options, sizeof t.options - 1,
	           &lens[1]);
	int rc = execute(db, ST_TABLE_CRYPT, NULL, res);
	while (rc == DB_OK) {
		int f = mysql_stmt_fetch(db->stmt[ST_TABLE_CRYPT]);
		if (f == MYSQL_NO_DATA)
			break;
		/* a truncated name or options string ends up empty below */
		struct table_crypt *grown = f == 0 || f == MYSQL_DATA_TRUNCATED ?
		        realloc(*out, (*n + 1) * sizeof **out) : NULL;
		if (!grown) {
			rc = DB_FAIL;
			break;
		}
		*out = grown;
		t.name[lens[0] < sizeof t.name ? lens[0] : 0] = '\0';
		t.options[lens[1] < sizeof t.options ? lens[1] : 0] = '\0';
		t.encrypted = scheme != 0;
		t.key_id = (uint32_t)key_id;
		(*out)[(*n)++] = t;
	}
	if (db->stmt[ST_TABLE_CRYPT])
		mysql_stmt_free_result(db->stmt[ST_TABLE_CRYPT]);
	if (rc != DB_OK) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int db_table_encrypted(struct db *db, const char *table, int *encrypted)
{
	struct table_crypt *t;
	size_t n;
	*encrypted = 0;
	int rc = db_table_crypt(db, &t, &n);
	if (rc != DB_OK)
		return rc;
	rc = DB_NOTFOUND;
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, table) == 0) {
			*encrypted = t[i].encrypted;
			rc = DB_OK;
		}
	free(t);
	return rc;
}
