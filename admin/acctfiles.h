/*
 * acctfiles - the qmail side of a subscriber's account, on the
 * application host:
 *   control/virtualdomains   "domain:domain" (the domain's local prefix)
 *   control/rcpthosts        "domain"
 *   users/assign, users/cdb  "=domain-local:USER:UID:GID:HOME:-:local:"
 *   domains/DOMAIN/.qmail-LOCAL   the delivery line, sq-dot-qmail(5):
 *                                 "%sealed local@domain"
 * USER is the delivery user (control/deliveryuser, default the maildir
 * owner of conf-users); HOME is domains/DOMAIN. The users/cdb entry is what
 * makes the address live: sq-smtpd accepts RCPT only for addresses in it.
 */
#ifndef SQ_ACCTFILES_H
#define SQ_ACCTFILES_H

#include <sys/types.h>

#include "mail/addr.h"
#include "util/path.h"

struct acctfiles {
	char home[SQ_PATH_MAX];         /* the instance root */
	char user[64];                  /* the delivery user */
	uid_t uid;
	gid_t gid;
};

/* Reads control/deliveryuser and looks the user up; 0 or -1 (why). */
int acct_open(struct acctfiles *a, char *why, size_t whylen);

/* The .qmail file of address, its content. With replace 0 an existing
 * file is an error (EEXIST): a new account never takes over another's. */
int acct_write_dotqmail(const struct acctfiles *a, const char *address,
                        int replace);
int acct_remove_dotqmail(const struct acctfiles *a, const char *address);

/* 1 if control/virtualdomains routes domain to us, 0 if not, -1. */
int acct_has_domain(const struct acctfiles *a, const char *domain);

/* Adds the domain to virtualdomains and rcpthosts if new; 0 or -1. */
int acct_add_domain(const struct acctfiles *a, const char *domain);

/* Adds or removes the users/assign entry and rebuilds users/cdb; 0, or
 * -1 (errno EEXIST / ENOENT for a duplicate / missing entry). */
int acct_assign_add(const struct acctfiles *a, const char *address);
int acct_assign_remove(const struct acctfiles *a, const char *address);

/* 1 if users/cdb holds address (the address is live), 0 if not, -1. */
int acct_is_assigned(const struct acctfiles *a, const char *address);
/* 1 if the .qmail file exists, 0 if not. */
int acct_has_dotqmail(const struct acctfiles *a, const char *address);
/* 1 if anything of an account for address is on this host: a simple
 * entry in users/assign as it is now (parsed: it may be newer than
 * users/cdb), in users/cdb, or the .qmail file; 0 if none; -1 (errno;
 * EINVAL for a users/assign qmail-newu would refuse). */
int acct_exists(const struct acctfiles *a, const char *address);

#endif
