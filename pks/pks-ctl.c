/*
 * NAME
 *	pks-ctl - the command link interface of the Paired Key Store
 * SYNOPSIS
 *	pks-ctl init [-u user] | migrate | status | keys hash | rotate |
 *	client add role [note] | client list | client remove id |
 *	backup --passphrase-fd fd file |
 *	restore [-u user] [--force] --passphrase-fd fd file
 * DESCRIPTION
 *	Administers the key store: creates the PKS key pair and the schema,
 *	registers the API clients (printing each new secret once, as
 *	"ID:SECRET", the credential file format), lists the rows of a hash,
 *	and rotates the PKS key pair, re-sealing every Dynamic Row Secret in
 *	small transactions so that an interrupted rotation simply resumes.
 *	Backs the key store up (the rows in one consistent snapshot, the
 *	PKS keys) sealed under an operator's passphrase, and restores it
 *	onto a new PKS (pks-backup(5)).
 * SECURITY
 *	Runs as the database administrator (unix_socket login as the invoking
 *	user, normally root) on the PKS host. Reads the PKS private key for
 *	rotation; never prints a key, a DRS or a PDK. Core dumps disabled.
 *	The backup passphrase comes from a descriptor (never argv or the
 *	environment) into a locked, wiped buffer; the derived key and the
 *	keys read from a backup live in libgcrypt's secure memory. A
 *	backup is trusted only once its GCM tag verifies, and its counts
 *	and lengths are bounded before anything is allocated for them.
 * SEE ALSO
 *	pksd(8), pks-backup(5)
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "backupfile.h"
#include "clientauth.h"
#include "util/control.h"
#include "db.h"
#include "util/die.h"
#include "util/home.h"
#include "keyring.h"
#include "util/log.h"
#include "migrations.h"
#include "util/path.h"
#include "rowseal.h"
#include "util/secretfd.h"

#define USAGE "init [-u user] | migrate | status | keys HASH | rotate | " \
	"row remove ROW | client add ROLE [NOTE] | client list | " \
	"client remove ID | backup --passphrase-fd N FILE | " \
	"restore [-u user] [--force] --passphrase-fd N FILE"
#define ROTATE_BATCH 200

static char keydir[SQ_PATH_MAX];

/* The database as administrator: our own unix_socket identity. */
static struct db *admin_db(int with_database, struct db_config *cfg)
{
	struct control ctl;
	char dir[SQ_PATH_MAX], why[256];
	if (sq_path(dir, sizeof dir, "control") < 0 || control_open(&ctl, dir) < 0)
		die_sys_temp("cannot open %s: %s", dir, strerror(errno));
	if (db_config_load(cfg, &ctl, why, sizeof why) < 0)
		die_sys_temp("%s", why);
	control_close(&ctl);
	struct db_config admin = *cfg;
	admin.user[0] = '\0';
	if (!with_database)
		admin.database[0] = '\0';
	struct db *db = db_connect(&admin, why, sizeof why);
	if (!db)
		die_sys_temp("database: %s", why);
	return db;
}

static void check(struct db *db, int r, const char *what)
{
	if (r != DB_OK)
		die_sys_temp("%s: %s", what, db_error(db));
}

/* Identifiers go into DDL, which takes no parameters: letters, digits
 * and underscores only. */
static void check_identifier(const char *s, const char *what)
{
	if (!*s || strlen(s) > 64 || strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
	    != strlen(s))
		die_badarg("%s %s: only letters, digits and _", what, s);
}

static void migrate(struct db *db)
{
	unsigned have;
	check(db, db_schema_init(db), "schema table");
	check(db, db_schema_version(db, &have), "schema version");
	for (const struct migration *m = migrations; m->version; m++) {
		if (m->version <= have)
			continue;
		for (const char *const *st = m->statements; *st; st++)
			check(db, db_exec(db, *st), m->name);
		check(db, db_schema_record(db, m->version, m->name), m->name);
		printf("applied %s\n", m->name);
	}
}

