/*
 * ctledit - edit one-value-per-line control files. See ctledit.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "util/control.h"
#include "ctledit.h"

#define NEW_MODE 0644

struct ctlfile {
	struct sbuf text;
	int exists;
	mode_t mode;            /* permission bits to write back */
	uid_t uid;
	gid_t gid;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The length of the value on a raw line (no '\n'), as control_split
 * reads it; 0 for a comment or blank line. */
static size_t value_len(const char *p, size_t n)
{
	while (n > 0 && is_blank(p[n - 1]))
		n--;
	return n > 0 && p[0] != '#' ? n : 0;
}

static int same_value(const char *a, const char *b, size_t n, int nocase)
{
	if (!nocase)
		return memcmp(a, b, n) == 0;
	for (size_t i = 0; i < n; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

/* A line that control(3) would read back as exactly itself. */
static int line_ok(const char *line)
{
	size_t n = strlen(line);
	return n > 0 && n <= CONTROL_LINE_MAX && !strchr(line, '\n') &&
	       value_len(line, n) == n;
}

/* Refuses what control(3) would refuse, so we never rewrite such a file. */
static int readable(const struct sbuf *text)
{
	struct sbuf lines;
	size_t count;
	sbuf_init(&lines, 2 * (size_t)CONTROL_FILE_MAX);
	int r = control_split(text->s ? text->s : "", text->len, &lines,
	                      &count);
	int saved = errno;
	sbuf_free(&lines);
	errno = saved;
	return r;
}

static int read_open(int fd, struct ctlfile *f)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	f->exists = 1;
	f->mode = st.st_mode & 07777;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	if (sbuf_read_fd(&f->text, fd) < 0)
		return -1;
	return readable(&f->text);
}

/* Reads dirfd/name into f (f->exists 0 if missing); 0 or -1. */
static int load(int dirfd, const char *name, struct ctlfile *f)
{
	sbuf_init(&f->text, CONTROL_FILE_MAX);
	f->exists = 0;
	f->mode = NEW_MODE;
	/* O_NONBLOCK: a FIFO planted under the name must not hang us. */
	int fd = openat(dirfd, name,
	                O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
	                        O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	int r = read_open(fd, f);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* Copies f's text to out (if not NULL) without the value lines equal to
 * line; *found counts those. 0 or -1. */
static int filter(const struct ctlfile *f, const char *line, int nocase,
                  struct sbuf *out, size_t *found)
{
	const char *p = f->text.s;
	const char *end = p + f->text.len;
	size_t ln = strlen(line);
	*found = 0;
	if (!p)
		return 0;       /* no file, or an empty one */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		size_t vn = value_len(p, (size_t)((nl ? nl : end) - p));
		if (vn == ln && same_value(p, line, ln, nocase))
			(*found)++;
		else if (out && sbuf_put(out, p, (size_t)(next - p)) < 0)
			return -1;
		p = next;
	}
	return 0;
}

/* Ownership can only be kept by a process allowed to give it away; one
 * that may not may still keep the group, if it is one of its own. */
static int keep_owner(int fd, const struct ctlfile *f)
{
	if (!f->exists || fchown(fd, f->uid, f->gid) == 0)
		return 0;
	if (errno == EPERM && fchown(fd, (uid_t)-1, f->gid) == 0)
		return 0;
	return errno == EPERM ? 0 : -1;
}

/* Replaces dirfd/name with data, keeping f's mode and owner. */
static int store(int dirfd, const char *name, const struct ctlfile *f,
                 const struct sbuf *data)
{
	struct atomicfile af;
	if (atomic_begin(&af, dirfd, name, f->mode) < 0)
		return -1;
	/* fchmod after fchown, which may clear set-id bits; and past the
	 * umask, so the file reads as it did before. */
	if (keep_owner(af.fd, f) < 0 || fchmod(af.fd, f->mode) < 0 ||
	    atomic_write(&af, data->s ? data->s : "", data->len) < 0) {
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af, ATOMIC_REPLACE);
}

static int append_line(struct sbuf *text, const char *line)
{
	if (text->len && text->s[text->len - 1] != '\n' &&
	    sbuf_putc(text, '\n') < 0)
		return -1;
	if (sbuf_puts(text, line) < 0 || sbuf_putc(text, '\n') < 0)
		return -1;
	return 0;
}

int ctledit_add(int dirfd, const char *name, const char *line, int nocase)
{
	struct ctlfile f;
	size_t found = 0;
	if (!line_ok(line)) {
		errno = EINVAL;
		return -1;
	}
	int r = load(dirfd, name, &f);
	if (r == 0)
		r = filter(&f, line, nocase, NULL, &found);
	if (r == 0 && !found)
		r = append_line(&f.text, line);
	if (r == 0 && !found)
		r = store(dirfd, name, &f, &f.text);
	int saved = errno;
	sbuf_free(&f.text);
	errno = saved;
	return r < 0 ? -1 : !found;
}

int ctledit_remove(int dirfd, const char *name, const char *line,
                   int nocase)
{
	struct ctlfile f;
	struct sbuf kept;
	size_t found = 0;
	if (!line_ok(line)) {
		errno = EINVAL;
		return -1;
	}
	sbuf_init(&kept, CONTROL_FILE_MAX);
	int r = load(dirfd, name, &f);
	if (r == 0)
		r = filter(&f, line, nocase, &kept, &found);
	if (r == 0 && found)
		r = store(dirfd, name, &f, &kept);
	int saved = errno;
	sbuf_free(&f.text);
	sbuf_free(&kept);
	errno = saved;
	return r < 0 ? -1 : found > 0;
}
