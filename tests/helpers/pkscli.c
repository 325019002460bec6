/*
 * pkscli - drive the PKS client (lib/client/pksclient) from the integration
 * tests: one call per run, its result as one JSON object on stdout. A test
 * helper: not installed, no man page. The credential file is named on the
 * command line; its contents never are.
 *
 * usage: pkscli [-u URL] [-a CAFILE] [-c CREDFILE] [-t TIMEOUT_MS] COMMAND ARGS
 *   health | peks HASH | pdks HASH | create ADDRESS PEKFILE PDKFILE |
 *   version ADDRESS PEKFILE PDKFILE | replace-pdk HASH ROW PDKFILE |
 *   delete ADDRESS | available ADDRESS | login-failure HASH ROW |
 *   login-success HASH ROW | select CAFILE ADDRESS
 * Without -c no credentials are sent (to test the server's 401).
 * Output: {"result": "ok"|"not_found"|"conflict"|"refused"|"locked"|
 * "temporary", ...the call's values, or "error": reason}.
 * Exit: 0 ok, 1 not found, 2 conflict, 3 refused or locked, 111 temporary,
 * 100 usage.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mail/addr.h"
#include "auto_home.h"
#include "crypto/pki.h"
#include "client/pksclient.h"
#include "util/sbuf.h"

#define FILE_MAX (1024 * 1024)
#define EXIT_USAGE 100
#define EXIT_TEMP 111

static int usage(const char *why)
{
	fprintf(stderr, "pkscli: %s\n"
	        "usage: pkscli [-u URL] [-a CAFILE] [-c CREDFILE] "
	        "[-t TIMEOUT_MS] COMMAND ARGS\n"
	        "  health | peks HASH | pdks HASH |\n"
	        "  create ADDRESS PEKFILE PDKFILE | version ADDRESS PEKFILE PDKFILE |\n"
	        "  replace-pdk HASH ROW PDKFILE | delete ADDRESS | available ADDRESS |\n"
	        "  login-failure HASH ROW | login-success HASH ROW |\n"
	        "  select CAFILE ADDRESS\n", why);
	return EXIT_USAGE;
}

/* A call's failure on the way to the request (bad file, bad argument). */
struct call {
	struct pks_client *c;
	json_t *out;            /* the values printed on success */
	const char *local;      /* a failure found here, not by the server */
	const char *usage;      /* a bad argument */
};

static enum pks_result local_failure(struct call *k, const char *why)
{
	k->local = why;
	return PKS_TEMP;
}

static enum pks_result bad_argument(struct call *k, const char *why)
{
	k->usage = why;
	return PKS_TEMP;
}

/* Reads path whole into b (initialised by the caller). 0 or -1. */
static int read_file(const char *path, struct sbuf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = sbuf_read_fd(b, fd);
	close(fd);
	return r;
}

static int parse_hash(const char *s, uint32_t *hash)
{
	uint32_t v = 0;
	if (strlen(s) != 8)
		return -1;
	for (int i = 0; i < 8; i++) {
		const char *hex = "0123456789abcdef";
		const char *d = strchr(hex, s[i]);
		if (!d || !*d)
			return -1;
		v = v << 4 | (uint32_t)(d - hex);
	}
	*hash = v;
	return 0;
}

static int parse_row(const char *s, uint64_t *row)
{
	uint64_t v = 0;
	if (!*s || strlen(s) > 16)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v == 0 || v > PKS_ROW_MAX)
		return -1;
	*row = v;
	return 0;
}

