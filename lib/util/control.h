/*
 * control - read qmail-style control files.
 *
 * Semantics (documented in sq-control(5)):
 *   - a line whose first byte is '#' is a comment; blank lines are skipped;
 *   - trailing spaces, tabs and CRs are removed from every line, so files
 *     written on another system with CRLF ends read the same;
 *   - a NUL byte anywhere makes the file invalid (EINVAL), as does a file
 *     longer than CONTROL_FILE_MAX or a line longer than CONTROL_LINE_MAX;
 *   - results are qmail's: 1 read, 0 the file does not exist (the caller's
 *     default applies), -1 the file exists but cannot be used (errno set).
 * Unlike qmail, a single-value file yields its first non-comment line, so
 * an administrator may put a comment above the value.
 */
#ifndef SQ_CONTROL_H
#define SQ_CONTROL_H

#include "util/sbuf.h"

#define CONTROL_FILE_MAX (1024 * 1024)
#define CONTROL_LINE_MAX 1000

struct control {
	int dirfd;              /* the control/ directory */
	int meok;               /* control/me was read */
	struct sbuf me;         /* its value, the fallback for many files */
};

/* Opens dir and reads "me"; 0 on success (me may be absent), -1 if the
 * directory cannot be opened or "me" exists but is unreadable. */
int control_open(struct control *c, const char *dir);
void control_close(struct control *c);

/* The first value line of name. */
int control_readline(struct control *c, const char *name, struct sbuf *out);

/* Like control_readline; when the file does not exist, falls back to "me"
 * (if flagme and me was read), else to def (if not NULL), else returns 0. */
int control_rldef(struct control *c, const char *name, int flagme,
                  const char *def, struct sbuf *out);

/* An unsigned decimal in [0, max]; *out is left alone when 0 is returned.
 * Anything else on the line (sign, letters, overflow) is -1, EINVAL. */
int control_readulong(struct control *c, const char *name, unsigned long max,
                      unsigned long *out);

/* All value lines, each followed by a NUL byte, in out; *count lines. */
int control_readfile(struct control *c, const char *name, struct sbuf *out,
                     size_t *count);

/* The parser behind control_readfile, for text already in memory: value
 * lines appended to out, each followed by a NUL; 0 or -1 (EINVAL for a NUL
 * byte or an overlong line, EMSGSIZE when out is full). */
int control_split(const char *text, size_t len, struct sbuf *out,
                  size_t *count);

/* Iterates a control_readfile result: returns the next line after prev
 * (NULL to start) or NULL at the end. */
const char *control_nextline(const struct sbuf *lines, const char *prev);

#endif
