/*
 * provision - account operations and their crash-safe order. See
 * provision.h and ses-adduser(8).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "util/atomicfile.h"
#include "util/crashpoint.h"
#include "util/fail.h"
#include "util/home.h"
#include "journal.h"
#include "util/log.h"
#include "mail/maildir.h"
#include "util/path.h"
#include "crypto/pdk.h"
#include "crypto/pki.h"
#include "provision.h"


/* The reason goes to p->why; PROV_TEMP for the caller. */
#define temp(p, ...) fail_why((p)->why, sizeof (p)->why, PROV_TEMP, __VA_ARGS__)

static void digest_hex(const char *pem, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)pem, strlen(pem), md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- recovery ------------------------------------------------------------- */

/* Steps 6-7 of an add. A fresh add (fresh 1) writes only where nothing
 * was: the check under the lock found no account here, so an existing
 * .qmail file or assign entry is a fault, never something to take over.
 * Recovery (fresh 0) runs them again over its own partial work. */
static int write_account_files(struct prov *p, const char *address,
                               int fresh)
{
	const char *domain = strrchr(address, '@') + 1;
	if (acct_write_dotqmail(&p->files, address, !fresh) < 0)
		return temp(p, "cannot write the .qmail file: %s", strerror(errno));
	crash_point("dotqmail");
	if (acct_add_domain(&p->files, domain) < 0)
		return temp(p, "cannot update virtualdomains/rcpthosts: %s",
		            strerror(errno));
	crash_point("domain");
	if (acct_assign_add(&p->files, address) < 0 &&
	    (fresh || errno != EEXIST))
		return temp(p, "cannot update users/assign or users/cdb: %s",
		            strerror(errno));
	crash_point("assign");
	return PROV_OK;
}

static int remove_account_files(struct prov *p, const char *address)
{
	if (acct_assign_remove(&p->files, address) < 0 && errno != ENOENT)
		return temp(p, "cannot update users/assign or users/cdb: %s",
		            strerror(errno));
	crash_point("unassign");
	if (acct_remove_dotqmail(&p->files, address) < 0)
		return temp(p, "cannot remove the .qmail file: %s", strerror(errno));
	return PROV_OK;
}

/* The key rows the PKS holds for address. */
struct addr_rows {
	size_t n;
	struct journal_row row[JOURNAL_ROWS_MAX];
	uint64_t mailbox;       /* the mailbox row (encrypt_local's choice: the
	                         * lowest row that verifies), or 0 */
};

/* 1 if a row's PEK names address, or cannot be read: it might, and in
 * doubt a row counts, so that recovery rather keeps keys than deletes
 * another's. Rows of other addresses with the same hash do not. */
static int names_address(X509 *cert, const char *address)
{
	char named[ADDR_MAX + 1];
	return !cert || pki_cert_address(cert, named) < 0 ||
	       strcmp(named, address) == 0;
}

static int add_row(struct prov *p, struct addr_rows *out,
                   const struct pks_key *k, X509 *cert, const char *address)
{
	if (out->n == JOURNAL_ROWS_MAX)
		return temp(p, "%s has more than %d key rows", address,
		            JOURNAL_ROWS_MAX);
	out->row[out->n].row = k->row;
	digest_hex(k->pek, out->row[out->n++].digest);
	if (cert && pki_verify_pek(cert, p->ca, address, NULL, 0) == 1 &&
	    (!out->mailbox || k->row < out->mailbox))
		out->mailbox = k->row;
	return PROV_OK;
}

/* Lists the rows of address (names_address). PROV_OK or PROV_TEMP. */
static int address_rows(struct prov *p, const char *address,
                        struct addr_rows *out)
{
	struct pks_keys keys;
	out->n = 0;
	out->mailbox = 0;
	int r = pks_get_peks(p->provision, addr_hash(address), &keys);
	if (r == PKS_NOT_FOUND)
		return PROV_OK;
	if (r != PKS_OK)
		return temp(p, "PKS: %s", pks_client_error(p->provision));
	r = PROV_OK;
	for (size_t i = 0; r == PROV_OK && i < keys.n; i++) {
		const struct pks_key *k = &keys.key[i];
		X509 *cert = pki_cert_from_pem(k->pek, strlen(k->pek));
		if (names_address(cert, address))
			r = add_row(p, out, k, cert, address);
		X509_free(cert);
	}
	pks_keys_free(&keys);
	return r;
}