static void make_key(uid_t uid, gid_t gid)
{
	struct keyring kr;
	if (mkdir(keydir, 0700) < 0 && errno != EEXIST)
		die_sys_temp("mkdir %s: %s", keydir, strerror(errno));
	int dfd = open(keydir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die_sys_temp("%s: %s", keydir, strerror(errno));
	if (faccessat(dfd, "pks.key", F_OK, 0) < 0 && errno == ENOENT) {
		struct pkskey k;
		if (pkskey_generate(&k) < 0 ||
		    pkskey_save(&k, dfd, "pks.key", uid, gid) < 0)
			die_sys_temp("cannot create the PKS key: %s",
			             strerror(errno));
		printf("created PKS key %08lx\n", (unsigned long)k.id);
		pkskey_free(&k);
	}
	if (uid != (uid_t)-1 && (fchown(dfd, uid, gid) < 0 ||
	                         fchownat(dfd, "pks.key", uid, gid, 0) < 0))
		die_sys_temp("chown %s: %s", keydir, strerror(errno));
	close(dfd);
	if (keyring_open(&kr, keydir, (uid_t)-1) < 0)
		die_sys_temp("%s", kr.error);
	keyring_close(&kr);
}

/* The owner of the key files and the database user of pksd: -u user, or
 * control/pksdb's user; with neither, the invoking user (uid -1). */
static const char *pksd_user(const char *user, const struct db_config *cfg,
                             uid_t *uid, gid_t *gid)
{
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (!user)
		user = *cfg->user ? cfg->user : NULL;
	if (user) {
		struct passwd *pw = getpwnam(user);
		if (!pw)
			die_badarg("no such user: %s", user);
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
		check_identifier(user, "user");
	}
	return user;
}

/* The database with its schema, and pksd's user with its grants: what
 * init and restore both set up. Leaves db using the database. */
static void setup_database(struct db *db, const struct db_config *cfg,
                           const char *user)
{
	char sql[512];
	check_identifier(cfg->database, "database");
	snprintf(sql, sizeof sql, "CREATE DATABASE IF NOT EXISTS `%s`",
	         cfg->database);
	check(db, db_exec(db, sql), "create database");
	snprintf(sql, sizeof sql, "USE `%s`", cfg->database);
	check(db, db_exec(db, sql), "use database");
	migrate(db);
	if (!user)
		return;
	snprintf(sql, sizeof sql, "CREATE USER IF NOT EXISTS '%s'@'localhost' "
	         "IDENTIFIED VIA unix_socket", user);
	check(db, db_exec(db, sql), "create user");
	snprintf(sql, sizeof sql, "GRANT SELECT, INSERT, UPDATE, DELETE ON "
	         "`%s`.* TO '%s'@'localhost'", cfg->database, user);
	check(db, db_exec(db, sql), "grant");
	/* pksd reads information_schema.INNODB_TABLESPACES_ENCRYPTION
	 * to refuse an unencrypted keyrow table; that needs PROCESS. */
	snprintf(sql, sizeof sql, "GRANT PROCESS ON *.* TO "
	         "'%s'@'localhost'", user);
	check(db, db_exec(db, sql), "grant process");
	printf("database %s ready for pksd as %s\n", cfg->database, user);
}

static int cmd_init(int argc, char **argv)
{
	const char *user = NULL;
	uid_t uid;
	gid_t gid;
	if (argc == 2 && strcmp(argv[0], "-u") == 0)
		user = argv[1];
	else if (argc != 0)
		die_usage(USAGE);
	struct db_config cfg;
	struct db *db = admin_db(0, &cfg);
	user = pksd_user(user, &cfg, &uid, &gid);
	check_identifier(cfg.database, "database");
	if (!user)
		fprintf(stderr, "pks-ctl: no -u user: pks.key stays owned by the "
		        "invoking user, who must then run pksd\n");
	make_key(uid, gid);
	setup_database(db, &cfg, user);
	db_close(db);
	return 0;
}

static int cmd_migrate(void)
{
	struct db_config cfg;
	struct db *db = admin_db(1, &cfg);
	migrate(db);
	db_close(db);
	return 0;
}

static uint32_t parse_u32(const char *s, int base, const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, base);
	if (!*s || *end || errno || v > 0xffffffffUL || *s == '-' || *s == '+')
		die_badarg("bad %s: %s", what, s);
	return (uint32_t)v;
}

