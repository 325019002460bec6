/*
 * ctledit - add and remove values in one-value-per-line control files
 * (control/rcpthosts, control/locals, control/virtualdomains, ...).
 *
 * Lines are compared as control(3) reads them (sq-control(5)): comment
 * lines (first byte '#') and blank lines hold no value, and trailing
 * spaces, tabs and CRs are not part of the value. With nocase, values are
 * compared without regard to ASCII case (domains; for virtualdomains the
 * whole "domain:prefix" value is compared so).
 *
 * A change rewrites the file crash-safely (atomicfile: temporary file,
 * fsync, rename, fsync of the directory) with the old file's permission
 * bits and, when the process may set them, its owner and group (else at
 * least the group, if the process belongs to it); every line not removed
 * stays byte for byte. A file that would not change is not rewritten.
 * A missing file is created with mode 0644. Symbolic links are refused
 * (ELOOP) rather than replaced by a file; so are a file control(3) cannot
 * read (NUL byte, line too long) and one that is not a regular file
 * (EINVAL). Read-modify-write is not locked: callers serialise edits.
 */
#ifndef SQ_CTLEDIT_H
#define SQ_CTLEDIT_H

/* Appends line unless a value line equal to it is already there: 1 added,
 * 0 already present, -1 error (errno; EINVAL also for a line that would
 * not read back as itself: empty, a comment, with '\n' or trailing
 * blanks or CR, or longer than CONTROL_LINE_MAX). If the file's last line
 * has no '\n', one is put after it first. */
int ctledit_add(int dirfd, const char *name, const char *line, int nocase);

/* Removes every value line equal to line: 1 removed, 0 none there (or no
 * file), -1 error (EINVAL also for a line ctledit_add would refuse). */
int ctledit_remove(int dirfd, const char *name, const char *line,
                   int nocase);

#endif