static int has_digest(const struct addr_rows *rows, const char *digest)
{
	for (size_t i = 0; i < rows->n; i++)
		if (strcmp(rows->row[i].digest, digest) == 0)
			return 1;
	return 0;
}

/* 1 if every row in rows is one the record names (same row, same PEK). */
static int all_recorded(const struct journal_entry *e,
                        const struct addr_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		size_t j = 0;
		while (j < e->nrows && (e->rows[j].row != rows->row[i].row ||
		                        strcmp(e->rows[j].digest,
		                               rows->row[i].digest)))
			j++;
		if (j == e->nrows)
			return 0;
	}
	return 1;
}

/* An add interrupted: roll forward if the PKS holds our row; roll back
 * only if it holds none for the address. Rows that are not ours mean
 * another run (here or on another host) owns the address now: its files,
 * if any, are not ours to touch (ours come only after our row). */
static int recover_add(struct prov *p, const struct journal_entry *e)
{
	struct addr_rows rows;
	if (address_rows(p, e->address, &rows) != PROV_OK)
		return PROV_TEMP;
	int ours = has_digest(&rows, e->pek_digest);
	int r = PROV_OK;
	if (ours)
		r = write_account_files(p, e->address, 0);
	else if (rows.n == 0)
		r = remove_account_files(p, e->address);
	if (r == PROV_OK)
		log_msg(rows.n && !ours ? SQLOG_WARN : SQLOG_INFO,
		        "recovered an interrupted add of %s: %s", e->address,
		        ours ? "finished" : rows.n ? "undone; the files stay: the "
		        "PKS holds another run's keys for the address" : "undone");
	return r;
}

/* A delete interrupted: the files go; the keys only if every row the PKS
 * holds now is one the record names. A row it does not name was made
 * after the delete began: the address was provisioned again (on another
 * host), and those keys are someone else's. */
static int recover_delete(struct prov *p, const struct journal_entry *e)
{
	struct addr_rows rows;
	int r = remove_account_files(p, e->address);
	if (r != PROV_OK || e->op != JOURNAL_DELETE)
		return r;
	if (address_rows(p, e->address, &rows) != PROV_OK)
		return PROV_TEMP;
	if (rows.n == 0)
		return PROV_OK;
	if (!e->rows_known || !all_recorded(e, &rows)) {
		log_msg(SQLOG_WARN, "recovering the delete of %s: its keys stay: "
		        "the PKS holds %s (ses-deluser --keys-only deletes them)",
		        e->address, e->rows_known ? "a row made after the delete "
		        "began" : "rows the record does not name");
		return PROV_OK;
	}
	if (pks_delete_address(p->provision, e->address, NULL) == PKS_TEMP)
		return temp(p, "PKS: %s", pks_client_error(p->provision));
	return PROV_OK;
}

static int recover_one(const struct journal_entry *e, void *arg)
{
	struct prov *p = arg;
	int r = e->op == JOURNAL_ADD ? recover_add(p, e) : recover_delete(p, e);
	if (r == PROV_OK && e->op != JOURNAL_ADD)
		log_msg(SQLOG_INFO, "recovered an interrupted delete of %s",
		        e->address);
	if (r == PROV_OK && journal_end(p->files.home, e) < 0)
		r = temp(p, "cannot remove a journal record: %s", strerror(errno));
	return r == PROV_OK ? 0 : -1;
}

/* ---- the lock ------------------------------------------------------------ */

/* Takes the provisioning lock and recovers what interrupted runs left.
 * Held only while something changes, never while a person types. */
static int lock(struct prov *p)
{
	if ((p->lockfd = journal_lock(p->files.home)) < 0)
		return temp(p, "cannot take the provisioning lock: %s",
		            strerror(errno));
	if (journal_each(p->files.home, recover_one, p) < 0)
		return *p->why ? PROV_TEMP
		               : temp(p, "unreadable record in users/pending: %s",
		                      strerror(errno));
	return PROV_OK;
}

static void unlock(struct prov *p)
{
	if (p->lockfd >= 0)
		close(p->lockfd);
	p->lockfd = -1;
}

/* ---- opening ----------------------------------------------------------- */

