#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailstore.h"

static int fail(char *why, size_t whylen, const char *text, int err)
{
	snprintf(why, whylen, "%s: %s", text, strerror(err));
	return -1;
}

int mailstore_init(struct mailstore *st, struct control *ctl, const char *home,
               char *why, size_t whylen)
{
	char path[4200];
	memset(st, 0, sizeof *st);
	st->ctl = ctl;
	st->maildirs = -1;
	struct sbuf me;
	sbuf_init(&me, CONTROL_LINE_MAX);
	if (control_rldef(ctl, "me", 0, "localhost", &me) < 0) {
		sbuf_free(&me);
		return fail(why, whylen, "control/me", errno);
	}
	snprintf(st->host, sizeof st->host, "%s", me.s);
	sbuf_free(&me);
	snprintf(path, sizeof path, "%s/maildirs", home);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return fail(why, whylen, "cannot create maildirs", errno);
	st->maildirs = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->maildirs < 0)
		return fail(why, whylen, "cannot open maildirs", errno);
	return 0;
}

void mailstore_fini(struct mailstore *st)
{
	if (st->maildirs >= 0)
		close(st->maildirs);
	st->maildirs = -1;
}

enum mailstore_result mailstore_put(struct mailstore *st, const char *mailbox,
                            const char *data, size_t len,
                            unsigned long long plainsize, char *why,
                            size_t whylen)
{
	struct maildir md;
	struct maildir_delivered out;
	if (!maildir_id_valid(mailbox)) {
		snprintf(why, whylen, "5.1.1 not a mailbox id");
		return MAILSTORE_PERM;
	}
	if (maildir_open(&md, st->maildirs, mailbox, 1) < 0) {
		snprintf(why, whylen, "4.3.0 cannot open the maildir: %s",
		         strerror(errno));
		return MAILSTORE_TEMP;
	}
	int r = maildir_deliver(&md, st->host, data, len, plainsize, &out);
	int err = errno;
	maildir_close(&md);
	if (r < 0) {
		snprintf(why, whylen, "%s cannot write the maildir: %s",
		         err == ENOSPC || err == EDQUOT ? "4.2.2" : "4.3.0",
		         strerror(err));
		return MAILSTORE_TEMP;
	}
	snprintf(why, whylen, "stored as %s/new/%.*s", mailbox,
	         (int)out.uidlen, out.name);
	return MAILSTORE_OK;
}
