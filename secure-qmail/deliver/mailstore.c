#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/seal.h"
#include "util/fail.h"
#include "deliver/mailstore.h"
#include "util/path.h"
#include "mail/quota.h"

static int init_lmtp(struct mailstore *st, const char *ctldir, char *why,
                     size_t whylen)
{
	st->edh = edhc_open(EDHC_LMTP, st->ctl, ctldir, why, whylen);
	return st->edh ? 0 : -1;
}

static int init_maildirs(struct mailstore *st, const char *home, char *why,
                         size_t whylen)
{
	char path[SQ_PATH_MAX];
	struct sbuf me;
	sbuf_init(&me, CONTROL_LINE_MAX);
	if (control_rldef(st->ctl, "me", 0, "localhost", &me) < 0) {
		sbuf_free(&me);
		return fail_why(why, whylen, -1, "control/me: %s",
		                strerror(errno));
	}
	snprintf(st->host, sizeof st->host, "%s", me.s);
	sbuf_free(&me);
	if (path_join(path, sizeof path, home, "maildirs", NULL) < 0 ||
	    (mkdir(path, 0700) < 0 && errno != EEXIST))
		return fail_why(why, whylen, -1, "cannot create maildirs: %s",
		                strerror(errno));
	st->maildirs = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->maildirs < 0)
		return fail_why(why, whylen, -1, "cannot open maildirs: %s",
		                strerror(errno));
	return 0;
}

int mailstore_init(struct mailstore *st, struct control *ctl,
                   const char *ctldir, const char *home, char *why,
                   size_t whylen)
{
	struct stat sb;
	memset(st, 0, sizeof *st);
	st->ctl = ctl;
	st->maildirs = -1;
	if (fstatat(ctl->dirfd, EDHC_LMTP_CREDFILE, &sb, 0) == 0)
		return init_lmtp(st, ctldir, why, whylen);
	if (errno != ENOENT)
		return fail_why(why, whylen, -1,
		                "control/" EDHC_LMTP_CREDFILE ": %s",
		                strerror(errno));
	return init_maildirs(st, home, why, whylen);
}

void mailstore_fini(struct mailstore *st)
{
	if (st->maildirs >= 0)
		close(st->maildirs);
	st->maildirs = -1;
	edhc_free(st->edh);
	st->edh = NULL;
}

static enum mailstore_result put_lmtp(struct mailstore *st,
                                      const char *mailbox, const char *did,
                                      const char *data, size_t len, char *why,
                                      size_t whylen)
{
	enum edhc_result r = edhc_deliver(st->edh, mailbox, did, data, len);
	const char *text = edhc_error(st->edh);
	int code, klass, subj, det, n = 0;
	/* edhd's own enhanced code ("452 4.2.2 ...") first, for the DSN;
	 * a connection failure has none: 4.4.1, no answer from host */
	if (sscanf(text, "%3d %1d.%3d.%3d%n", &code, &klass, &subj, &det, &n) == 4
	    && n > 0 && (klass == 4 || klass == 5) && code / 100 == klass)
		snprintf(why, whylen, "%d.%d.%d EDH: %s", klass, subj, det, text);
	else
		snprintf(why, whylen, "%sEDH: %s", r == EDHC_OK ? "" :
		         r == EDHC_PERM ? "5.3.0 " : "4.4.1 ", text);
	return r == EDHC_OK ? MAILSTORE_OK : r == EDHC_PERM ? MAILSTORE_PERM
	                                                    : MAILSTORE_TEMP;
}

static enum mailstore_result put_maildir(struct mailstore *st,
                                         const char *mailbox, const char *did,
                                         const char *data, size_t len,
                                         unsigned long long plainsize,
                                         char *why, size_t whylen)
{
	struct maildir md;
	struct maildir_delivered out;
	size_t start = seal_entity_start(data, len); /* its line: in the name */
	data += start, len -= start;
	if (maildir_open(&md, st->maildirs, mailbox, 1) < 0)
		return fail_why(why, whylen, MAILSTORE_TEMP,
		                "4.3.0 cannot open the maildir: %s",
		                strerror(errno));
	int q = quota_check_once(st->ctl, &md, mailbox, len, did);
	int r = q != 0 ? -1 : did ? maildir_deliver_once(&md, did, data, len,
	                                                 plainsize, &out)
	        : maildir_deliver(&md, st->host, data, len, plainsize, &out);
	int err = errno;
	maildir_close(&md);
	if (q != 0)
		snprintf(why, whylen, q > 0 ? "4.2.2 mailbox full"
		                            : "4.3.0 quota unknown");
	else if (r < 0)
		snprintf(why, whylen, "%s cannot write the maildir: %s",
		         err == ENOSPC || err == EDQUOT ? "4.3.1" : "4.3.0",
		         strerror(err));
	else
		snprintf(why, whylen, "%s %s/new/%.*s", out.again ?
		         "stored before (a retry) as" : "stored as", mailbox,
		         (int)out.uidlen, out.name);
	return q != 0 || r < 0 ? MAILSTORE_TEMP : MAILSTORE_OK;
}

enum mailstore_result mailstore_put(struct mailstore *st, const char *mailbox,
                                    const char *did, const char *data,
                                    size_t len,
                                    unsigned long long plainsize, char *why,
                                    size_t whylen)
{
	if (!maildir_id_valid(mailbox))
		return fail_why(why, whylen, MAILSTORE_PERM,
		                "5.1.1 not a mailbox id");
	return st->edh ? put_lmtp(st, mailbox, did, data, len, why, whylen)
	               : put_maildir(st, mailbox, did, data, len, plainsize, why,
	                             whylen);
}
