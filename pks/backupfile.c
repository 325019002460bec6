/*
 * backupfile - the PKS backup file. See backupfile.h and pks-backup(5).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#include "backupfile.h"

#define KEY_LEN 32
#define DERIVED_LEN (KEY_LEN + BACKUP_CHECK_LEN)
#define SCRYPT_R 8      /* fixed by gcry_kdf_derive for GCRY_KDF_SCRYPT */

/* Offsets in the header. */
enum {
	OFF_FORMAT = 8, OFF_KDF = 9, OFF_LOG_N = 10, OFF_R = 11, OFF_P = 12,
	OFF_SALT = 16, OFF_CHECK = OFF_SALT + BACKUP_SALT_LEN,
	OFF_NONCE = OFF_CHECK + BACKUP_CHECK_LEN,
	OFF_LENGTH = OFF_NONCE + BACKUP_NONCE_LEN
};

const char *backup_strerror(int result)
{
	switch (result) {
	case BACKUP_OK:
		return "ok";
	case BACKUP_MALFORMED:
		return "not a PKS backup of a format or cost this pks-ctl reads";
	case BACKUP_PASSPHRASE:
		return "wrong passphrase (or a damaged header)";
	case BACKUP_TAMPERED:
		return "the backup is damaged, cut short or was changed: its "
		       "authentication tag does not verify";
	default:
		return "out of memory or a failure of the crypto library";
	}
}

int backup_kdf(const void *pass, size_t passlen, const unsigned char *salt,
               size_t saltlen, unsigned log_n, unsigned p, unsigned char *out,
               size_t n)
{
	if (log_n < 1 || log_n > 30 || p < 1)
		return -1;
	return gcry_kdf_derive(pass, passlen, GCRY_KDF_SCRYPT, 1 << log_n, salt,
	                       saltlen, p, n, out) ? -1 : 0;
}

