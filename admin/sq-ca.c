/*
 * NAME
 *	sq-ca - the instance certificate authority
 * SYNOPSIS
 *	sq-ca init [name]
 *	sq-ca server prefix name [name ...]
 * DESCRIPTION
 *	init creates the instance CA (an EC P-256 key, mode 0400, and a
 *	self-signed certificate) in the instance's ca/ directory and installs
 *	the certificate as control/ca.pem, which every program trusts: PEK
 *	certificates and the TLS certificates of pksd and edhd must chain to
 *	it. An existing CA is never replaced.
 *	server issues a TLS server certificate for the given host names and
 *	IP addresses, writing prefix-cert.pem and prefix-key.pem (mode 0400),
 *	e.g. "sq-ca server control/pksd 127.0.0.1 pks.example.org".
 * SECURITY
 *	The CA key signs every PEK: whoever holds it can issue keys the
 *	sealers accept. It stays on the provisioning host, readable by its
 *	owner only.
 * SEE ALSO
 *	sq-pdk(5), pksd(8)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "util/die.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "crypto/pki.h"
#include "util/secretfd.h"

#define USAGE "init [name] | server prefix name [name ...]"

/* Writes a PEM file crash-safely; path may be relative to the cwd. */
static void save_pem(const char *path, const struct sbuf *pem, mode_t mode)
{
	char dir[SQ_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int dfd = path_fmt(dir, sizeof dir, "%.*s",
	                   slash ? (int)(slash - path) : 1,
	                   slash ? path : ".") < 0
	          ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || atomic_write_file(dfd, slash ? slash + 1 : path, pem->s,
	                                 pem->len, mode, ATOMIC_REPLACE) < 0)
		die_sys_temp("cannot write %s: %s", path, strerror(errno));
	close(dfd);
}

static void save_pair(const char *certpath, X509 *cert, const char *keypath,
                      EVP_PKEY *key)
{
	struct sbuf pem;
	char err[256];
	sbuf_init_secret(&pem, 65536);
	if (pki_key_to_pem(key, &pem) < 0)
		die_sys_temp("%s", pki_errstr(err, sizeof err));
	save_pem(keypath, &pem, 0400);
	if (pki_cert_to_pem(cert, &pem) < 0)
		die_sys_temp("%s", pki_errstr(err, sizeof err));
	save_pem(certpath, &pem, 0644);
	sbuf_free(&pem);
}

static int cmd_init(const char *name)
{
	char cadir[SQ_PATH_MAX], key[SQ_PATH_MAX], cert[SQ_PATH_MAX];
	char ctl[SQ_PATH_MAX];
	if (sq_path(cadir, sizeof cadir, "ca") < 0 ||
	    sq_path(ctl, sizeof ctl, "control/ca.pem") < 0 ||
	    path_join(key, sizeof key, cadir, "ca.key", NULL) < 0 ||
	    path_join(cert, sizeof cert, cadir, "ca.pem", NULL) < 0)
		die_sys_temp("path too long");
	if (access(key, F_OK) == 0)
		die_badarg("%s exists: the CA is never replaced", key);
	if (mkdir(cadir, 0700) < 0 && errno != EEXIST)
		die_sys_temp("mkdir %s: %s", cadir, strerror(errno));
	EVP_PKEY *k = pki_keygen();
	X509 *c = k ? pki_ca_create(k, name, PKI_CA_DAYS) : NULL;
	if (!c)
		die_sys_temp("cannot create the CA");
	save_pair(cert, c, key, k);
	struct sbuf pem;
	sbuf_init(&pem, 65536);
	if (pki_cert_to_pem(c, &pem) < 0)
		die_sys_temp("cannot encode the CA certificate");
	save_pem(ctl, &pem, 0644);
	printf("created CA \"%s\": %s, installed as %s\n", name, cert, ctl);
	sbuf_free(&pem);
	X509_free(c);
	EVP_PKEY_free(k);
	return 0;
}

static int cmd_server(const char *prefix, char **names, int n)
{
	char cadir[SQ_PATH_MAX], cakeypath[SQ_PATH_MAX], capath[SQ_PATH_MAX];
	char certpath[SQ_PATH_MAX], keypath[SQ_PATH_MAX];
	if (sq_path(cadir, sizeof cadir, "ca") < 0 ||
	    path_join(cakeypath, sizeof cakeypath, cadir, "ca.key", NULL) < 0 ||
	    path_join(capath, sizeof capath, cadir, "ca.pem", NULL) < 0)
		die_sys_temp("path too long");
	EVP_PKEY *cakey = pki_key_load(cakeypath);
	X509 *ca = pki_cert_load(capath);
	if (!cakey || !ca)
		die_sys_temp("cannot load the CA from %s (sq-ca init)", cadir);
	EVP_PKEY *key = pki_keygen();
	X509 *cert = key ? pki_issue_server(cakey, ca, key,
	                                    (const char *const *)names,
	                                    (size_t)n, PKI_PEK_DAYS) : NULL;
	if (!cert)
		die_badarg("cannot issue a certificate for these names");
	if (path_fmt(certpath, sizeof certpath, "%s-cert.pem", prefix) < 0 ||
	    path_fmt(keypath, sizeof keypath, "%s-key.pem", prefix) < 0)
		die_badarg("%s: path too long", prefix);
	save_pair(certpath, cert, keypath, key);
	printf("issued %s for %s\n", certpath, names[0]);
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return 0;
}

int main(int argc, char **argv)
{
	log_init(argv[0]);
	if (secret_nodump() < 0)
		die_sys_temp("cannot disable core dumps");
	umask(022);
	if (argc >= 2 && strcmp(argv[1], "init") == 0 && argc <= 3)
		return cmd_init(argc == 3 ? argv[2] : "secure-qmail instance CA");
	if (argc >= 4 && strcmp(argv[1], "server") == 0)
		return cmd_server(argv[2], argv + 3, argc - 3);
	die_usage(USAGE);
}