static int cmd_client(int argc, char **argv)
{
	struct db_config cfg;
	if (argc < 1)
		die_usage(USAGE);
	struct db *db = admin_db(1, &cfg);
	if (strcmp(argv[0], "add") == 0 && (argc == 2 || argc == 3)) {
		int role = role_parse(argv[1]);
		if (!role)
			die_badarg("role must be deliver, login or provision");
		struct client_rec c;
		char secret[CLIENT_SECRET_LEN + 1];
		int r;
		do {
			if (client_new(&c, role, argc == 3 ? argv[2] : "",
			               secret) < 0)
				die_sys_temp("cannot make a client secret: %s",
				             strerror(errno));
			r = db_client_insert(db, &c);
		} while (r == DB_DUPLICATE);
		check(db, r, "client add");
		/* the credential file's format; the only time it is shown */
		printf("%lu:%s\n", (unsigned long)c.id, secret);
		fflush(stdout);
		explicit_bzero(secret, sizeof secret);
		fprintf(stderr, "pks-ctl: client %lu added, role %s; its secret is "
		        "shown once, above\n", (unsigned long)c.id, role_name(role));
	} else if (strcmp(argv[0], "list") == 0 && argc == 1) {
		struct client_rec *list;
		size_t n;
		check(db, db_client_list(db, &list, &n), "client list");
		for (size_t i = 0; i < n; i++) {
			char when[32];
			time_t t = (time_t)list[i].created;
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
			printf("%lu %s %s %s\n", (unsigned long)list[i].id,
			       role_name(list[i].role), when, list[i].note);
		}
		free(list);
	} else if (strcmp(argv[0], "remove") == 0 && argc == 2) {
		int r = db_client_delete(db, parse_u32(argv[1], 10, "client id"));
		if (r == DB_NOTFOUND)
			die_nosuch("no client %s", argv[1]);
		check(db, r, "client remove");
		printf("removed client %s\n", argv[1]);
	} else {
		die_usage(USAGE);
	}
	db_close(db);
	return 0;
}

/* The way out for a damaged row, which pksd will not serve and which
 * blocks every create for its hash (pksd fails closed there). */
static int cmd_row_remove(const char *text)
{
	struct db_config cfg;
	char *end;
	errno = 0;
	unsigned long long row = strtoull(text, &end, 10);
	if (!*text || strspn(text, "0123456789") != strlen(text) || *end ||
	    errno || row == 0)
		die_badarg("bad row: %s", text);
	struct db *db = admin_db(1, &cfg);
	int r = db_row_delete(db, (uint64_t)row);
	if (r == DB_NOTFOUND)
		die_nosuch("no row %s", text);
	check(db, r, "row remove");
	printf("removed row %s\n", text);
	db_close(db);
	return 0;
}

static int cmd_keys(const char *hex)
{
	struct db_config cfg;
	struct keyring kr;
	struct keyrows rows;
	if (strlen(hex) != 8 || strspn(hex, "0123456789abcdef") != 8)
		die_badarg("hash must be 8 lower-case hex digits");
	uint32_t hash = parse_u32(hex, 16, "hash");
	if (keyring_open(&kr, keydir, (uid_t)-1) < 0)
		die_sys_temp("%s", kr.error);
	struct db *db = admin_db(1, &cfg);
	check(db, db_rows_by_hash(db, hash, 0, &rows), "keys");
	for (size_t i = 0; i < rows.n; i++) {
		struct keyrow *r = &rows.row[i];
		struct row_id id = { r->hash, r->row, r->version };
		const struct pkskey *k = keyring_find(&kr, r->pks_key_id);
		struct sbuf plain;
		sbuf_init_secret(&plain, KEYROW_BLOB_MAX);
		int ok = k && row_open(k, &id, r->blob, r->bloblen, r->drs,
		                       r->drslen, &plain) == 0;
		sbuf_free(&plain);
		printf("row %llu version %lu pks-key %08lx created %lld "
		       "updated %lld seal %s\n", (unsigned long long)r->row,
		       (unsigned long)r->version, (unsigned long)r->pks_key_id,
		       (long long)r->created, (long long)r->updated,
		       ok ? "ok" : "BROKEN");
	}
	if (rows.n == 0)
		printf("no rows for %s\n", hex);
	keyrows_free(&rows);
	keyring_close(&kr);
	db_close(db);
	return 0;
}

/* Re-seals one row under next, in its own transaction: opened with the
 * key that sealed it and sealed again with a fresh DRS, like any write. */
