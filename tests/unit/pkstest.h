/*
 * pkstest - what the suites of the key store share (check_db,
 * check_store, check_api, check_provision):
 *   - a throwaway MariaDB: tools/sq-mariadb "run" in a fresh directory
 *     under /tmp, started once per test case (an unchecked fixture) and
 *     stopped by testdb_stop, or when the suite dies, since it lives only
 *     as long as a pipe from this process stays open;
 *   - a fresh "pks" database with the schema for every check
 *     (testdb_fresh: what pks-ctl init and migrate do);
 *   - an administrator's connection for what the checks set up or look
 *     at behind the module's back (testdb_sql, testdb_scalar);
 *   - a PKS key directory and an instance CA;
 *   - a pksd made of the real api, store and db modules in a forked
 *     child (testpksd_start), in plain HTTP or, given a TLS context, as
 *     pksd serves it; it dies with the process that started it.
 * The functions are static: each suite includes this once. When
 * mariadbd is not installed, the suites run one check that says so
 * (and fails if SQ_REQUIRE_MARIADB is set).
 */
#ifndef SQ_PKSTEST_H
#define SQ_PKSTEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <mysql.h>
#include <openssl/ssl.h>

#include "api.h"
#include "db.h"
#include "keyring.h"
#include "migrations.h"
#include "net/ipallow.h"
#include "pkskey.h"
#include "store.h"
#include "testutil.h"

/* not every suite uses every function */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

#define TESTDB_NAME "pks"
#define TESTDB_SBIN "/usr/sbin:/usr/local/sbin:/sbin"

static struct {
	pid_t pid;              /* sq-mariadb run */
	int hold;               /* its stdin: when it closes, it stops */
	int out;                /* its stdout */
	char dir[64];
	char socket[128];
} testdb = { 0, -1, -1, "", "" };

/* --- the server ----------------------------------------------------------- */

static int testdb_in_path(const char *prog)
{
	char dirs[8192], path[PATH_MAX];
	const char *env = getenv("PATH");
	snprintf(dirs, sizeof dirs, "%s:%s", env ? env : "/usr/bin:/bin",
	         TESTDB_SBIN);
	for (char *save, *d = strtok_r(dirs, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof path, "%s/%s", d, prog);
		if (access(path, X_OK) == 0)
			return 1;
	}
	return 0;
}

/* 1 if a MariaDB server can be made here. */
static int testdb_available(void)
{
	return testdb_in_path("mariadbd") && testdb_in_path("mariadb-install-db");
}

/* tools/sq-mariadb of this tree: the build directory (build/,
 * build-asan/) sits in the tree, three levels above this program;
 * else the current directory is the tree, as for make check. */
static void testdb_tool(char *out, size_t n)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[len > 0 ? len : 0] = '\0';
	for (int up = 0; up < 4; up++) {
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(out, n, "%s/tools/sq-mariadb", exe);
	if (access(out, R_OK) == 0)
		return;
	snprintf(out, n, "tools/sq-mariadb");
}

