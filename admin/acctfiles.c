/*
 * acctfiles - the qmail side of an account. See acctfiles.h and
 * sq-dot-qmail(5).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acctfiles.h"
#include "mail/assign.h"
#include "util/atomicfile.h"
#include "auto_users.h"
#include "util/control.h"
#include "ctledit.h"
#include "util/fail.h"
#include "util/home.h"
#include "util/path.h"

#define ASSIGN_MAX (16 * 1024 * 1024)

int acct_open(struct acctfiles *a, char *why, size_t whylen)
{
	struct control ctl;
	struct sbuf v;
	char dir[SQ_PATH_MAX];
	memset(a, 0, sizeof *a);
	if (path_join(a->home, sizeof a->home, sq_home(), NULL) < 0 ||
	    path_join(dir, sizeof dir, a->home, "control", NULL) < 0 ||
	    control_open(&ctl, dir) < 0)
		return fail_why(why, whylen, -1, "%s: %s", dir,
		                strerror(errno));
	sbuf_init(&v, CONTROL_LINE_MAX);
	int r = control_rldef(&ctl, "deliveryuser", 0, SQ_USER_MAILDIR, &v);
	control_close(&ctl);
	struct passwd *pw = r == 1 ? getpwnam(v.s) : NULL;
	if (!pw || strlen(v.s) >= sizeof a->user) {
		snprintf(why, whylen, "delivery user %s: %s", v.s ? v.s : "?",
		         r < 0 ? strerror(errno) : "no such user (control/deliveryuser)");
		sbuf_free(&v);
		return -1;
	}
	strcpy(a->user, v.s);
	a->uid = pw->pw_uid;
	a->gid = pw->pw_gid;
	sbuf_free(&v);
	return 0;
}

/* local and domain of a normalised address, in place copies. */
static void split(const char *address, char *local, char *domain)
{
	const char *at = strrchr(address, '@');
	snprintf(local, ADDR_LOCAL_MAX + 1, "%.*s", (int)(at - address), address);
	snprintf(domain, ADDR_DOMAIN_MAX + 1, "%s", at + 1);
}

/* qmail-local looks for .qmail-EXT with each '.' of EXT turned into ':'. */
static void dotqmail_name(const char *local, char *out, size_t n)
{
	snprintf(out, n, ".qmail-%s", local);
	for (char *p = out + 7; *p; p++)
		if (*p == '.')
			*p = ':';
}

/* Opens domains/DOMAIN, creating it (and domains/) owned by the delivery
 * user, which qmail-local requires of a home directory. */
