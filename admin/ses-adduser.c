/*
 * NAME
 *	ses-adduser - create a subscriber: address, key pair, qmail files
 * SYNOPSIS
 *	ses-adduser [--yes] [--json] [--new-domain] [--password-fd n]
 *	    [--name "First Last" --domain domain | address]
 *	ses-adduser --recover
 * DESCRIPTION
 *	Inspects the User ID (valid, not reserved, free on this host and in
 *	the Paired Key Store; alternatives when taken), makes the key pair
 *	(PEK issued by the instance CA, PDK wrapped with the password), stores
 *	it in the PKS with the provision role, and writes the subscriber's
 *	qmail files, in the crash-safe order of provision.h. Interactive by
 *	default; --yes with --password-fd for scripts, --json for their output.
 * SECURITY
 *	Runs as the provisioning administrator: reads the CA key and the PKS
 *	provision credential. The password comes from the terminal (no echo)
 *	or a descriptor, never argv or the environment; it is wiped after
 *	use, and core dumps are off.
 * EXIT STATUS
 *	0 created; 100 refused (taken, invalid, reserved, weak password: the
 *	reason and any suggestions are printed); 111 temporary (PKS down...).
 * SEE ALSO
 *	ses-passwd(8), ses-deluser(8), sq-dot-qmail(5), pksd(8)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "util/die.h"
#include "util/fail.h"
#include "util/log.h"
#include "provision.h"
#include "util/secretfd.h"
#include "ttyio.h"

#define SUGGESTIONS 5
#define USAGE "[--yes] [--json] [--new-domain] [--password-fd n] " \
	"[--name NAME --domain DOMAIN | ADDRESS] | --recover"

struct opts {
	int yes, json, pwfd, recover, new_domain;
	const char *name, *domain, *address;
};

static struct opts parse_opts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "yes", no_argument, NULL, 'y' },
		{ "json", no_argument, NULL, 'j' },
		{ "password-fd", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "domain", required_argument, NULL, 'd' },
		{ "recover", no_argument, NULL, 'r' },
		{ "new-domain", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { 0, 0, -1, 0, 0, NULL, NULL, NULL };
	int c;
	while ((c = getopt_long(argc, argv, "yjp:n:d:", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'y': o.yes = 1; break;
		case 'j': o.json = 1; break;
		case 'n': o.name = optarg; break;
		case 'd': o.domain = optarg; break;
		case 'r': o.recover = 1; break;
		case 'N': o.new_domain = 1; break;
		case 'p':
			o.pwfd = (int)strtol(optarg, &end, 10);
			if (*end || o.pwfd < 0)
				die_usage(USAGE);
			break;
		default: die_usage(USAGE);
		}
	}
	if (o.recover) {
		if (optind < argc || o.name || o.domain)
			die_usage(USAGE);
		return o;
	}
	if (optind < argc)
		o.address = argv[optind++];
	if (optind < argc || (o.address && (o.name || o.domain)) ||
	    (o.yes && !o.address && !(o.name && o.domain)) ||
	    (o.yes && o.pwfd < 0))
		die_usage(USAGE);
	return o;
}

/* Reports the outcome (text or JSON) and exits. */
static _Noreturn void finish(const struct opts *o, int code, const char *result,
                             const char *address, const char *why,
                             char sugg[][ADDR_MAX + 1], size_t nsugg,
                             const struct prov_added *added)
{
	if (o->json) {
		json_t *doc = json_pack("{s:s}", "result", result);
		if (address)
			json_object_set_new(doc, "address", json_string(address));
		if (why && *why)
			json_object_set_new(doc, "reason", json_string(why));
		if (nsugg) {
			json_t *list = json_array();
			for (size_t i = 0; i < nsugg; i++)
				json_array_append_new(list, json_string(sugg[i]));
			json_object_set_new(doc, "suggestions", list);
		}
		if (added) {
			char hex[9];
			addr_hash_hex(added->hash, hex);
			json_object_set_new(doc, "hash", json_string(hex));
			json_object_set_new(doc, "row", json_integer((json_int_t)added->row));
			json_object_set_new(doc, "version",
			                    json_integer((json_int_t)added->version));
		}
		json_dumpf(doc, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(doc);
	} else if (added) {
		printf("created %s (key version %u)\n", added->address,
		       added->version);
	} else {
		printf("%s: %s%s%s\n", result, address ? address : "",
		       address && why && *why ? ": " : "", why ? why : "");
		for (size_t i = 0; i < nsugg; i++)
			printf("  %zu) %s\n", i + 1, sugg[i]);
	}
	fflush(stdout);
	exit(code);
}

/* The local part and domain the operator asked for. */
static int wanted(const struct opts *o, char *local, char *domain, char *why,
                  size_t whylen)
{
	char line[600];
	const char *addr = o->address, *name = o->name;
	snprintf(domain, ADDR_DOMAIN_MAX + 1, "%s", o->domain ? o->domain : "");
	if (!addr && !name) {
		if (tty_line("Name (First Last) or address: ", line, sizeof line) < 0)
			return -1;
		if (strchr(line, '@'))
			addr = line;
		else
			name = line;
	}
	if (addr) {
		const char *at = strrchr(addr, '@');
		if (!at)
			return fail_why(why, whylen, USERID_INVALID,
			                "not an address: no @");
		if ((size_t)(at - addr) > ADDR_LOCAL_MAX ||
		    strlen(at + 1) > ADDR_DOMAIN_MAX)
			return USERID_TOO_LONG;
		snprintf(local, ADDR_LOCAL_MAX + 1, "%.*s", (int)(at - addr), addr);
		snprintf(domain, ADDR_DOMAIN_MAX + 1, "%s", at + 1);
		return USERID_OK;
	}
	if (!*domain && tty_line("Domain: ", domain, ADDR_DOMAIN_MAX + 1) < 0)
		return -1;
	return userid_from_name(name, local, ADDR_LOCAL_MAX + 1, why, whylen);
}

/* Lets the operator pick a suggestion or type another name or address,
 * on the terminal; the new local part (and maybe domain): USERID_OK, an
 * error of the typed name, or -1 to give up. */
static int choose(const char *problem, char sugg[][ADDR_MAX + 1], size_t n,
                  char *local, char *domain, char *why, size_t whylen)
{
	char line[600], prompt[2400];
	size_t used = (size_t)snprintf(prompt, sizeof prompt, "%s\n", problem);
	for (size_t i = 0; i < n && used < sizeof prompt; i++)
		used += (size_t)snprintf(prompt + used, sizeof prompt - used,
		                         "  %zu) %s\n", i + 1, sugg[i]);
	snprintf(prompt + (used < sizeof prompt ? used : sizeof prompt - 1),
	         sizeof prompt - (used < sizeof prompt ? used : sizeof prompt - 1),
	         "Choose a number, or type another name or address "
	         "(empty to quit): ");
	if (tty_line(prompt, line, sizeof line) < 0 || !*line)
		return -1;
	char *end;
	unsigned long k = strtoul(line, &end, 10);
	const char *pick = *end == '\0' && k >= 1 && k <= n ? sugg[k - 1] : line;
	const char *at = strrchr(pick, '@');
	if (!at && strchr(pick, ' '))
		return userid_from_name(pick, local, ADDR_LOCAL_MAX + 1, why,
		                        whylen);
	if ((at ? (size_t)(at - pick) : strlen(pick)) > ADDR_LOCAL_MAX)
		return USERID_TOO_LONG;
	snprintf(local, ADDR_LOCAL_MAX + 1, "%.*s",
	         at ? (int)(at - pick) : (int)strlen(pick), pick);
	if (at)
		snprintf(domain, ADDR_DOMAIN_MAX + 1, "%s", at + 1);
	return USERID_OK;
}

/* A domain new to this host is added only on purpose: a typo must not
 * become a hosted domain. */
static void check_domain(struct prov *p, const struct opts *o,
                         const char *address)
{
	const char *domain = strrchr(address, '@') + 1;
	int known = acct_has_domain(&p->files, domain);
	if (known < 0)
		finish(o, EXIT_TEMP, "temporary", address,
		       "cannot read control/virtualdomains", NULL, 0, NULL);
	if (known || o->new_domain)
		return;
	char line[16], prompt[400];
	snprintf(prompt, sizeof prompt, "%s is not a domain of this host yet; "
	         "add it? [y/N] ", domain);
	if (o->yes || tty_line(prompt, line, sizeof line) < 0 ||
	    (*line != 'y' && *line != 'Y'))
		finish(o, EXIT_PERM, "invalid", address,
		       "a domain new to this host (give --new-domain)", NULL, 0,
		       NULL);
}

static void get_password(struct prov *p, const struct opts *o,
                         struct rbuf *in, const char *address,
                         struct sbuf *pw)
{
	for (;;) {
		struct sbuf again;
		sbuf_init_secret(&again, PASSWORD_MAX + 1);
		if (tty_password("Password: ", in, pw) < 0 ||
		    (!in && tty_password("Password again: ", NULL, &again) < 0))
			finish(o, EXIT_PERM, "weak_password", address,
			       in ? "no password line on the descriptor, or one "
			            "longer than 1024 octets"
			          : "cannot read the password", NULL, 0, NULL);
		int same = in || (pw->len == again.len &&
		                  !memcmp(pw->s, again.s ? again.s : "", pw->len));
		sbuf_free(&again);
		int r = same ? prov_check_password(p, address, pw->s ? pw->s : "",
		                                   pw->len) : PROV_WEAK_PASSWORD;
		if (r == PROV_OK)
			return;
		if (!same)
			snprintf(p->why, sizeof p->why, "the two passwords differ");
		if (in)
			finish(o, EXIT_PERM, "weak_password", address, p->why, NULL, 0,
			       NULL);
		char line[8];
		char prompt[600];
		snprintf(prompt, sizeof prompt, "%s; press Enter to try again",
		         p->why);
		tty_line(prompt, line, sizeof line);
	}
}

/* The inspection dialogue, from r (the result of wanted() or a note of
 * a lost race, USERID_OK): until the address is free, or finish(). note,
 * if not empty, is why the address is taken. */
static void inspect(struct prov *p, const struct opts *o, int r,
                    const char *note, char *local, char *domain, char *why,
                    size_t whylen, char *address)
{
	char sugg[SUGGESTIONS][ADDR_MAX + 1];
	size_t nsugg = 0;
	for (;;) {
		if (r < 0)
			finish(o, EXIT_PERM, "cancelled", NULL, "no input", NULL, 0,
			       NULL);
		if (r == USERID_OK)
			r = userid_inspect(local, domain, &p->reserved, prov_is_free, p,
			                   address, sugg, SUGGESTIONS, &nsugg);
		if (r == USERID_OK)
			return;
		if (r == USERID_UNAVAILABLE)
			finish(o, EXIT_TEMP, "temporary", NULL, p->why, NULL, 0, NULL);
		const char *what = r == USERID_TAKEN ? "taken" : "invalid";
		if (r == USERID_TAKEN && note && *note)
			snprintf(why, whylen, "%.250s", note);
		else if (!*why || r == USERID_TAKEN)
			snprintf(why, whylen, "%s", userid_strerror(r));
		note = NULL;
		if (o->yes)
			finish(o, EXIT_PERM, what, r == USERID_TAKEN ? address : NULL,
			       why, sugg, r == USERID_TAKEN ? nsugg : 0, NULL);
		char problem[600];
		snprintf(problem, sizeof problem, "%s%s%s",
		         r == USERID_TAKEN ? address : "",
		         r == USERID_TAKEN ? ": " : "", why);
		*why = '\0';
		r = choose(problem, sugg, r == USERID_TAKEN ? nsugg : 0, local,
		           domain, why, whylen);
	}
}

int main(int argc, char **argv)
{
	struct prov p;
	char local[ADDR_LOCAL_MAX + 1], domain[ADDR_DOMAIN_MAX + 1];
	char address[ADDR_MAX + 1], why[256] = "", note[256] = "";
	log_init(argv[0]);
	if (secret_nodump() < 0)
		die_sys_temp("cannot disable core dumps");
	umask(022);
	struct opts o = parse_opts(argc, argv);
	/* opening takes the lock and finishes or undoes interrupted runs */
	if (prov_open(&p, o.recover ? 0 : PROV_NEED_CA_KEY) != PROV_OK)
		finish(&o, EXIT_TEMP, "temporary", NULL, p.why, NULL, 0, NULL);
	if (o.recover) {
		prov_close(&p);
		finish(&o, EXIT_DONE, "recovered", NULL, NULL, NULL, 0, NULL);
	}

	struct rbuf in;
	struct sbuf pw;
	int have_pw = 0, r = wanted(&o, local, domain, why, sizeof why);
	if (o.pwfd >= 0)
		rbuf_init(&in, o.pwfd, 30000);
	sbuf_init_secret(&pw, PASSWORD_MAX + 1);
	struct prov_added added;
	for (;;) {
		inspect(&p, &o, r, note, local, domain, why, sizeof why, address);
		check_domain(&p, &o, address);
		/* after a lost race the password typed stays, if it fits the
		 * new address */
		if (!have_pw || prov_check_password(&p, address, pw.s ? pw.s : "",
		                                    pw.len) != PROV_OK) {
			sbuf_free(&pw);
			sbuf_init_secret(&pw, PASSWORD_MAX + 1);
			get_password(&p, &o, o.pwfd >= 0 ? &in : NULL, address, &pw);
			have_pw = 1;
		}
		if (!o.yes) {
			char line[16], prompt[400];
			snprintf(prompt, sizeof prompt, "Create %s? [y/N] ", address);
			if (tty_line(prompt, line, sizeof line) < 0 ||
			    (*line != 'y' && *line != 'Y'))
				finish(&o, EXIT_PERM, "cancelled", address, "", NULL, 0,
				       NULL);
		}
		r = prov_add(&p, address, pw.s, pw.len, &added);
		if (r != PROV_TAKEN)
			break;
		/* lost the race to another run: inspect again, which finds the
		 * address taken and offers fresh suggestions */
		snprintf(note, sizeof note, "%.250s", p.why);
		r = USERID_OK;
	}
	sbuf_free(&pw);
	if (r != PROV_OK)
		finish(&o, EXIT_TEMP, "temporary", address, p.why, NULL, 0, NULL);
	prov_close(&p);
	finish(&o, EXIT_DONE, "created", added.address, NULL, NULL, 0, &added);
}
