/*
 * popstore - the sealed messages of a mailbox, local or on edhd. See
 * popstore.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fail.h"
#include "util/path.h"
#include "popstore.h"

int popstore_open(struct popstore *ps, struct control *ctl,
                  const char *ctldir, const char *home, const char *mailbox,
                  char *why, size_t whylen)
{
	struct stat sb;
	memset(ps, 0, sizeof *ps);
	ps->maildirs = -1;
	ps->md.dirfd = ps->md.tmpfd = ps->md.newfd = ps->md.curfd = -1;
	if (!maildir_id_valid(mailbox))
		return fail_why(why, whylen, -1, "mailbox: %s",
		                strerror(EINVAL));
	snprintf(ps->mailbox, sizeof ps->mailbox, "%s", mailbox);
	if (fstatat(ctl->dirfd, EDHC_RETRIEVE_CREDFILE, &sb, 0) == 0) {
		ps->edh = edhc_open(EDHC_RETRIEVE, ctl, ctldir, why, whylen);
		return ps->edh ? 0 : -1;
	}
	if (errno != ENOENT)
		return fail_why(why, whylen, -1,
		                "control/" EDHC_RETRIEVE_CREDFILE ": %s",
		                strerror(errno));
	char path[SQ_PATH_MAX];
	ps->maildirs = path_join(path, sizeof path, home, "maildirs", NULL) < 0
	               ? -1 : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ps->maildirs < 0 && errno != ENOENT)
		return fail_why(why, whylen, -1, "cannot open maildirs: %s",
		                strerror(errno));
	return 0; /* no maildirs yet: nothing delivered, an empty mailbox */
}

void popstore_close(struct popstore *ps)
{
	if (ps->md.dirfd >= 0)
		maildir_close(&ps->md);
	maildir_list_free(&ps->list);
	if (ps->maildirs >= 0)
		close(ps->maildirs);
	ps->maildirs = -1;
	edhc_free(ps->edh);
	ps->edh = NULL;
	free(ps->msgs);
	ps->msgs = NULL;
	ps->n = 0;
}

static enum popstore_result edh_result(struct popstore *ps,
                                       enum edhc_result r, char *why,
                                       size_t whylen)
{
	if (r == EDHC_OK)
		return POPSTORE_OK;
	return fail_why(why, whylen,
	                r == EDHC_PERM ? POPSTORE_GONE : POPSTORE_TEMP,
	                "edhd: %s", edhc_error(ps->edh));
}

/* Room for the n messages listed, in ps->msgs. */
static int make_msgs(struct popstore *ps, size_t n, char *why, size_t whylen)
{
	if (n && !(ps->msgs = calloc(n, sizeof *ps->msgs)))
		return fail_why(why, whylen, -1, "listing: %s",
		                strerror(ENOMEM));
	ps->n = n;
	return 0;
}

static enum popstore_result local_list(struct popstore *ps, size_t max,
                                       char *why, size_t whylen)
{
	if (ps->maildirs < 0)
		return POPSTORE_OK;
	if (maildir_open(&ps->md, ps->maildirs, ps->mailbox, 0) < 0) {
		if (errno == ENOENT) /* never delivered to */
			return POPSTORE_OK;
		return fail_why(why, whylen, POPSTORE_TEMP,
		                "cannot open the mailbox: %s", strerror(errno));
	}
	maildir_sweep_tmp(&ps->md, time(NULL) - MAILDIR_TMP_STALE);
	if (maildir_list(&ps->md, max, &ps->list) < 0)
		return fail_why(why, whylen, POPSTORE_TEMP,
		                "cannot list the mailbox: %s", strerror(errno));
	if (make_msgs(ps, ps->list.n, why, whylen) < 0)
		return POPSTORE_TEMP;
	for (size_t i = 0; i < ps->n; i++) {
		const struct maildir_msg *l = &ps->list.msgs[i];
		memcpy(ps->msgs[i].uid, l->name, l->uidlen);
		ps->msgs[i].uid[l->uidlen] = '\0';
		ps->msgs[i].size = l->size;
		ps->msgs[i].plainsize = l->plainsize;
	}
	return POPSTORE_OK;
}

enum popstore_result popstore_list(struct popstore *ps, size_t max,
                                   char *why, size_t whylen)
{
	if (!ps->edh)
		return local_list(ps, max, why, whylen);
	struct edhc_msg *em = NULL;
	size_t en = 0;
	enum popstore_result r =
		edh_result(ps, edhc_list(ps->edh, ps->mailbox, &em, &en), why, whylen);
	if (r == POPSTORE_OK && make_msgs(ps, en > max ? max : en, why,
	                                  whylen) < 0)
		r = POPSTORE_TEMP;
	for (size_t i = 0; r == POPSTORE_OK && i < ps->n; i++) {
		snprintf(ps->msgs[i].uid, sizeof ps->msgs[i].uid, "%s", em[i].uid);
		ps->msgs[i].size = em[i].size;
		ps->msgs[i].plainsize = em[i].plainsize;
	}
	free(em);
	return r == POPSTORE_GONE ? POPSTORE_TEMP : r;
}

enum popstore_result popstore_fetch(struct popstore *ps, size_t i,
                                    struct sbuf *out, char *why,
                                    size_t whylen)
{
	if (ps->edh)
		return edh_result(ps, edhc_fetch(ps->edh, ps->mailbox,
		                                 ps->msgs[i].uid, out), why, whylen);
	int fd = maildir_open_msg(&ps->md, &ps->list.msgs[i]);
	if (fd < 0) {
		int err = errno;
		return fail_why(why, whylen,
		                err == ENOENT ? POPSTORE_GONE : POPSTORE_TEMP,
		                "cannot open the message: %s", strerror(err));
	}
	sbuf_reset(out);
	int r = sbuf_read_fd(out, fd);
	int err = errno;
	close(fd);
	if (r < 0)
		return fail_why(why, whylen, POPSTORE_TEMP,
		                "cannot read the message: %s", strerror(err));
	return POPSTORE_OK;
}

enum popstore_result popstore_remove(struct popstore *ps, size_t i,
                                     char *why, size_t whylen)
{
	if (ps->edh) {
		enum popstore_result r = edh_result(
			ps, edhc_delete(ps->edh, ps->mailbox, ps->msgs[i].uid), why,
			whylen);
		return r == POPSTORE_GONE ? POPSTORE_OK : r;
	}
	if (maildir_remove_msg(&ps->md, &ps->list.msgs[i]) < 0 &&
	    errno != ENOENT)
		return fail_why(why, whylen, POPSTORE_TEMP,
		                "cannot remove the message: %s",
		                strerror(errno));
	return POPSTORE_OK;
}

enum popstore_result popstore_sync(struct popstore *ps, char *why,
                                   size_t whylen)
{
	if (ps->edh || ps->md.dirfd < 0 || maildir_sync(&ps->md) == 0)
		return POPSTORE_OK;
	return fail_why(why, whylen, POPSTORE_TEMP,
	                "cannot sync the mailbox: %s", strerror(errno));
}