static void reseal_one(struct db *db, struct keyring *kr,
                       const struct pkskey *next, uint64_t row)
{
	struct keyrows rows;
	struct sbuf plain, blob;
	check(db, db_begin(db), "begin");
	int r = db_row_by_id(db, row, 1, &rows);
	if (r == DB_NOTFOUND) { /* deleted meanwhile */
		db_rollback(db);
		return;
	}
	check(db, r, "lock row");
	struct keyrow k = rows.row[0];
	struct row_id id = { k.hash, k.row, k.version };
	sbuf_init_secret(&plain, KEYROW_BLOB_MAX);
	sbuf_init(&blob, KEYROW_BLOB_MAX);
	if (k.pks_key_id != next->id) {
		const struct pkskey *from = keyring_find(kr, k.pks_key_id);
		if (!from || row_open(from, &id, k.blob, k.bloblen, k.drs, k.drslen,
		                      &plain) < 0 ||
		    row_seal(next, &id, plain.s, plain.len, &blob, k.drs) < 0)
			die_sys_temp("row %llu does not open; rotation "
			             "stopped. Inspect it (pks-ctl keys "
			             "%08lx) and remove it if it is damaged "
			             "(pks-ctl row remove %llu), then run "
			             "pks-ctl rotate again",
			             (unsigned long long)row,
			             (unsigned long)k.hash,
			             (unsigned long long)row);
		k.blob = (unsigned char *)blob.s;
		k.bloblen = blob.len;
		k.drslen = SEALED_DRS_LEN;
		k.pks_key_id = next->id;
		check(db, db_row_update_seal(db, &k), "update row");
	}
	sbuf_free(&plain);
	sbuf_free(&blob);
	keyrows_free(&rows);
	check(db, db_commit(db), "commit");
}

/* pks.key -> pks.key.old, pks.key.next -> pks.key, then the directory. */
static void promote(int dfd)
{
	if (faccessat(dfd, "pks.key", F_OK, 0) == 0 &&
	    renameat(dfd, "pks.key", dfd, "pks.key.old") < 0)
		die_sys_temp("rename pks.key: %s", strerror(errno));
	if (renameat(dfd, "pks.key.next", dfd, "pks.key") < 0 ||
	    fsync_dir(dfd) < 0)
		die_sys_temp("rename pks.key.next: %s", strerror(errno));
}

