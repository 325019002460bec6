/*
 * NAME
 *	ses-passwd - change a subscriber's password, or reset it
 * SYNOPSIS
 *	ses-passwd [--password-fd n] address
 *	ses-passwd --reset [--password-fd n] address
 * DESCRIPTION
 *	A change reads the old password, then the new one (twice at a
 *	terminal; one line each from --password-fd). Every key version the
 *	old password opens is wrapped again under the new one and stored with
 *	the provision role: the keys stay, no message is touched, and every
 *	message stays readable with the new password.
 *	A reset (--reset, by the administrator, when the password is lost)
 *	cannot open the old keys: it makes a new key version wrapped with the
 *	new password. New mail is sealed to it. The old versions stay in the
 *	PKS, wrapped with the old password: mail sealed to them opens again
 *	only if the old password is ever given (sq-checkpw tries every
 *	version with the password it gets). Nothing is re-sealed.
 * SECURITY
 *	Reads the PKS login and provision credentials, and for a reset the CA
 *	key. Passwords from the terminal without echo or from a descriptor,
 *	never argv or the environment; wiped after use. A wrong old password
 *	is reported to the PKS as a failed login.
 * EXIT STATUS
 *	0 done; 100 wrong password, unknown address or weak new password; 111
 *	temporary.
 * SEE ALSO
 *	ses-adduser(8), ses-deluser(8), sq-pdk(5)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/die.h"
#include "util/log.h"
#include "provision.h"
#include "util/secretfd.h"
#include "ttyio.h"

#define USAGE "[--reset] [--password-fd n] address"

static void read_new(struct rbuf *in, struct sbuf *pw)
{
	struct sbuf again;
	sbuf_init_secret(&again, PASSWORD_MAX + 1);
	if (tty_password("New password: ", in, pw) < 0 ||
	    (!in && tty_password("New password again: ", NULL, &again) < 0))
		die_sys_temp("cannot read the password");
	if (!in && (again.len != pw->len ||
	            memcmp(again.s ? again.s : "", pw->s ? pw->s : "", pw->len)))
		die_perm("5.7.0", "the two passwords differ");
	sbuf_free(&again);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reset", no_argument, NULL, 'r' },
		{ "password-fd", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int reset = 0, pwfd = -1, c;
	char address[ADDR_MAX + 1], *end;
	log_init(argv[0]);
	if (secret_nodump() < 0)
		die_sys_temp("cannot disable core dumps");
	while ((c = getopt_long(argc, argv, "rp:", longopts, NULL)) != -1) {
		if (c == 'r')
			reset = 1;
		else if (c == 'p' && (pwfd = (int)strtol(optarg, &end, 10)) >= 0 &&
		         !*end)
			continue;
		else
			die_usage(USAGE);
	}
	if (optind != argc - 1)
		die_usage(USAGE);
	if (addr_normalize(argv[optind], strlen(argv[optind]), address) != ADDR_OK)
		die_perm("5.1.3", "not an address: %s", argv[optind]);

	struct prov p;
	if (prov_open(&p, reset ? PROV_NEED_CA_KEY : PROV_NEED_LOGIN) != PROV_OK)
		die_sys_temp("%s", p.why);
	struct rbuf in;
	if (pwfd >= 0)
		rbuf_init(&in, pwfd, 30000);
	struct sbuf old, pw;
	sbuf_init_secret(&old, PASSWORD_MAX + 1);
	sbuf_init_secret(&pw, PASSWORD_MAX + 1);
	int r;
	unsigned n = 0;
	if (reset) {
		read_new(pwfd >= 0 ? &in : NULL, &pw);
		r = prov_reset(&p, address, pw.s ? pw.s : "", pw.len, &n);
	} else {
		if (tty_password("Old password: ", pwfd >= 0 ? &in : NULL, &old) < 0)
			die_sys_temp("cannot read the password");
		read_new(pwfd >= 0 ? &in : NULL, &pw);
		r = prov_change_password(&p, address, old.s ? old.s : "", old.len,
		                         pw.s ? pw.s : "", pw.len, &n);
	}
	sbuf_free(&old);
	sbuf_free(&pw);
	if (r == PROV_NOT_FOUND)
		die_nosuch("%s has no keys", address);
	if (r == PROV_WRONG_PASSWORD || r == PROV_WEAK_PASSWORD)
		die_perm("5.7.0", "%s", p.why);
	if (r != PROV_OK)
		die_sys_temp("%s", p.why);
	if (reset)
		printf("reset %s: new key version %u; older versions keep the old "
		       "password\n", address, n);
	else
		printf("changed the password of %s: %u key version%s re-wrapped\n",
		       address, n, n == 1 ? "" : "s");
	prov_close(&p);
	return 0;
}
