/*
 * path - file names built from parts, with one limit for all of them:
 * SQ_PATH_MAX octets with the NUL, what the kernel takes (PATH_MAX). A
 * name that does not fit is an error, never a shorter name: a truncated
 * path names another file.
 *   char cafile[SQ_PATH_MAX];
 *   if (path_join(cafile, sizeof cafile, ctldir, "ca.pem", (char *)NULL) < 0)
 *           return fail_why(why, whylen, -1, "ca.pem: path too long");
 */
#ifndef SQ_PATH_H
#define SQ_PATH_H

#include <stddef.h>

#define SQ_PATH_MAX 4096

/* Joins the parts, a list that ends with a null pointer, with "/" into
 * out (outlen octets; no part may lie in out). 0, or -1 (ENAMETOOLONG)
 * when the name with its NUL is longer than outlen or SQ_PATH_MAX octets;
 * out is then "". */
int path_join(char *out, size_t outlen, const char *first, ...)
	__attribute__((sentinel));

/* The same for a name that is not parts joined by "/" ("%s-cert.pem",
 * "%s/.qmail%s%s"): formats into out under the same limit. */
int path_fmt(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
