/*
 * NAME
 *	edh-ctl - administer the clients of edhd
 * SYNOPSIS
 *	edh-ctl add [-o file] role [note] | list | remove id
 * DESCRIPTION
 *	Registers a client of edhd(8) in control/edhclients with a fresh
 *	random id and secret, and prints its credential "ID:SECRET" once: on
 *	standard output, or into a new file (mode 0400) with -o, ready to be
 *	installed as the client's credential file. list shows the clients
 *	(never a secret: only their salted hashes are kept); remove drops
 *	one. Roles: deliver (LMTP) and retrieve (the retrieval protocol).
 * SECURITY
 *	Runs as the operator on the EDH host. The file is rewritten
 *	crash-safely (atomicfile) keeping its owner, group and mode; edits
 *	are serialised with a lock on the control directory. The secret is
 *	never in argv, the environment or a log.
 * SEE ALSO
 *	edhd(8), sq-edh(5)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/atomicfile.h"
#include "clientfile.h"
#include "util/control.h"
#include "util/die.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "util/sbuf.h"
#include "util/secretfd.h"

#define USAGE "add [-o file] ROLE [NOTE] | list | remove ID"

/* The control directory, locked against a concurrent edh-ctl. */
static int open_control(void)
{
	char dir[SQ_PATH_MAX];
	if (sq_path(dir, sizeof dir, "control") < 0)
		die_sys_temp("path too long");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die_sys_temp("cannot open %s: %s", dir, strerror(errno));
	if (flock(fd, LOCK_EX) < 0)
		die_sys_temp("cannot lock %s: %s", dir, strerror(errno));
	return fd;
}

static void load(int dirfd, struct edh_clients *c)
{
	size_t bad;
	if (edh_clients_load(dirfd, EDH_CLIENTS_FILE, c, &bad) < 0) {
		if (bad)
			die_sys_temp("control/%s line %zu is malformed; fix it "
			             "first", EDH_CLIENTS_FILE, bad);
		die_sys_temp("control/%s: %s", EDH_CLIENTS_FILE,
		             strerror(errno));
	}
}

/* Rewrites the file with every client of c, keeping the old file's owner
 * and mode (a new file: 0400, for the operator to give to edhd). */
static void save(int dirfd, const struct edh_clients *c)
{
	struct sbuf text;
	struct atomicfile af;
	struct stat st;
	int old = fstatat(dirfd, EDH_CLIENTS_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0;
	sbuf_init(&text, CONTROL_FILE_MAX);
	if (sbuf_puts(&text, "# ID ROLE SALT HASH NOTE, written by edh-ctl\n") < 0)
		die_nomem();
	for (size_t i = 0; i < c->n; i++)
		if (edh_client_format(&c->v[i], &text) < 0)
			die_sys_temp("control/%s would be too long",
			             EDH_CLIENTS_FILE);
	if (atomic_begin(&af, dirfd, EDH_CLIENTS_FILE, 0400) < 0)
		die_sys_temp("cannot write control/%s: %s", EDH_CLIENTS_FILE,
		             strerror(errno));
	if ((old && (fchown(af.fd, st.st_uid, st.st_gid) < 0 ||
	             fchmod(af.fd, st.st_mode & 07777) < 0)) ||
	    atomic_write(&af, text.s, text.len) < 0 ||
	    atomic_commit(&af, ATOMIC_REPLACE) < 0) {
		int e = errno;
		atomic_abort(&af);
		die_sys_temp("cannot write control/%s: %s", EDH_CLIENTS_FILE,
		             strerror(e));
	}
	sbuf_free(&text);
}

/* The credential goes to a new file of its own (never replacing one). */
static void write_credential(const char *path, const char *cred)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	              0400);
	if (fd < 0)
		die_sys_temp("cannot create %s: %s", path, strerror(errno));
	if (write_all(fd, cred, strlen(cred)) < 0 || fsync(fd) < 0 ||
	    close(fd) < 0) {
		int e = errno;
		unlink(path);
		die_sys_temp("cannot write %s: %s", path, strerror(e));
	}
}

static int cmd_add(int argc, char **argv)
{
	const char *outfile = NULL;
	if (argc >= 2 && strcmp(argv[0], "-o") == 0) {
		outfile = argv[1];
		argc -= 2, argv += 2;
	}
	if (argc < 1 || argc > 2)
		die_usage(USAGE);
	int role = edh_role_parse(argv[0]);
	if (!role)
		die_badarg("role must be deliver or retrieve");
	int dirfd = open_control();
	struct edh_clients c;
	struct edh_client nc;
	char secret[EDH_SECRET_LEN + 1], cred[EDH_SECRET_LEN + 16];
	load(dirfd, &c);
	if (edh_client_new(&nc, role, argc == 2 ? argv[1] : "", &c, secret) < 0)
		die_badarg("note must be printable ASCII, at most %d "
		           "characters", EDH_NOTE_MAX);
	struct edh_client *grown = realloc(c.v, (c.n + 1) * sizeof *grown);
	if (!grown)
		die_nomem();
	c.v = grown;
	c.v[c.n++] = nc;
	snprintf(cred, sizeof cred, "%lu:%s\n", (unsigned long)nc.id, secret);
	OPENSSL_cleanse(secret, sizeof secret);
	if (outfile)
		write_credential(outfile, cred);
	save(dirfd, &c);
	if (!outfile) {
		fputs(cred, stdout);
		fflush(stdout);
	}
	OPENSSL_cleanse(cred, sizeof cred);
	fprintf(stderr, "edh-ctl: client %lu added, role %s; its secret is %s\n",
	        (unsigned long)nc.id, edh_role_name(role),
	        outfile ? "in the file given" : "shown once, above");
	edh_clients_free(&c);
	close(dirfd);
	return 0;
}

static int cmd_list(void)
{
	int dirfd = open_control();
	struct edh_clients c;
	load(dirfd, &c);
	for (size_t i = 0; i < c.n; i++)
		printf("%lu %s %s\n", (unsigned long)c.v[i].id,
		       edh_role_name(c.v[i].role), c.v[i].note);
	edh_clients_free(&c);
	close(dirfd);
	return 0;
}

static int cmd_remove(const char *arg)
{
	uint32_t id;
	if (edh_client_id_parse(arg, strlen(arg), &id) < 0)
		die_badarg("bad client id: %s", arg);
	int dirfd = open_control();
	struct edh_clients c;
	load(dirfd, &c);
	const struct edh_client *gone = edh_clients_find(&c, id);
	if (!gone)
		die_nosuch("no client %s", arg);
	size_t at = (size_t)(gone - c.v);
	memmove(&c.v[at], &c.v[at + 1], (c.n - at - 1) * sizeof *c.v);
	c.n--;
	save(dirfd, &c);
	printf("removed client %s\n", arg);
	edh_clients_free(&c);
	close(dirfd);
	return 0;
}

int main(int argc, char **argv)
{
	log_init(argv[0]);
	secret_nodump_or_die(); /* "add" prints a new client's secret */
	umask(077);
	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return cmd_add(argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return cmd_list();
	if (argc == 3 && strcmp(argv[1], "remove") == 0)
		return cmd_remove(argv[2]);
	die_usage(USAGE);
}
