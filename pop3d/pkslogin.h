/*
 * pkslogin - the socket between sq-checkpw(8) and sq-pkslogin(8), which
 * makes a login's two key store calls (pks_login_attempt and
 * pks_login_succeeded) over HTTPS connections it keeps open, so that a
 * login pays neither a TLS handshake nor libcurl's start-up, and
 * sq-checkpw holds no key store credential.
 *
 * One request per connection, one datagram each way (SOCK_SEQPACKET):
 *   request  op(1) hash(4, big-endian) client_ip(0 to PKSLOGIN_IP_MAX)
 *            op 'A': a login attempt; 'S': the password was right
 *   answer   result(1: enum pks_result + 1) text
 *            text: for 'A' and PKS_OK, pksd's reply as it sent it (the
 *            wrapped PDKs, read here with pks_parse_keys); otherwise
 *            the reason, for the log.
 * Every wait is bounded; a relay that does not answer is PKS_TEMP.
 */
#ifndef SQ_PKSLOGIN_H
#define SQ_PKSLOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "client/pksreply.h"

#define PKSLOGIN_SOCKET "pkslogin/socket" /* under $SQ_HOME: a directory
                                           * of the POP3 user, 0700 */
#define PKSLOGIN_IP_MAX 45              /* INET6_ADDRSTRLEN - 1 */
#define PKSLOGIN_REQ_HEAD 5
#define PKSLOGIN_ANSWER_MAX (64 * 1024) /* one address's rows fit many
                                         * times over */
/* A client waits this long for an answer: the relay's own request to
 * the key store is bounded by control/timeoutpks (10 s by default). */
#define PKSLOGIN_WAIT_MS 20000

/* The client side, for sq-checkpw: the calls of pksclient.h through the
 * relay at socket_path, waiting at most wait_ms; why gets the reason for
 * any result but PKS_OK. */
enum pks_result pkslogin_attempt(const char *socket_path, int wait_ms,
                                 uint32_t hash, const char *client_ip,
                                 struct pks_keys *out, char *why,
                                 size_t whylen);
enum pks_result pkslogin_succeeded(const char *socket_path, int wait_ms,
                                   uint32_t hash, const char *client_ip,
                                   char *why, size_t whylen);

/* The relay's side. Reads a request (n octets) strictly: op 'A' or 'S'
 * and the client's address empty or an IPv4 or IPv6 address in text.
 * 0 with the fields filled (ip NUL-terminated), or -1. */
int pkslogin_request_parse(const unsigned char *req, size_t n, char *op,
                           uint32_t *hash, char ip[PKSLOGIN_IP_MAX + 1]);
/* Sends the answer r with text (len octets, cut to fit); 0, or -1. */
int pkslogin_answer(int fd, enum pks_result r, const char *text,
                    size_t len);

#endif
