/*
 * retr - edhd's retrieval protocol. See retr.h and sq-edh(5).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "mail/maildir.h"
#include "retr.h"

#define FETCH_CHUNK 32768

struct retr {
	struct edh_session *s;
	int selected;
	struct maildir md;      /* dirfd -1: selected but never delivered to */
};

static void unselect(struct retr *r)
{
	if (r->selected && r->md.dirfd >= 0)
		maildir_close(&r->md);
	r->selected = 0;
}

static void cmd_mailbox(struct retr *r, const char *arg)
{
	struct netio *io = &r->s->io;
	if (!maildir_id_valid(arg)) {
		netio_reply(io, "501 5.1.3 not a mailbox id");
		return;
	}
	unselect(r);
	if (maildir_open(&r->md, r->s->cfg->maildirs, arg, 0) < 0) {
		if (errno != ENOENT) {
			log_msg(SQLOG_ALERT, "retrieve %s: cannot open: %s", arg,
			        strerror(errno));
			netio_reply(io, "451 4.3.0 mailbox unavailable");
			return;
		}
		memset(&r->md, 0, sizeof r->md);
		r->md.dirfd = -1;
		snprintf(r->md.id, sizeof r->md.id, "%s", arg);
	} else if (maildir_sweep_tmp(&r->md, time(NULL) - MAILDIR_TMP_STALE) > 0) {
		log_msg(SQLOG_INFO, "retrieve %s: removed stale tmp/ files", arg);
	}
	r->selected = 1;
	netio_reply(io, "250 2.0.0 %s selected", arg);
}

static void cmd_list(struct retr *r)
{
	struct netio *io = &r->s->io;
	struct maildir_list l = { 0 };
	if (r->md.dirfd >= 0 && maildir_list(&r->md, RETR_LIST_MAX, &l) < 0) {
		log_msg(SQLOG_ALERT, "retrieve %s: cannot list: %s", r->md.id,
		        strerror(errno));
		netio_reply(io, "451 4.3.0 cannot list the mailbox now");
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct maildir_msg *m = &l.msgs[i];
		netio_reply(io, "250-%.*s %llu %llu", (int)m->uidlen, m->name,
		             m->size, m->plainsize);
		/* a long listing goes out as it is made, not all held */
		if (io->out.len > 32768 && netio_flush(io) < 0)
			break;
	}
	if (l.truncated)
		log_msg(SQLOG_WARN, "retrieve %s: more than %d messages; listed "
		        "the oldest", r->md.id, RETR_LIST_MAX);
	netio_reply(io, "250 2.0.0 %zu messages", l.n);
	if (r->md.dirfd >= 0)
		maildir_list_free(&l);
}

/* FETCH or DELETE found no message (errno ENOENT) or failed: the log
 * line and the reply. */
static void missing(struct retr *r, const char *verb, const char *uid)
{
	int gone = errno == ENOENT;
	log_msg(SQLOG_INFO, "retrieve %s: %s %s: %s", r->md.id, verb, uid,
	        gone ? "no such message" : strerror(errno));
	netio_reply(&r->s->io, gone ? "550 5.1.1 no such message"
	             : "451 4.3.0 cannot do that now; try again later");
}

/* Sends the open file's octets after the length line; 0 or -1 (the
 * connection is then unusable: the client was promised the octets). */
static int send_file(struct retr *r, int fd, unsigned long long size)
{
	struct netio *io = &r->s->io;
	char buf[FETCH_CHUNK];
	netio_reply(io, "250 2.0.0 %llu", size);
	while (size > 0) {
		size_t want = size < sizeof buf ? (size_t)size : sizeof buf;
		ssize_t got = read(fd, buf, want);
		if (got <= 0 || sbuf_put(&io->out, buf, (size_t)got) < 0 ||
		    netio_flush(io) < 0)
			return -1;
		size -= (unsigned long long)got;
	}
	return 0;
}

/* 0 to go on, 1 when the connection must end. */
static int cmd_fetch(struct retr *r, const char *uid)
{
	struct stat st;
	int fd = r->md.dirfd >= 0 ? maildir_open_uid(&r->md, uid) : -1;
	if (r->md.dirfd < 0)
		errno = ENOENT;
	if (fd < 0) {
		missing(r, "FETCH", uid);
		return 0;
	}
	int bad = fstat(fd, &st) < 0 || send_file(r, fd,
	                                          (unsigned long long)st.st_size);
	close(fd);
	if (bad) {
		log_msg(SQLOG_WARN, "retrieve %s: FETCH %s broke off: %s",
		        r->md.id, uid, strerror(errno));
		return 1;
	}
	log_msg(SQLOG_INFO, "retrieve %s: FETCH %s, %lld octets, client %lu",
	        r->md.id, uid, (long long)st.st_size, (unsigned long)r->s->client);
	return 0;
}

static void cmd_delete(struct retr *r, const char *uid)
{
	struct netio *io = &r->s->io;
	int rc = r->md.dirfd >= 0 ? maildir_remove_uid(&r->md, uid) : -1;
	if (r->md.dirfd < 0)
		errno = ENOENT;
	if (rc < 0) {
		missing(r, "DELETE", uid);
		return;
	}
	log_msg(SQLOG_INFO, "retrieve %s: DELETE %s, client %lu", r->md.id, uid,
	        (unsigned long)r->s->client);
	netio_reply(io, "250 2.0.0 deleted");
}

/* The commands that need a selected mailbox; 1 when the session ends. */
static int mailbox_command(struct retr *r, const char *verb, const char *arg)
{
	struct netio *io = &r->s->io;
	if (!r->selected) {
		netio_reply(io, "503 5.5.1 MAILBOX first");
		return 0;
	}
	if (!strcmp(verb, "LIST")) {
		if (*arg)
			netio_reply(io, "501 5.5.4 LIST takes no argument");
		else
			cmd_list(r);
		return 0;
	}
	if (!maildir_uid_valid(arg, strlen(arg))) {
		netio_reply(io, "501 5.5.4 not a message id");
		return 0;
	}
	if (!strcmp(verb, "FETCH"))
		return cmd_fetch(r, arg);
	cmd_delete(r, arg);
	return 0;
}

/* One command line; 1 when the session ends. */
static int command(struct retr *r)
{
	char verb[8];
	const char *arg = session_verb(r->s, verb, sizeof verb);
	struct netio *io = &r->s->io;
	if (!strcmp(verb, "QUIT")) {
		netio_reply(io, "221 2.0.0 closing");
		return 1;
	}
	if (!strcmp(verb, "NOOP")) {
		netio_reply(io, "250 2.0.0 ok");
	} else if (!strcmp(verb, "AUTH")) {
		return session_auth(r->s, arg) < 0;
	} else if (strcmp(verb, "MAILBOX") && strcmp(verb, "LIST") &&
	           strcmp(verb, "FETCH") && strcmp(verb, "DELETE")) {
		netio_reply(io, "500 5.5.1 unrecognized command");
	} else if (!r->s->client) {
		netio_reply(io, "530 5.7.0 authentication required");
	} else if (!strcmp(verb, "MAILBOX")) {
		cmd_mailbox(r, arg);
	} else {
		return mailbox_command(r, verb, arg);
	}
	return 0;
}

void retr_run(struct edh_session *s)
{
	struct retr r = { .s = s };
	netio_reply(&s->io, "220 %s edhd retrieval", s->cfg->me);
	for (;;) {
		int g = session_getline(s);
		if (g == 0)
			break;
		if (g > 0 && command(&r))
			break;
	}
	unselect(&r);
}