/* Starts the server (an unchecked fixture). */
static void testdb_start(void)
{
	char tool[PATH_MAX + 32], path[8192];
	int in[2], out[2];
	snprintf(testdb.dir, sizeof testdb.dir, "/tmp/sqdb.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(testdb.dir));
	testdb_tool(tool, sizeof tool);
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	const char *env = getenv("PATH");
	snprintf(path, sizeof path, "%s:%s", env ? env : "/usr/bin:/bin",
	         TESTDB_SBIN);
	testdb.pid = fork();
	ck_assert_int_ge(testdb.pid, 0);
	if (testdb.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		setenv("PATH", path, 1);
		/* the command tells the socket, then lives until our end of
		 * its stdin closes; sq-mariadb then stops the server */
		execl("/bin/sh", "sh", tool, "run", testdb.dir, "--", "sh", "-c",
		      "printf '%s\\n' \"$SQ_DB_SOCKET\"; exec cat >/dev/null",
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	testdb.hold = in[1];
	testdb.out = out[0];
	size_t used = 0;
	ssize_t n = 0;
	while (used + 1 < sizeof testdb.socket &&
	       !memchr(testdb.socket, '\n', used) &&
	       (n = read(testdb.out, testdb.socket + used,
	                 sizeof testdb.socket - 1 - used)) > 0)
		used += (size_t)n;
	testdb.socket[used] = '\0';
	char *nl = strchr(testdb.socket, '\n');
	ck_assert_msg(nl != NULL, "sq-mariadb did not start a server in %s "
	              "(its messages are above)", testdb.dir);
	*nl = '\0';
}

/* Stops it and removes its directory (an unchecked fixture). */
static void testdb_stop(void)
{
	if (testdb.hold >= 0)
		close(testdb.hold);
	if (testdb.pid > 0)
		waitpid(testdb.pid, NULL, 0);
	if (testdb.out >= 0)
		close(testdb.out);
	if (*testdb.dir)
		rm_rf(testdb.dir);
	testdb.hold = testdb.out = -1;
	testdb.pid = 0;
	testdb.dir[0] = '\0';
}

START_TEST(mariadb_is_not_installed_so_these_checks_are_skipped)
{
	fprintf(stderr, "SKIPPED: mariadbd or mariadb-install-db is not "
	        "installed (PATH and %s): the checks of this suite need a "
	        "MariaDB server\n", TESTDB_SBIN);
	ck_assert_msg(getenv("SQ_REQUIRE_MARIADB") == NULL,
	              "SQ_REQUIRE_MARIADB is set: MariaDB must be there");
}
END_TEST

/* The suite of one check that says why the real one cannot run. */
static Suite *testdb_skip_suite(Suite *s)
{
	TCase *tc = tcase_create("skipped");
	tcase_add_test(tc, mariadb_is_not_installed_so_these_checks_are_skipped);
	suite_add_tcase(s, tc);
	return s;
}

/* --- the database ---------------------------------------------------------- */

/* How pksd reaches the server (database "" for none). */
static void testdb_config(struct db_config *cfg, const char *database)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->socket, sizeof cfg->socket, "%s", testdb.socket);
	snprintf(cfg->database, sizeof cfg->database, "%s", database);
	cfg->timeout = 10;
}

static struct db *testdb_connect(void)
{
	struct db_config cfg;
	char why[256] = "";
	testdb_config(&cfg, TESTDB_NAME);
	struct db *db = db_connect(&cfg, why, sizeof why);
	ck_assert_msg(db != NULL, "db_connect: %s", why);
	return db;
}

/* Applies every migration as pks-ctl migrate does. */
static void testdb_migrate(struct db *db)
{
	unsigned have = 99;
	ck_assert_int_eq(db_schema_init(db), DB_OK);
	ck_assert_int_eq(db_schema_version(db, &have), DB_OK);
	for (const struct migration *m = migrations; m->version; m++) {
		if (m->version <= have)
			continue;
		for (const char *const *st = m->statements; *st; st++)
			ck_assert_msg(db_exec(db, *st) == DB_OK, "%s: %s", m->name,
			              db_error(db));
		ck_assert_int_eq(db_schema_record(db, m->version, m->name), DB_OK);
	}
}

/* A fresh, empty database with the schema, and a connection to it. */
static struct db *testdb_fresh(void)
{
	struct db_config cfg;
	char why[256] = "";
	testdb_config(&cfg, "");
	struct db *admin = db_connect(&cfg, why, sizeof why);
	ck_assert_msg(admin != NULL, "db_connect: %s", why);
	ck_assert_int_eq(db_exec(admin, "DROP DATABASE IF EXISTS " TESTDB_NAME),
	                 DB_OK);
	ck_assert_int_eq(db_exec(admin, "CREATE DATABASE " TESTDB_NAME), DB_OK);
	db_close(admin);
	struct db *db = testdb_connect();
	testdb_migrate(db);
	return db;
}

/* An administrator's connection, behind the module's back. */
static MYSQL *testdb_admin(void)
{
	MYSQL *m = mysql_init(NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_msg(mysql_real_connect(m, NULL, NULL, NULL, TESTDB_NAME, 0,
	                                 testdb.socket, 0) != NULL,
	              "admin connect: %s", mysql_error(m));
	return m;
}

static void testdb_sql(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Runs one statement as the administrator. */
static void testdb_sql(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	MYSQL *m = testdb_admin();
	ck_assert_msg(mysql_query(m, sql) == 0, "%s: %s", sql, mysql_error(m));
	MYSQL_RES *res = mysql_store_result(m);
	mysql_free_result(res);
	mysql_close(m);
}

static long long testdb_scalar(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* The first column of the first row of a query, as a number (-1 for
 * no row or NULL). */
static long long testdb_scalar(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	MYSQL *m = testdb_admin();
	ck_assert_msg(mysql_query(m, sql) == 0, "%s: %s", sql, mysql_error(m));
	MYSQL_RES *res = mysql_store_result(m);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	long long v = row && row[0] ? strtoll(row[0], NULL, 10) : -1;
	mysql_free_result(res);
	mysql_close(m);
	return v;
}

/* Kills every connection to the database but the administrator's own:
 * the connection a check holds is lost, as in a server restart. The
 * number killed (a connection gone meanwhile is not counted). */
static int testdb_kill_others(void)
{
	MYSQL *m = testdb_admin();
	int killed = 0;
	ck_assert_msg(mysql_query(m, "SELECT ID FROM information_schema."
	                          "PROCESSLIST WHERE DB = '" TESTDB_NAME "' AND "
	                          "ID <> CONNECTION_ID()") == 0, "%s",
	              mysql_error(m));
	MYSQL_RES *res = mysql_store_result(m);
	ck_assert_ptr_nonnull(res);
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL) {
		char sql[64];
		snprintf(sql, sizeof sql, "KILL CONNECTION %s", row[0]);
		if (mysql_query(m, sql) == 0)
			killed++;
		else    /* ER_NO_SUCH_THREAD: it was closing anyway */
			ck_assert_uint_eq(mysql_errno(m), 1094);
	}
	mysql_free_result(res);
	mysql_close(m);
	return killed;
}

/* --- the PKS key and the CA ----------------------------------------------- */

/* Makes dir/pks/pks.key (mode 0400, ours) as pks-ctl init does; the
 * key directory's path into keydir. */
static void testpks_keydir(const char *dir, char *keydir, size_t n)
{
	struct pkskey k;
	static int crypto_up;
	if (!crypto_up)
		ck_assert_int_eq(pks_crypto_init(), 0);
	crypto_up = 1;
	snprintf(keydir, n, "%s/pks", dir);
	ck_assert_int_eq(mkdir(keydir, 0700), 0);
	int dfd = open(keydir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(pkskey_generate(&k), 0);
	ck_assert_int_eq(pkskey_save(&k, dfd, "pks.key", (uid_t)-1, (gid_t)-1),
	                 0);
	pkskey_free(&k);
	close(dfd);
}

/* --- a pksd of the real modules ---------------------------------------- */

struct testpksd {
	pid_t pid;
	int port;
};

struct testpksd_conf {
	const char *ctldir;     /* holds pksallow */
	const char *keydir;
	X509 *ca;
	struct lockout lockout;
	SSL_CTX *tls;           /* NULL: plain HTTP */
	const char *db_socket;  /* NULL: the test server's */
};

static struct bufferevent *testpksd_tls(struct event_base *base, void *arg)
{
	SSL *ssl = SSL_new(arg);
	return ssl ? bufferevent_openssl_socket_new(base, -1, ssl,
	                                            BUFFEREVENT_SSL_ACCEPTING,
	                                            BEV_OPT_CLOSE_ON_FREE)
	           : NULL;
}

static void testpksd_term(evutil_socket_t sig, short what, void *base)
{
	(void)sig, (void)what;
	event_base_loopexit(base, NULL);
}

/* The child: a pksd worker's set-up and loop (pksd.c, worker_run) without
 * the pre-TLS allow-list check, which api_handle repeats per request.
 * Frees everything and exits 0 on SIGTERM, so that ASan and valgrind
 * judge it too; exits 1 if it cannot start. */
static void testpksd_serve(const struct testpksd_conf *c, int lfd, int ready)
{
	struct control ctl;
	struct ipallow allow;
	struct keyring kr;
	struct store st;
	struct api api;
	struct db_config cfg;
	size_t bad;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	testdb_config(&cfg, TESTDB_NAME);
	if (c->db_socket)
		snprintf(cfg.socket, sizeof cfg.socket, "%s", c->db_socket);
	if (control_open(&ctl, c->ctldir) < 0 ||
	    ipallow_load(&allow, &ctl, "pksallow", &bad) < 0)
		exit(1);
	control_close(&ctl);
	if (keyring_open(&kr, c->keydir, geteuid()) < 0)
		exit(1);
	struct db *db = db_lazy(&cfg);
	if (!db || store_init(&st, db, &kr, c->ca, &c->lockout) < 0)
		exit(1);
	memset(&api, 0, sizeof api);
	api.store = &st;
	api.allow = &allow;
	struct event_base *base = event_base_new();
	struct evhttp *http = base ? evhttp_new(base) : NULL;
	if (!http)
		exit(1);
	if (c->tls)
		evhttp_set_bevcb(http, testpksd_tls, c->tls);
	evhttp_set_gencb(http, api_handle, &api);
	evhttp_set_timeout(http, 30);
	evhttp_set_max_headers_size(http, 8192);
	evhttp_set_max_body_size(http, API_BODY_MAX);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                           EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS |
	                           EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	                           EVHTTP_REQ_PATCH);
	struct event *term = evsignal_new(base, SIGTERM, testpksd_term, base);
	if (!evhttp_accept_socket_with_handle(http, lfd) || !term ||
	    event_add(term, NULL) < 0 || write(ready, "", 1) != 1)
		exit(1);
	close(ready);
	event_base_dispatch(base);
	event_free(term);
	evhttp_free(http);
	event_base_free(base);
	store_fini(&st);
	db_close(db);
	keyring_close(&kr);
	ipallow_free(&allow);
	exit(0);
}

/* Starts it on 127.0.0.1 and a free port, and waits until it serves. */
static void testpksd_start(struct testpksd *p, const struct testpksd_conf *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int ready[2];
	char byte;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lfd, 64), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	p->port = ntohs(sa.sin_port);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		close(ready[0]);
		testpksd_serve(c, lfd, ready[1]);
	}
	close(lfd);
	close(ready[1]);
	ck_assert_msg(read(ready[0], &byte, 1) == 1, "the pksd child did not "
	              "start");
	close(ready[0]);
}

/* Stops it: it must exit 0 (no leak, no memory error). */
static void testpksd_stop(struct testpksd *p)
{
	int status = 0;
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGTERM);
	ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
	p->pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "the pksd child ended with status %#x", status);
}

#pragma GCC diagnostic pop

#endif
