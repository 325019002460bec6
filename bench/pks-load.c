/*
 * pks-load - provision N subscribers in a running pksd for the benchmark:
 * for each, a fresh P-256 key pair, a PEK issued by the instance CA, and
 * the wrapped PDK given (one for all: the store never unwraps it, and a
 * fresh scrypt wrap per row would take an hour). Prints each address hash,
 * one a line, for the load generator. Not installed.
 *
 * usage: pks-load N CAKEY CACERT PDKFILE CTLDIR CREDNAME
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/addr.h"
#include "util/control.h"
#include "crypto/pki.h"
#include "client/pksclient.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[16384];
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return n ? strdup(buf) : NULL;
}

int main(int argc, char **argv)
{
	struct control ctl;
	struct pks_config cfg;
	char why[256];
	if (argc != 7) {
		fputs("usage: pks-load N CAKEY CACERT PDKFILE CTLDIR CREDNAME\n",
		      stderr);
		return 100;
	}
	long n = atol(argv[1]);
	EVP_PKEY *cakey = pki_key_load(argv[2]);
	X509 *ca = pki_cert_load(argv[3]);
	char *pdk = slurp(argv[4]);
	if (!cakey || !ca || !pdk || control_open(&ctl, argv[5]) < 0 ||
	    pks_config_load(&cfg, &ctl, argv[5], argv[6], why, sizeof why) < 0) {
		fprintf(stderr, "pks-load: set-up failed: %s\n", why);
		return 111;
	}
	struct pks_client *c = pks_client_new(&cfg);
	pks_config_wipe(&cfg);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		char address[64], hex[9];
		struct sbuf pem;
		snprintf(address, sizeof address, "bench%ld@example.org", i);
		EVP_PKEY *key = pki_keygen();
		X509 *pek = key ? pki_issue_pek(cakey, ca, key, address, 365) : NULL;
		sbuf_init(&pem, 65536);
		if (!pek || pki_cert_to_pem(pek, &pem) < 0 ||
		    pks_create(c, address, pem.s, pdk, NULL, NULL) != PKS_OK) {
			fprintf(stderr, "pks-load: %s: %s\n", address,
			        pks_client_error(c));
			return 111;
		}
		addr_hash_hex(addr_hash(address), hex);
		printf("%s\n", hex);
		sbuf_free(&pem);
		X509_free(pek);
		EVP_PKEY_free(key);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
	              (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "pks-load: %ld rows in %.1f s (%.0f creates/s)\n", n,
	        secs, (double)n / secs);
	pks_client_free(c);
	control_close(&ctl);
	free(pdk);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return 0;
}