static int cmd_rotate(void)
{
	struct db_config cfg;
	struct keyring kr;
	struct stat st;
	int dfd = open(keydir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die_sys_temp("%s: %s", keydir, strerror(errno));
	/* one rotation at a time (two would race on the renames), and the
	 * keys read only under the lock, after any rotation before us */
	if (flock(dfd, LOCK_EX | LOCK_NB) < 0)
		die_sys_temp("another pks-ctl rotate is running");
	if (keyring_open(&kr, keydir, (uid_t)-1) < 0)
		die_sys_temp("cannot load the PKS keys: %s", kr.error);
	if (!kr.have[KEY_NEXT]) {
		struct pkskey next;
		/* the new key belongs to pksd's user, like pks.key */
		if (fstat(dfd, &st) < 0 || pkskey_generate(&next) < 0 ||
		    pkskey_save(&next, dfd, "pks.key.next", st.st_uid,
		                st.st_gid) < 0)
			die_sys_temp("cannot create pks.key.next: %s",
			             strerror(errno));
		printf("new PKS key %08lx\n", (unsigned long)next.id);
		pkskey_free(&next);
		if (keyring_refresh(&kr) < 0 || !kr.have[KEY_NEXT])
			die_sys_temp("cannot load pks.key.next");
	} else {
		printf("resuming rotation to %08lx\n",
		       (unsigned long)kr.key[KEY_NEXT].id);
	}
	struct db *db = admin_db(1, &cfg);
	const struct pkskey *next = &kr.key[KEY_NEXT];
	unsigned long moved = 0;
	for (;;) {
		struct keyrows batch;
		check(db, db_rows_not_under(db, next->id, ROTATE_BATCH, &batch),
		      "rotation batch");
		size_t n = batch.n;
		for (size_t i = 0; i < n; i++)
			reseal_one(db, &kr, next, batch.row[i].row);
		moved += n;
		keyrows_free(&batch);
		if (n == 0)
			break;
	}
	promote(dfd);
	printf("rotated: %lu rows re-sealed; pks.key is %08lx\n", moved,
	       (unsigned long)next->id);
	keyring_close(&kr);
	db_close(db);
	close(dfd);
	return 0;
}

static int cmd_status(void)
{
	struct db_config cfg;
	struct keyring kr;
	unsigned have;
	uint64_t rows = 0, old = 0;
	struct client_rec *clients;
	size_t n;
	if (keyring_open(&kr, keydir, (uid_t)-1) < 0)
		die_sys_temp("%s", kr.error);
	struct db *db = admin_db(1, &cfg);
	check(db, db_schema_version(db, &have), "schema version");
	printf("schema %u (this build expects %u)\n", have,
	       schema_version_expected());
	for (int i = 0; i < KEY_SLOTS; i++)
		if (kr.have[i])
			printf("%s %08lx\n", keyring_files[i],
			       (unsigned long)kr.key[i].id);
	const struct pkskey *sealer = keyring_sealer(&kr);
	check(db, db_row_count(db, &rows, &old, sealer ? sealer->id : 0),
	      "count rows");
	printf("rows %llu, not under %s: %llu%s\n", (unsigned long long)rows,
	       kr.have[KEY_NEXT] ? "pks.key.next" : "pks.key",
	       (unsigned long long)old,
	       kr.have[KEY_NEXT] ? " (rotation under way: pks-ctl rotate)" : "");
	check(db, db_client_list(db, &clients, &n), "clients");
	printf("clients %zu\n", n);
	free(clients);
	struct table_crypt *tables;
	check(db, db_table_crypt(db, &tables, &n), "table encryption");
	for (size_t i = 0; i < n; i++) {
		if (tables[i].encrypted)
			printf("table %s encrypted, key id %lu", tables[i].name,
			       (unsigned long)tables[i].key_id);
		else
			printf("table %s NOT encrypted", tables[i].name);
		printf("%s%s\n", tables[i].options[0] ? "; " : "",
		       tables[i].options);
	}
	free(tables);
	keyring_close(&kr);
	db_close(db);
	if (have != schema_version_expected())
		die_sys_temp("schema %u, this build expects %u: run pks-ctl "
		             "migrate", have, schema_version_expected());
	return 0;
}

/* ---- backup and restore (pks-backup(5)) ---------------------------------- */

/* The schema versions whose tables format 1 of the backup carries, and
 * those tables: a migration that adds a table or column must teach backup
 * and restore about it, and until then backup refuses rather than leave
 * something out. login_throttle (schema 2) is known and left out on
 * purpose: counters of failed logins and the networks an owner used,
 * state that a restore may lose (a new PKS starts counting afresh) and
 * that tells an attacker with the passphrase where subscribers log in
 * from. */
#define BACKUP_SCHEMA_MIN 1
#define BACKUP_SCHEMA 2
static const char *const backup_tables[] = {
	"client", "keyrow", "login_state", "login_throttle", "schema_migration",
	NULL
};
#define PASSPHRASE_MAX 1024
#define PASSPHRASE_MIN 12

/* The operator's passphrase from descriptor fd, up to its end, less one
 * final newline, into pass (a secret sbuf). Never argv or environment. */
static void read_passphrase(const char *fdtext, struct sbuf *pass,
                            size_t min)
{
	uint32_t fd = parse_u32(fdtext, 10, "descriptor");
	sbuf_init_secret(pass, PASSPHRASE_MAX);
	if (fd > 1024 || secret_take((int)fd, pass) < 0)
		die_badarg("cannot read the passphrase from descriptor %s: %s",
		           fdtext, errno == EMSGSIZE ? "longer than 1024 octets"
		           : strerror(errno));
	if (pass->len && pass->s[pass->len - 1] == '\n')
		sbuf_truncate(pass, pass->len - 1);
	if (pass->len && pass->s[pass->len - 1] == '\r')
		sbuf_truncate(pass, pass->len - 1);
	if (pass->len < min)
		die_badarg("the passphrase must have at least %zu octets", min);
}

/* The key directory, locked against a rotation (which takes it
 * exclusively) for as long as the descriptor stays open. */
static int lock_keydir(int how)
{
	int dfd = open(keydir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die_sys_temp("%s: %s", keydir, strerror(errno));
	if (flock(dfd, how | LOCK_NB) < 0)
		die_sys_temp("a pks-ctl rotate (or another backup or restore) "
		             "holds %s; run this again after it", keydir);
	return dfd;
}

/* Refuses a database whose tables format 1 would not carry in full. */
static void check_backup_schema(struct db *db, unsigned have)
{
	struct table_crypt *t;
	size_t n;
	if (have != BACKUP_SCHEMA)
		die_sys_temp("schema %u: this pks-ctl backs up schema %u only",
		             have, BACKUP_SCHEMA);
	check(db, db_table_crypt(db, &t, &n), "tables");
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (backup_tables[j] && strcmp(backup_tables[j], t[i].name))
			j++;
		if (!backup_tables[j])
			die_sys_temp("table %s: this pks-ctl does not know how to "
			             "back it up", t[i].name);
	}
	free(t);
}

/* Every row of the key store, read in one consistent snapshot. */
static void read_snapshot(struct db *db, struct backup_data *d)
{
	unsigned have;
	check(db, db_snapshot_begin(db), "begin snapshot");
	check(db, db_schema_version(db, &have), "schema version");
	check_backup_schema(db, have);
	d->schema = have;
	check(db, db_client_list(db, &d->client, &d->nclient), "clients");
	check(db, db_rows_all(db, &d->rows), "key rows");
	check(db, db_login_all(db, &d->login, &d->nlogin), "login state");
	db_rollback(db); /* read only: nothing to commit */
}

/* Writes the sealed file to name crash-safely, mode 0600, or to
 * standard output for "-". */
static void write_backup(const char *name, const struct sbuf *file)
{
	if (strcmp(name, "-") == 0) {
		if (isatty(1))
			die_badarg("standard output is a terminal: give a file");
		if (write_all(1, file->s, file->len) < 0)
			die_sys_temp("write: %s", strerror(errno));
		return;
	}
	char dir[SQ_PATH_MAX];
	const char *slash = strrchr(name, '/'), *base = slash ? slash + 1 : name;
	if (!*base || snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash -
	    name) + 1 : 1, slash ? name : ".") >= (int)sizeof dir)
		die_badarg("bad file name: %s", name);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || atomic_write_file(dfd, base, file->s, file->len, 0600,
	                                 ATOMIC_REPLACE) < 0)
		die_sys_temp("cannot write %s: %s", name, strerror(errno));
	close(dfd);
}