static struct pks_client *client(struct prov *p, const char *ctldir,
                                 const char *credname)
{
	struct pks_config cfg;
	char why[256];
	if (pks_config_load(&cfg, &p->ctl, ctldir, credname, why, sizeof why) < 0) {
		temp(p, "%s", why);
		return NULL;
	}
	struct pks_client *c = pks_client_new(&cfg);
	pks_config_wipe(&cfg);
	if (!c)
		temp(p, "%s", "cannot start the PKS client");
	return c;
}

int prov_open(struct prov *p, unsigned needs)
{
	char ctldir[SQ_PATH_MAX], path[SQ_PATH_MAX], why[256];
	memset(p, 0, sizeof *p);
	p->lockfd = -1;
	p->ctl.dirfd = -1;
	if (acct_open(&p->files, why, sizeof why) < 0)
		return temp(p, "%s", why);
	if (path_join(ctldir, sizeof ctldir, p->files.home, "control",
	              NULL) < 0 || control_open(&p->ctl, ctldir) < 0)
		return temp(p, "control: %s", strerror(errno));
	if (userid_reserved_load(&p->reserved, &p->ctl) < 0)
		return temp(p, "control/reservednames: %s", strerror(errno));
	p->min_password = 10;
	if (control_readulong(&p->ctl, "passwordminlength", PASSWORD_MAX,
	                      &p->min_password) < 0)
		return temp(p, "control/passwordminlength: %s", strerror(errno));
	if (p->min_password < PASSWORD_FLOOR)
		p->min_password = PASSWORD_FLOOR;
	if (path_join(path, sizeof path, ctldir, "ca.pem", NULL) < 0 ||
	    !(p->ca = pki_cert_load(path)))
		return temp(p, "cannot read %.400s", path);
	if (needs & PROV_NEED_CA_KEY) {
		if (path_join(path, sizeof path, p->files.home, "ca", "ca.key",
		              NULL) < 0 || !(p->ca_key = pki_key_load(path)))
			return temp(p, "cannot read the CA key %.400s", path);
	}
	if (!(p->provision = client(p, ctldir, "pksprovision")))
		return PROV_TEMP;
	if ((needs & PROV_NEED_LOGIN) && !(p->login = client(p, ctldir,
	                                                     "pkslogin")))
		return PROV_TEMP;
	/* finish what a crash left before looking at what is free */
	int r = lock(p);
	unlock(p);
	return r;
}

void prov_close(struct prov *p)
{
	pks_client_free(p->provision);
	pks_client_free(p->login);
	X509_free(p->ca);
	EVP_PKEY_free(p->ca_key);
	userid_reserved_free(&p->reserved);
	if (p->ctl.dirfd >= 0)
		control_close(&p->ctl);
	if (p->lockfd >= 0)
		close(p->lockfd);
	p->provision = p->login = NULL;
	p->ca = NULL;
	p->ca_key = NULL;
	p->lockfd = -1;
}

/* ---- checks ---------------------------------------------------------------- */

/* 1 if an account for address is on this host (prov->why on -1). */
static int exists_here(struct prov *p, const char *address)
{
	int here = acct_exists(&p->files, address);
	if (here < 0)
		temp(p, "cannot read users/assign, users/cdb or the .qmail file: "
		     "%s", strerror(errno));
	return here;
}

int prov_is_free(const char *address, void *arg)
{
	struct prov *p = arg;
	int available;
	int here = exists_here(p, address);
	if (here)
		return here < 0 ? -1 : 0;
	int r = pks_availability(p->provision, address, &available);
	if (r != PKS_OK) {
		temp(p, "PKS: %s", pks_client_error(p->provision));
		return -1;
	}
	return available ? 1 : 0;
}

int prov_check_password(struct prov *p, const char *address,
                        const char *password, size_t len)
{
	const char *at = strrchr(address, '@');
	size_t llen = at ? (size_t)(at - address) : strlen(address);
	if (len < p->min_password) {
		snprintf(p->why, sizeof p->why, "a password needs at least %lu "
		         "octets", p->min_password);
		return PROV_WEAK_PASSWORD;
	}
	if (len > PASSWORD_MAX || memchr(password, '\0', len)) {
		snprintf(p->why, sizeof p->why, "a password is at most %d octets, "
		         "without NUL", PASSWORD_MAX);
		return PROV_WEAK_PASSWORD;
	}
	if ((len == strlen(address) && !strncasecmp(password, address, len)) ||
	    (len == llen && !strncasecmp(password, address, llen))) {
		snprintf(p->why, sizeof p->why, "the password may not be the "
		         "address");
		return PROV_WEAK_PASSWORD;
	}
	return PROV_OK;
}

