/*
 * qqcodes - qmail-queue's exit codes (qmail-queue(8)), as sq-queue and
 * sq-seal return them and sq-smtpd answers them: 0 queued, 11 to 40
 * permanent, anything else temporary.
 */
#ifndef SQ_QQCODES_H
#define SQ_QQCODES_H

enum {
	QQ_OK = 0,
	QQ_ADDR_TOO_LONG = 11,
	QQ_REFUSED = 31,        /* sq-seal: no recipient can be served */
	QQ_TOO_BIG = 33,        /* sq-seal, sq-queue: over the size bound
	                         * (qmail has no code of its own for it;
	                         * sq-smtpd answers 552 5.3.4) */
	QQ_NOMEM = 51,
	QQ_TIMEOUT = 52,
	QQ_WRITE = 53,
	QQ_READ = 54,           /* cannot read the message or envelope */
	QQ_CONFIG = 55,
	QQ_HOME = 61,
	QQ_QUEUE = 62,
	QQ_PID = 63,
	QQ_MESS = 64,
	QQ_INTD = 65,
	QQ_TODO = 66,
	QQ_TEMP = 71,           /* sq-seal: the PKS cannot be asked now */
	QQ_BUG = 81,
	QQ_ENVELOPE = 91        /* envelope format error (temporary) */
};

/* Whether code is one of qmail-queue's permanent failures. */
#define QQ_PERMANENT(code) ((code) >= 11 && (code) <= 40)

#endif
