/*
 * store - key store operations. See store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gcrypt.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "util/fail.h"
#include "util/log.h"
#include "crypto/pki.h"
#include "rowseal.h"
#include "store.h"

#define PEM_MAX 8192

/* Internal only: a transaction the server rolled back (deadlock, lock
 * wait), which the public functions run again. */
#define STORE_RETRY 100
#define RETRIES 3

static int from_db(int r)
{
	switch (r) {
	case DB_OK: return STORE_OK;
	case DB_NOTFOUND: return STORE_NOTFOUND;
	case DB_DOWN: return STORE_DOWN;
	case DB_CONFLICT: return STORE_RETRY;
	default: return STORE_FAIL;
	}
}

/* A rolled-back transaction that keeps being rolled back is an outage. */
static int settle(int r)
{
	return r == STORE_RETRY ? STORE_DOWN : r;
}

int store_init(struct store *s, struct db *db, struct keyring *keys, X509 *ca,
               const struct lockout *lockout)
{
	memset(s, 0, sizeof *s);
	s->db = db;
	s->keys = keys;
	s->ca = ca;
	s->lockout = *lockout;
	return rowcache_init(&s->cache);
}

void store_fini(struct store *s)
{
	rowcache_fini(&s->cache);
}

static void free_secret(char *p)
{
	if (p) {
		explicit_bzero(p, strlen(p));
		free(p);
	}
}

void key_list_free(struct key_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->key[i].pek);
		free_secret(l->key[i].pdk);
		explicit_bzero(l->key[i].pepper, sizeof l->key[i].pepper);
	}
	free(l->key);
	l->key = NULL;
	l->n = 0;
}

/* ---- the row's sealed content: {"pek": PEM, "pdk": PEM} ------------- */

static int blob_encode(const char *pek, const char *pdk, struct sbuf *out)
{
	json_t *o = json_pack("{s:s, s:s}", "pek", pek, "pdk", pdk);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int r = text && sbuf_copy(out, text, strlen(text)) == 0 ? 0 : -1;
	free_secret(text);
	json_decref(o);
	return r;
}

static int blob_decode(const struct sbuf *in, char **pek, char **pdk)
{
	json_error_t err;
	const char *p = NULL, *d = NULL;
	json_t *o = json_loadb(in->s, in->len, JSON_REJECT_DUPLICATES, &err);
	int r = o && json_unpack(o, "{s:s, s:s}", "pek", &p, "pdk", &d) == 0
	        ? 0 : -1;
	*pek = r == 0 ? strdup(p) : NULL;
	*pdk = r == 0 ? strdup(d) : NULL;
	json_decref(o);
	if (r == 0 && (!*pek || !*pdk)) {
		free(*pek);
		free_secret(*pdk);
		r = -1;
	}
	return r;
}

/* Opens row r into pek, pdk (may be NULL if not wanted) and address;
 * 0, or -1 for a row that cannot be trusted (counted and logged). */
static int open_row(struct store *s, const struct keyrow *r, char **pek,
                    char **pdk, char *address)
{
	struct sbuf plain;
	struct row_id id = { r->hash, r->row, r->version };
	const struct pkskey *key = keyring_find(s->keys, r->pks_key_id);
	char *p = NULL, *d = NULL;
	X509 *cert = NULL;
	const char *why = NULL;
	sbuf_init_secret(&plain, KEYROW_BLOB_MAX);
	if (!key)
		why = "sealed under an unknown PKS key";
	else if (row_open(key, &id, r->blob, r->bloblen, r->drs, r->drslen,
	                  &plain) < 0)
		why = "seal does not open (tampered, or moved from another row)";
	else if (blob_decode(&plain, &p, &d) < 0)
		why = "content is not a key pair";
	else if (!(cert = pki_cert_from_pem(p, strlen(p))) ||
	         pki_cert_address(cert, address) < 0)
		why = "PEK names no address";
	else if (addr_hash(address) != r->hash)
		why = "PEK address does not match the row's hash";
	sbuf_free(&plain);
	X509_free(cert);
	if (why) {
		s->broken_rows++;
		log_msg(SQLOG_ALERT, "row %llu (hash %08lx): %s; not served",
		        (unsigned long long)r->row, (unsigned long)r->hash, why);
		free(p);
		free_secret(d);
		return -1;
	}
	*pek = p;
	if (pdk)
		*pdk = d;
	else
		free_secret(d);
	return 0;
}