/* ---- keys ---------------------------------------------------------------- */

/* A key pair for address: the PEK (PEM) issued by the CA and the PDK
 * wrapped with the password (PEM). */
static int make_keys(struct prov *p, const char *address,
                     const char *password, size_t pwlen, struct sbuf *pek,
                     struct sbuf *pdk)
{
	EVP_PKEY *key = pki_keygen();
	X509 *cert = key ? pki_issue_pek(p->ca_key, p->ca, key, address,
	                                 PKI_PEK_DAYS) : NULL;
	int ok = cert && pki_cert_to_pem(cert, pek) == 0 &&
	         pdk_wrap(key, password, pwlen, pdk) == 0;
	X509_free(cert);
	EVP_PKEY_free(key);
	return ok ? PROV_OK : temp(p, "%s", "cannot make the key pair");
}

/* ---- operations ------------------------------------------------------------- */

/* The answer of a run that lost the race for address. */
static int taken(struct prov *p, const char *address)
{
	snprintf(p->why, sizeof p->why, "%s was taken meanwhile by another "
	         "run", address);
	return PROV_TAKEN;
}

int prov_add(struct prov *p, const char *address, const char *password,
             size_t pwlen, struct prov_added *out)
{
	struct sbuf pek, pdk;
	struct journal_entry j;
	memset(&j, 0, sizeof j);
	memset(out, 0, sizeof *out);
	sbuf_init(&pek, 65536);
	sbuf_init(&pdk, PDK_PEM_MAX);
	int r = lock(p);
	/* inspected without the lock: another run here may have won since */
	int here = r == PROV_OK ? exists_here(p, address) : 0;
	if (here)
		r = here < 0 ? PROV_TEMP : taken(p, address);
	if (r == PROV_OK)
		r = make_keys(p, address, password, pwlen, &pek, &pdk);
	if (r == PROV_OK) {
		j.op = JOURNAL_ADD;
		snprintf(j.address, sizeof j.address, "%s", address);
		digest_hex(pek.s, j.pek_digest);
		if (journal_begin(p->files.home, &j) < 0)
			r = temp(p, "cannot write the journal: %s", strerror(errno));
	}
	crash_point("journal");
	if (r == PROV_OK) {
		int k = pks_create(p->provision, address, pek.s, pdk.s, &out->row,
		                   &out->version);
		crash_point("pks");
		if (k == PKS_CONFLICT) {
			r = journal_end(p->files.home, &j) < 0
			    ? temp(p, "cannot remove the journal record: %s",
			           strerror(errno))
			    : taken(p, address);
		} else if (k == PKS_TEMP) {
			/* maybe created, maybe not: recovery will ask the PKS */
			r = temp(p, "PKS: %s; the next run finishes or undoes it",
			         pks_client_error(p->provision));
		} else if (k != PKS_OK) {
			char reason[256];
			snprintf(reason, sizeof reason, "%s",
			         pks_client_error(p->provision));
			recover_one(&j, p); /* refused: nothing was made; undo */
			r = temp(p, "PKS refused the key: %s", reason);
		}
	}
	if (r == PROV_OK)
		r = write_account_files(p, address, 1);
	if (r == PROV_OK && journal_end(p->files.home, &j) < 0)
		r = temp(p, "cannot remove the journal record: %s", strerror(errno));
	if (r == PROV_OK) {
		snprintf(out->address, sizeof out->address, "%s", address);
		out->hash = addr_hash(address);
	}
	unlock(p);
	sbuf_free(&pek);
	sbuf_free(&pdk);
	return r;
}

/* The rows of address (PEKs that chain to the CA and name it), with
 * their wrapped PDKs, through the login client. */
