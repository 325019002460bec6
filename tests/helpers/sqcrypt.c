/*
 * sqcrypt - drive the lib/ crypto core and crash-safe writes from the
 * integration tests (interop with the openssl command line, peak memory,
 * kill -9). A test helper: not installed, no man page. Passwords are read
 * from fd 3, never argv.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/addr.h"
#include "util/atomicfile.h"
#include "crypto/pdk.h"
#include "crypto/pki.h"
#include "util/sbuf.h"
#include "crypto/seal.h"

/* The test messages (50 MB at most) stay far below this bound. */
#define SQCRYPT_MAX ((uint64_t)1 << 32)

static int usage(void)
{
	fputs("usage: sqcrypt keygen KEY | ca KEY CERT NAME |\n"
	      "  issue CAKEY CACERT KEY ADDR CERT | verify CACERT CERT ADDR |\n"
	      "  wrap KEY OUT | unwrap IN KEY (password on fd 3) |\n"
	      "  seal CERT | open CERT KEY (stdin to stdout) | hash ADDR |\n"
	      "  atomicloop DIR NAME SIZE\n", stderr);
	return 2;
}

static int fail(const char *what)
{
	char err[512];
	fprintf(stderr, "sqcrypt: %s: %s\n", what, pki_errstr(err, sizeof err));
	return 1;
}

static int save(const char *path, const struct sbuf *b)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && write_all(fd, b->s, b->len) == 0;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static int save_cert(const char *path, X509 *cert)
{
	struct sbuf pem;
	sbuf_init(&pem, 65536);
	int r = pki_cert_to_pem(cert, &pem) == 0 ? save(path, &pem) : -1;
	sbuf_free(&pem);
	return r;
}

static int save_key(const char *path, EVP_PKEY *key)
{
	struct sbuf pem;
	sbuf_init_secret(&pem, 65536);
	int r = pki_key_to_pem(key, &pem) == 0 ? save(path, &pem) : -1;
	sbuf_free(&pem);
	return r;
}

static int read_password(struct sbuf *pw)
{
	sbuf_init_secret(pw, 1024);
	if (sbuf_read_fd(pw, 3) < 0)
		return -1;
	while (pw->len && pw->s[pw->len - 1] == '\n')
		sbuf_truncate(pw, pw->len - 1);
	return 0;
}