/* ---- the PEK cache: rows opened before, checked against the DB copy --- */

/* The digest a cache entry is checked against: the row's ids as well as
 * its sealed bytes, so a row moved to another hash or version in the
 * database is opened again (and then refused), never served from here. */
static int row_digest(const struct keyrow *r,
                      unsigned char out[ROWCACHE_DIGEST])
{
	unsigned char ids[16];
	for (int i = 0; i < 4; i++) {
		ids[i] = (unsigned char)(r->hash >> (24 - 8 * i));
		ids[4 + i] = (unsigned char)(r->version >> (24 - 8 * i));
	}
	for (int i = 0; i < 8; i++)
		ids[8 + i] = (unsigned char)(r->row >> (56 - 8 * i));
	gcry_buffer_t part[3] = {
		{ .data = ids, .len = sizeof ids },
		{ .data = (void *)r->blob, .len = r->bloblen },
		{ .data = (void *)r->drs, .len = r->drslen },
	};
	return gcry_md_hash_buffers(GCRY_MD_SHA256, 0, out, part, 3) ? -1 : 0;
}

/* The row's PEK and address, from the cache or by opening it. */
static int row_pek(struct store *s, const struct keyrow *r, char **pek,
                   char *address)
{
	unsigned char digest[ROWCACHE_DIGEST];
	int digested = row_digest(r, digest) == 0;
	const struct rowcache_entry *e =
		digested ? rowcache_get(&s->cache, r->row, digest) : NULL;
	if (e) {
		*pek = strdup(e->pek);
		strcpy(address, e->address);
		return *pek ? 0 : -1;
	}
	if (open_row(s, r, pek, NULL, address) < 0)
		return -1;
	/* out of memory here only costs the next lookup an open */
	if (digested)
		(void)rowcache_put(&s->cache, r->row, digest, *pek, address);
	return 0;
}

/* ---- reads ------------------------------------------------------------ */

static int add_key(struct key_list *l, const struct keyrow *r, char *pek,
                   char *pdk, const char *address)
{
	struct key_out *grown = realloc(l->key, (l->n + 1) * sizeof *l->key);
	if (!grown) {
		free(pek);
		free_secret(pdk);
		return -1;
	}
	l->key = grown;
	struct key_out *k = &l->key[l->n++];
	memset(k, 0, sizeof *k);
	k->row = r->row;
	k->version = r->version;
	k->pek = pek;
	k->pdk = pdk;
	strcpy(k->address, address);
	return 0;
}

/* Withholds the PDK of a row under a login lock. */
static int apply_lock(struct store *s, struct key_out *k)
{
	unsigned failures;
	int64_t until;
	int r = db_login_get(s->db, k->row, &failures, &until);
	if (r != DB_OK)
		return from_db(r);
	if (until > (int64_t)time(NULL)) {
		k->locked_until = until;
		free_secret(k->pdk);
		k->pdk = NULL;
	}
	return STORE_OK;
}

/* Opens rows into out: with want_pdk the wrapped PDKs too, withheld under
 * a row lockout if locks. */
static int collect(struct store *s, const struct keyrows *rows, int want_pdk,
                   int locks, struct key_list *out)
{
	int r = STORE_OK;
	for (size_t i = 0; r == STORE_OK && i < rows->n; i++) {
		char *pek = NULL, *pdk = NULL, address[ADDR_MAX + 1];
		int opened = want_pdk
			? open_row(s, &rows->row[i], &pek, &pdk, address)
			: row_pek(s, &rows->row[i], &pek, address);
		if (opened < 0)
			r = STORE_UNREADABLE;
		else if (add_key(out, &rows->row[i], pek, pdk, address) < 0)
			r = STORE_FAIL;
		else if (want_pdk && locks)
			r = apply_lock(s, &out->key[out->n - 1]);
	}
	if (r == STORE_OK && out->n == 0)
		r = STORE_NOTFOUND;
	if (r != STORE_OK)
		key_list_free(out);
	return r;
}

