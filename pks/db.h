/*
 * db - the key store's MariaDB access: prepared statements only, through
 * MariaDB Connector/C. A lost connection (errors 2006, 2013) is reopened
 * and every statement prepared again (also after 1243, an unknown
 * statement handle); a statement outside a transaction is then retried
 * once. Inside a transaction the caller gets DB_DOWN and starts over.
 */
#ifndef SQ_DB_H
#define SQ_DB_H

#include <stddef.h>
#include <stdint.h>

#include "util/control.h"
#include "rowseal.h"
#include "throttle.h"

enum db_result {
	DB_OK = 0,
	DB_NOTFOUND = 1,
	DB_DUPLICATE = 2,
	DB_CONFLICT = 3,        /* deadlock or lock wait: the server rolled the
	                         * transaction back; run it again */
	DB_DOWN = -1,   /* no connection: try again later (HTTP 503) */
	DB_FAIL = -2    /* anything else (HTTP 500) */
};

struct db_config {
	char socket[256];       /* unix socket path; "" uses host/port */
	char host[256];
	unsigned port;
	char database[65];
	char user[81];          /* "" is this process's user (unix_socket) */
	unsigned timeout;       /* seconds, for connect, read and write */
};

/* control/pksdb, key=value lines: socket, host, port, database, user,
 * timeout. Defaults: database "pks", timeout 5, the system socket. */
int db_config_load(struct db_config *cfg, struct control *ctl, char *why,
                   size_t whylen);

#define KEYROW_BLOB_MAX 16384

struct keyrow {
	uint64_t row;
	uint32_t hash;
	uint32_t version;
	uint32_t pks_key_id;
	unsigned char *blob;
	size_t bloblen;
	unsigned char drs[128];
	size_t drslen;
	int64_t created, updated;       /* Unix seconds (microseconds from
	                                 * db_rows_all, to db_row_restore) */
};

struct keyrows {
	size_t n;
	struct keyrow *row;
};
void keyrows_free(struct keyrows *rows);

enum client_role { ROLE_DELIVER = 1, ROLE_LOGIN = 2, ROLE_PROVISION = 3 };
const char *role_name(int role);
int role_parse(const char *name);       /* 0 if unknown */

struct client_rec {
	uint32_t id;
	int role;
	unsigned char salt[16];
	unsigned char hash[32];
	char note[201];
	int64_t created;
};

struct db;

struct db *db_connect(const struct db_config *cfg, char *why, size_t whylen);
/* A handle that connects at its first use (the server may be down now). */
struct db *db_lazy(const struct db_config *cfg);
void db_close(struct db *db);
const char *db_error(const struct db *db);
int db_ping(struct db *db);
/* Runs one statement of the schema (no parameters, no results): for
 * pks-ctl's migrations only, never with input from outside. */
int db_exec(struct db *db, const char *sql);

int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);

int db_rows_by_hash(struct db *db, uint32_t hash, int for_update,
                    struct keyrows *out);
int db_row_by_id(struct db *db, uint64_t row, int for_update,
                 struct keyrows *out);
int db_row_insert(struct db *db, const struct keyrow *r);
int db_row_update_seal(struct db *db, const struct keyrow *r);
int db_row_delete(struct db *db, uint64_t row);
/* Up to limit rows whose DRS is sealed under a key other than key_id. */
int db_rows_not_under(struct db *db, uint32_t key_id, unsigned limit,
                      struct keyrows *out);
int db_row_count(struct db *db, uint64_t *rows, uint64_t *not_under,
                 uint32_t key_id);

/* Backup and restore (pks-ctl): every row, in one consistent snapshot,
 * and the same rows written back with their times.
 * db_snapshot_begin: a read-only REPEATABLE READ transaction WITH
 * CONSISTENT SNAPSHOT, the session in UTC; end it with db_rollback.
 * db_restore_begin: a transaction, the session in UTC. */
int db_snapshot_begin(struct db *db);
int db_restore_begin(struct db *db);
int db_rows_all(struct db *db, struct keyrows *out);
int db_row_restore(struct db *db, const struct keyrow *r);

struct login_rec {
	uint64_t row;
	uint32_t failures;
	int64_t locked_until;
};
/* Every login_state row; *out is malloc'd. */
int db_login_all(struct db *db, struct login_rec **out, size_t *n);

int db_login_get(struct db *db, uint64_t row, unsigned *failures,
                 int64_t *locked_until);
int db_login_set(struct db *db, uint64_t row, unsigned failures,
                 int64_t locked_until);

/* A row of login_throttle (schema 002); a missing one reads as zeros.
 * db_throttle_get locks what it reads (or the gap) until the end of the
 * transaction. */
int db_throttle_get(struct db *db, uint32_t hash, const char *network,
                    struct throttle_state *out);
int db_throttle_set(struct db *db, uint32_t hash, const char *network,
                    const struct throttle_state *in);
/* Every throttle row of hash (none is DB_OK too). */
int db_throttle_delete(struct db *db, uint32_t hash);

int db_client_get(struct db *db, uint32_t id, struct client_rec *out);
int db_client_insert(struct db *db, const struct client_rec *c);
/* Inserts c with its id, secret hash and creation time as they were. */
int db_client_restore(struct db *db, const struct client_rec *c);
int db_client_delete(struct db *db, uint32_t id);
int db_client_list(struct db *db, struct client_rec **out, size_t *n);

/* Creates the table of applied versions if missing (pks-ctl). */
int db_schema_init(struct db *db);
/* The highest schema version applied (0 before any). */
int db_schema_version(struct db *db, unsigned *version);
int db_schema_record(struct db *db, unsigned version, const char *name);

/* The data-at-rest encryption of each table of the database, as the
 * server reports it: information_schema.INNODB_TABLESPACES_ENCRYPTION
 * (which needs the PROCESS privilege; without it, DB_FAIL) and
 * TABLES.CREATE_OPTIONS. *out is malloc'd, sorted by name. */
struct table_crypt {
	char name[65];
	int encrypted;          /* ENCRYPTION_SCHEME: 1 encrypted, 0 not */
	uint32_t key_id;        /* CURRENT_KEY_ID; 0 without encryption data */
	char options[201];      /* CREATE_OPTIONS, e.g. `ENCRYPTED`='NO' */
};
int db_table_crypt(struct db *db, struct table_crypt **out, size_t *n);
/* Whether table is encrypted: DB_OK and *encrypted, or DB_NOTFOUND. */
int db_table_encrypted(struct db *db, const char *table, int *encrypted);

#endif
