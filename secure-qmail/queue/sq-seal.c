/*
 * NAME
 *	sq-seal - the encryption queue stage, in qmail-queue's place
 * SYNOPSIS
 *	sq-seal
 * DESCRIPTION
 *	Called as qmail-queue is (by sq-smtpd, or anything honouring
 *	$QMAILQUEUE): the message on descriptor 0, the envelope on 1. It hands
 *	both descriptors to sq-sealerd over the UNIX socket run/sealer and
 *	exits with the daemon's answer: qmail-queue's exit codes. The daemon
 *	seals the message for each local recipient with the recipient's PEK
 *	and queues only ciphertext for them. sq-seal itself loads no
 *	cryptography: a message costs one fork and exec here, never an
 *	OpenSSL start or a TLS handshake with the key store.
 * SECURITY
 *	Reads nothing but a one-line answer; holds no keys. Exit 71 (try
 *	again later) when the daemon cannot be reached, or gives no answer
 *	within control/sealwait seconds (300): nothing is queued unsealed.
 * DIAGNOSTICS
 *	The daemon's reason on stderr when the exit code is not 0.
 * SEE ALSO
 *	sq-sealerd(8), sq-queue(8), sq-smtpd(8)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/control.h"
#include "queue/fdpass.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "queue/qqcodes.h"

int main(int argc, char **argv)
{
	char sock[SQ_PATH_MAX], ctldir[SQ_PATH_MAX], answer[600];
	struct control ctl;
	unsigned long wait = SEALWAIT_DEFAULT;
	int fds[2] = { 0, 1 };
	(void)argc;
	log_init(argv[0]);
	if (sq_path(sock, sizeof sock, "run/sealer") < 0 ||
	    sq_path(ctldir, sizeof ctldir, "control") < 0)
		return QQ_BUG;
	if (control_open(&ctl, ctldir) < 0 ||
	    control_readulong(&ctl, "sealwait", SEALWAIT_MAX, &wait) < 0) {
		log_msg(SQLOG_WARN, "cannot read control/sealwait: %s",
		        strerror(errno));
		return QQ_TEMP;
	}
	control_close(&ctl);
	ssize_t n = fdpass_ask(sock, "QUEUE\n", 6, fds, 2, wait, answer,
	                       sizeof answer);
	if (n <= 0) {
		log_msg(SQLOG_WARN, "sq-sealerd at %s gave no answer%s: %s", sock,
		        n < 0 && errno == EAGAIN ? " in time (control/sealwait)"
		                                 : "", n < 0 ? strerror(errno)
		                                             : "closed");
		return QQ_TEMP;
	}
	int code = fdpass_answer_code(answer);
	if (code < 0) {
		log_msg(SQLOG_WARN, "sq-sealerd answered nonsense");
		return QQ_TEMP;
	}
	if (code)
		log_msg(SQLOG_WARN, "%s", answer);
	return code;
}