static int address_pdks(struct prov *p, const char *address,
                        struct pks_keys *keys, unsigned char **mine)
{
	*mine = NULL;
	int r = pks_get_pdks(p->login, addr_hash(address), keys);
	if (r == PKS_NOT_FOUND)
		return PROV_NOT_FOUND;
	if (r != PKS_OK)
		return temp(p, "PKS: %s", pks_client_error(p->login));
	*mine = calloc(keys->n ? keys->n : 1, 1);
	size_t n = 0;
	for (size_t i = 0; *mine && i < keys->n; i++) {
		X509 *c = pki_cert_from_pem(keys->key[i].pek,
		                            strlen(keys->key[i].pek));
		(*mine)[i] = c && pki_verify_pek(c, p->ca, address, NULL, 0) == 1;
		n += (*mine)[i];
		X509_free(c);
	}
	if (!*mine)
		return temp(p, "%s", "out of memory");
	return n ? PROV_OK : PROV_NOT_FOUND;
}

int prov_change_password(struct prov *p, const char *address,
                         const char *old, size_t oldlen, const char *new_pw,
                         size_t newlen, unsigned *rewrapped)
{
	struct pks_keys keys = { 0, NULL };
	unsigned char *mine = NULL;
	uint64_t newest = 0;
	unsigned newest_version = 0;
	*rewrapped = 0;
	int r = prov_check_password(p, address, new_pw, newlen);
	if (r == PROV_OK)
		r = lock(p);
	if (r == PROV_OK)
		r = address_pdks(p, address, &keys, &mine);
	for (size_t i = 0; r == PROV_OK && i < keys.n; i++) {
		struct pks_key *k = &keys.key[i];
		if (!mine[i])
			continue;
		if (k->version > newest_version) {
			newest_version = k->version;
			newest = k->row;
		}
		if (!k->pdk) {
			r = temp(p, "%s", "the account is locked after failed "
			         "logins; try later");
			break;
		}
		EVP_PKEY *key = pdk_unwrap(k->pdk, strlen(k->pdk), old, oldlen);
		if (!key)
			continue; /* a version under another (older) password */
		struct sbuf pdk;
		sbuf_init(&pdk, PDK_PEM_MAX);
		if (pdk_wrap(key, new_pw, newlen, &pdk) < 0 ||
		    pks_replace_pdk(p->provision, addr_hash(address), k->row,
		                    pdk.s) != PKS_OK)
			r = temp(p, "PKS: %s", pks_client_error(p->provision));
		else
			(*rewrapped)++;
		sbuf_free(&pdk);
		EVP_PKEY_free(key);
	}
	if (r == PROV_OK && *rewrapped == 0) {
		/* a wrong old password is a password guess like any other */
		pks_login_failure(p->login, addr_hash(address), newest, NULL, NULL);
		snprintf(p->why, sizeof p->why, "wrong password");
		r = PROV_WRONG_PASSWORD;
	} else if (r == PROV_OK) {
		pks_login_success(p->login, addr_hash(address), newest);
	}
	unlock(p);
	free(mine);
	pks_keys_free(&keys);
	return r;
}

int prov_reset(struct prov *p, const char *address, const char *password,
               size_t pwlen, unsigned *version)
{
	struct sbuf pek, pdk;
	uint64_t row;
	int r = prov_check_password(p, address, password, pwlen);
	sbuf_init(&pek, 65536);
	sbuf_init(&pdk, PDK_PEM_MAX);
	if (r == PROV_OK)
		r = lock(p);
	if (r == PROV_OK)
		r = make_keys(p, address, password, pwlen, &pek, &pdk);
	if (r == PROV_OK) {
		int k = pks_new_version(p->provision, address, pek.s, pdk.s, &row,
		                        version);
		if (k == PKS_NOT_FOUND)
			r = PROV_NOT_FOUND;
		else if (k != PKS_OK)
			r = temp(p, "PKS: %s", pks_client_error(p->provision));
	}
	unlock(p);
	sbuf_free(&pek);
	sbuf_free(&pdk);
	return r;
}

/* Removes name under dirfd and all below it, at most depth levels of
 * directories (a maildir: the mailbox, tmp/new/cur, messages). 0 or -1. */
static int remove_tree(int parent, const char *name, int depth)
{
	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth == 0)
		return -1;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	                O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = remove_tree(dirfd(d), de->d_name, depth - 1);
	closedir(d);
	return r == 0 ? unlinkat(parent, name, AT_REMOVEDIR) : -1;
}

/* Where the mailbox is on this host (combined mode): 1 if
 * $SQ_HOME/maildirs/ID is there, 0 if not; with remove, removes it
 * first. -1 (errno) if it cannot. */
