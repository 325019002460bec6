/*
 * conninfo - what pksd knows of one TLS connection: the peer, when it was
 * accepted and how many requests it carried. Kept in the SSL object's
 * ex_data, so a connection closed without a complete request (a slow or
 * idle client cut off by timeoutpksd: evhttp closes those without a reply)
 * is logged when OpenSSL frees it.
 */
#ifndef SQ_CONNINFO_H
#define SQ_CONNINFO_H

#include <openssl/ssl.h>

struct bufferevent;

/* Registers the ex_data slot; once per process. 0 or -1. */
int conninfo_init(void);
/* Gives a new connection its record; 0 or -1. */
int conninfo_attach(SSL *ssl, unsigned long timeout);
/* Records the peer of an admitted connection. */
void conninfo_set_peer(const SSL *ssl, const char *peer);
/* Counts a complete request on the connection of bev. */
void conninfo_count(struct bufferevent *bev);

#endif
