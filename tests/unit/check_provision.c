/*
 * check_provision - the account operations behind ses-adduser,
 * ses-passwd and ses-deluser (admin/provision.h) in a temporary instance
 * ($SQ_HOME), with the PKS part served over HTTPS by pkstest.h's pksd
 * child (the real api, store and db modules on the throwaway MariaDB):
 * opening, password rules, the User ID inspection against this host and
 * the PKS, adding, changing and resetting passwords, deleting, and the
 * journal recovery of interrupted adds and deletes that every opening
 * runs. What is left to tests/integration/provision.t: the programs'
 * dialogue and options, concurrent runs, and kill -9 at each crash point
 * (the records that a kill leaves are made here by hand instead).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "acctfiles.h"
#include "clientauth.h"
#include "crypto/pdk.h"
#include "crypto/pki.h"
#include "journal.h"
#include "mail/addr.h"
#include "mail/maildir.h"
#include "pkstest.h"
#include "provision.h"
#include "testutil.h"

#define JOHN "john.smith@example.org"
#define PW "correct horse battery"
#define PW2 "staple battery horse"
#define NEEDS (PROV_NEED_CA_KEY | PROV_NEED_LOGIN)
#define ELSEWHERE 0     /* the credential of another host's tools */

/* For the whole suite: the CA and the pksd TLS key and certificate. */
static EVP_PKEY *ca_key, *srv_key;
static X509 *ca, *srv;

/* For each check. */
static struct {
	char *home;
	char ctl[3000], keydir[3100];
	struct db *db;
	char cred[4][200];
	struct testpksd pksd;
	struct prov p;
	int open;
	struct pks_client *direct;      /* another host's provision client */
	struct pks_client *login;
} F;

static void suite_setup(void)
{
	static const char *const names[] = { "127.0.0.1" };
	ca_key = pki_keygen();
	srv_key = pki_keygen();
	ca = pki_ca_create(ca_key, "provision test CA", 30);
	srv = pki_issue_server(ca_key, ca, srv_key, names, 1, 30);
	ck_assert_ptr_nonnull(srv);
}

static void suite_teardown(void)
{
	X509_free(srv);
	X509_free(ca);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(ca_key);
}

static void control(const char *name, const char *text)
{
	write_file(F.ctl, name, text, strlen(text));
}

static struct pks_client *client_for(int role)
{
	struct pks_config cfg;
	const char *colon = strchr(F.cred[role], ':');
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.url, sizeof cfg.url, "https://127.0.0.1:%d", F.pksd.port);
	snprintf(cfg.cafile, sizeof cfg.cafile, "%s/ca.pem", F.ctl);
	cfg.client_id = (uint32_t)strtoul(F.cred[role], NULL, 10);
	snprintf(cfg.secret, sizeof cfg.secret, "%s", colon + 1);
	cfg.connect_timeout_ms = 5000;
	cfg.timeout_ms = 20000;
	struct pks_client *c = pks_client_new(&cfg);
	pks_config_wipe(&cfg);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Starts the PKS (HTTPS) and points control/pksurl and the direct
 * clients at it. */
static void pks_up(void)
{
	char url[100];
	SSL_CTX *tls = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(tls);
	ck_assert_int_eq(SSL_CTX_use_certificate(tls, srv), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(tls, srv_key), 1);
	struct testpksd_conf c = { F.ctl, F.keydir, ca, { 3, 5, 3600, { 5, 3600, 50, 60, 86400 } }, tls,
	                           NULL };
	testpksd_start(&F.pksd, &c);
	SSL_CTX_free(tls);      /* the child has its own */
	snprintf(url, sizeof url, "https://127.0.0.1:%d\n", F.pksd.port);
	control("pksurl", url);
	pks_client_free(F.direct);
	pks_client_free(F.login);
	F.direct = client_for(ELSEWHERE);
	F.login = client_for(ROLE_LOGIN);
}

static void pks_down(void)
{
	testpksd_stop(&F.pksd);
}

