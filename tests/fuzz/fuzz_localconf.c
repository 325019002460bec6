/* fuzz_localconf - the control files and .qmail files as the programs
 * read them from disk for a recipient: the input is an instance, sections
 * each opened by a line "==NAME": the control files rcpthosts, locals,
 * virtualdomains, postmaster, badmailfrom, databytes and sealwait,
 * "assign" (users/assign, built into users/cdb as ses-adduser does;
 * "@HOME@" in it stands for the scratch home so that its entries find
 * the .qmail files), "qmail" and "qmail-ext" (the subscriber's .qmail and
 * .qmail-ext there), and "addresses", one per line. Each address goes
 * through what sq-smtpd asks at RCPT (rcptcheck, fresh from the files)
 * and what local delivery asks (localdom's local name, then dotqmail's
 * lookup of users/cdb and the .qmail file). Never crashes; a .qmail
 * file's address is normalised; a local name fits. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver/dotqmail.h"
#include "deliver/localdom.h"
#include "fuzz.h"
#include "fuzzio.h"
#include "mail/assign.h"
#include "receive/rcptcheck.h"
#include "util/control.h"

static const char *const control_files[] = {
	"rcpthosts", "locals", "virtualdomains", "postmaster", "badmailfrom",
	"databytes", "sealwait", NULL
};

static char home[256], ctldir[300], usersdir[300], cdb[320];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	snprintf(home, sizeof home, "%s", fuzz_home("localconf"));
	snprintf(ctldir, sizeof ctldir, "%s/control", home);
	snprintf(usersdir, sizeof usersdir, "%s/users", home);
	snprintf(cdb, sizeof cdb, "%s/cdb", usersdir);
	if (mkdir(usersdir, 0700) < 0)
		abort();
	return 0;
}

/* The section called name: where its text starts and its length. */
static const char *section(const char *p, size_t size, const char *name,
                           size_t *len)
{
	char mark[64];
	int m = snprintf(mark, sizeof mark, "==%s\n", name);
	for (const char *s = p; s && s < p + size;) {
		if ((size_t)(p + size - s) >= (size_t)m && !memcmp(s, mark, (size_t)m)) {
			const char *start = s + m;
			const char *next = memmem(start, (size_t)(p + size - start),
			                          "\n==", 3);
			*len = next ? (size_t)(next - start) + 1
			            : (size_t)(p + size - start);
			return start;
		}
		s = memchr(s, '\n', (size_t)(p + size - s));
		s = s ? s + 1 : NULL;
	}
	return NULL;
}

/* Writes dir/file from the section name, or removes it when absent. */
static void put(const char *dir, const char *file, const char *p,
                size_t size, const char *name)
{
	char path[600];
	size_t len;
	const char *text = section(p, size, name, &len);
	snprintf(path, sizeof path, "%s/%s", dir, file);
	if (text)
		fuzz_write(dir, file, text, len);
	else if (unlink(path) < 0 && errno != ENOENT)
		abort();
}

/* users/assign with @HOME@ replaced, built into users/cdb. */
static void build_users(const char *p, size_t size)
{
	struct sbuf text;
	size_t len, bad;
	const char *a = section(p, size, "assign", &len);
	unlink(cdb);
	if (!a)
		return;
	sbuf_init(&text, 4 * len + 4096);
	for (size_t i = 0; i < len; i++) {
		int r = i + 6 <= len && !memcmp(a + i, "@HOME@", 6)
		        ? sbuf_puts(&text, home) : sbuf_putc(&text, a[i]);
		if (r < 0)
			abort();
		i += i + 6 <= len && !memcmp(a + i, "@HOME@", 6) ? 5 : 0;
	}
	int dirfd = open(usersdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		abort();
	assign_build_cdb(text.s ? text.s : "", text.len, dirfd, "cdb", &bad);
	close(dirfd);
	sbuf_free(&text);
}

/* Local delivery's view of one address. */
static void deliver(struct localdom *ours, const char *address)
{
	char local[LOCALDOM_NAME_MAX], sealed[ADDR_MAX + 1], again[ADDR_MAX + 1];
	struct assign_entry e;
	const char *why = NULL;
	int r = localdom_localname(ours, address, local, sizeof local);
	if (r != 1)
		return;
	if (strlen(local) >= sizeof local)
		abort();
	if (dotqmail_lookup(cdb, local, &e, sealed, &why) == DOTQMAIL_OK &&
	    (addr_normalize(sealed, strlen(sealed), again) != ADDR_OK ||
	     strcmp(sealed, again)))
		abort();
}

static void addresses(const char *p, size_t size)
{
	struct control ctl;
	struct rcptcheck rc;
	size_t len;
	const char *list = section(p, size, "addresses", &len);
	if (!list || control_open(&ctl, ctldir) < 0)
		return;
	char *copy = strndup(list, len);
	/* a failed init leaves what it read to rcptcheck_fini, as sq-smtpd
	 * exits there */
	int ok = copy && rcptcheck_init(&rc, &ctl) == 0;
	for (char *save = NULL, *a = ok ? strtok_r(copy, "\n", &save) : NULL; a;
	     a = strtok_r(NULL, "\n", &save)) {
		rcptcheck(&rc, a);
		deliver(&rc.ours, a);
	}
	if (copy)
		rcptcheck_fini(&rc);
	free(copy);
	control_close(&ctl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	for (const char *const *f = control_files; *f; f++)
		put(ctldir, *f, p, size, *f);
	put(home, ".qmail", p, size, "qmail");
	put(home, ".qmail-ext", p, size, "qmail-ext");
	build_users(p, size);
	addresses(p, size);
	return 0;
}