static void put_be(unsigned char *p, uint64_t v, int octets)
{
	for (int i = octets - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_be(const unsigned char *p, int octets)
{
	uint64_t v = 0;
	for (int i = 0; i < octets; i++)
		v = v << 8 | p[i];
	return v;
}

/* AES-256-GCM over n octets of in into out, the header as associated
 * data; with encrypt the tag is written, else checked. 0, -1 (library)
 * or BACKUP_TAMPERED. */
static int gcm(const unsigned char *key, const unsigned char *header,
               const void *in, void *out, size_t n, unsigned char *tag,
               int encrypt)
{
	gcry_cipher_hd_t h;
	if (gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM,
	                     GCRY_CIPHER_SECURE))
		return -1;
	int r = gcry_cipher_setkey(h, key, KEY_LEN) ||
	        gcry_cipher_setiv(h, header + OFF_NONCE, BACKUP_NONCE_LEN) ||
	        gcry_cipher_authenticate(h, header, BACKUP_HEADER_LEN) ? -1 : 0;
	if (r == 0 && encrypt)
		r = gcry_cipher_encrypt(h, out, n, in, n) ||
		    gcry_cipher_gettag(h, tag, BACKUP_TAG_LEN) ? -1 : 0;
	else if (r == 0 && gcry_cipher_decrypt(h, out, n, in, n))
		r = -1;
	else if (r == 0 && gcry_cipher_checktag(h, tag, BACKUP_TAG_LEN))
		r = BACKUP_TAMPERED;
	gcry_cipher_close(h);
	return r;
}

/* The key and check value of a header's salt and cost, into secure
 * memory (NULL on failure). */
static unsigned char *derive(const void *pass, size_t passlen,
                             const unsigned char *header)
{
	unsigned char *d = gcry_malloc_secure(DERIVED_LEN);
	if (d && backup_kdf(pass, passlen, header + OFF_SALT, BACKUP_SALT_LEN,
	                    header[OFF_LOG_N], header[OFF_P], d,
	                    DERIVED_LEN) < 0) {
		gcry_free(d);
		d = NULL;
	}
	return d;
}

int backup_seal(const void *pass, size_t passlen, unsigned log_n, unsigned p,
                const void *payload, size_t n, struct sbuf *out)
{
	if (n > BACKUP_PAYLOAD_MAX || log_n < BACKUP_LOG_N_MIN ||
	    log_n > BACKUP_LOG_N_MAX || p < 1 || p > BACKUP_P_MAX)
		return BACKUP_FAIL;
	size_t start = out->len;
	unsigned char *h = (unsigned char *)sbuf_grow(out, BACKUP_HEADER_LEN +
	                                              n + BACKUP_TAG_LEN);
	if (!h)
		return BACKUP_FAIL;
	memcpy(h, BACKUP_MAGIC, 8);
	h[OFF_FORMAT] = BACKUP_FORMAT;
	h[OFF_KDF] = BACKUP_KDF_SCRYPT;
	h[OFF_LOG_N] = (unsigned char)log_n;
	h[OFF_R] = SCRYPT_R;
	h[OFF_P] = (unsigned char)p;
	gcry_randomize(h + OFF_SALT, BACKUP_SALT_LEN, GCRY_STRONG_RANDOM);
	gcry_create_nonce(h + OFF_NONCE, BACKUP_NONCE_LEN);
	put_be(h + OFF_LENGTH, n, 8);
	unsigned char *d = derive(pass, passlen, h);
	int r = d ? 0 : -1;
	if (r == 0) {
		memcpy(h + OFF_CHECK, d + KEY_LEN, BACKUP_CHECK_LEN);
		unsigned char *body = h + BACKUP_HEADER_LEN;
		r = gcm(d, h, payload, body, n, body + n, 1);
	}
	gcry_free(d); /* secure memory: wiped */
	if (r != 0)
		sbuf_truncate(out, start);
	return r == 0 ? BACKUP_OK : BACKUP_FAIL;
}

/* The header's fixed fields, its cost within bounds and its length that
 * of the file. */
static int header_ok(const unsigned char *h, size_t n)
{
	if (n < BACKUP_HEADER_LEN + BACKUP_TAG_LEN ||
	    memcmp(h, BACKUP_MAGIC, 8) != 0 || h[OFF_FORMAT] != BACKUP_FORMAT ||
	    h[OFF_KDF] != BACKUP_KDF_SCRYPT || h[OFF_R] != SCRYPT_R ||
	    h[OFF_LOG_N] < BACKUP_LOG_N_MIN || h[OFF_LOG_N] > BACKUP_LOG_N_MAX ||
	    h[OFF_P] < 1 || h[OFF_P] > BACKUP_P_MAX || h[13] || h[14] || h[15])
		return 0;
	uint64_t len = get_be(h + OFF_LENGTH, 8);
	return len <= BACKUP_PAYLOAD_MAX &&
	       len == n - BACKUP_HEADER_LEN - BACKUP_TAG_LEN;
}

/* Compares the check values in time independent of where they differ. */
static int check_matches(const unsigned char *a, const unsigned char *b)
{
	unsigned diff = 0;
	for (size_t i = 0; i < BACKUP_CHECK_LEN; i++)
		diff |= (unsigned)(a[i] ^ b[i]);
	return diff == 0;
}

int backup_open(const void *pass, size_t passlen, const void *file, size_t n,
                struct sbuf *payload)
{
	const unsigned char *h = file;
	if (!header_ok(h, n))
		return BACKUP_MALFORMED;
	size_t len = n - BACKUP_HEADER_LEN - BACKUP_TAG_LEN;
	unsigned char *d = derive(pass, passlen, h);
	if (!d)
		return BACKUP_FAIL;
	int r = BACKUP_PASSPHRASE;
	if (check_matches(d + KEY_LEN, h + OFF_CHECK)) {
		size_t start = payload->len;
		char *out = sbuf_grow(payload, len);
		r = out ? gcm(d, h, h + BACKUP_HEADER_LEN, out, len,
		              (unsigned char *)h + BACKUP_HEADER_LEN + len, 0)
		        : BACKUP_FAIL;
		if (r != 0) /* wipes what was decrypted of a refused file */
			sbuf_truncate(payload, start);
		if (r == -1)
			r = BACKUP_FAIL;
	}
	gcry_free(d);
	return r;
}

/* ---- the payload's encoding ------------------------------------------- */

static int put_int(struct sbuf *b, uint64_t v, int octets)
{
	unsigned char *p = (unsigned char *)sbuf_grow(b, (size_t)octets);
	if (!p)
		return -1;
	put_be(p, v, octets);
	return 0;
}

int bput_u8(struct sbuf *b, unsigned v)
{
	return v > 0xff ? -1 : put_int(b, v, 1);
}

int bput_u16(struct sbuf *b, unsigned v)
{
	return v > 0xffff ? -1 : put_int(b, v, 2);
}

int bput_u32(struct sbuf *b, uint32_t v)
{
	return put_int(b, v, 4);
}

int bput_u64(struct sbuf *b, uint64_t v)
{
	return put_int(b, v, 8);
}

int bput_bytes(struct sbuf *b, const void *data, size_t n)
{
	if (n > 0xffffffffUL || bput_u32(b, (uint32_t)n) < 0)
		return -1;
	return sbuf_put(b, data, n);
}

void breader_init(struct breader *r, const void *data, size_t n)
{
	r->p = data;
	r->len = n;
	r->pos = 0;
	r->failed = 0;
}

/* The next octets octets, or NULL (and the reader failed). */
static const unsigned char *take(struct breader *r, size_t octets)
{
	if (r->failed || octets > r->len - r->pos) {
		r->failed = 1;
		return NULL;
	}
	const unsigned char *p = r->p + r->pos;
	r->pos += octets;
	return p;
}

static int get_int(struct breader *r, uint64_t *v, int octets)
{
	const unsigned char *p = take(r, (size_t)octets);
	*v = p ? get_be(p, octets) : 0;
	return p ? 0 : -1;
}

int bget_u8(struct breader *r, unsigned *v)
{
	uint64_t x;
	int rc = get_int(r, &x, 1);
	*v = (unsigned)x;
	return rc;
}

int bget_u16(struct breader *r, unsigned *v)
{
	uint64_t x;
	int rc = get_int(r, &x, 2);
	*v = (unsigned)x;
	return rc;
}

int bget_u32(struct breader *r, uint32_t *v)
{
	uint64_t x;
	int rc = get_int(r, &x, 4);
	*v = (uint32_t)x;
	return rc;
}

int bget_u64(struct breader *r, uint64_t *v)
{
	return get_int(r, v, 8);
}

int bget_bytes(struct breader *r, const unsigned char **data, size_t *n,
               size_t max)
{
	uint32_t len;
	*data = NULL;
	*n = 0;
	if (bget_u32(r, &len) < 0)
		return -1;
	if (len > max) {
		r->failed = 1;
		return -1;
	}
	*data = take(r, len);
	*n = *data ? len : 0;
	return *data ? 0 : -1;
}

int breader_done(const struct breader *r)
{
	return !r->failed && r->pos == r->len;
}

/* ---- the payload: what a backup holds --------------------------------- */

static int encode_keys(const struct backup_data *d, struct sbuf *out)
{
	unsigned n = 0;
	for (int i = 0; i < KEY_SLOTS; i++)
		n += d->have[i] != 0;
	int r = bput_u8(out, n);
	for (int i = 0; r == 0 && i < KEY_SLOTS; i++)
		if (d->have[i])
			r = bput_u8(out, (unsigned)i) |
			    bput_u32(out, d->key[i].id) |
			    sbuf_put(out, d->key[i].priv, PKSKEY_LEN);
	return r ? -1 : 0;
}

static int encode_clients(const struct backup_data *d, struct sbuf *out)
{
	int r = bput_u32(out, (uint32_t)d->nclient);
	for (size_t i = 0; r == 0 && i < d->nclient; i++) {
		const struct client_rec *c = &d->client[i];
		r = bput_u32(out, c->id) | bput_u8(out, (unsigned)c->role) |
		    sbuf_put(out, c->salt, sizeof c->salt) |
		    sbuf_put(out, c->hash, sizeof c->hash) |
		    bput_bytes(out, c->note, strlen(c->note)) |
		    bput_u64(out, (uint64_t)c->created);
	}
	return r ? -1 : 0;
}

static int encode_rows(const struct backup_data *d, struct sbuf *out)
{
	int r = bput_u64(out, d->rows.n);
	for (size_t i = 0; r == 0 && i < d->rows.n; i++) {
		const struct keyrow *k = &d->rows.row[i];
		r = bput_u64(out, k->row) | bput_u32(out, k->hash) |
		    bput_u32(out, k->version) | bput_u32(out, k->pks_key_id) |
		    bput_bytes(out, k->blob, k->bloblen) |
		    bput_bytes(out, k->drs, k->drslen) |
		    bput_u64(out, (uint64_t)k->created) |
		    bput_u64(out, (uint64_t)k->updated);
	}
	return r ? -1 : 0;
}

static int encode_logins(const struct backup_data *d, struct sbuf *out)
{
	int r = bput_u64(out, d->nlogin);
	for (size_t i = 0; r == 0 && i < d->nlogin; i++)
		r = bput_u64(out, d->login[i].row) |
		    bput_u32(out, d->login[i].failures) |
		    bput_u64(out, (uint64_t)d->login[i].locked_until);
	return r ? -1 : 0;
}

int backup_encode(const struct backup_data *d, struct sbuf *out)
{
	if (bput_u64(out, (uint64_t)d->made) < 0 ||
	    bput_u32(out, d->schema) < 0 || encode_keys(d, out) < 0 ||
	    encode_clients(d, out) < 0 || encode_rows(d, out) < 0 ||
	    encode_logins(d, out) < 0)
		return -1;
	return 0;
}

/* An array of count elements of size octets, each of which takes at least
 * min octets of what the reader has left: a count no payload could hold
 * allocates nothing. NULL (and the reader failed) otherwise. */
static void *alloc_for(struct breader *r, uint64_t count, size_t size,
                       size_t min)
{
	if (r->failed || count > (r->len - r->pos) / min) {
		r->failed = 1;
		return NULL;
	}
	void *p = calloc(count ? (size_t)count : 1, size);
	if (!p)
		r->failed = 1;
	return p;
}

static int decode_keys(struct backup_data *d, struct breader *r)
{
	unsigned n, slot;
	uint32_t id;
	const unsigned char *priv;
	if (bget_u8(r, &n) < 0 || n < 1 || n > KEY_SLOTS)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if (bget_u8(r, &slot) < 0 || bget_u32(r, &id) < 0 ||
		    !(priv = take(r, PKSKEY_LEN)) || slot >= KEY_SLOTS ||
		    d->have[slot] || pkskey_from_priv(&d->key[slot], priv) < 0)
			return -1;
		d->have[slot] = 1;
		if (d->key[slot].id != id)
			return -1;
	}
	return 0;
}