static void setup(void)
{
	char secret[CLIENT_SECRET_LEN + 1], path[4400];
	struct sbuf pem;
	memset(&F, 0, sizeof F);
	signal(SIGPIPE, SIG_IGN);
	F.db = testdb_fresh();
	F.home = make_tmpdir();
	setenv("SQ_HOME", F.home, 1);
	snprintf(F.ctl, sizeof F.ctl, "%s/control", F.home);
	ck_assert_int_eq(mkdir(F.ctl, 0755), 0);
	testpks_keydir(F.home, F.keydir, sizeof F.keydir);
	struct passwd *pw = getpwuid(geteuid());
	control("deliveryuser", pw->pw_name);
	control("pksallow", "127.0.0.1\n");
	sbuf_init(&pem, 65536);
	ck_assert_int_eq(pki_cert_to_pem(ca, &pem), 0);
	control("ca.pem", pem.s);
	sbuf_reset(&pem);
	snprintf(path, sizeof path, "%s/ca", F.home);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(pki_key_to_pem(ca_key, &pem), 0);
	write_file(path, "ca.key", pem.s, pem.len);
	sbuf_free(&pem);
	/* the provisioning tools' clients, and one for "another host" */
	for (int role = ELSEWHERE; role <= ROLE_PROVISION; role++) {
		struct client_rec c;
		int r = role == ELSEWHERE ? ROLE_PROVISION : role;
		ck_assert_int_eq(client_new(&c, r, "check_provision", secret), 0);
		ck_assert_int_eq(db_client_insert(F.db, &c), DB_OK);
		snprintf(F.cred[role], sizeof F.cred[role], "%lu:%s",
		         (unsigned long)c.id, secret);
	}
	control("pksprovision", F.cred[ROLE_PROVISION]);
	control("pkslogin", F.cred[ROLE_LOGIN]);
	pks_up();
}

static void teardown(void)
{
	if (F.open)
		prov_close(&F.p);
	pks_client_free(F.direct);
	pks_client_free(F.login);
	pks_down();
	db_close(F.db);
	unsetenv("SQ_HOME");
	rm_rf(F.home);
	free(F.home);
	ERR_clear_error();
}

static int open_prov(unsigned needs)
{
	if (F.open)
		prov_close(&F.p);
	int r = prov_open(&F.p, needs);
	F.open = 1;
	return r;
}

/* Files in users/pending. */
static int pending(void)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/users/pending", F.home);
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* A key pair for address from the CA: the PEK and the PDK wrapped with
 * password, as PEM (to free), and the digest a journal record names. */
