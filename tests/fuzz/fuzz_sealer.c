/* fuzz_sealer - the sealing stage for one message, as sq-sealerd's worker
 * runs sealer_queue: the input is the envelope ("F" sender NUL, "T"
 * recipient NUL ..., NUL: up to the first two NULs in a row) and then
 * the message. Our domains are example.org (locals) and v.example.net
 * (virtualdomains); the PEK cache already holds fuzz@example.org with
 * the fixed test PEK and knows that nokey@example.org has none, so the
 * sealed, remote and keyless paths and the failure notice are all reached
 * without a key store; any other local address asks a PKS that is not
 * there (a temporary failure). The queue program is a script that reads
 * the envelope and exits 0. Never crashes; the code is one of qmail-queue's;
 * a code other than 0 comes with a reason. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "client/pksclient.h"
#include "crypto/pki.h"
#include "fuzz.h"
#include "fuzzio.h"
#include "fuzzkeys.h"
#include "mail/addr.h"
#include "queue/pekcache.h"
#include "queue/sealer.h"

static struct control ctl;
static struct pekcache cache;
static struct sealer sealer;
static X509 *pek;

/* Puts address (normalised) in the cache for good, with key or none. */
static void cache_put(const char *address, X509 *key)
{
	struct pekcache_entry *e =
		&cache.slot[addr_hash(address) % PEKCACHE_SLOTS];
	snprintf(e->address, sizeof e->address, "%s", address);
	if (key)
		X509_up_ref(key);
	e->pek = key;
	e->expires = (time_t)1 << 40;
}

/* A PKS client for an address where nothing listens. */
static struct pks_client *absent_pks(const char *ctldir)
{
	struct pks_config cfg;
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.url, sizeof cfg.url, "https://127.0.0.1:1");
	snprintf(cfg.cafile, sizeof cfg.cafile, "%s/ca.pem", ctldir);
	cfg.client_id = 1;
	snprintf(cfg.secret, sizeof cfg.secret, "fuzz");
	cfg.connect_timeout_ms = 1000;
	cfg.timeout_ms = 1000;
	return pks_client_new(&cfg);
}

static void write_control(const char *home, const char *dir)
{
	char queue[600];
	snprintf(queue, sizeof queue, "%s/queue", home);
	fuzz_write_str(home, "queue", "#!/bin/sh\nexec cat <&1 >/dev/null\n");
	if (chmod(queue, 0700) < 0)
		abort();
	fuzz_write_str(dir, "sealqueue", queue);
	fuzz_write_str(dir, "me", "mx.example.org\n");
	fuzz_write_str(dir, "locals", "example.org\n");
	fuzz_write_str(dir, "virtualdomains", "v.example.net:vv\n");
	fuzz_write_str(dir, "postmaster", "fuzz@example.org\n");
	fuzz_write_str(dir, "databytes", "65536\n");
	fuzz_write_str(dir, "ca.pem", fuzz_ca_pem);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char dir[512];
	const char *home = fuzz_home("sealer");
	snprintf(dir, sizeof dir, "%s/control", home);
	write_control(home, dir);
	/* the queue program may leave before the envelope is all written */
	signal(SIGPIPE, SIG_IGN);
	pek = pki_cert_from_pem(fuzz_pek_pem, sizeof fuzz_pek_pem - 1);
	X509 *ca = pki_cert_from_pem(fuzz_ca_pem, sizeof fuzz_ca_pem - 1);
	struct pks_client *pks = absent_pks(dir);
	if (!pek || !ca || !pks || control_open(&ctl, dir) < 0 ||
	    pekcache_init(&cache, pks, ca, 3600) < 0 ||
	    sealer_init(&sealer, &ctl, &cache) < 0)
		abort();
	cache_put("fuzz@example.org", pek);
	cache_put("nokey@example.org", NULL);
	cache_put("fuzz@v.example.net", pek);
	return 0;
}

static int known_code(int code)
{
	return code == QQ_OK || (code >= 11 && code <= 91);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end = memmem(data, size, "\0\0", 2);
	size_t envlen = end ? (size_t)(end - data) + 2 : size;
	int msgfd = fuzz_input_fd(data + envlen, size - envlen);
	int envfd = fuzz_input_fd(data, envlen);
	if (msgfd < 0 || envfd < 0)
		abort();
	int code = sealer_queue(&sealer, msgfd, envfd);
	if (!known_code(code) || (code != QQ_OK && !sealer.error[0]))
		abort();
	close(msgfd);
	close(envfd);
	ERR_clear_error();
	return 0;
}
