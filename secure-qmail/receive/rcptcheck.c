/*
 * rcptcheck - the recipients sq-smtpd accepts. See rcptcheck.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/assign.h"
#include "queue/fdpass.h"
#include "util/home.h"
#include "util/log.h"
#include "receive/rcptcheck.h"

static int load(struct control *ctl, const char *name, struct sbuf *out)
{
	size_t n;
	sbuf_init(out, CONTROL_FILE_MAX);
	return control_readfile(ctl, name, out, &n) < 0 ? -1 : 0;
}

int rcptcheck_init(struct rcptcheck *r, struct control *ctl)
{
	memset(r, 0, sizeof *r);
	r->relayclient = getenv("RELAYCLIENT") != NULL;
	if (sq_path(r->userscdb, sizeof r->userscdb, "users/cdb") < 0 ||
	    sq_path(r->sealer, sizeof r->sealer, "run/sealer") < 0)
		return -1;
	localdom_init(&r->ours, ctl);
	struct sbuf pm;
	sbuf_init(&pm, CONTROL_LINE_MAX);
	r->has_postmaster = control_readline(ctl, "postmaster", &pm);
	if (r->has_postmaster == 1)
		snprintf(r->postmaster, sizeof r->postmaster, "%s", pm.s ? pm.s : "");
	sbuf_free(&pm);
	r->sealwait = SEALWAIT_DEFAULT;
	return control_readulong(ctl, "sealwait", SEALWAIT_MAX,
	                         &r->sealwait) < 0 ||
	       load(ctl, "rcpthosts", &r->rcpthosts) < 0 ||
	       localdom_reload(&r->ours) < 0 ? -1 : 0;
}

void rcptcheck_fini(struct rcptcheck *r)
{
	sbuf_free(&r->rcpthosts);
	localdom_free(&r->ours);
}

/* 1 if domain is a line of list; ".example.org" lines match subdomains,
 * as in qmail's rcpthosts. */
static int listed(const struct sbuf *list, const char *domain)
{
	for (const char *l = control_nextline(list, NULL); l;
	     l = control_nextline(list, l)) {
		size_t ll = strlen(l), dl = strlen(domain);
		if (!strcasecmp(l, domain) ||
		    (l[0] == '.' && dl > ll && !strcasecmp(domain + dl - ll, l)))
			return 1;
	}
	return 0;
}

static enum rcpt_verdict check(struct rcptcheck *r, const char *address,
                               int depth);

/* Asks sq-sealerd whether the subscriber has a key. */
static enum rcpt_verdict has_key(struct rcptcheck *r, const char *address)
{
	char req[1100], answer[600];
	int n = snprintf(req, sizeof req, "CHECK %s\n", address);
	if (n < 0 || (size_t)n >= sizeof req)
		return RCPT_TEMP;
	/* at most control/sealwait, asked again while the sealer is busy */
	ssize_t got = fdpass_ask(r->sealer, req, (size_t)n, NULL, 0,
	                         r->sealwait, answer, sizeof answer);
	if (got <= 0)
		return RCPT_TEMP;
	long code = strtol(answer, NULL, 10);
	return code == 0 ? RCPT_OK : code == 31 ? RCPT_NO_KEY : RCPT_TEMP;
}

/* 1 if address is "postmaster" (RFC 5321 4.5.1: any case, no domain) or
 * postmaster@ one of our domains; -1 if the domains cannot be read. */
static int is_postmaster(struct rcptcheck *r, const char *address)
{
	if (!localdom_is_postmaster(address))
		return 0;
	return strchr(address, '@') ? localdom_match(&r->ours, address, NULL)
	                            : 1;
}

/* Postmaster is the subscriber control/postmaster names, checked as any
 * subscriber is (the sealer seals for that address). */
static enum rcpt_verdict postmaster(struct rcptcheck *r, int depth)
{
	if (r->has_postmaster < 0)
		return RCPT_TEMP;
	if (r->has_postmaster == 0 || depth > 0) {
		log_msg(SQLOG_WARN, depth ? "control/postmaster names postmaster: "
		        "postmaster refused" : "control/postmaster is missing: "
		        "postmaster refused");
		return RCPT_UNKNOWN;
	}
	return check(r, r->postmaster, depth + 1);
}

enum rcpt_verdict rcptcheck(struct rcptcheck *r, const char *address)
{
	return check(r, address, 0);
}

static enum rcpt_verdict check(struct rcptcheck *r, const char *address,
                               int depth)
{
	int pm = is_postmaster(r, address);
	if (pm)
		return pm < 0 ? RCPT_TEMP : postmaster(r, depth);
	const char *at = strrchr(address, '@');
	if (!listed(&r->rcpthosts, at ? at + 1 : "") && !r->relayclient)
		return RCPT_NO_RELAY;
	char local[LOCALDOM_NAME_MAX];
	int ours = localdom_localname(&r->ours, address, local, sizeof local);
	if (ours == -1)
		return RCPT_TEMP;
	if (ours == -2)
		return RCPT_UNKNOWN;
	/* Not ours: mail for it would be queued in the clear, as remote
	 * mail. Only a relay client may send it, even to a domain in
	 * rcpthosts (a backup MX's): until a recipient is local, refuse. */
	if (!ours)
		return r->relayclient ? RCPT_OK : RCPT_NO_RELAY;
	struct assign_entry e;
	int found = assign_lookup(r->userscdb, local, &e);
	if (found < 0)
		return RCPT_TEMP;
	if (found == 0)
		return RCPT_UNKNOWN;
	return has_key(r, address);
}
