/*
 * tlsserver - a TLS server's admission. See tlsserver.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "util/log.h"
#include "net/tlsserver.h"

SSL_CTX *tlsserver_ctx(const char *certfile, const char *keyfile, int flags)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, keyfile, SSL_FILETYPE_PEM) != 1 ||
	    ((flags & TLSSERVER_KEY_CHECK) &&
	     SSL_CTX_check_private_key(ctx) != 1)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	                    (flags & TLSSERVER_SERVER_ORDER
	                     ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
	return ctx;
}

int tlsserver_allow_load(struct ipallow *allow, struct control *ctl,
                         const char *name, size_t *badline)
{
	struct ipallow fresh;
	int r = ipallow_load(&fresh, ctl, name, badline);
	if (r < 0)
		return -1;
	if (r == 0)
		log_msg(SQLOG_WARN, "no control/%s: every peer is refused", name);
	ipallow_free(allow);
	*allow = fresh;
	return r;
}

void tlsserver_peer_text(const struct sockaddr *sa, char *out, size_t n)
{
	const void *a = sa->sa_family == AF_INET
		? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
		: sa->sa_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
		: NULL;
	if (!a || !inet_ntop(sa->sa_family, a, out, (socklen_t)n))
		snprintf(out, n, "?");
}

void tlsserver_peer(int fd, struct sockaddr_storage *ss, char *out,
                    size_t n)
{
	socklen_t len = sizeof *ss;
	memset(ss, 0, sizeof *ss);
	if (getpeername(fd, (struct sockaddr *)ss, &len) < 0)
		ss->ss_family = AF_UNSPEC;
	tlsserver_peer_text((const struct sockaddr *)ss, out, n);
}

int tlsserver_admit(const struct ipallow *allow, const struct sockaddr *sa,
                    const char *peer, int fd)
{
	if (!ipallow_match(allow, sa)) {
		log_msg(SQLOG_WARN, "%s: address not allowed; connection closed",
		        peer);
		return 0;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return 1;
}