static int cmd_ca(char **argv)
{
	EVP_PKEY *key = pki_keygen();
	X509 *cert = key ? pki_ca_create(key, argv[2], PKI_CA_DAYS) : NULL;
	int r = cert && save_key(argv[0], key) == 0 &&
	        save_cert(argv[1], cert) == 0 ? 0 : fail("ca");
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

static int cmd_issue(char **argv)
{
	char addr[ADDR_MAX + 1];
	EVP_PKEY *cakey = pki_key_load(argv[0]);
	X509 *cacert = pki_cert_load(argv[1]);
	EVP_PKEY *key = pki_key_load(argv[2]);
	X509 *cert = NULL;
	if (addr_normalize(argv[3], strlen(argv[3]), addr) == ADDR_OK &&
	    cakey && cacert && key)
		cert = pki_issue_pek(cakey, cacert, key, addr, PKI_PEK_DAYS);
	int r = cert && save_cert(argv[4], cert) == 0 ? 0 : fail("issue");
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_free(cacert);
	EVP_PKEY_free(cakey);
	return r;
}

static int cmd_verify(char **argv)
{
	char why[256] = "";
	X509 *ca = pki_cert_load(argv[0]);
	X509 *cert = pki_cert_load(argv[1]);
	int r = ca && cert ? pki_verify_pek(cert, ca, argv[2], why, sizeof why)
	                   : -1;
	if (r != 1)
		fprintf(stderr, "sqcrypt: verify: %s\n", why);
	X509_free(cert);
	X509_free(ca);
	return r == 1 ? 0 : 1;
}

static int cmd_wrap(char **argv)
{
	struct sbuf pw, pem;
	EVP_PKEY *key = pki_key_load(argv[0]);
	sbuf_init(&pem, PDK_PEM_MAX);
	int r = key && read_password(&pw) == 0 &&
	        pdk_wrap(key, pw.s ? pw.s : "", pw.len, &pem) == 0 &&
	        save(argv[1], &pem) == 0 ? 0 : fail("wrap");
	sbuf_free(&pw);
	sbuf_free(&pem);
	EVP_PKEY_free(key);
	return r;
}

static int cmd_unwrap(char **argv)
{
	struct sbuf pw, pem;
	EVP_PKEY *key = NULL;
	sbuf_init(&pem, PDK_PEM_MAX);
	int fd = open(argv[0], O_RDONLY);
	if (fd >= 0 && sbuf_read_fd(&pem, fd) == 0 && read_password(&pw) == 0) {
		key = pdk_unwrap(pem.s, pem.len, pw.s ? pw.s : "", pw.len);
		sbuf_free(&pw);
	}
	if (fd >= 0)
		close(fd);
	int r = key && save_key(argv[1], key) == 0 ? 0 : 1;
	if (!key)
		fputs("sqcrypt: unwrap: wrong password or not a wrapped key\n",
		      stderr);
	sbuf_free(&pem);
	EVP_PKEY_free(key);
	return r;
}

static int cmd_seal(char **argv)
{
	struct seal_size size;
	X509 *cert = pki_cert_load(argv[0]);
	int r = cert && seal_fd(0, 1, cert, SQCRYPT_MAX, &size) == 0 ? 0 : fail("seal");
	if (r == 0)
		fprintf(stderr, "octets=%llu crlf_octets=%llu\n",
		        (unsigned long long)size.octets,
		        (unsigned long long)size.crlf_octets);
	X509_free(cert);
	return r;
}

static int cmd_open(char **argv)
{
	struct sbuf plain;
	X509 *cert = pki_cert_load(argv[0]);
	EVP_PKEY *key = pki_key_load(argv[1]);
	sbuf_init(&plain, (size_t)1 << 31);
	int r = cert && key && seal_open_fd(0, SQCRYPT_MAX, key, cert, &plain) == 0 &&
	        write_all(1, plain.s ? plain.s : "", plain.len) == 0
	        ? 0 : fail("open");
	sbuf_free(&plain);
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

static int cmd_hash(char **argv)
{
	char addr[ADDR_MAX + 1], hex[9];
	enum addr_error e = addr_normalize(argv[0], strlen(argv[0]), addr);
	if (e != ADDR_OK) {
		fprintf(stderr, "sqcrypt: %s\n", addr_strerror(e));
		return 1;
	}
	addr_hash_hex(addr_hash(addr), hex);
	printf("%s %s\n", hex, addr);
	return 0;
}

/* Replaces DIR/NAME for ever with SIZE-byte versions, each made of one
 * repeated byte, so a torn file shows as a mix or a short length. */
static int cmd_atomicloop(char **argv)
{
	int dirfd = open(argv[0], O_RDONLY | O_DIRECTORY);
	size_t size = strtoul(argv[2], NULL, 10);
	char *data = malloc(size ? size : 1);
	if (dirfd < 0 || !data)
		return 1;
	for (unsigned v = 0;; v++) {
		memset(data, 'a' + (int)(v % 26), size);
		if (atomic_write_file(dirfd, argv[1], data, size, 0644,
		                      ATOMIC_REPLACE) < 0) {
			perror("sqcrypt: atomicloop");
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int args;
		int (*run)(char **argv);
	} cmds[] = {
		{ "ca", 3, cmd_ca },         { "issue", 5, cmd_issue },
		{ "verify", 3, cmd_verify }, { "wrap", 2, cmd_wrap },
		{ "unwrap", 2, cmd_unwrap }, { "seal", 1, cmd_seal },
		{ "open", 2, cmd_open },     { "hash", 1, cmd_hash },
		{ "atomicloop", 3, cmd_atomicloop },
	};
	if (argc == 3 && strcmp(argv[1], "keygen") == 0) {
		EVP_PKEY *key = pki_keygen();
		int r = key && save_key(argv[2], key) == 0 ? 0 : fail("keygen");
		EVP_PKEY_free(key);
		return r;
	}
	for (size_t i = 0; argc >= 2 && i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return argc == cmds[i].args + 2 ? cmds[i].run(argv + 2)
			                                : usage();
	return usage();
}
