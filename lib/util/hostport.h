/*
 * hostport - "HOST:PORT" as the control files write an address to listen
 * on or to connect to (control/edhlmtp, control/edhlmtp-host, ...):
 * HOST a name or an IP literal, IPv6 in brackets ("[::1]:7024"), PORT
 * decimal from 1 to 65535 without a sign or a leading zero.
 */
#ifndef SQ_HOSTPORT_H
#define SQ_HOSTPORT_H

#include <stddef.h>

/* Splits text into host (hostlen octets with its NUL) and port. 0, or -1
 * (EINVAL). */
int hostport_parse(const char *text, char *host, size_t hostlen,
                   char port[8]);

#endif