int store_keys(struct store *s, uint32_t hash, int want_pdk,
               struct key_list *out)
{
	struct keyrows rows;
	out->n = 0;
	out->key = NULL;
	int r = from_db(db_rows_by_hash(s->db, hash, 0, &rows));
	if (r == STORE_OK)
		r = collect(s, &rows, want_pdk, 1, out);
	keyrows_free(&rows);
	return r;
}

/* ---- writes ----------------------------------------------------------- */

/* A PDK must at least be a PEM EncryptedPrivateKeyInfo: the store cannot
 * check more without the password it must never see. */
static int pdk_plausible(const char *pdk)
{
	size_t len = strlen(pdk);
	if (len == 0 || len > PEM_MAX)
		return 0;
	BIO *b = BIO_new_mem_buf(pdk, (int)len);
	X509_SIG *p8 = b ? PEM_read_bio_PKCS8(b, NULL, NULL, NULL) : NULL;
	X509_SIG_free(p8);
	BIO_free(b);
	return p8 != NULL;
}

static int pek_valid(struct store *s, const char *pek, const char *address)
{
	size_t len = strlen(pek);
	X509 *cert = len && len <= PEM_MAX ? pki_cert_from_pem(pek, len) : NULL;
	int ok = cert && pki_verify_pek(cert, s->ca, address, NULL, 0) == 1;
	X509_free(cert);
	return ok;
}

/* Seals pek+pdk into r (whose ids are set) under the sealing key. */
static int seal_into(struct store *s, struct keyrow *r, const char *pek,
                     const char *pdk, struct sbuf *blob)
{
	struct sbuf plain;
	struct row_id id = { r->hash, r->row, r->version };
	const struct pkskey *key = keyring_sealer(s->keys);
	sbuf_init_secret(&plain, KEYROW_BLOB_MAX);
	int ok = key && blob_encode(pek, pdk, &plain) == 0 &&
	         row_seal(key, &id, plain.s, plain.len, blob, r->drs) == 0;
	sbuf_free(&plain);
	if (!ok)
		return fail_why(s->error, sizeof s->error, -1,
		                "cannot seal row%s", key ? "" : ": no PKS key");
	r->pks_key_id = key->id;
	r->blob = (unsigned char *)blob->s;
	r->bloblen = blob->len;
	r->drslen = SEALED_DRS_LEN;
	return 0;
}

/* The rows of address among those locked for its hash: how many, and the
 * highest key version. Fails closed on a row that does not open. */
static int address_rows(struct store *s, const struct keyrows *rows,
                        const char *address, unsigned *count,
                        uint32_t *max_version)
{
	*count = 0;
	*max_version = 0;
	for (size_t i = 0; i < rows->n; i++) {
		char *pek, addr[ADDR_MAX + 1];
		if (row_pek(s, &rows->row[i], &pek, addr) < 0)
			return fail_why(s->error, sizeof s->error, STORE_FAIL,
			                "row %llu of the hash does not open",
			                (unsigned long long)rows->row[i].row);
		free(pek);
		if (strcmp(addr, address) == 0) {
			(*count)++;
			if (rows->row[i].version > *max_version)
				*max_version = rows->row[i].version;
		}
	}
	return STORE_OK;
}

/* The login state of address's rows, carried over to a new key version
 * of it: a reset during a lock must not open a way around the lock. */