static void put_time(json_t *o, const char *name, time_t t)
{
	char buf[32];
	struct tm tm;
	if (!t) {
		json_object_set_new(o, name, json_null());
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(o, name, json_string(buf));
}

static json_t *key_json(const struct pks_key *k)
{
	json_t *o = json_object();
	json_object_set_new(o, "row", json_integer((json_int_t)k->row));
	json_object_set_new(o, "version", json_integer(k->version));
	json_object_set_new(o, "pek", json_string(k->pek));
	if (k->pdk)
		json_object_set_new(o, "pdk", json_string(k->pdk));
	if (k->locked_until)
		put_time(o, "locked_until", k->locked_until);
	return o;
}

static enum pks_result cmd_health(struct call *k, char **argv)
{
	(void)argv;
	return pks_health(k->c);
}

static enum pks_result get_keys(struct call *k, const char *hexhash,
                                int want_pdk)
{
	struct pks_keys keys;
	uint32_t hash;
	if (parse_hash(hexhash, &hash) < 0)
		return bad_argument(k, "HASH is not 8 lower-case hex digits");
	enum pks_result r = want_pdk ? pks_get_pdks(k->c, hash, &keys)
	                             : pks_get_peks(k->c, hash, &keys);
	if (r != PKS_OK)
		return r;
	json_t *list = json_array();
	for (size_t i = 0; i < keys.n; i++)
		json_array_append_new(list, key_json(&keys.key[i]));
	json_object_set_new(k->out, "hash", json_string(hexhash));
	json_object_set_new(k->out, "keys", list);
	pks_keys_free(&keys);
	return r;
}

static enum pks_result cmd_peks(struct call *k, char **argv)
{
	return get_keys(k, argv[0], 0);
}

static enum pks_result cmd_pdks(struct call *k, char **argv)
{
	return get_keys(k, argv[0], 1);
}

/* create and version: ADDRESS PEKFILE PDKFILE. */
static enum pks_result send_key(struct call *k, char **argv, int new_version)
{
	struct sbuf pek, pdk;
	uint64_t row = 0;
	unsigned version = 0;
	enum pks_result r;
	sbuf_init(&pek, FILE_MAX);
	sbuf_init_secret(&pdk, FILE_MAX);
	if (read_file(argv[1], &pek) < 0 || read_file(argv[2], &pdk) < 0)
		r = local_failure(k, "cannot read PEKFILE or PDKFILE");
	else if (new_version)
		r = pks_new_version(k->c, argv[0], pek.s ? pek.s : "",
		                    pdk.s ? pdk.s : "", &row, &version);
	else
		r = pks_create(k->c, argv[0], pek.s ? pek.s : "",
		               pdk.s ? pdk.s : "", &row, &version);
	sbuf_free(&pek);
	sbuf_free(&pdk);
	if (r == PKS_OK) {
		json_object_set_new(k->out, "row", json_integer((json_int_t)row));
		json_object_set_new(k->out, "version", json_integer(version));
	}
	return r;
}

static enum pks_result cmd_create(struct call *k, char **argv)
{
	return send_key(k, argv, 0);
}

static enum pks_result cmd_version(struct call *k, char **argv)
{
	return send_key(k, argv, 1);
}

static enum pks_result cmd_replace_pdk(struct call *k, char **argv)
{
	struct sbuf pdk;
	uint32_t hash;
	uint64_t row;
	enum pks_result r;
	if (parse_hash(argv[0], &hash) < 0 || parse_row(argv[1], &row) < 0)
		return bad_argument(k, "bad HASH or ROW");
	sbuf_init_secret(&pdk, FILE_MAX);
	if (read_file(argv[2], &pdk) < 0)
		r = local_failure(k, "cannot read PDKFILE");
	else
		r = pks_replace_pdk(k->c, hash, row, pdk.s ? pdk.s : "");
	sbuf_free(&pdk);
	return r;
}

static enum pks_result cmd_delete(struct call *k, char **argv)
{
	unsigned deleted = 0;
	enum pks_result r = pks_delete_address(k->c, argv[0], &deleted);
	if (r == PKS_OK)
		json_object_set_new(k->out, "deleted", json_integer(deleted));
	return r;
}

static enum pks_result cmd_available(struct call *k, char **argv)
{
	int available = 0;
	enum pks_result r = pks_availability(k->c, argv[0], &available);
	if (r == PKS_OK)
		json_object_set_new(k->out, "available",
		                    json_boolean(available));
	return r;
}

static enum pks_result login_report(struct call *k, char **argv,
                                    int failure)
{
	uint32_t hash;
	uint64_t row;
	unsigned failures = 0;
	time_t until = 0;
	if (parse_hash(argv[0], &hash) < 0 || parse_row(argv[1], &row) < 0)
		return bad_argument(k, "bad HASH or ROW");
	if (!failure)
		return pks_login_success(k->c, hash, row);
	enum pks_result r = pks_login_failure(k->c, hash, row, &failures,
	                                      &until);
	if (r == PKS_OK) {
		json_object_set_new(k->out, "failures", json_integer(failures));
		put_time(k->out, "locked_until", until);
	}
	return r;
}

static enum pks_result cmd_login_failure(struct call *k, char **argv)
{
	return login_report(k, argv, 1);
}

static enum pks_result cmd_login_success(struct call *k, char **argv)
{
	return login_report(k, argv, 0);
}

/* Fetches the PEKs of the address's hash and keeps the one the CA
 * certified for it, as a sealer does. None is "not_found". */
static enum pks_result cmd_select(struct call *k, char **argv)
{
	char norm[ADDR_MAX + 1], hex[9];
	struct pks_keys keys;
	if (addr_normalize(argv[1], strlen(argv[1]), norm) != ADDR_OK)
		return bad_argument(k, "ADDRESS is not valid");
	X509 *ca = pki_cert_load(argv[0]);
	if (!ca)
		return local_failure(k, "cannot read CAFILE");
	uint32_t hash = addr_hash(norm);
	enum pks_result r = pks_get_peks(k->c, hash, &keys);
	long i = r == PKS_OK ? pks_select(&keys, ca, norm) : -1;
	if (r == PKS_OK && i < 0) {
		r = PKS_NOT_FOUND;
		k->local = "no key certified for the address";
	} else if (r == PKS_OK) {
		addr_hash_hex(hash, hex);
		json_object_set_new(k->out, "hash", json_string(hex));
		json_object_set_new(k->out, "candidates",
		                    json_integer((json_int_t)keys.n));
		json_t *key = key_json(&keys.key[i]);
		json_object_update(k->out, key);
		json_decref(key);
	}
	pks_keys_free(&keys);
	X509_free(ca);
	return r;
}

static const struct command {
	const char *name;
	int nargs;
	enum pks_result (*run)(struct call *, char **);
} commands[] = {
	{ "health", 0, cmd_health },
	{ "peks", 1, cmd_peks },
	{ "pdks", 1, cmd_pdks },
	{ "create", 3, cmd_create },
	{ "version", 3, cmd_version },
	{ "replace-pdk", 3, cmd_replace_pdk },
	{ "delete", 1, cmd_delete },
	{ "available", 1, cmd_available },
	{ "login-failure", 2, cmd_login_failure },
	{ "login-success", 2, cmd_login_success },
	{ "select", 2, cmd_select },
};

static int exit_code(enum pks_result r)
{
	switch (r) {
	case PKS_OK: return 0;
	case PKS_NOT_FOUND: return 1;
	case PKS_CONFLICT: return 2;
	case PKS_REFUSED: case PKS_LOCKED: return 3;
	case PKS_TEMP: break;
	}
	return EXIT_TEMP;
}

/* Prints {"result": ..., values or "error"} and gives the exit code. */
static int report(enum pks_result r, json_t *out, const char *error)
{
	json_object_set_new(out, "result", json_string(pks_result_name(r)));
	if (r != PKS_OK)
		json_object_set_new(out, "error", json_string(error));
	if (json_dumpf(out, stdout, JSON_COMPACT) < 0 || puts("") == EOF ||
	    fflush(stdout) != 0)
		return EXIT_TEMP;
	return exit_code(r);
}

static int load_credentials(const char *path, struct pks_config *cfg,
                            char *why, size_t whylen)
{
	struct sbuf raw;
	char sub[200];
	int r = -1;
	sbuf_init_secret(&raw, 4096);
	if (read_file(path, &raw) < 0)
		snprintf(why, whylen, "%s: cannot read", path);
	else if (pks_parse_credentials(raw.s ? raw.s : "", raw.len,
	                               &cfg->client_id, cfg->secret, sub,
	                               sizeof sub) < 0)
		snprintf(why, whylen, "%s: %s", path, sub);
	else
		r = 0;
	sbuf_free(&raw);
	return r;
}

static int copy_arg(char *dst, size_t len, const char *arg)
{
	size_t n = strlen(arg);
	if (n >= len)
		return -1;
	memcpy(dst, arg, n + 1);
	return 0;
}

/* Options into cfg; returns the index of COMMAND, or -1 (usage). */
static int parse_options(int argc, char **argv, struct pks_config *cfg,
                         const char **credfile)
{
	int opt;
	snprintf(cfg->url, sizeof cfg->url, "%s", PKS_URL_DEFAULT);
	snprintf(cfg->cafile, sizeof cfg->cafile, "%s/control/ca.pem", SQ_HOME);
	while ((opt = getopt(argc, argv, "+u:a:c:t:")) != -1) {
		char *end;
		switch (opt) {
		case 'u':
			if (copy_arg(cfg->url, sizeof cfg->url, optarg) < 0)
				return -1;
			break;
		case 'a':
			if (copy_arg(cfg->cafile, sizeof cfg->cafile, optarg) < 0)
				return -1;
			break;
		case 'c':
			*credfile = optarg;
			break;
		case 't':
			cfg->timeout_ms = strtol(optarg, &end, 10);
			if (*end || cfg->timeout_ms <= 0)
				return -1;
			cfg->connect_timeout_ms = cfg->timeout_ms;
			break;
		default:
			return -1;
		}
	}
	return optind < argc ? optind : -1;
}

static int run(const struct command *cmd, char **args,
               const struct pks_config *cfg)
{
	struct call k = { pks_client_new(cfg), json_object(), NULL, NULL };
	enum pks_result r = PKS_TEMP;
	/* placed first, for a reader; report() fills it in */
	json_object_set_new(k.out, "result", json_null());
	if (!k.c)
		k.local = "cannot create the client";
	else
		r = cmd->run(&k, args);
	int code = k.usage ? usage(k.usage)
	                   : report(r, k.out, k.local ? k.local
	                                              : pks_client_error(k.c));
	json_decref(k.out);
	pks_client_free(k.c);
	return code;
}

int main(int argc, char **argv)
{
	struct pks_config cfg;
	const char *credfile = NULL;
	char why[300];
	memset(&cfg, 0, sizeof cfg);
	int at = parse_options(argc, argv, &cfg, &credfile);
	if (at < 0)
		return usage("bad options or no command");
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[at], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd)
		return usage("unknown command");
	if (argc - at - 1 != cmd->nargs)
		return usage("wrong number of arguments");
	if (credfile && load_credentials(credfile, &cfg, why, sizeof why) < 0) {
		json_t *out = json_object();
		int code = report(PKS_TEMP, out, why);
		json_decref(out);
		return code;
	}
	int code = run(cmd, argv + at + 1, &cfg);
	pks_config_wipe(&cfg);
	return code;
}