static int decode_clients(struct backup_data *d, struct breader *r)
{
	uint32_t n;
	unsigned role;
	uint64_t created;
	const unsigned char *note;
	size_t notelen;
	/* id, role, salt, hash, note length, created */
	size_t least = 4 + 1 + 16 + 32 + 4 + 8;
	if (bget_u32(r, &n) < 0 ||
	    !(d->client = alloc_for(r, n, sizeof *d->client, least)))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		struct client_rec *c = &d->client[i];
		const unsigned char *salt, *hash;
		if (bget_u32(r, &c->id) < 0 || bget_u8(r, &role) < 0 ||
		    !(salt = take(r, sizeof c->salt)) ||
		    !(hash = take(r, sizeof c->hash)) ||
		    bget_bytes(r, &note, &notelen, sizeof c->note - 1) < 0 ||
		    bget_u64(r, &created) < 0)
			return -1;
		c->role = (int)role;
		memcpy(c->salt, salt, sizeof c->salt);
		memcpy(c->hash, hash, sizeof c->hash);
		memcpy(c->note, note, notelen);
		c->note[notelen] = '\0';
		c->created = (int64_t)created;
		d->nclient++;
	}
	return 0;
}

static int decode_row(struct keyrow *k, struct breader *r)
{
	const unsigned char *blob, *drs;
	uint64_t created, updated;
	if (bget_u64(r, &k->row) < 0 || bget_u32(r, &k->hash) < 0 ||
	    bget_u32(r, &k->version) < 0 || bget_u32(r, &k->pks_key_id) < 0 ||
	    bget_bytes(r, &blob, &k->bloblen, KEYROW_BLOB_MAX) < 0 ||
	    bget_bytes(r, &drs, &k->drslen, sizeof k->drs) < 0 ||
	    bget_u64(r, &created) < 0 || bget_u64(r, &updated) < 0)
		return -1;
	k->blob = malloc(k->bloblen ? k->bloblen : 1);
	if (!k->blob)
		return -1;
	memcpy(k->blob, blob, k->bloblen);
	memcpy(k->drs, drs, k->drslen);
	k->created = (int64_t)created;
	k->updated = (int64_t)updated;
	return 0;
}

