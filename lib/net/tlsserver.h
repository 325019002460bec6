/*
 * tlsserver - what a TLS server of ours (pksd, edhd; sq-smtpd and
 * sq-popup for STARTTLS through netio) does before its first TLS byte:
 * its SSL_CTX from the certificate and key files of control/, the
 * source-address allow-list loaded and reloaded from a control file
 * (control/pksallow, control/edhallow: net/ipallow.h), each connection's
 * peer as text for the logs and the allow-list's verdict on it, taken
 * before any TLS: a refused peer learns nothing, not even our
 * certificate. The listening sockets are net/listener.h's.
 */
#ifndef SQ_TLSSERVER_H
#define SQ_TLSSERVER_H

#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "net/ipallow.h"
#include "util/control.h"

/* tlsserver_ctx's flags. The daemons (pksd, edhd) take TLSSERVER_DAEMON;
 * STARTTLS in netio has always taken neither. */
#define TLSSERVER_SERVER_ORDER 1        /* our cipher order, not the client's */
#define TLSSERVER_KEY_CHECK 2           /* the key must match the certificate */
#define TLSSERVER_DAEMON (TLSSERVER_SERVER_ORDER | TLSSERVER_KEY_CHECK)

/* A server context: TLS 1.2 at the least, OpenSSL's default ciphers, no
 * renegotiation, the certificate chain of certfile and the private key of
 * keyfile (PEM; one file may hold both). NULL if a file cannot be used,
 * with OpenSSL's error queue left for the caller to report. */
SSL_CTX *tlsserver_ctx(const char *certfile, const char *keyfile, int flags);

/* Loads control/name into *allow, freeing the list it held (a zeroed list
 * is empty): 1, or 0 when there is no file, which admits nobody (logged
 * as a warning). -1 (errno; a bad line's number in *badline): *allow is
 * untouched, for the caller to die at start or keep the old list. */
int tlsserver_allow_load(struct ipallow *allow, struct control *ctl,
                         const char *name, size_t *badline);

/* sa's address as text for the logs, "?" when it is not IPv4 or IPv6;
 * INET6_ADDRSTRLEN octets are room enough. */
void tlsserver_peer_text(const struct sockaddr *sa, char *out, size_t n);

/* The peer of fd (getpeername; family AF_UNSPEC when there is none) and
 * its text. */
void tlsserver_peer(int fd, struct sockaddr_storage *ss, char *out,
                    size_t n);

/* The allow-list's verdict on the connection fd from sa (its text peer),
 * before any TLS. 1: admitted, and TCP_NODELAY set (a reply goes out in
 * more than one TLS record; Nagle would hold the last one back until the
 * client's delayed ACK). 0: "PEER: address not allowed; connection
 * closed" is logged, and the caller closes fd without a byte. */
int tlsserver_admit(const struct ipallow *allow, const struct sockaddr *sa,
                    const char *peer, int fd);

#endif