static int local_mailbox(struct prov *p, const char *id, int remove)
{
	char path[SQ_PATH_MAX];
	if (path_join(path, sizeof path, p->files.home, "maildirs", NULL) < 0)
		return -1;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -1;
	int r = remove && remove_tree(dfd, id, 3) < 0 ? -1 : 0;
	if (r == 0 && remove)
		r = fsync_dir(dfd);
	if (r == 0)
		r = faccessat(dfd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	close(dfd);
	return r;
}

/* What may be deleted: with keys_only, only keys of an address that has
 * no account here; without, only an account that is here (its keys may
 * serve another host's account otherwise). */
static int may_delete(struct prov *p, const char *address, unsigned flags,
                      size_t nrows)
{
	int here = exists_here(p, address);
	if (here < 0)
		return PROV_TEMP;
	if ((flags & PROV_KEYS_ONLY) && here) {
		snprintf(p->why, sizeof p->why, "%s has an account on this host: "
		         "delete it without --keys-only", address);
		return PROV_INVALID;
	}
	if ((flags & PROV_KEYS_ONLY) && nrows == 0) {
		snprintf(p->why, sizeof p->why, "no keys of %s in the PKS",
		         address);
		return PROV_NOT_FOUND;
	}
	if (!(flags & PROV_KEYS_ONLY) && !here) {
		snprintf(p->why, sizeof p->why, "no subscriber %s on this host%s",
		         address, nrows ? " (the PKS holds keys for it, maybe of "
		         "another host's account: --keys-only deletes them)" : "");
		return PROV_NOT_FOUND;
	}
	return PROV_OK;
}

static int delete_locked(struct prov *p, const char *address,
                         unsigned flags, struct prov_deleted *out)
{
	struct journal_entry j;
	struct addr_rows rows;
	int keep_keys = flags & PROV_KEEP_KEYS;
	int r = address_rows(p, address, &rows);
	if (r == PROV_OK)
		r = may_delete(p, address, flags, rows.n);
	if (r != PROV_OK)
		return r;
	if (rows.mailbox)
		maildir_id_format(out->mailbox, addr_hash(address), rows.mailbox);
	memset(&j, 0, sizeof j);
	j.op = keep_keys ? JOURNAL_DELETE_KEEP_KEYS : JOURNAL_DELETE;
	snprintf(j.address, sizeof j.address, "%s", address);
	/* the rows recovery may delete: these, never one made later */
	j.rows_known = 1;
	j.nrows = keep_keys ? 0 : rows.n;
	memcpy(j.rows, rows.row, j.nrows * sizeof *j.rows);
	if (journal_begin(p->files.home, &j) < 0)
		return temp(p, "cannot write the journal: %s", strerror(errno));
	r = remove_account_files(p, address);
	if (r == PROV_OK && !keep_keys && rows.n) {
		int k = pks_delete_address(p->provision, address, &out->keys);
		if (k != PKS_OK && k != PKS_NOT_FOUND)
			r = temp(p, "PKS: %s", pks_client_error(p->provision));
	}
	crash_point("delete");
	if (r == PROV_OK && journal_end(p->files.home, &j) < 0)
		r = temp(p, "cannot remove the journal record: %s", strerror(errno));
	return r;
}

int prov_delete(struct prov *p, const char *address, unsigned flags,
                struct prov_deleted *out)
{
	memset(out, 0, sizeof *out);
	int r = lock(p);
	if (r == PROV_OK)
		r = delete_locked(p, address, flags, out);
	unlock(p);
	if (r != PROV_OK || !*out->mailbox)
		return r;
	/* the account is gone; the stored mail is apart from it */
	out->mail_here = local_mailbox(p, out->mailbox, 0);
	if (out->mail_here == 1 && (flags & PROV_REMOVE_MAIL)) {
		if (local_mailbox(p, out->mailbox, 1) != 0)
			return temp(p, "the account is removed, but not its mail in "
			            "maildirs/%s: %s", out->mailbox, strerror(errno));
		out->mail_here = 0;
		out->mail_removed = 1;
	}
	return out->mail_here < 0
	       ? temp(p, "the account is removed; maildirs/%s: %s", out->mailbox,
	              strerror(errno))
	       : PROV_OK;
}