static int inherit_login(struct store *s, const struct keyrows *rows,
                         const char *address, uint64_t new_row)
{
	unsigned most = 0;
	int64_t latest = 0;
	for (size_t i = 0; i < rows->n; i++) {
		char *pek, addr[ADDR_MAX + 1];
		unsigned f;
		int64_t until;
		if (row_pek(s, &rows->row[i], &pek, addr) < 0)
			continue;
		free(pek);
		if (strcmp(addr, address) != 0)
			continue;
		int rc = from_db(db_login_get(s->db, rows->row[i].row, &f, &until));
		if (rc != STORE_OK)
			return rc;
		if (f > most)
			most = f;
		if (until > latest)
			latest = until;
	}
	if (most == 0 && latest == 0)
		return STORE_OK;
	return from_db(db_login_set(s->db, new_row, most, latest));
}

/* Row ids are random below 2^53 (exact in every JSON parser). */
static uint64_t new_row_id(void)
{
	uint64_t id = 0;
	while (id == 0) {
		gcry_randomize(&id, sizeof id, GCRY_STRONG_RANDOM);
		id &= ((uint64_t)1 << 53) - 1;
	}
	return id;
}

static int finish(struct store *s, int r)
{
	if (r == STORE_OK)
		r = from_db(db_commit(s->db));
	else
		db_rollback(s->db);
	if (r == STORE_FAIL && !*s->error)
		snprintf(s->error, sizeof s->error, "%s", db_error(s->db));
	return r;
}

static int create_once(struct store *s, const char *address, const char *pek,
                       const char *pdk, int new_version, uint32_t *hash,
                       uint64_t *row, uint32_t *version)
{
	struct keyrows rows = { 0, NULL };
	struct keyrow r;
	struct sbuf blob;
	unsigned count = 0;
	uint32_t maxv = 0;
	*s->error = '\0';
	if (!pek_valid(s, pek, address) || !pdk_plausible(pdk))
		return STORE_INVALID;
	*hash = addr_hash(address);
	int rc = from_db(db_begin(s->db));
	if (rc == STORE_OK)
		rc = from_db(db_rows_by_hash(s->db, *hash, 1, &rows));
	if (rc == STORE_OK)
		rc = address_rows(s, &rows, address, &count, &maxv);
	if (rc == STORE_OK && new_version && count == 0)
		rc = STORE_NOTFOUND;
	if (rc == STORE_OK && !new_version && count > 0)
		rc = STORE_TAKEN;
	sbuf_init(&blob, KEYROW_BLOB_MAX);
	memset(&r, 0, sizeof r);
	r.hash = *hash;
	r.version = new_version ? maxv + 1 : 1;
	for (int attempt = 0; rc == STORE_OK; attempt++) {
		r.row = new_row_id();
		if (seal_into(s, &r, pek, pdk, &blob) < 0) {
			rc = STORE_FAIL;
			break;
		}
		int d = db_row_insert(s->db, &r);
		if (d != DB_DUPLICATE || attempt == 3) {
			rc = from_db(d);
			break;
		}
	}
	if (rc == STORE_OK && new_version)
		rc = inherit_login(s, &rows, address, r.row);
	keyrows_free(&rows);
	sbuf_free(&blob);
	*row = r.row;
	*version = r.version;
	return finish(s, rc);
}

/* Locks row and checks that it belongs to hash. */
static int locked_row(struct store *s, uint32_t hash, uint64_t row,
                      struct keyrows *rows)
{
	int rc = from_db(db_row_by_id(s->db, row, 1, rows));
	if (rc == STORE_OK && rows->row[0].hash != hash) {
		keyrows_free(rows);
		rc = STORE_NOTFOUND;
	}
	return rc;
}

