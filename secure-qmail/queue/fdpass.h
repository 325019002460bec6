/*
 * fdpass - a short request and open descriptors over a UNIX socket
 * (SCM_RIGHTS), so one program can hand its input to another without
 * copying it: sq-seal gives its message and envelope to the sealing
 * daemon, which holds the long-lived OpenSSL state and PKS connections.
 */
#ifndef SQ_FDPASS_H
#define SQ_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define FDPASS_MAX 4

/* control/sealwait: how long a caller of sq-sealerd waits for its answer,
 * in seconds (sq-seal, sq-smtpd at RCPT and DATA). */
#define SEALWAIT_DEFAULT 300
#define SEALWAIT_MAX 3600

/* Sends len octets of data (1 or more) with nfds descriptors; 0 or -1. */
int fdpass_send(int sock, const void *data, size_t len, const int *fds,
                size_t nfds);

/* Receives at most max octets into data and up to FDPASS_MAX descriptors
 * (close-on-exec set) into fds, their number in *nfds. Descriptors beyond
 * what the caller expects must be closed by it. The octets received (0 at
 * EOF), or -1. */
ssize_t fdpass_recv(int sock, void *data, size_t max, int *fds, size_t *nfds);

/* Bounds every later send and receive on sock to secs seconds (0: no
 * bound); a wait past it fails with EAGAIN. 0 or -1. */
int fdpass_timeout(int sock, unsigned long secs);

/* The answer sq-sealerd gives a uid that holds its share of workers:
 * a caller asks again (fdpass_ask). */
#define SEALER_BUSY "71 busy"

/* Asks the sealer at path: sends req (len octets) with nfds descriptors
 * and reads its one-line answer into answer (at most max - 1 octets,
 * NUL-terminated), all within secs seconds (0 is 1). A SEALER_BUSY answer
 * is asked again after a short pause while time is left, then returned.
 * The answer's length; 0 when the sealer closed without one; -1 when it
 * cannot be reached or said nothing in time (errno EAGAIN). */
ssize_t fdpass_ask(const char *path, const char *req, size_t len,
                   const int *fds, size_t nfds, unsigned long secs,
                   char *answer, size_t max);

/* An input fdpass_ask_feed writes to a pipe for the sealer. */
struct fdpass_feed {
	const void *data;
	size_t len;
};

/* fdpass_ask with a pipe for each of the nin inputs in place of the
 * caller's descriptors: the pipes' read ends go with req, then each input
 * is written to its pipe in full and the pipe closed, in order (the
 * qmail-queue order: message, then envelope), all within secs. A caller
 * that holds its message in memory so hands it to sq-sealerd without
 * running sq-seal. Answers and errors as fdpass_ask. */
ssize_t fdpass_ask_feed(const char *path, const char *req, size_t len,
                        const struct fdpass_feed *in, size_t nin,
                        unsigned long secs, char *answer, size_t max);

/* The qmail-queue exit code that begins a sealer's answer, or -1 when it
 * does not begin with one (0 to 255). */
int fdpass_answer_code(const char *answer);

#endif
