/*
 * unixsock - local sockets between a daemon and its clients on the same
 * host, named by a path: the sealer (SOCK_STREAM, with descriptors), the
 * login cache and the login relay (SOCK_SEQPACKET, one datagram per
 * request and per answer).
 */
#ifndef SQ_UNIXSOCK_H
#define SQ_UNIXSOCK_H

#include <sys/types.h>

/* Connects to the socket of type at path; the descriptor (close-on-exec),
 * or -1 with errno set (ENAMETOOLONG for a path too long for it). */
int unixsock_connect(const char *path, int type);

/* unixsock_connect, SOCK_SEQPACKET, with every send and receive bounded
 * by timeout_ms. */
int unixsock_dial(const char *path, int timeout_ms);

/* Listens at path, replacing a socket an earlier run left there, with
 * mode as its permissions; the descriptor (close-on-exec), or -1 with
 * errno set. */
int unixsock_listen(const char *path, int type, mode_t mode, int backlog);

/* unixsock_listen, SOCK_SEQPACKET and mode 0700, in a directory made
 * (mode 0700) if it is missing: a socket only its own user reaches. */
int unixsock_listen_private(const char *path, int backlog);

/* Bounds every send and receive on fd by timeout_ms (0: no bound); 0, or
 * -1. */
int unixsock_timeout(int fd, long timeout_ms);

#endif