static int replace_pdk_once(struct store *s, uint32_t hash, uint64_t row,
                            const char *pdk, uint32_t *version)
{
	struct keyrows rows = { 0, NULL };
	struct sbuf blob;
	*s->error = '\0';
	if (!pdk_plausible(pdk))
		return STORE_INVALID;
	sbuf_init(&blob, KEYROW_BLOB_MAX);
	int rc = from_db(db_begin(s->db));
	if (rc == STORE_OK)
		rc = locked_row(s, hash, row, &rows);
	if (rc == STORE_OK) {
		struct keyrow r = rows.row[0];
		char *pek = NULL, *old = NULL, address[ADDR_MAX + 1];
		if (open_row(s, &r, &pek, &old, address) < 0)
			rc = STORE_FAIL;
		else if (seal_into(s, &r, pek, pdk, &blob) < 0)
			rc = STORE_FAIL;
		else
			rc = from_db(db_row_update_seal(s->db, &r));
		*version = r.version;
		free(pek);
		free_secret(old);
	}
	keyrows_free(&rows);
	sbuf_free(&blob);
	return finish(s, rc);
}

static int delete_address_once(struct store *s, const char *address,
                               unsigned *deleted)
{
	struct keyrows rows = { 0, NULL };
	*deleted = 0;
	*s->error = '\0';
	int rc = from_db(db_begin(s->db));
	if (rc == STORE_OK)
		rc = from_db(db_rows_by_hash(s->db, addr_hash(address), 1, &rows));
	for (size_t i = 0; rc == STORE_OK && i < rows.n; i++) {
		char *pek, addr[ADDR_MAX + 1];
		if (row_pek(s, &rows.row[i], &pek, addr) < 0)
			continue; /* a broken row is not proven to be theirs */
		free(pek);
		if (strcmp(addr, address) == 0) {
			rc = from_db(db_row_delete(s->db, rows.row[i].row));
			(*deleted)++;
		}
	}
	/* the hash is empty now: its throttle, with the networks its
	 * address logged in from, must not pass to a later subscriber */
	if (rc == STORE_OK && *deleted && *deleted == rows.n)
		rc = from_db(db_throttle_delete(s->db, addr_hash(address)));
	keyrows_free(&rows);
	if (rc == STORE_OK && *deleted == 0)
		rc = STORE_NOTFOUND;
	return finish(s, rc);
}

int store_available(struct store *s, const char *address, int *available)
{
	struct keyrows rows = { 0, NULL };
	unsigned count = 0;
	uint32_t maxv = 0;
	*s->error = '\0';
	int rc = from_db(db_rows_by_hash(s->db, addr_hash(address), 0, &rows));
	if (rc == STORE_OK)
		rc = address_rows(s, &rows, address, &count, &maxv);
	keyrows_free(&rows);
	*available = rc == STORE_OK && count == 0;
	return rc;
}

/* The lock after n failures: none until backoff_after, then doubling
 * delays, then the full lock from lock_after on. */
static int64_t lock_for(const struct lockout *l, unsigned n, int64_t now)
{
	if (n >= l->lock_after)
		return now + l->lock_seconds;
	if (n < l->backoff_after)
		return 0;
	unsigned shift = n - l->backoff_after;
	int64_t delay = shift >= 30 ? l->lock_seconds : (int64_t)1 << shift;
	return now + (delay < l->lock_seconds ? delay : l->lock_seconds);
}

/* Locks the rows of hash and marks in *mine (allocated here) those of
 * the same address as row: its key versions. A login counts per address,
 * not per version. */
static int address_of_row(struct store *s, uint32_t hash, uint64_t row,
                          struct keyrows *rows, unsigned char **mine)
{
	char *pek, address[ADDR_MAX + 1], other[ADDR_MAX + 1];
	*mine = NULL;
	int rc = from_db(db_rows_by_hash(s->db, hash, 1, rows));
	size_t found = rows->n;
	for (size_t i = 0; rc == STORE_OK && i < rows->n; i++)
		if (rows->row[i].row == row)
			found = i;
	if (rc == STORE_OK && found == rows->n)
		rc = STORE_NOTFOUND;
	if (rc == STORE_OK && !(*mine = calloc(rows->n, 1)))
		rc = STORE_FAIL;
	if (rc == STORE_OK && row_pek(s, &rows->row[found], &pek, address) < 0) {
		snprintf(s->error, sizeof s->error, "row %llu does not open",
		         (unsigned long long)row);
		rc = STORE_FAIL;
	} else if (rc == STORE_OK) {
		free(pek);
	}
	for (size_t i = 0; rc == STORE_OK && i < rows->n; i++) {
		(*mine)[i] = i == found;
		if (i != found && row_pek(s, &rows->row[i], &pek, other) == 0) {
			free(pek);
			(*mine)[i] = strcmp(other, address) == 0;
		}
	}
	return rc;
}

