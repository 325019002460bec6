/*
 * edhclient - the Application Host's side of the Email Database Host:
 * delivery over LMTP (mailstore, in sq-lspawn) and the retrieval
 * protocol (sq-pop3d), both over TLS to edhd(8), the instance CA (control/ca.pem) the only
 * trust anchor and the server's name or IP address verified, AUTH PLAIN
 * with the client's credential file ("ID:SECRET", edh-ctl(8)).
 *
 * A handle connects lazily, keeps its connection for the next call and
 * reconnects once when the server closed it in between. Results:
 * EDHC_OK; EDHC_TEMP for a 4xx, connection trouble and timeouts (try
 * again later); EDHC_PERM for a 5xx. edhc_error() gives the last reply or
 * reason (never the secret). The caller ignores SIGPIPE, as our daemons
 * do: a write to a connection edhd has closed must fail, not kill.
 *
 * Control files (sq-edh(5)); the caller names the host and credential
 * files, normally the defines below:
 *   edhlmtp-host, edhretrieve-host   HOST:PORT or [IPv6]:PORT of edhd
 *   edhlmtp-cred, edhretrieve-cred   ID:SECRET, mode 0400
 *   timeoutedhconnect                seconds to connect and handshake (5)
 *   timeoutedhclient                 seconds per read or write (120)
 */
#ifndef SQ_EDHCLIENT_H
#define SQ_EDHCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "util/control.h"
#include "mail/maildir.h"
#include "util/path.h"
#include "client/pksconfig.h"
#include "util/sbuf.h"

#define EDHC_LMTP_HOSTFILE "edhlmtp-host"
#define EDHC_LMTP_CREDFILE "edhlmtp-cred"
#define EDHC_RETRIEVE_HOSTFILE "edhretrieve-host"
#define EDHC_RETRIEVE_CREDFILE "edhretrieve-cred"
#define EDHC_LMTP_DEFAULT "127.0.0.1:7024"
#define EDHC_RETRIEVE_DEFAULT "127.0.0.1:7025"
#define EDHC_CONNECT_TIMEOUT_DEFAULT 5
#define EDHC_TIMEOUT_DEFAULT 120
#define EDHC_FETCH_MAX (1ULL << 32)     /* octets FETCH accepts, at most */

enum edhc_result { EDHC_OK, EDHC_TEMP, EDHC_PERM };
enum edhc_proto { EDHC_LMTP = 1, EDHC_RETRIEVE = 2 };

struct edhc_config {
	int proto;                      /* which port: LMTP or retrieval */
	char host[256];                 /* name or IP literal, verified */
	char port[8];
	char cafile[SQ_PATH_MAX];       /* the instance CA */
	char me[256];                   /* LHLO name */
	uint32_t client_id;
	char secret[PKS_SECRET_MAX + 1];
	long connect_timeout_ms;
	long timeout_ms;
};

/* Reads control/hostfile (default by proto), the timeouts, control/me
 * (the LHLO name, default "localhost"), ctldir/ca.pem and the credential
 * file control/credfile. 0, or -1 with a reason in why; on failure cfg
 * is wiped. */
int edhc_config_load(struct edhc_config *cfg, int proto, struct control *ctl,
                     const char *ctldir, const char *hostfile,
                     const char *credfile, char *why, size_t whylen);
/* Wipes the config, secret included. */
void edhc_config_wipe(struct edhc_config *cfg);

struct edhc;

/* A handle with its own copy of cfg; nothing is connected yet. NULL when
 * out of memory. */
struct edhc *edhc_new(const struct edhc_config *cfg);
/* edhc_config_load with proto's own host and credential files, then
 * edhc_new: the handle, or NULL with a reason in why. */
struct edhc *edhc_open(int proto, struct control *ctl, const char *ctldir,
                       char *why, size_t whylen);
/* Says QUIT when connected, closes, wipes. */
void edhc_free(struct edhc *c);
/* The last server reply or failure reason, "" if none. */
const char *edhc_error(const struct edhc *c);

/* LMTP: delivers len octets at data (the sealed message, binary: sent
 * with BDAT, RFC 3030, which an edhd that does not offer CHUNKING
 * defers) to mailbox, under the delivery
 * id did (maildir_did_format; NULL: none) when edhd takes one, so that a
 * retry after a crash is not stored twice. EDHC_OK only after the final
 * 250 for that recipient. */
enum edhc_result edhc_deliver(struct edhc *c, const char *mailbox,
                              const char *did, const char *data, size_t len);

/* Retrieval. */
struct edhc_msg {
	char uid[MAILDIR_UID_MAX + 1];
	unsigned long long size;        /* S=: octets FETCH returns */
	unsigned long long plainsize;   /* W=: the plaintext's octets */
};

/* Lists mailbox's messages (oldest first) into a malloc'd array *msgs of
 * *n (free() it; NULL when empty). */
enum edhc_result edhc_list(struct edhc *c, const char *mailbox,
                           struct edhc_msg **msgs, size_t *n);
/* Replaces out's contents with the message's octets (at most out->max). */
enum edhc_result edhc_fetch(struct edhc *c, const char *mailbox,
                            const char *uid, struct sbuf *out);
/* Removes a message; OK once edhd has unlinked it and synced the
 * directory. */
enum edhc_result edhc_delete(struct edhc *c, const char *mailbox,
                             const char *uid);

#endif