static int decode_rows(struct backup_data *d, struct breader *r)
{
	uint64_t n;
	if (bget_u64(r, &n) < 0 || !(d->rows.row = alloc_for(
	        r, n, sizeof *d->rows.row, 8 + 4 * 3 + 4 + 4 + 8 + 8)))
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		if (decode_row(&d->rows.row[i], r) < 0)
			return -1;
		d->rows.n++;
	}
	return 0;
}

static int decode_logins(struct backup_data *d, struct breader *r)
{
	uint64_t n, until;
	if (bget_u64(r, &n) < 0 ||
	    !(d->login = alloc_for(r, n, sizeof *d->login, 8 + 4 + 8)))
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		struct login_rec *l = &d->login[i];
		if (bget_u64(r, &l->row) < 0 || bget_u32(r, &l->failures) < 0 ||
		    bget_u64(r, &until) < 0)
			return -1;
		l->locked_until = (int64_t)until;
		d->nlogin++;
	}
	return 0;
}

int backup_decode(struct backup_data *d, const void *payload, size_t n)
{
	struct breader r;
	uint64_t made;
	memset(d, 0, sizeof *d);
	breader_init(&r, payload, n);
	if (bget_u64(&r, &made) < 0 || bget_u32(&r, &d->schema) < 0 ||
	    decode_keys(d, &r) < 0 || decode_clients(d, &r) < 0 ||
	    decode_rows(d, &r) < 0 || decode_logins(d, &r) < 0 ||
	    !breader_done(&r))
		return -1;
	d->made = (int64_t)made;
	return 0;
}

int backup_key_slot(const struct backup_data *d, uint32_t id)
{
	for (int i = 0; i < KEY_SLOTS; i++)
		if (d->have[i] && d->key[i].id == id)
			return i;
	return -1;
}

void backup_data_free(struct backup_data *d)
{
	for (int i = 0; i < KEY_SLOTS; i++)
		if (d->have[i])
			pkskey_free(&d->key[i]);
	free(d->client);
	keyrows_free(&d->rows);
	free(d->login);
	memset(d, 0, sizeof *d);
}
