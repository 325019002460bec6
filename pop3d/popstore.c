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

#include "popstore.h"

static int fail(char *why, size_t whylen, const char *text, int err)
{
	snprintf(why, whylen, "%s: %s", text, strerror(err));
	return -1;
}

int popstore_open(struct popstore *ps, struct control *ctl,
                  const char *ctldir, const char *home, const char *mailbox,
                  char *why, size_t whylen)
{
	struct stat sb;
	memset(ps, 0, sizeof *ps);
	ps->maildirs = -1;
	if (!maildir_id_valid(mailbox))
		return fail(why, whylen, "mailbox", EINVAL);
	snprintf(ps->mailbox, sizeof ps->mailbox, "%s", mailbox);
	if (fstatat(ctl->dirfd, EDHC_RETRIEVE_CREDFILE, &sb, 0) == 0) {
		struct edhc_config cfg;
		if (edhc_config_load(&cfg, EDHC_RETRIEVE, ctl, ctldir,
		                     EDHC_RETRIEVE_HOSTFILE, EDHC_RETRIEVE_CREDFILE,
		                     why, whylen) < 0)
			return -1;
		ps->edh = edhc_new(&cfg);
		edhc_config_wipe(&cfg);
		return ps->edh ? 0 : fail(why, whylen, "edhclient", ENOMEM);
	}
	if (errno != ENOENT)
		return fail(why, whylen, "control/" EDHC_RETRIEVE_CREDFILE, errno);
	char path[4200];
	snprintf(path, sizeof path, "%s/maildirs", home);
	ps->maildirs = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ps->maildirs < 0 && errno != ENOENT)
		return fail(why, whylen, "cannot open maildirs", errno);
	return 0; /* no maildirs yet: nothing delivered, an empty mailbox */
}

void popstore_close(struct popstore *ps)
{
	if (ps->maildirs >= 0)
		close(ps->maildirs);
	ps->maildirs = -1;
	edhc_free(ps->edh);
	ps->edh = NULL;
}

static enum popstore_result edh_result(struct popstore *ps,
                                       enum edhc_result r, char *why,
                                       size_t whylen)
{
	if (r == EDHC_OK)
		return POPSTORE_OK;
	snprintf(why, whylen, "edhd: %s", edhc_error(ps->edh));
	return r == EDHC_PERM ? POPSTORE_GONE : POPSTORE_TEMP;
}

/* Opens the local mailbox; 1, 0 when it does not exist, -1. */
static int local_open(struct popstore *ps, struct maildir *md, char *why,
                      size_t whylen)
{
	if (ps->maildirs < 0)
		return 0;
	if (maildir_open(md, ps->maildirs, ps->mailbox, 0) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return fail(why, whylen, "cannot open the mailbox", errno);
}

static enum popstore_result local_list(struct popstore *ps, size_t max,
                                       struct pop_msg **msgs, size_t *n,
                                       char *why, size_t whylen)
{
	struct maildir md;
	struct maildir_list l;
	int r = local_open(ps, &md, why, whylen);
	if (r <= 0)
		return r < 0 ? POPSTORE_TEMP : POPSTORE_OK;
	maildir_sweep_tmp(&md, time(NULL) - MAILDIR_TMP_STALE);
	r = maildir_list(&md, max, &l);
	maildir_close(&md);
	if (r < 0)
		return fail(why, whylen, "cannot list the mailbox", errno);
	if (l.n && !(*msgs = calloc(l.n, sizeof **msgs))) {
		maildir_list_free(&l);
		return fail(why, whylen, "listing", ENOMEM);
	}
	for (size_t i = 0; i < l.n; i++) {
		struct pop_msg *m = &(*msgs)[i];
		memcpy(m->uid, l.msgs[i].name, l.msgs[i].uidlen);
		m->uid[l.msgs[i].uidlen] = '\0';
		m->size = l.msgs[i].size;
		m->plainsize = l.msgs[i].plainsize;
	}
	*n = l.n;
	maildir_list_free(&l);
	return POPSTORE_OK;
}

enum popstore_result popstore_list(struct popstore *ps, size_t max,
                                   struct pop_msg **msgs, size_t *n,
                                   char *why, size_t whylen)
{
	*msgs = NULL;
	*n = 0;
	if (!ps->edh)
		return local_list(ps, max, msgs, n, why, whylen);
	struct edhc_msg *em = NULL;
	size_t en = 0;
	enum popstore_result r =
		edh_result(ps, edhc_list(ps->edh, ps->mailbox, &em, &en), why, whylen);
	if (r != POPSTORE_OK)
		return r == POPSTORE_GONE ? POPSTORE_TEMP : r;
	if (en > max)
		en = max;
	if (en && !(*msgs = calloc(en, sizeof **msgs))) {
		free(em);
		return fail(why, whylen, "listing", ENOMEM);
	}
	for (size_t i = 0; i < en; i++) {
		snprintf((*msgs)[i].uid, sizeof (*msgs)[i].uid, "%s", em[i].uid);
		(*msgs)[i].size = em[i].size;
		(*msgs)[i].plainsize = em[i].plainsize;
	}
	*n = en;
	free(em);
	return POPSTORE_OK;
}

enum popstore_result popstore_fetch(struct popstore *ps,
                                    const struct pop_msg *m,
                                    struct sbuf *out, char *why,
                                    size_t whylen)
{
	if (ps->edh)
		return edh_result(ps, edhc_fetch(ps->edh, ps->mailbox, m->uid, out),
		                  why, whylen);
	struct maildir md;
	int r = local_open(ps, &md, why, whylen);
	if (r <= 0)
		return r < 0 ? POPSTORE_TEMP : POPSTORE_GONE;
	int fd = maildir_open_uid(&md, m->uid);
	int err = errno;
	maildir_close(&md);
	if (fd < 0) {
		fail(why, whylen, "cannot open the message", err);
		return err == ENOENT ? POPSTORE_GONE : POPSTORE_TEMP;
	}
	sbuf_reset(out);
	r = sbuf_read_fd(out, fd);
	err = errno;
	close(fd);
	if (r < 0)
		return fail(why, whylen, "cannot read the message", err);
	return POPSTORE_OK;
}

enum popstore_result popstore_remove(struct popstore *ps,
                                     const struct pop_msg *m, char *why,
                                     size_t whylen)
{
	if (ps->edh) {
		enum popstore_result r = edh_result(
			ps, edhc_delete(ps->edh, ps->mailbox, m->uid), why, whylen);
		return r == POPSTORE_GONE ? POPSTORE_OK : r;
	}
	struct maildir md;
	int r = local_open(ps, &md, why, whylen);
	if (r <= 0)
		return r < 0 ? POPSTORE_TEMP : POPSTORE_OK;
	r = maildir_remove_uid(&md, m->uid);
	int err = errno;
	maildir_close(&md);
	if (r < 0 && err != ENOENT)
		return fail(why, whylen, "cannot remove the message", err);
	return POPSTORE_OK;
}
