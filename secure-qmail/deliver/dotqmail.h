/*
 * dotqmail - where local delivery finds what to do with a recipient:
 * the local name (control/virtualdomains prefix), its users/cdb
 * assignment, and the subscriber's .qmail file, which must hold exactly
 * one "%sealed ADDRESS" line (sq-dot-qmail(5)). Any other delivery line
 * would deliver or forward plaintext, so it is refused, never followed.
 */
#ifndef SQ_DOTQMAIL_H
#define SQ_DOTQMAIL_H

#include <stddef.h>

#include "mail/addr.h"
#include "mail/assign.h"

#define DOTQMAIL_MAX 4096       /* octets of a subscriber's .qmail file */

enum dotqmail_result {
	DOTQMAIL_OK = 0,
	DOTQMAIL_NOUSER,        /* no assignment: 5.1.1 */
	DOTQMAIL_BADFILE,       /* a line we refuse, or none: 5.7.1 */
	DOTQMAIL_TEMP = -1      /* cannot read users/cdb or the file: 4.3.0 */
};

/* The sealed-for address of a .qmail file's text (len octets): comments
 * and empty lines allowed, exactly one "%sealed ADDRESS" line with a valid
 * address, nothing else. DOTQMAIL_OK or DOTQMAIL_BADFILE, with a reason. */
enum dotqmail_result dotqmail_parse(const char *text, size_t len,
                                    char address[ADDR_MAX + 1],
                                    const char **why);

/* The .qmail file of an assignment: HOME/.qmail DASH EXT, with every '.'
 * of EXT written ':' as qmail-local does. 0, or -1 if too long. */
int dotqmail_path(const struct assign_entry *e, char *out, size_t n);

/* All of it for the local name (prefix and local part, as qmail-lspawn
 * gets it): the assignment from cdbpath and the file's address. */
enum dotqmail_result dotqmail_lookup(const char *cdbpath, const char *local,
                                     struct assign_entry *e,
                                     char address[ADDR_MAX + 1],
                                     const char **why);

#endif
