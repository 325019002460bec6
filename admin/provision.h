/*
 * provision - the account operations behind ses-adduser, ses-passwd and
 * ses-deluser, and the order that makes them crash-safe.
 *
 * Add (the order is the proof, see ses-adduser(8)):
 *   1. take the provisioning lock; finish or undo what a crash left
 *   2. inspect the address (valid, not reserved, free here and in the PKS;
 *      "here" again under the lock: users/assign, users/cdb, .qmail)
 *   3. make the key pair in memory: PEK issued by the instance CA, PDK
 *      wrapped with the password
 *   4. journal "add ADDRESS PEK-DIGEST"
 *   5. create the row in the PKS (409: someone else has it: undo, stop)
 *   6. write the .qmail file, then virtualdomains/rcpthosts
 *   7. add the users/assign entry and rebuild users/cdb: now mail is
 *      accepted, and it can be sealed (step 5 happened first)
 *   8. remove the journal record
 * Recovery of "add": if the PKS holds a row with our PEK, steps 6-8 are
 * done again (roll forward); if it holds no row for the address, the
 * qmail files are removed (roll back); if it holds another run's rows,
 * the files are that run's and stay. Until then the address accepts no
 * mail (no users/cdb entry), so nothing arrives that cannot be sealed.
 *
 * Delete: journal (with the key rows as listed now); users/assign +
 * users/cdb (no more mail); the .qmail file; the PKS rows; journal
 * removed. Recovery finishes it, deleting keys only while every row the
 * PKS holds is one the record names (else the address was provisioned
 * again, elsewhere, and the keys are the new subscriber's).
 */
#ifndef SQ_PROVISION_H
#define SQ_PROVISION_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "acctfiles.h"
#include "mail/maildir.h"
#include "client/pksclient.h"
#include "userid.h"

#define PASSWORD_MAX 1024
#define PASSWORD_FLOOR 8        /* whatever control/passwordminlength says */

enum prov_result {
	PROV_OK = 0,
	PROV_TAKEN,             /* address not free: suggestions given */
	PROV_INVALID,           /* address or name refused (why) */
	PROV_WEAK_PASSWORD,     /* (why) */
	PROV_WRONG_PASSWORD,
	PROV_NOT_FOUND,
	PROV_TEMP               /* PKS or disk trouble: try again (why) */
};

struct prov {
	struct acctfiles files;
	struct control ctl;
	struct userid_reserved reserved;
	struct pks_client *provision;   /* control/pksprovision */
	struct pks_client *login;       /* control/pkslogin, if asked for */
	X509 *ca;
	EVP_PKEY *ca_key;               /* only for what issues PEKs */
	int lockfd;
	unsigned long min_password;     /* control/passwordminlength */
	char why[512];
};

enum { PROV_NEED_CA_KEY = 1, PROV_NEED_LOGIN = 2 };

/* Opens everything the operations need and recovers what an interrupted
 * run left (under the lock, which each operation takes again while it
 * changes anything). PROV_OK or PROV_TEMP (why). */
int prov_open(struct prov *p, unsigned needs);
void prov_close(struct prov *p);

/* The uniqueness test of userid_inspect: free here and in the PKS. */
int prov_is_free(const char *address, void *prov);

/* Password quality: at least min_password octets, not the address nor
 * its local part (case ignored). PROV_OK or PROV_WEAK_PASSWORD. */
int prov_check_password(struct prov *p, const char *address,
                        const char *password, size_t len);

struct prov_added {
	char address[ADDR_MAX + 1];
	uint32_t hash;
	uint64_t row;
	unsigned version;
};

/* Creates the account of a normalised, inspected address. */
int prov_add(struct prov *p, const char *address, const char *password,
             size_t pwlen, struct prov_added *out);

/* Re-wraps every key version that opens with old under new: no mail and
 * no key changes. PROV_WRONG_PASSWORD if none opens. */
int prov_change_password(struct prov *p, const char *address,
                         const char *old, size_t oldlen, const char *new_pw,
                         size_t newlen, unsigned *rewrapped);

/* A new key version wrapped with the new password; the old versions stay
 * (old mail opens again only with the old password). */
int prov_reset(struct prov *p, const char *address, const char *password,
               size_t pwlen, unsigned *version);

enum {
	PROV_KEEP_KEYS = 1,     /* remove the qmail files only */
	PROV_KEYS_ONLY = 2,     /* delete the keys of an address with no
	                         * account on this host (another host's) */
	PROV_REMOVE_MAIL = 4    /* and the mailbox in $SQ_HOME/maildirs */
};

struct prov_deleted {
	unsigned keys;                  /* key rows deleted */
	char mailbox[MAILDIR_ID_SIZE];  /* the stored mail's mailbox id
	                                 * (HASH-ROW), "" if no key named it */
	int mail_here;                  /* maildirs/<mailbox> is on this host */
	int mail_removed;               /* ... and was removed */
};

/* Removes the account: qmail files, then (unless PROV_KEEP_KEYS) the PKS
 * rows. Without PROV_KEYS_ONLY only an account that is on this host
 * (PROV_NOT_FOUND, why, if not); with it only keys of an address that is
 * not (PROV_INVALID if it is). Stored mail stays unless
 * PROV_REMOVE_MAIL, and then only a mailbox on this host. */
int prov_delete(struct prov *p, const char *address, unsigned flags,
                struct prov_deleted *out);

#endif