static void key_pair(const char *address, const char *password, char **pek,
                     char **pdk, char digest[65])
{
	struct sbuf a, b;
	unsigned char md[SHA256_DIGEST_LENGTH];
	EVP_PKEY *k = pki_keygen();
	X509 *c = pki_issue_pek(ca_key, ca, k, address, 30);
	sbuf_init(&a, 65536);
	sbuf_init(&b, PDK_PEM_MAX);
	ck_assert_int_eq(pki_cert_to_pem(c, &a), 0);
	ck_assert_int_eq(pdk_wrap(k, password, strlen(password), &b), 0);
	*pek = strdup(a.s);
	*pdk = strdup(b.s);
	SHA256((const unsigned char *)a.s, a.len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(digest + 2 * i, 3, "%02x", md[i]);
	sbuf_free(&a);
	sbuf_free(&b);
	X509_free(c);
	EVP_PKEY_free(k);
}

/* Keys for address made by "another host" directly in the PKS; the row. */
static uint64_t keys_elsewhere(const char *address, char digest[65])
{
	char *pek, *pdk, d[65];
	uint64_t row;
	unsigned version;
	key_pair(address, PW, &pek, &pdk, digest ? digest : d);
	ck_assert_int_eq(pks_create(F.direct, address, pek, pdk, &row, &version),
	                 PKS_OK);
	free(pek);
	free(pdk);
	return row;
}

/* The rows the PKS holds for address's hash. */
static size_t pks_rows(const char *address)
{
	struct pks_keys keys;
	int r = pks_get_peks(F.direct, addr_hash(address), &keys);
	ck_assert_msg(r == PKS_OK || r == PKS_NOT_FOUND, "PKS: %s",
	              pks_client_error(F.direct));
	size_t n = r == PKS_OK ? keys.n : 0;
	if (r == PKS_OK)
		pks_keys_free(&keys);
	return n;
}

/* Whether version v of address unwraps with password to the private
 * half of its PEK, which the CA issued for the address. */
static int opens_with(const char *address, unsigned v, const char *password)
{
	struct pks_keys keys;
	int found = 0;
	ck_assert_int_eq(pks_get_pdks(F.login, addr_hash(address), &keys),
	                 PKS_OK);
	for (size_t i = 0; i < keys.n; i++) {
		if (keys.key[i].version != v)
			continue;
		X509 *c = pki_cert_from_pem(keys.key[i].pek,
		                            strlen(keys.key[i].pek));
		ck_assert_int_eq(pki_verify_pek(c, ca, address, NULL, 0), 1);
		ck_assert_ptr_nonnull(keys.key[i].pdk);
		EVP_PKEY *k = pdk_unwrap(keys.key[i].pdk, strlen(keys.key[i].pdk),
		                         password, strlen(password));
		found = k && X509_check_private_key(c, k) == 1 ? 1 : -1;
		EVP_PKEY_free(k);
		X509_free(c);
	}
	pks_keys_free(&keys);
	ERR_clear_error();
	ck_assert_msg(found != 0, "no version %u of %s", v, address);
	return found == 1;
}

static void add_ok(const char *address, struct prov_added *out)
{
	int r = prov_add(&F.p, address, PW, strlen(PW), out);
	ck_assert_msg(r == PROV_OK, "prov_add %s: %d: %s", address, r, F.p.why);
}

/* --- opening ------------------------------------------------------------- */

START_TEST(open_is_ready_with_every_file_it_needs)
{
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	ck_assert_ptr_nonnull(F.p.provision);
	ck_assert_ptr_nonnull(F.p.login);
	ck_assert_ptr_nonnull(F.p.ca_key);
	ck_assert_uint_eq(F.p.min_password, 10);
	ck_assert_int_eq(pending(), 0);
	prov_close(&F.p);
	F.open = 0;
	ck_assert_int_eq(open_prov(0), PROV_OK);
	ck_assert_ptr_null(F.p.login);
	ck_assert_ptr_null(F.p.ca_key);
}
END_TEST

START_TEST(open_without_a_file_it_needs_is_temporary)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/pkslogin", F.ctl);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(open_prov(PROV_NEED_CA_KEY), PROV_OK);
	ck_assert_int_eq(open_prov(NEEDS), PROV_TEMP);
	ck_assert_msg(strstr(F.p.why, "pkslogin") != NULL, "%s", F.p.why);
	snprintf(path, sizeof path, "%s/ca/ca.key", F.home);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(open_prov(0), PROV_OK);
	ck_assert_int_eq(open_prov(PROV_NEED_CA_KEY), PROV_TEMP);
	ck_assert_msg(strstr(F.p.why, "CA key") != NULL, "%s", F.p.why);
	control("passwordminlength", "ten\n");
	ck_assert_int_eq(open_prov(0), PROV_TEMP);
	ck_assert_msg(strstr(F.p.why, "passwordminlength") != NULL, "%s",
	              F.p.why);
	control("passwordminlength", "3\n");    /* never below the floor */
	ck_assert_int_eq(open_prov(0), PROV_OK);
	ck_assert_uint_eq(F.p.min_password, PASSWORD_FLOOR);
	snprintf(path, sizeof path, "%s/ca.pem", F.ctl);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(open_prov(0), PROV_TEMP);
	ck_assert_msg(strstr(F.p.why, "ca.pem") != NULL, "%s", F.p.why);
}
END_TEST

START_TEST(passwords_must_be_long_enough_and_not_the_address)
{
	char big[PASSWORD_MAX + 2];
	control("passwordminlength", "12\n");
	ck_assert_int_eq(open_prov(0), PROV_OK);
	ck_assert_int_eq(prov_check_password(&F.p, JOHN, "elevenchars", 11),
	                 PROV_WEAK_PASSWORD);
	ck_assert_msg(strstr(F.p.why, "12") != NULL, "%s", F.p.why);
	ck_assert_int_eq(prov_check_password(&F.p, JOHN, "twelve chars", 12),
	                 PROV_OK);
	ck_assert_int_eq(prov_check_password(&F.p, JOHN, "John.Smith@Example.org",
	                                     22), PROV_WEAK_PASSWORD);
	ck_assert_int_eq(prov_check_password(&F.p, "abcdefghijklm@x.org",
	                                     "ABCDEFGHIJKLM", 13),
	                 PROV_WEAK_PASSWORD);
	ck_assert_int_eq(prov_check_password(&F.p, JOHN, "twelve\0chars", 12),
	                 PROV_WEAK_PASSWORD);
	memset(big, 'x', sizeof big);
	ck_assert_int_eq(prov_check_password(&F.p, JOHN, big, PASSWORD_MAX),
	                 PROV_OK);
	ck_assert_int_eq(prov_check_password(&F.p, JOHN, big, PASSWORD_MAX + 1),
	                 PROV_WEAK_PASSWORD);
}
END_TEST

