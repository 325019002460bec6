/*
 * NAME
 *	ses-deluser - remove a subscriber
 * SYNOPSIS
 *	ses-deluser [--yes] [--keep-keys | --keys-only] [--remove-mail] address
 * DESCRIPTION
 *	Stops mail for the address first (users/assign and users/cdb), then
 *	removes its .qmail file, then deletes every key version from the
 *	Paired Key Store at once (no grace period: see ses-deluser(8) for why,
 *	and --keep-keys to keep them). Only an account on this host: keys
 *	alone (another host's account) only with --keys-only. Stored mail is
 *	kept, its mailbox id printed; --remove-mail removes a mailbox on this
 *	host (combined mode). Crash-safe: an interrupted run is finished by
 *	the next run of any provisioning tool.
 * SECURITY
 *	Reads the PKS provision credential. Deleting the keys makes the
 *	stored mail unreadable for good unless the subscriber exported the
 *	PDK: hence the confirmation.
 * EXIT STATUS
 *	0 done; 100 no such subscriber or not confirmed; 111 temporary.
 * SEE ALSO
 *	ses-adduser(8), ses-passwd(8)
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "util/die.h"
#include "util/log.h"
#include "util/secretfd.h"
#include "provision.h"
#include "ttyio.h"

#define USAGE "[--yes] [--keep-keys | --keys-only] [--remove-mail] address"

static unsigned parse_opts(int argc, char **argv, int *yes)
{
	static const struct option longopts[] = {
		{ "yes", no_argument, NULL, 'y' },
		{ "keep-keys", no_argument, NULL, 'k' },
		{ "keys-only", no_argument, NULL, 'K' },
		{ "remove-mail", no_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned flags = 0;
	int c;
	*yes = 0;
	while ((c = getopt_long(argc, argv, "yk", longopts, NULL)) != -1) {
		switch (c) {
		case 'y': *yes = 1; break;
		case 'k': flags |= PROV_KEEP_KEYS; break;
		case 'K': flags |= PROV_KEYS_ONLY; break;
		case 'M': flags |= PROV_REMOVE_MAIL; break;
		default: die_usage(USAGE);
		}
	}
	if (optind != argc - 1 ||
	    ((flags & PROV_KEEP_KEYS) && (flags & PROV_KEYS_ONLY)))
		die_usage(USAGE);
	return flags;
}

static void confirm(const char *address, unsigned flags)
{
	char line[16], prompt[600];
	snprintf(prompt, sizeof prompt, "Remove %s%s%s? [y/N] ",
	         flags & PROV_KEYS_ONLY ? "the keys of " : "", address,
	         flags & PROV_KEEP_KEYS ? ""
	         : flags & PROV_REMOVE_MAIL ? " with its keys and stored mail"
	         : " and its keys (its stored mail becomes unreadable)");
	if (tty_line(prompt, line, sizeof line) < 0 ||
	    (*line != 'y' && *line != 'Y'))
		die_perm("5.0.0", "not confirmed");
}

/* What was removed, and where the stored mail is now. */
static void report(const char *address, unsigned flags,
                   const struct prov_deleted *d)
{
	if (flags & PROV_KEYS_ONLY)
		printf("removed the keys of %s", address);
	else
		printf("removed %s", address);
	if (flags & PROV_KEEP_KEYS)
		printf(" (keys kept)\n");
	else
		printf("%s %u key version%s\n", flags & PROV_KEYS_ONLY ? ":" :
		       " and", d->keys, d->keys == 1 ? "" : "s");
	if (d->mail_removed)
		printf("removed its mail: maildirs/%s\n", d->mailbox);
	else if (d->mail_here)
		printf("its mail stays in mailbox %s on this host "
		       "(maildirs/%s; see ses-deluser(8))\n", d->mailbox, d->mailbox);
	else if (*d->mailbox)
		printf("any mail it has stays in mailbox %s on the EDH (see "
		       "ses-deluser(8))\n", d->mailbox);
}

int main(int argc, char **argv)
{
	int yes;
	char address[ADDR_MAX + 1];
	log_init(argv[0]);
	secret_nodump_or_die(); /* it loads control/pksprovision */
	unsigned flags = parse_opts(argc, argv, &yes);
	if (addr_normalize(argv[optind], strlen(argv[optind]), address) != ADDR_OK)
		die_perm("5.1.3", "not an address: %s", argv[optind]);
	if (!yes)
		confirm(address, flags);
	struct prov p;
	struct prov_deleted d;
	if (prov_open(&p, 0) != PROV_OK)
		die_sys_temp("%s", p.why);
	int r = prov_delete(&p, address, flags, &d);
	if (r == PROV_NOT_FOUND)
		die_nosuch("%s", p.why);
	if (r == PROV_INVALID)
		die_perm("5.0.0", "%s", p.why);
	if (r != PROV_OK)
		die_sys_temp("%s", p.why);
	report(address, flags, &d);
	prov_close(&p);
	return 0;
}