/* Sets the login state of the rows marked in mine; with failed, counts
 * one more failure on the highest count among them, reset first when the
 * last failure (or lock) ended lock_seconds ago: old failures are
 * forgiven. The stored locked_until is never before the last failure, so
 * it also dates it; only a time still to come is a lock. */
static int set_login(struct store *s, const struct keyrows *rows,
                     const unsigned char *mine, int failed,
                     unsigned *failures, int64_t *locked_until)
{
	int64_t now = time(NULL);
	unsigned n = 0;
	*locked_until = 0;
	for (size_t i = 0; failed && i < rows->n; i++) {
		unsigned f;
		int64_t until;
		if (!mine[i])
			continue;
		int rc = from_db(db_login_get(s->db, rows->row[i].row, &f, &until));
		if (rc != STORE_OK)
			return rc;
		if (until + (int64_t)s->lockout.lock_seconds < now)
			f = 0;
		if (f > n)
			n = f;
	}
	int64_t stored = 0;
	if (failed) {
		n++;
		*locked_until = lock_for(&s->lockout, n, now);
		stored = *locked_until ? *locked_until : now;
	}
	for (size_t i = 0; i < rows->n; i++) {
		if (!mine[i])
			continue;
		int rc = from_db(db_login_set(s->db, rows->row[i].row, n,
		                              stored));
		if (rc != STORE_OK)
			return rc;
	}
	*failures = n;
	return STORE_OK;
}

static int login_once(struct store *s, uint32_t hash, uint64_t row,
                      int failed, unsigned *failures, int64_t *locked_until)
{
	struct keyrows rows = { 0, NULL };
	unsigned char *mine = NULL;
	*s->error = '\0';
	int rc = from_db(db_begin(s->db));
	if (rc == STORE_OK)
		rc = address_of_row(s, hash, row, &rows, &mine);
	if (rc == STORE_OK)
		rc = set_login(s, &rows, mine, failed, failures, locked_until);
	free(mine);
	keyrows_free(&rows);
	return finish(s, rc);
}

static int login_result(struct store *s, uint32_t hash, uint64_t row,
                        int failed, unsigned *failures, int64_t *locked_until)
{
	int r = STORE_RETRY;
	for (int i = 0; i < RETRIES && r == STORE_RETRY; i++)
		r = login_once(s, hash, row, failed, failures, locked_until);
	return settle(r);
}

int store_login_failure(struct store *s, uint32_t hash, uint64_t row,
                        unsigned *failures, int64_t *locked_until)
{
	return login_result(s, hash, row, 1, failures, locked_until);
}

int store_login_success(struct store *s, uint32_t hash, uint64_t row)
{
	unsigned failures;
	int64_t until;
	return login_result(s, hash, row, 0, &failures, &until);
}

/* ---- login throttling (throttle.h) ---------------------------------- */

/* Locks the rows of hash, which serialises the logins of the address,
 * and reads its two throttle rows; NOTFOUND for a hash without rows. */
static int throttle_rows(struct store *s, uint32_t hash, const char *network,
                         struct keyrows *rows, struct throttle_state *net,
                         struct throttle_state *addr)
{
	int rc = from_db(db_rows_by_hash(s->db, hash, 1, rows));
	if (rc == STORE_OK && rows->n == 0)
		rc = STORE_NOTFOUND;
	if (rc == STORE_OK)
		rc = from_db(db_throttle_get(s->db, hash, THROTTLE_ADDRESS, addr));
	if (rc == STORE_OK)
		rc = from_db(db_throttle_get(s->db, hash, network, net));
	return rc;
}