/* --- the User ID inspection ----------------------------------------------- */

/* Free means free here and in the PKS; suggestions are free too. */
START_TEST(inspection_asks_this_host_and_the_pks)
{
	char address[ADDR_MAX + 1], sugg[4][ADDR_MAX + 1];
	size_t n = 99;
	struct acctfiles *a = &F.p.files;
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	ck_assert_int_eq(userid_inspect("John.Smith", "example.org", &F.p.reserved,
	                                prov_is_free, &F.p, address, sugg, 4, &n),
	                 USERID_OK);
	ck_assert_str_eq(address, JOHN);
	ck_assert_uint_eq(n, 0);
	/* taken in the PKS by another host, and johnsmith@ here */
	keys_elsewhere(JOHN, NULL);
	ck_assert_int_eq(acct_write_dotqmail(a, "johnsmith@example.org", 0), 0);
	ck_assert_int_eq(prov_is_free(JOHN, &F.p), 0);
	ck_assert_int_eq(prov_is_free("johnsmith@example.org", &F.p), 0);
	ck_assert_int_eq(prov_is_free("jsmith@example.org", &F.p), 1);
	ck_assert_int_eq(userid_inspect("john.smith", "example.org", &F.p.reserved,
	                                prov_is_free, &F.p, address, sugg, 4, &n),
	                 USERID_TAKEN);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(sugg[0], "john.smith01@example.org");
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_ne(sugg[i], "johnsmith@example.org");
		ck_assert_int_eq(prov_is_free(sugg[i], &F.p), 1);
	}
	/* reserved: refused without a question to anyone */
	ck_assert_int_eq(userid_inspect("postmaster", "example.org",
	                                &F.p.reserved, prov_is_free, &F.p,
	                                address, sugg, 4, &n), USERID_RESERVED);
}
END_TEST

