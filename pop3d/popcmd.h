/*
 * popcmd - POP3 command lines (RFC 1939, RFC 2449), shared by sq-popup
 * and sq-pop3d: a keyword of at most four letters, case-insensitive,
 * then arguments separated by single spaces; at most 255 octets with the
 * CRLF. Numbers are strict decimal.
 */
#ifndef SQ_POPCMD_H
#define SQ_POPCMD_H

#include <stddef.h>

#include "util/sbuf.h"

#define POP_LINE_MAX 255        /* a command with its CRLF (RFC 2449) */

struct pop_cmd {
	char verb[5];           /* upper-cased keyword */
	const char *arg;        /* after the single space, "" if none */
};

/* What both states of the server offer in CAPA (RFC 2449), NULL-ended;
 * sq-popup adds USER and STLS where they apply. */
extern const char *const pop_capabilities[];

/* Cuts the line end (CRLF, or a bare LF) off line and splits the rest
 * into cmd, arg pointing into line. -1 for an empty line, a keyword that
 * is not 3 or 4 letters, a NUL or another control character: the caller
 * answers -ERR. */
int popcmd_parse(struct sbuf *line, struct pop_cmd *cmd);

/* Parses a message number: decimal digits only, no sign or leading zero,
 * 1 to max. 0, or -1. */
int popcmd_number(const char *s, unsigned long max, unsigned long *out);

/* Parses "N" or "N M" (TOP): n from 1 to max, m from 0 to ULONG_MAX
 * (a count of lines). 0, or -1. */
int popcmd_two_numbers(const char *s, unsigned long max, unsigned long *n,
                       unsigned long *m);

#endif