static int domain_dir(const struct acctfiles *a, const char *domain)
{
	char path[SQ_PATH_MAX];
	if (path_join(path, sizeof path, a->home, "domains", NULL) < 0 ||
	    (mkdir(path, 0755) < 0 && errno != EEXIST) ||
	    path_join(path, sizeof path, a->home, "domains", domain, NULL) < 0)
		return -1;
	if (mkdir(path, 0750) == 0) {
		if (getuid() == 0 && chown(path, a->uid, a->gid) < 0)
			return -1;
	} else if (errno != EEXIST) {
		return -1;
	}
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int acct_write_dotqmail(const struct acctfiles *a, const char *address,
                        int replace)
{
	char local[ADDR_LOCAL_MAX + 1], domain[ADDR_DOMAIN_MAX + 1];
	char name[ADDR_LOCAL_MAX + 16], text[ADDR_MAX + 64];
	struct atomicfile af;
	split(address, local, domain);
	dotqmail_name(local, name, sizeof name);
	int n = snprintf(text, sizeof text, "# secure-qmail subscriber: mail is "
	                 "sealed for this address and stored on the EDH\n"
	                 "%%sealed %s\n", address);
	int dfd = domain_dir(a, domain);
	if (dfd < 0)
		return -1;
	int r = atomic_begin(&af, dfd, name, 0600);
	if (r == 0 && ((getuid() == 0 && fchown(af.fd, a->uid, a->gid) < 0) ||
	               atomic_write(&af, text, (size_t)n) < 0)) {
		atomic_abort(&af);
		r = -1;
	} else if (r == 0) {
		r = atomic_commit(&af, replace ? ATOMIC_REPLACE : ATOMIC_CREATE);
	}
	close(dfd);
	return r;
}

static int domain_fd(const struct acctfiles *a, const char *domain)
{
	char path[SQ_PATH_MAX];
	if (path_join(path, sizeof path, a->home, "domains", domain, NULL) < 0)
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The domain directory of address (-1, errno) and the name of its
 * .qmail file in it. */
static int dotqmail_at(const struct acctfiles *a, const char *address,
                       char name[ADDR_LOCAL_MAX + 16])
{
	char local[ADDR_LOCAL_MAX + 1], domain[ADDR_DOMAIN_MAX + 1];
	split(address, local, domain);
	dotqmail_name(local, name, ADDR_LOCAL_MAX + 16);
	return domain_fd(a, domain);
}

int acct_remove_dotqmail(const struct acctfiles *a, const char *address)
{
	char name[ADDR_LOCAL_MAX + 16];
	int dfd = dotqmail_at(a, address, name);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -1;
	int r = unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	if (r == 0)
		r = fsync_dir(dfd);
	close(dfd);
	return r;
}

int acct_has_dotqmail(const struct acctfiles *a, const char *address)
{
	char name[ADDR_LOCAL_MAX + 16];
	int dfd = dotqmail_at(a, address, name);
	if (dfd < 0)
		return 0;
	int r = faccessat(dfd, name, F_OK, 0) == 0;
	close(dfd);
	return r;
}

static int control_fd(const struct acctfiles *a)
{
	char path[SQ_PATH_MAX];
	if (path_join(path, sizeof path, a->home, "control", NULL) < 0)
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int acct_has_domain(const struct acctfiles *a, const char *domain)
{
	struct control ctl;
	struct sbuf lines;
	char dir[SQ_PATH_MAX], want[2 * ADDR_DOMAIN_MAX + 2];
	size_t n;
	snprintf(want, sizeof want, "%s:%s", domain, domain);
	if (path_join(dir, sizeof dir, a->home, "control", NULL) < 0 ||
	    control_open(&ctl, dir) < 0)
		return -1;
	sbuf_init(&lines, CONTROL_FILE_MAX);
	int r = control_readfile(&ctl, "virtualdomains", &lines, &n);
	int found = 0;
	for (const char *l = r == 1 ? control_nextline(&lines, NULL) : NULL; l;
	     l = control_nextline(&lines, l))
		found |= strcasecmp(l, want) == 0;
	sbuf_free(&lines);
	control_close(&ctl);
	return r < 0 ? -1 : found;
}

int acct_add_domain(const struct acctfiles *a, const char *domain)
{
	char line[2 * ADDR_DOMAIN_MAX + 2];
	int cfd = control_fd(a);
	if (cfd < 0)
		return -1;
	snprintf(line, sizeof line, "%s:%s", domain, domain);
	int r = ctledit_add(cfd, "virtualdomains", line, 1) < 0 ||
	        ctledit_add(cfd, "rcpthosts", domain, 1) < 0 ? -1 : 0;
	close(cfd);
	return r;
}

/* The assign entry of address: the virtual domain's prefix, a dash and
 * the local part, delivered as the delivery user with .qmail-LOCAL. */
static int entry_for(const struct acctfiles *a, const char *address,
                     struct assign_entry *e)
{
	char local[ADDR_LOCAL_MAX + 1], domain[ADDR_DOMAIN_MAX + 1];
	split(address, local, domain);
	memset(e, 0, sizeof *e);
	e->type = '=';
	e->uid = a->uid;
	e->gid = a->gid;
	if (snprintf(e->local, sizeof e->local, "%s-%s", domain, local) >=
	            (int)sizeof e->local ||
	    snprintf(e->user, sizeof e->user, "%s", a->user) >=
	            (int)sizeof e->user ||
	    path_join(e->home, sizeof e->home, a->home, "domains", domain,
	              NULL) < 0 ||
	    snprintf(e->ext, sizeof e->ext, "%s", local) >= (int)sizeof e->ext) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(e->dash, "-");
	return 0;
}

static int users_fd(const struct acctfiles *a)
{
	char path[SQ_PATH_MAX];
	if (path_join(path, sizeof path, a->home, "users", NULL) < 0 ||
	    (mkdir(path, 0755) < 0 && errno != EEXIST))
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* users/assign (name, relative to dirfd), read whole into text; a missing
 * file reads as empty. 0 or -1. */
static int read_assign(int dirfd, const char *name, struct sbuf *text)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	int r = sbuf_read_fd(text, fd);
	close(fd);
	return r;
}

/* Reads users/assign (empty if missing), adds or removes the entry, writes
 * it back crash-safely and rebuilds users/cdb from it. The rebuild happens
 * even when the entry was already there (or gone): a crash may have come
 * between the two files, and recovery runs this again to mend exactly that.
 * 0, or -1 (errno EEXIST / ENOENT after the rebuild, for the caller). */
static int update_assign(const struct acctfiles *a, const char *address,
                         int add)
{
	struct assign_entry e;
	struct sbuf text;
	size_t bad;
	int ufd = users_fd(a);
	if (ufd < 0)
		return -1;
	sbuf_init(&text, ASSIGN_MAX);
	int r = read_assign(ufd, "assign", &text);
	if (r == 0)
		r = entry_for(a, address, &e);
	int unchanged = 0;
	if (r == 0) {
		r = add ? assign_add(&text, &e) : assign_remove(&text, e.local);
		if (r < 0 && errno == (add ? EEXIST : ENOENT)) {
			unchanged = errno;
			r = 0;
		}
	}
	if (r == 0 && !unchanged)
		r = atomic_write_file(ufd, "assign", text.s ? text.s : "", text.len,
		                      0644, ATOMIC_REPLACE);
	if (r == 0 && text.len == 0)
		r = sbuf_puts(&text, ".\n"); /* no file yet: an empty database */
	if (r == 0)
		r = assign_build_cdb(text.s, text.len, ufd, "cdb", &bad);
	int saved = errno;
	sbuf_free(&text);
	close(ufd);
	errno = r == 0 && unchanged ? unchanged : saved;
	return r == 0 && unchanged ? -1 : r;
}

int acct_assign_add(const struct acctfiles *a, const char *address)
{
	return update_assign(a, address, 1);
}

int acct_assign_remove(const struct acctfiles *a, const char *address)
{
	return update_assign(a, address, 0);
}

/* 1 if users/cdb has a simple entry for e's local name, 0 if not, -1. */
static int cdb_has(const struct acctfiles *a, const struct assign_entry *e)
{
	struct assign_entry found;
	char path[SQ_PATH_MAX];
	if (path_join(path, sizeof path, a->home, "users", "cdb", NULL) < 0)
		return -1;
	int r = assign_lookup(path, e->local, &found);
	return r == 1 && found.type == '=' ? 1 : r < 0 ? -1 : 0;
}

int acct_is_assigned(const struct acctfiles *a, const char *address)
{
	struct assign_entry e;
	return entry_for(a, address, &e) < 0 ? -1 : cdb_has(a, &e);
}

/* 1 if users/assign holds a simple entry with the cdb key of e->local
 * (A-Z case ignored, as qmail-newu keys), 0 if not (or no file), -1. */
static int assign_has(const struct acctfiles *a, const struct assign_entry *e)
{
	struct assign_list list;
	struct sbuf text;
	size_t bad;
	char path[SQ_PATH_MAX];
	if (path_join(path, sizeof path, a->home, "users", "assign", NULL) < 0)
		return -1;
	sbuf_init(&text, ASSIGN_MAX);
	assign_list_init(&list);
	int r = read_assign(AT_FDCWD, path, &text);
	if (r == 0 && text.len)
		r = assign_parse(text.s, text.len, &list, &bad);
	int found = 0;
	for (size_t i = 0; r == 0 && i < list.n; i++)
		found |= list.v[i].type != '+' &&
		         strcasecmp(list.v[i].local, e->local) == 0;
	int saved = errno;
	assign_list_free(&list);
	sbuf_free(&text);
	errno = saved;
	return r < 0 ? -1 : found;
}

int acct_exists(const struct acctfiles *a, const char *address)
{
	struct assign_entry e;
	if (entry_for(a, address, &e) < 0)
		return -1;
	int r = assign_has(a, &e);
	if (r == 0)
		r = cdb_has(a, &e);
	if (r == 0)
		r = acct_has_dotqmail(a, address);
	return r;
}