static int throttle_save(struct store *s, uint32_t hash, const char *network,
                         const struct throttle_state *net,
                         const struct throttle_state *addr)
{
	int rc = from_db(db_throttle_set(s->db, hash, THROTTLE_ADDRESS, addr));
	if (rc == STORE_OK)
		rc = from_db(db_throttle_set(s->db, hash, network, net));
	return rc;
}

/* The counting half of a login attempt: committed before any PDK is
 * opened, so that no guess is served uncounted. rows is left filled on
 * STORE_OK. */
static int attempt_once(struct store *s, uint32_t hash, const char *network,
                        struct keyrows *rows, int64_t *wait)
{
	struct throttle_state net, addr;
	*wait = 0;
	*s->error = '\0';
	int rc = from_db(db_begin(s->db));
	if (rc == STORE_OK)
		rc = throttle_rows(s, hash, network, rows, &net, &addr);
	if (rc == STORE_OK) {
		*wait = throttle_attempt(&s->lockout.throttle, &net, &addr,
		                         time(NULL));
		rc = *wait > 0 ? STORE_THROTTLED
		               : throttle_save(s, hash, network, &net, &addr);
	}
	rc = finish(s, rc);
	if (rc != STORE_OK)
		keyrows_free(rows);
	return rc;
}

int store_login_attempt(struct store *s, uint32_t hash, const char *network,
                        struct key_list *out, int64_t *wait)
{
	struct keyrows rows = { 0, NULL };
	int r = STORE_RETRY;
	out->n = 0;
	out->key = NULL;
	for (int i = 0; i < RETRIES && r == STORE_RETRY; i++)
		r = attempt_once(s, hash, network, &rows, wait);
	r = settle(r);
	if (r == STORE_OK)
		r = collect(s, &rows, 1, 0, out);
	keyrows_free(&rows);
	const struct pkskey *key = r == STORE_OK ? keyring_sealer(s->keys) : NULL;
	for (size_t i = 0; key && i < out->n; i++) {
		struct key_out *k = &out->key[i];
		k->has_pepper = k->pdk && row_login_pepper(key, k->row, k->pdk,
		                                           strlen(k->pdk),
		                                           k->pepper) == 0;
	}
	return r;
}

static int succeeded_once(struct store *s, uint32_t hash, const char *network)
{
	struct keyrows rows = { 0, NULL };
	struct throttle_state net, addr;
	*s->error = '\0';
	int rc = from_db(db_begin(s->db));
	if (rc == STORE_OK)
		rc = throttle_rows(s, hash, network, &rows, &net, &addr);
	if (rc == STORE_OK) {
		throttle_success(&s->lockout.throttle, &net, &addr, time(NULL));
		rc = throttle_save(s, hash, network, &net, &addr);
	}
	keyrows_free(&rows);
	return finish(s, rc);
}

int store_login_succeeded(struct store *s, uint32_t hash, const char *network)
{
	int r = STORE_RETRY;
	for (int i = 0; i < RETRIES && r == STORE_RETRY; i++)
		r = succeeded_once(s, hash, network);
	return settle(r);
}

int store_create(struct store *s, const char *address, const char *pek,
                 const char *pdk, int new_version, uint32_t *hash,
                 uint64_t *row, uint32_t *version)
{
	int r = STORE_RETRY;
	for (int i = 0; i < RETRIES && r == STORE_RETRY; i++)
		r = create_once(s, address, pek, pdk, new_version, hash, row, version);
	return settle(r);
}

int store_replace_pdk(struct store *s, uint32_t hash, uint64_t row,
                      const char *pdk, uint32_t *version)
{
	int r = STORE_RETRY;
	for (int i = 0; i < RETRIES && r == STORE_RETRY; i++)
		r = replace_pdk_once(s, hash, row, pdk, version);
	return settle(r);
}

int store_delete_address(struct store *s, const char *address,
                         unsigned *deleted)
{
	int r = STORE_RETRY;
	for (int i = 0; i < RETRIES && r == STORE_RETRY; i++)
		r = delete_address_once(s, address, deleted);
	return settle(r);
}