START_TEST(inspection_with_the_pks_down_is_unavailable)
{
	char address[ADDR_MAX + 1], sugg[4][ADDR_MAX + 1];
	size_t n;
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	pks_down();
	ck_assert_int_eq(prov_is_free(JOHN, &F.p), -1);
	ck_assert_msg(strncmp(F.p.why, "PKS: ", 5) == 0, "%s", F.p.why);
	ck_assert_int_eq(userid_inspect("john.smith", "example.org",
	                                &F.p.reserved, prov_is_free, &F.p,
	                                address, sugg, 4, &n),
	                 USERID_UNAVAILABLE);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* --- add -------------------------------------------------------------------- */

/* The key pair first (a PEK the CA issued for the address, the PDK
 * wrapped with the password), then the files; no record is left. */
START_TEST(add_makes_the_keys_then_the_live_account)
{
	struct prov_added out;
	char text[512], path[4400];
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	add_ok(JOHN, &out);
	ck_assert_str_eq(out.address, JOHN);
	ck_assert_uint_eq(out.hash, addr_hash(JOHN));
	ck_assert_uint_eq(out.version, 1);
	ck_assert_uint_gt(out.row, 0);
	ck_assert_int_eq(acct_is_assigned(&F.p.files, JOHN), 1);
	ck_assert_int_eq(acct_has_dotqmail(&F.p.files, JOHN), 1);
	ck_assert_int_eq(acct_has_domain(&F.p.files, "example.org"), 1);
	snprintf(path, sizeof path, "%s/rcpthosts", F.ctl);
	int fd = open(path, O_RDONLY);
	ssize_t len = read(fd, text, sizeof text - 1);
	close(fd);
	text[len > 0 ? len : 0] = '\0';
	ck_assert_str_eq(text, "example.org\n");
	ck_assert_int_eq(pending(), 0);
	ck_assert_uint_eq(pks_rows(JOHN), 1);
	ck_assert(opens_with(JOHN, 1, PW));
	ck_assert(!opens_with(JOHN, 1, PW2));
}
END_TEST

START_TEST(add_of_an_account_that_is_here_is_taken)
{
	struct prov_added out;
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	add_ok(JOHN, &out);
	ck_assert_int_eq(prov_add(&F.p, JOHN, PW, strlen(PW), &out), PROV_TAKEN);
	ck_assert_msg(strstr(F.p.why, "taken") != NULL, "%s", F.p.why);
	ck_assert_uint_eq(pks_rows(JOHN), 1);
	ck_assert_int_eq(pending(), 0);
}
END_TEST

/* Another host won the address in the PKS: taken, and nothing of ours is
 * left (no files, no record). */
START_TEST(add_of_an_address_the_pks_has_is_taken_and_leaves_nothing)
{
	struct prov_added out;
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	keys_elsewhere(JOHN, NULL);
	ck_assert_int_eq(prov_add(&F.p, JOHN, PW, strlen(PW), &out), PROV_TAKEN);
	ck_assert_int_eq(acct_exists(&F.p.files, JOHN), 0);
	ck_assert_int_eq(acct_has_domain(&F.p.files, "example.org"), 0);
	ck_assert_int_eq(pending(), 0);
	ck_assert_uint_eq(pks_rows(JOHN), 1);
}
END_TEST

/* The PKS cannot be asked: temporary, the record stays, and the next
 * opening undoes the add (no row) once the PKS answers. */
START_TEST(add_with_the_pks_down_is_temporary_and_undone_later)
{
	struct prov_added out;
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	pks_down();
	ck_assert_int_eq(prov_add(&F.p, JOHN, PW, strlen(PW), &out), PROV_TEMP);
	ck_assert_msg(strstr(F.p.why, "next run") != NULL, "%s", F.p.why);
	ck_assert_int_eq(pending(), 1);
	ck_assert_int_eq(acct_exists(&F.p.files, JOHN), 0);
	/* while the PKS is down, recovery cannot decide: it keeps the record */
	ck_assert_int_eq(open_prov(NEEDS), PROV_TEMP);
	ck_assert_int_eq(pending(), 1);
	pks_up();
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	ck_assert_int_eq(pending(), 0);
	ck_assert_int_eq(acct_exists(&F.p.files, JOHN), 0);
	ck_assert_int_eq(prov_is_free(JOHN, &F.p), 1);
}
END_TEST

/* --- recovery of an interrupted add ----------------------------------------- */

static void journal_add(const char *address, const char *digest)
{
	struct journal_entry e;
	memset(&e, 0, sizeof e);
	e.op = JOURNAL_ADD;
	snprintf(e.address, sizeof e.address, "%s", address);
	snprintf(e.pek_digest, sizeof e.pek_digest, "%s", digest);
	ck_assert_int_eq(journal_begin(F.home, &e), 0);
}

/* Killed after the PKS row was made: the files are made (roll forward). */
START_TEST(an_add_killed_after_its_row_is_finished)
{
	char digest[65];
	struct acctfiles a;
	char why[256];
	ck_assert_int_eq(acct_open(&a, why, sizeof why), 0);
	keys_elsewhere(JOHN, digest);           /* "our" row, by its digest */
	journal_add(JOHN, digest);
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), 0);   /* step 6 */
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	ck_assert_int_eq(pending(), 0);
	ck_assert_int_eq(acct_is_assigned(&F.p.files, JOHN), 1);
	ck_assert_int_eq(acct_has_domain(&F.p.files, "example.org"), 1);
	ck_assert_uint_eq(pks_rows(JOHN), 1);
}
END_TEST

/* Killed before the row was made: what files there are go (roll back). */
START_TEST(an_add_killed_before_its_row_is_undone)
{
	char digest[65], *pek, *pdk;
	struct acctfiles a;
	char why[256];
	ck_assert_int_eq(acct_open(&a, why, sizeof why), 0);
	key_pair(JOHN, PW, &pek, &pdk, digest);
	journal_add(JOHN, digest);
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), 0);
	ck_assert_int_eq(acct_assign_add(&a, JOHN), 0);
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	ck_assert_int_eq(pending(), 0);
	ck_assert_int_eq(acct_exists(&F.p.files, JOHN), 0);
	free(pek);
	free(pdk);
}
END_TEST

/* The PKS holds another run's keys for the address: the files are that
 * run's, and stay. */
START_TEST(an_add_that_lost_the_address_leaves_the_winners_files)
{
	char ours[65], *pek, *pdk;
	struct acctfiles a;
	char why[256];
	ck_assert_int_eq(acct_open(&a, why, sizeof why), 0);
	key_pair(JOHN, PW, &pek, &pdk, ours);
	keys_elsewhere(JOHN, NULL);
	journal_add(JOHN, ours);
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), 0);
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	ck_assert_int_eq(pending(), 0);
	ck_assert_int_eq(acct_has_dotqmail(&F.p.files, JOHN), 1);
	ck_assert_uint_eq(pks_rows(JOHN), 1);
	free(pek);
	free(pdk);
}
END_TEST

