/*
 * pksconfig - where the PKS client (pksclient.h) finds pksd and what it
 * proves itself with: the URL and timeouts from control files, the
 * instance CA as the only trust anchor, and the HTTP Basic credentials
 * from a file of their own. The secret is only ever held in memory that is
 * wiped afterwards, and no reason given for a failure quotes it.
 */
#ifndef SQ_PKSCONFIG_H
#define SQ_PKSCONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "util/control.h"
#include "util/path.h"

#define PKS_URL_DEFAULT "https://127.0.0.1:7443"
#define PKS_TIMEOUT_DEFAULT 10          /* seconds, control/timeoutpks */
#define PKS_CONNECT_TIMEOUT_DEFAULT 5   /* seconds, control/timeoutpksconnect */
#define PKS_TIMEOUT_MAX 3600            /* seconds; larger is a typo */
#define PKS_SECRET_MAX 127              /* bytes of a client secret */

struct pks_config {
	char url[256];          /* base URL, https only, no trailing '/' */
	char cafile[SQ_PATH_MAX]; /* the instance CA, the only trust anchor */
	uint32_t client_id;     /* HTTP Basic user */
	char secret[128];       /* HTTP Basic password; empty: send none */
	long connect_timeout_ms;
	long timeout_ms;        /* whole request; <= 0 means the default */
};

/* Reads control/pksurl (default PKS_URL_DEFAULT), control/timeoutpks and
 * control/timeoutpksconnect (seconds, 1 to PKS_TIMEOUT_MAX) through ctl;
 * the CA file is ctldir/ca.pem, which must be readable now; credname names
 * a control file holding "ID:SECRET" on one line (mode 0400 in
 * production). Returns 0, or -1 with a reason in why (never the secret);
 * on failure cfg is wiped. */
int pks_config_load(struct pks_config *cfg, struct control *ctl,
                    const char *ctldir, const char *credname, char *why,
                    size_t whylen);
/* Wipes the whole config, secret included. */
void pks_config_wipe(struct pks_config *cfg);

/* The parser behind the credential file, for text already in memory:
 * control-file rules (comments, trailing blanks) and exactly one value
 * line "ID:SECRET", ID a decimal below 2^32, SECRET 1 to PKS_SECRET_MAX
 * printable ASCII bytes without spaces. 0, or -1 with a reason. */
int pks_parse_credentials(const char *text, size_t len, uint32_t *id,
                          char secret[PKS_SECRET_MAX + 1], char *why,
                          size_t whylen);

#endif
