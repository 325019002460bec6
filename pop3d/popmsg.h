/*
 * popmsg - a message as POP3 sends it (RFC 1939 section 3): every line
 * ended by CRLF, a line beginning with "." given another, ".\r\n" at the
 * end; TOP's headers and first lines of the body; and the unique-id UIDL
 * gives for a maildir name.
 */
#ifndef SQ_POPMSG_H
#define SQ_POPMSG_H

#include <stddef.h>

#include "util/sbuf.h"

#define POP_UIDL_MAX 70         /* RFC 1939: 1 to 70 octets of 0x21..0x7E */

/* The message's size as LIST, STAT and RETR's "+OK" report it: its
 * octets with each bare LF counted as CRLF, and a CRLF added when the
 * last line has none (what popmsg_format sends, before stuffing). */
unsigned long long popmsg_size(const char *msg, size_t len);

/* Appends the multi-line response for msg to out: all of it when
 * toplines is negative, else the header, the blank line and the first
 * toplines lines of the body (TOP). 0, or -1 when out is full. */
int popmsg_format(const char *msg, size_t len, long toplines,
                  struct sbuf *out);

/* The same, handed to emit in pieces of about 64 KiB as it is made, so
 * that a large message is not held twice; 0, or -1 when emit fails (it
 * returns 0 or -1) or memory runs out. */
int popmsg_send(const char *msg, size_t len, long toplines,
                int (*emit)(void *arg, const char *p, size_t n), void *arg);

/* The UIDL unique-id of a maildir unique id (len octets): itself when it
 * fits RFC 1939's 70 octets (our ids are 0x21..0x7E), else "H" and 64
 * hex digits of its SHA-256 — stable either way, across sessions and
 * hosts. out holds POP_UIDL_MAX + 1 octets. */
void popmsg_uidl(const char *uid, size_t len, char *out);

#endif