/* "what name: schema S, N rows, ..., keys pks.key ID ..." on f. */
static void summary(FILE *f, const char *what, const char *name,
                    const struct backup_data *d)
{
	fprintf(f, "%s %s: schema %lu, %zu rows, %zu clients, %zu login "
	        "states, keys", what, name, (unsigned long)d->schema,
	        d->rows.n, d->nclient, d->nlogin);
	for (int i = 0; i < KEY_SLOTS; i++)
		if (d->have[i])
			fprintf(f, " %s %08lx", keyring_files[i],
			        (unsigned long)d->key[i].id);
	fprintf(f, "\n");
}

/* A backup must open every row it holds: one sealed under a key that is
 * not in the key directory stops it. */
static void check_rows_have_keys(const struct backup_data *d)
{
	for (size_t i = 0; i < d->rows.n; i++) {
		const struct keyrow *r = &d->rows.row[i];
		if (backup_key_slot(d, r->pks_key_id) < 0)
			die_sys_temp("row %llu is sealed under PKS key %08lx, "
			             "which is not in %s: the backup would not "
			             "open it", (unsigned long long)r->row,
			             (unsigned long)r->pks_key_id, keydir);
	}
}

/* The sealed file of d under the passphrase. */
static void seal_backup(const struct backup_data *d, struct sbuf *pass,
                        struct sbuf *file)
{
	struct sbuf payload;
	sbuf_init_secret(&payload, BACKUP_PAYLOAD_MAX);
	sbuf_init(file, BACKUP_FILE_MAX);
	if (backup_encode(d, &payload) < 0)
		die_sys_temp("the key store is larger than a backup holds");
	if (backup_seal(pass->s, pass->len, BACKUP_LOG_N, BACKUP_P, payload.s,
	                payload.len, file) != BACKUP_OK)
		die_sys_temp("cannot seal the backup");
	sbuf_free(&payload);
	sbuf_free(pass);
}

static int cmd_backup(int argc, char **argv)
{
	struct db_config cfg;
	struct keyring kr;
	struct backup_data d;
	struct sbuf pass, file;
	if (argc != 3 || strcmp(argv[0], "--passphrase-fd") != 0)
		die_usage(USAGE);
	read_passphrase(argv[1], &pass, PASSPHRASE_MIN);
	int dfd = lock_keydir(LOCK_SH);
	if (keyring_open(&kr, keydir, (uid_t)-1) < 0)
		die_sys_temp("cannot load the PKS keys: %s", kr.error);
	memset(&d, 0, sizeof d);
	d.made = (int64_t)time(NULL);
	for (int i = 0; i < KEY_SLOTS; i++) { /* borrowed, not freed here */
		d.have[i] = kr.have[i];
		d.key[i] = kr.key[i];
	}
	struct db *db = admin_db(1, &cfg);
	read_snapshot(db, &d);
	db_close(db);
	check_rows_have_keys(&d);
	seal_backup(&d, &pass, &file);
	write_backup(argv[2], &file);
	summary(stderr, "pks-ctl: backup", argv[2], &d);
	sbuf_free(&file);
	free(d.client);
	keyrows_free(&d.rows);
	free(d.login);
	keyring_close(&kr);
	close(dfd);
	return 0;
}