/* --- passwords -------------------------------------------------------------- */

/* Every version that opens with the old password is re-wrapped: the old
 * password opens nothing any more. */
START_TEST(a_password_change_rewraps_and_a_wrong_one_counts_as_failure)
{
	struct prov_added out;
	unsigned n = 99;
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	add_ok(JOHN, &out);
	ck_assert_int_eq(prov_change_password(&F.p, JOHN, PW2, strlen(PW2), PW,
	                                      strlen(PW), &n),
	                 PROV_WRONG_PASSWORD);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(testdb_scalar("SELECT failures FROM login_state WHERE "
	                               "row_id = %llu",
	                               (unsigned long long)out.row), 1);
	ck_assert_int_eq(prov_change_password(&F.p, JOHN, PW, strlen(PW), "short",
	                                      5, &n), PROV_WEAK_PASSWORD);
	ck_assert_int_eq(prov_change_password(&F.p, JOHN, PW, strlen(PW), PW2,
	                                      strlen(PW2), &n), PROV_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert(opens_with(JOHN, 1, PW2));
	ck_assert(!opens_with(JOHN, 1, PW));
	/* a success clears the count */
	ck_assert_int_eq(testdb_scalar("SELECT failures FROM login_state WHERE "
	                               "row_id = %llu",
	                               (unsigned long long)out.row), 0);
	ck_assert_int_eq(prov_change_password(&F.p, "nobody@example.org", PW,
	                                      strlen(PW), PW2, strlen(PW2), &n),
	                 PROV_NOT_FOUND);
}
END_TEST

START_TEST(a_password_change_during_a_lock_is_temporary)
{
	struct prov_added out;
	unsigned n;
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	add_ok(JOHN, &out);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(pks_login_failure(F.login, out.hash, out.row, NULL,
		                                   NULL), PKS_OK);
	ck_assert_int_eq(prov_change_password(&F.p, JOHN, PW, strlen(PW), PW2,
	                                      strlen(PW2), &n), PROV_TEMP);
	ck_assert_msg(strstr(F.p.why, "locked") != NULL, "%s", F.p.why);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* A reset adds a version under the new password; the old one stays,
 * under the old password. */
START_TEST(a_reset_adds_a_version_and_keeps_the_old_one)
{
	struct prov_added out;
	unsigned version = 0;
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	add_ok(JOHN, &out);
	ck_assert_int_eq(prov_reset(&F.p, JOHN, "tiny", 4, &version),
	                 PROV_WEAK_PASSWORD);
	ck_assert_int_eq(prov_reset(&F.p, JOHN, PW2, strlen(PW2), &version),
	                 PROV_OK);
	ck_assert_uint_eq(version, 2);
	ck_assert_uint_eq(pks_rows(JOHN), 2);
	ck_assert(opens_with(JOHN, 1, PW));
	ck_assert(opens_with(JOHN, 2, PW2));
	ck_assert_int_eq(prov_reset(&F.p, "nobody@example.org", PW2, strlen(PW2),
	                            &version), PROV_NOT_FOUND);
}
END_TEST

/* --- delete ------------------------------------------------------------------ */

START_TEST(delete_removes_the_account_and_every_key_version)
{
	struct prov_added out;
	struct prov_deleted del;
	char id[MAILDIR_ID_SIZE];
	unsigned version;
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	add_ok(JOHN, &out);
	ck_assert_int_eq(prov_reset(&F.p, JOHN, PW2, strlen(PW2), &version),
	                 PROV_OK);
	struct pks_keys keys;
	ck_assert_int_eq(pks_get_peks(F.direct, out.hash, &keys), PKS_OK);
	ck_assert_uint_eq(keys.n, 2);
	uint64_t lowest = keys.key[0].row < keys.key[1].row ? keys.key[0].row
	                                                    : keys.key[1].row;
	pks_keys_free(&keys);
	ck_assert_int_eq(prov_delete(&F.p, JOHN, 0, &del), PROV_OK);
	ck_assert_uint_eq(del.keys, 2);
	/* the mailbox is named by the lowest row, as encrypt_local chooses */
	maildir_id_format(id, out.hash, lowest);
	ck_assert_str_eq(del.mailbox, id);
	ck_assert_int_eq(del.mail_here, 0);
	ck_assert_int_eq(acct_exists(&F.p.files, JOHN), 0);
	ck_assert_uint_eq(pks_rows(JOHN), 0);
	ck_assert_int_eq(pending(), 0);
	ck_assert_int_eq(prov_delete(&F.p, JOHN, 0, &del), PROV_NOT_FOUND);
}
END_TEST

/* Without PROV_REMOVE_MAIL the mailbox on this host stays; with it, it
 * goes. */
START_TEST(stored_mail_goes_only_when_asked)
{
	struct prov_added out;
	struct prov_deleted del;
	char id[MAILDIR_ID_SIZE], path[4400];
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	for (int pass = 0; pass < 2; pass++) {
		add_ok(JOHN, &out);
		maildir_id_format(id, out.hash, out.row);
		snprintf(path, sizeof path, "%s/maildirs", F.home);
		mkdir(path, 0700);
		snprintf(path, sizeof path, "%s/maildirs/%s", F.home, id);
		ck_assert_int_eq(mkdir(path, 0700), 0);
		snprintf(path, sizeof path, "%s/maildirs/%s/new", F.home, id);
		ck_assert_int_eq(mkdir(path, 0700), 0);
		write_file(path, "1.2.host", "sealed", 6);
		ck_assert_int_eq(prov_delete(&F.p, JOHN, pass ? PROV_REMOVE_MAIL : 0,
		                             &del), PROV_OK);
		ck_assert_str_eq(del.mailbox, id);
		snprintf(path, sizeof path, "%s/maildirs/%s", F.home, id);
		if (pass) {
			ck_assert_int_eq(del.mail_here, 0);
			ck_assert_int_eq(del.mail_removed, 1);
			ck_assert_int_eq(access(path, F_OK), -1);
		} else {
			ck_assert_int_eq(del.mail_here, 1);
			ck_assert_int_eq(del.mail_removed, 0);
			ck_assert_int_eq(access(path, F_OK), 0);
		}
	}
}
END_TEST

/* PROV_KEEP_KEYS removes the files only; PROV_KEYS_ONLY deletes only the
 * keys of an address with no account here. */
START_TEST(keep_keys_and_keys_only_touch_one_side_each)
{
	struct prov_added out;
	struct prov_deleted del;
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	add_ok(JOHN, &out);
	ck_assert_int_eq(prov_delete(&F.p, JOHN, PROV_KEYS_ONLY, &del),
	                 PROV_INVALID);
	ck_assert_int_eq(acct_exists(&F.p.files, JOHN), 1);
	ck_assert_int_eq(prov_delete(&F.p, JOHN, PROV_KEEP_KEYS, &del), PROV_OK);
	ck_assert_uint_eq(del.keys, 0);
	ck_assert_int_eq(acct_exists(&F.p.files, JOHN), 0);
	ck_assert_uint_eq(pks_rows(JOHN), 1);
	/* now the keys are another host's, as far as this one knows */
	ck_assert_int_eq(prov_delete(&F.p, JOHN, 0, &del), PROV_NOT_FOUND);
	ck_assert_msg(strstr(F.p.why, "--keys-only") != NULL, "%s", F.p.why);
	ck_assert_int_eq(prov_delete(&F.p, JOHN, PROV_KEYS_ONLY, &del), PROV_OK);
	ck_assert_uint_eq(del.keys, 1);
	ck_assert_uint_eq(pks_rows(JOHN), 0);
	ck_assert_int_eq(prov_delete(&F.p, JOHN, PROV_KEYS_ONLY, &del),
	                 PROV_NOT_FOUND);
}
END_TEST

/* --- recovery of an interrupted delete --------------------------------------- */

static void journal_delete(const char *address, enum journal_op op,
                           const uint64_t *rows, const char (*digests)[65],
                           size_t n)
{
	struct journal_entry e;
	memset(&e, 0, sizeof e);
	e.op = op;
	snprintf(e.address, sizeof e.address, "%s", address);
	e.rows_known = 1;
	e.nrows = n;
	for (size_t i = 0; i < n; i++) {
		e.rows[i].row = rows[i];
		snprintf(e.rows[i].digest, sizeof e.rows[i].digest, "%s", digests[i]);
	}
	ck_assert_int_eq(journal_begin(F.home, &e), 0);
}

/* Finished: the files go, and the keys the record names. */
START_TEST(a_delete_killed_midway_is_finished)
{
	char digest[1][65];
	struct acctfiles a;
	char why[256];
	ck_assert_int_eq(acct_open(&a, why, sizeof why), 0);
	uint64_t row = keys_elsewhere(JOHN, digest[0]);
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), 0);
	journal_delete(JOHN, JOURNAL_DELETE, &row, (const char (*)[65])digest,
	               1);
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	ck_assert_int_eq(pending(), 0);
	ck_assert_int_eq(acct_exists(&F.p.files, JOHN), 0);
	ck_assert_uint_eq(pks_rows(JOHN), 0);
}
END_TEST

