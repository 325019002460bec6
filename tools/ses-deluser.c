/*
 * NAME
 *	ses-deluser - remove a subscriber
 * SYNOPSIS
 *	ses-deluser [--yes] [--keep-keys] address
 * DESCRIPTION
 *	Stops mail for the address first (users/assign and users/cdb), then
 *	removes its .qmail file, then deletes every key version from the
 *	Paired Key Store at once (no grace period: see ses-deluser(8) for why,
 *	and --keep-keys to keep them). Mail stored on the Email Database Host
 *	is kept. Crash-safe: an interrupted run is finished by the next run
 *	of any provisioning tool.
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

#include "die.h"
#include "log.h"
#include "provision.h"
#include "ttyio.h"

#define USAGE "[--yes] [--keep-keys] address"

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "yes", no_argument, NULL, 'y' },
		{ "keep-keys", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int yes = 0, keep = 0, c;
	char address[ADDR_MAX + 1];
	log_init(argv[0]);
	while ((c = getopt_long(argc, argv, "yk", longopts, NULL)) != -1) {
		if (c == 'y')
			yes = 1;
		else if (c == 'k')
			keep = 1;
		else
			die_usage(USAGE);
	}
	if (optind != argc - 1)
		die_usage(USAGE);
	if (addr_normalize(argv[optind], strlen(argv[optind]), address) != ADDR_OK)
		die_perm("5.1.3", "not an address: %s", argv[optind]);
	if (!yes) {
		char line[16], prompt[400];
		snprintf(prompt, sizeof prompt, "Remove %s%s? [y/N] ", address,
		         keep ? "" : " and its keys (its stored mail becomes "
		                     "unreadable)");
		if (tty_line(prompt, line, sizeof line) < 0 ||
		    (*line != 'y' && *line != 'Y'))
			die_perm("5.0.0", "not confirmed");
	}
	struct prov p;
	unsigned deleted;
	if (prov_open(&p, 0) != PROV_OK)
		die_temp("4.3.0", "%s", p.why);
	int r = prov_delete(&p, address, keep, &deleted);
	if (r == PROV_NOT_FOUND)
		die_perm("5.1.1", "no subscriber %s", address);
	if (r != PROV_OK)
		die_temp("4.3.0", "%s", p.why);
	printf("removed %s%s", address, keep ? " (keys kept)\n" : "");
	if (!keep)
		printf(" and %u key version%s\n", deleted, deleted == 1 ? "" : "s");
	prov_close(&p);
	return 0;
}