/* The backup file, opened and checked: its payload decoded into d. */
static void open_backup(const char *name, struct sbuf *pass,
                        struct backup_data *d)
{
	struct sbuf file, payload;
	int fd = strcmp(name, "-") == 0 ? 0 : open(name, O_RDONLY | O_CLOEXEC);
	sbuf_init(&file, BACKUP_FILE_MAX);
	if (fd < 0 || sbuf_read_fd(&file, fd) < 0)
		die_sys_temp("cannot read %s: %s", name, errno == EMSGSIZE ?
		             "larger than any backup" : strerror(errno));
	if (fd > 0)
		close(fd);
	sbuf_init_secret(&payload, BACKUP_PAYLOAD_MAX);
	int r = backup_open(pass->s, pass->len, file.s, file.len, &payload);
	sbuf_free(pass);
	sbuf_free(&file);
	if (r == BACKUP_FAIL)
		die_sys_temp("%s: %s", name, backup_strerror(r));
	if (r != BACKUP_OK)
		die_perm("5.7.0", "%s: %s; nothing restored", name,
		         backup_strerror(r));
	if (backup_decode(d, payload.s, payload.len) < 0)
		die_perm("5.7.0", "%s: its contents are malformed; nothing "
		         "restored", name);
	sbuf_free(&payload);
	if (d->schema < BACKUP_SCHEMA_MIN || d->schema > BACKUP_SCHEMA ||
	    d->schema > schema_version_expected())
		die_perm("5.7.0", "%s: schema %lu, this pks-ctl restores schemas "
		         "%u to %u", name, (unsigned long)d->schema,
		         BACKUP_SCHEMA_MIN, BACKUP_SCHEMA);
}

/* Every row names a key of the backup, and opens with it: the restored
 * PKS will serve every row that the backed-up one served. */
static void check_rows_open(const struct backup_data *d)
{
	size_t broken = 0;
	for (size_t i = 0; i < d->rows.n; i++) {
		const struct keyrow *r = &d->rows.row[i];
		struct row_id id = { r->hash, r->row, r->version };
		int slot = backup_key_slot(d, r->pks_key_id);
		if (slot < 0)
			die_perm("5.7.0", "row %llu is sealed under PKS key %08lx, "
			         "which the backup does not hold; nothing restored",
			         (unsigned long long)r->row,
			         (unsigned long)r->pks_key_id);
		struct sbuf plain;
		sbuf_init_secret(&plain, KEYROW_BLOB_MAX);
		if (row_open(&d->key[slot], &id, r->blob, r->bloblen, r->drs,
		             r->drslen, &plain) < 0) {
			fprintf(stderr, "pks-ctl: row %llu (hash %08lx) does not "
			        "open: restored as it was\n",
			        (unsigned long long)r->row, (unsigned long)r->hash);
			broken++;
		}
		sbuf_free(&plain);
	}
	if (broken)
		fprintf(stderr, "pks-ctl: %zu damaged rows, as in the backup: "
		        "see pks-ctl keys and row remove\n", broken);
}

/* The key directory of a fresh PKS: made if missing; no key file in it
 * unless forced. */
static int fresh_keydir(int force)
{
	if (mkdir(keydir, 0700) < 0 && errno != EEXIST)
		die_sys_temp("mkdir %s: %s", keydir, strerror(errno));
	int dfd = lock_keydir(LOCK_EX);
	for (int i = 0; i < KEY_SLOTS && !force; i++)
		if (faccessat(dfd, keyring_files[i], F_OK, 0) == 0)
			die_perm("5.7.0", "%s/%s exists: restore makes a new PKS; "
			         "--force replaces its keys and rows", keydir,
			         keyring_files[i]);
	return dfd;
}

/* The rows of d into the database, in the transaction the caller began;
 * a database with rows already is refused, or emptied with force. */