/* A row the record does not name was made after the delete began (the
 * address was provisioned again elsewhere): those keys stay. So do all
 * keys for a delete that kept them. */
START_TEST(a_delete_recovery_never_takes_keys_it_did_not_name)
{
	char digest[1][65], later[1][65];
	struct acctfiles a;
	char why[256];
	ck_assert_int_eq(acct_open(&a, why, sizeof why), 0);
	uint64_t row = keys_elsewhere(JOHN, digest[0]);
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), 0);
	journal_delete(JOHN, JOURNAL_DELETE, &row, (const char (*)[65])digest,
	               1);
	keys_elsewhere("someone.else@example.org", NULL);
	/* the record names a row of another PEK than the one the PKS has */
	snprintf(later[0], sizeof later[0], "%064d", 0);
	uint64_t other = row + 1;
	journal_delete("someone.else@example.org", JOURNAL_DELETE, &other,
	               (const char (*)[65])later, 1);
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	ck_assert_int_eq(pending(), 0);
	ck_assert_uint_eq(pks_rows(JOHN), 0);
	ck_assert_uint_eq(pks_rows("someone.else@example.org"), 1);
	/* and a delete that kept the keys */
	keys_elsewhere(JOHN, NULL);
	ck_assert_int_eq(acct_write_dotqmail(&a, JOHN, 0), 0);
	journal_delete(JOHN, JOURNAL_DELETE_KEEP_KEYS, NULL, NULL, 0);
	ck_assert_int_eq(open_prov(NEEDS), PROV_OK);
	ck_assert_int_eq(pending(), 0);
	ck_assert_int_eq(acct_has_dotqmail(&F.p.files, JOHN), 0);
	ck_assert_uint_eq(pks_rows(JOHN), 1);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("provision");
	if (!testdb_available())
		return testdb_skip_suite(s);
	TCase *tc = tcase_create("provision");
	tcase_add_unchecked_fixture(tc, testdb_start, testdb_stop);
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, open_is_ready_with_every_file_it_needs);
	tcase_add_test(tc, open_without_a_file_it_needs_is_temporary);
	tcase_add_test(tc, passwords_must_be_long_enough_and_not_the_address);
	tcase_add_test(tc, inspection_asks_this_host_and_the_pks);
	tcase_add_test(tc, inspection_with_the_pks_down_is_unavailable);
	tcase_add_test(tc, add_makes_the_keys_then_the_live_account);
	tcase_add_test(tc, add_of_an_account_that_is_here_is_taken);
	tcase_add_test(tc, add_of_an_address_the_pks_has_is_taken_and_leaves_nothing);
	tcase_add_test(tc, add_with_the_pks_down_is_temporary_and_undone_later);
	tcase_add_test(tc, an_add_killed_after_its_row_is_finished);
	tcase_add_test(tc, an_add_killed_before_its_row_is_undone);
	tcase_add_test(tc, an_add_that_lost_the_address_leaves_the_winners_files);
	tcase_add_test(tc, a_password_change_rewraps_and_a_wrong_one_counts_as_failure);
	tcase_add_test(tc, a_password_change_during_a_lock_is_temporary);
	tcase_add_test(tc, a_reset_adds_a_version_and_keeps_the_old_one);
	tcase_add_test(tc, delete_removes_the_account_and_every_key_version);
	tcase_add_test(tc, stored_mail_goes_only_when_asked);
	tcase_add_test(tc, keep_keys_and_keys_only_touch_one_side_each);
	tcase_add_test(tc, a_delete_killed_midway_is_finished);
	tcase_add_test(tc, a_delete_recovery_never_takes_keys_it_did_not_name);
	suite_add_tcase(s, tc);
	return s;
}
