/*
 * userid - the User ID inspection of account provisioning (ses-adduser):
 * turns what an operator types into a valid, unreserved mail address that
 * nobody has, and proposes alternatives when it is taken (john.smith@ taken:
 * johnsmith@, john.smith01@, johnsmith123@ ...).
 *
 * Pure logic: whether an address is free is asked of a callback, which in
 * ses-adduser looks in users/cdb and the Paired Key Store.
 *
 * What a provisioned local part may be (userid_check):
 *   - a dot-atom of RFC 5321/5322 that addr_normalize accepts (lower-cased),
 *     at most 64 octets, the whole address at most 254;
 *   - further, only letters, digits, '.', '-' and '_', beginning and ending
 *     with a letter or digit: the name ends up in users/assign (':' is its
 *     field separator), in .qmail file names and in operators' shell
 *     commands, where "o'brien", "a/b" or "-rf" do harm; '+' and a trailing
 *     '-' would read as qmail extensions;
 *   - not reserved (below).
 *
 * Reserved names: control/reservednames, one local part per line (comments
 * and CRLF as in sq-control(5)), compared lower-cased. A line ending in '*'
 * reserves every local part starting with what precedes it. A reserved name
 * followed by '-' or '+' and anything is refused too (postmaster-x), since
 * qmail would deliver that extension to the reserved mailbox. The file, when
 * present, replaces the default list; "postmaster" is reserved whatever it
 * says (RFC 5321 4.5.1 requires that mailbox of every domain). Without the
 * file the default is RFC 2142's role mailboxes, the Unix and qmail system
 * users and this project's own:
 *   postmaster abuse hostmaster webmaster www noc security info marketing
 *   sales support usenet news uucp ftp        (RFC 2142)
 *   root mailer-daemon nobody admin administrator daemon bin operator mail
 *   alias                                      (system, qmail's alias user)
 *   ses sqmail*                                (this project's users)
 */
#ifndef SQ_USERID_H
#define SQ_USERID_H

#include <stddef.h>

#include "mail/addr.h"
#include "util/control.h"
#include "util/sbuf.h"

#define USERID_RESERVED_DEFAULT \
	"postmaster abuse hostmaster webmaster www noc security info " \
	"marketing sales support usenet news uucp ftp " \
	"root mailer-daemon nobody admin administrator daemon bin operator " \
	"mail alias ses sqmail*"

/* The most calls to the free-callback one userid_inspect makes, the
 * wanted address included: each may be a network round trip. */
#define USERID_PROBE_MAX 50

enum userid_error {
	USERID_OK = 0,
	USERID_EMPTY,           /* nothing usable: no letters or digits */
	USERID_NON_ASCII,       /* a character we cannot transliterate */
	USERID_INVALID,         /* not a valid (provisionable) address */
	USERID_TOO_LONG,        /* over 64 octets, 254 in all, or one word
	                           of a name that cannot be cut */
	USERID_RESERVED,        /* a reserved name or an extension of one */
	USERID_TAKEN,           /* somebody has it */
	USERID_UNAVAILABLE      /* the free-check failed: temporary, retry */
};

/* A short English reason for a userid_error. */
const char *userid_strerror(enum userid_error e);

/* A set of reserved local parts; see above. */
struct userid_reserved {
	struct sbuf names;      /* lower-cased entries, separated by NUL bytes
	                           (a file) or spaces (the default) */
	size_t n;               /* entries */
};

/* Loads control/reservednames, or the default list when the file does not
 * exist (or ctl is NULL). 0, or -1 with errno: the file cannot be read, or
 * EINVAL for a line that is not one name (spaces, '@', non-ASCII, a '*'
 * not at the end). After -1 the set is empty; free it all the same. */
int userid_reserved_load(struct userid_reserved *r, struct control *ctl);
void userid_reserved_free(struct userid_reserved *r);

/* Makes a local part of a person's name ("Zoë O'Brien-Smyth" ->
 * "zoe.obrien-smyth"): UTF-8 in; Latin letters of Latin-1 Supplement and
 * Latin Extended-A (and Romanian ș ț) transliterated to ASCII (é->e, ß->ss,
 * æ->ae, þ->th, ł->l ...), combining accents dropped, lower case; words
 * joined by '.'; apostrophes (' ` ´ ’ ‘ ʼ ʻ) dropped; a hyphen between two
 * letters kept; anything else (spaces, punctuation, ×) separates words.
 * A result longer than min(64, localmax - 1) octets is cut at the last word
 * or hyphen boundary that fits, so never ends in '.' or '-'; a first word
 * longer than that is USERID_TOO_LONG. Any other character (Cyrillic, CJK,
 * emoji, invalid UTF-8) is USERID_NON_ASCII; nothing left is USERID_EMPTY.
 * On failure local is "" and why (if whylen > 0) tells which character;
 * on success why is "". The result still has to pass userid_check. */
enum userid_error userid_from_name(const char *name, char *local,
                                   size_t localmax, char *why, size_t whylen);

/* Checks local@domain as a new subscriber's address, as described above;
 * r NULL means the default list. On USERID_OK out (ADDR_MAX + 1 bytes)
 * holds the normalised address, otherwise "". */
enum userid_error userid_check(const char *local, const char *domain,
                               const struct userid_reserved *r, char *out);

/* Whether a normalised address is free: 1 free, 0 taken, -1 cannot tell
 * now (temporary). */
typedef int (*userid_free_fn)(const char *address, void *arg);

/* The inspection: userid_check, then is_free on the result (into address,
 * ADDR_MAX + 1 bytes). USERID_OK when free. USERID_TAKEN when taken, with
 * up to want alternatives in suggestions (*nsuggestions of them), each
 * passing userid_check and is_free, none twice, in a fixed order:
 *   johnsmith, john.smith01, johnsmith123, j.smith, smith.john, john_smith,
 *   (john.smith, when john_smith was wanted), then john.smith02,
 *   john.smith03, johnsmith234, john.smith04 ... up to 99
 * (words split at '.' and '_'; jean.paul.sartre gives jp.sartre and
 * sartre.jean.paul; numbered forms cut to stay within 64 octets). At most
 * USERID_PROBE_MAX calls to is_free in all. USERID_UNAVAILABLE, with no
 * suggestions, when any call returned -1. Any other result comes from
 * userid_check and nothing was asked of is_free. */
enum userid_error userid_inspect(const char *local, const char *domain,
                                 const struct userid_reserved *r,
                                 userid_free_fn is_free, void *arg,
                                 char *address,
                                 char suggestions[][ADDR_MAX + 1],
                                 size_t want, size_t *nsuggestions);

#endif