static void insert_rows(struct db *db, const struct backup_data *d,
                        int force)
{
	uint64_t rows, unused;
	struct client_rec *clients;
	size_t nclients;
	check(db, db_row_count(db, &rows, &unused, 0), "count rows");
	check(db, db_client_list(db, &clients, &nclients), "clients");
	free(clients);
	if ((rows || nclients) && !force)
		die_perm("5.7.0", "the database holds %llu rows and %zu clients: "
		         "restore makes a new PKS; --force replaces them",
		         (unsigned long long)rows, nclients);
	check(db, db_exec(db, "DELETE FROM login_state"), "empty login_state");
	check(db, db_exec(db, "DELETE FROM login_throttle"),
	      "empty login_throttle");
	check(db, db_exec(db, "DELETE FROM keyrow"), "empty keyrow");
	check(db, db_exec(db, "DELETE FROM client"), "empty client");
	for (size_t i = 0; i < d->nclient; i++)
		check(db, db_client_restore(db, &d->client[i]), "client");
	for (size_t i = 0; i < d->rows.n; i++)
		check(db, db_row_restore(db, &d->rows.row[i]), "key row");
	for (size_t i = 0; i < d->nlogin; i++)
		check(db, db_login_set(db, d->login[i].row, d->login[i].failures,
		                       d->login[i].locked_until), "login state");
}

/* The key files of d, owned by pksd's user, mode 0400, each written
 * crash-safely; a slot the backup lacks is removed (after --force). */
static void write_keys(int dfd, const struct backup_data *d, uid_t uid,
                       gid_t gid)
{
	for (int i = 0; i < KEY_SLOTS; i++) {
		const char *name = keyring_files[i];
		if (!d->have[i]) {
			if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
				die_sys_temp("remove %s: %s", name, strerror(errno));
		} else if (pkskey_save(&d->key[i], dfd, name, uid, gid) < 0) {
			die_sys_temp("cannot write %s: %s", name, strerror(errno));
		}
	}
	if ((uid != (uid_t)-1 && fchown(dfd, uid, gid) < 0) || fsync_dir(dfd) < 0)
		die_sys_temp("%s: %s", keydir, strerror(errno));
}

static int cmd_restore(int argc, char **argv)
{
	const char *user = NULL, *fdtext = NULL;
	int force = 0;
	uid_t uid;
	gid_t gid;
	for (; argc > 1; argc--, argv++) {
		if (strcmp(argv[0], "--force") == 0) {
			force = 1;
		} else if (strcmp(argv[0], "-u") == 0 && argc > 2) {
			user = *++argv;
			argc--;
		} else if (strcmp(argv[0], "--passphrase-fd") == 0 && argc > 2) {
			fdtext = *++argv;
			argc--;
		} else {
			die_usage(USAGE);
		}
	}
	if (argc != 1 || !fdtext)
		die_usage(USAGE);
	struct sbuf pass;
	struct backup_data d;
	struct db_config cfg;
	read_passphrase(fdtext, &pass, 1);
	open_backup(argv[0], &pass, &d);
	check_rows_open(&d);
	struct db *db = admin_db(0, &cfg);
	user = pksd_user(user, &cfg, &uid, &gid);
	int dfd = fresh_keydir(force);
	setup_database(db, &cfg, user);
	check(db, db_restore_begin(db), "begin");
	insert_rows(db, &d, force);
	write_keys(dfd, &d, uid, gid);
	if (db_commit(db) != DB_OK)
		die_sys_temp("commit: %s; the key files are written but not the "
		             "rows: run pks-ctl restore --force again",
		             db_error(db));
	summary(stdout, "restored", argv[0], &d);
	backup_data_free(&d);
	db_close(db);
	close(dfd);
	return 0;
}

int main(int argc, char **argv)
{
	log_init(argv[0]);
	if (secret_nodump() < 0 || pks_crypto_init() < 0)
		die_sys_temp("cannot initialise: %s", strerror(errno));
	if (sq_path(keydir, sizeof keydir, "pks") < 0)
		die_sys_temp("path too long");
	if (argc < 2)
		die_usage(USAGE);
	const char *cmd = argv[1];
	if (strcmp(cmd, "init") == 0)
		return cmd_init(argc - 2, argv + 2);
	if (strcmp(cmd, "migrate") == 0 && argc == 2)
		return cmd_migrate();
	if (strcmp(cmd, "client") == 0)
		return cmd_client(argc - 2, argv + 2);
	if (strcmp(cmd, "row") == 0 && argc == 4 && strcmp(argv[2], "remove") == 0)
		return cmd_row_remove(argv[3]);
	if (strcmp(cmd, "keys") == 0 && argc == 3)
		return cmd_keys(argv[2]);
	if (strcmp(cmd, "rotate") == 0 && argc == 2)
		return cmd_rotate();
	if (strcmp(cmd, "status") == 0 && argc == 2)
		return cmd_status();
	if (strcmp(cmd, "backup") == 0)
		return cmd_backup(argc - 2, argv + 2);
	if (strcmp(cmd, "restore") == 0)
		return cmd_restore(argc - 2, argv + 2);
	die_usage(USAGE);
}
