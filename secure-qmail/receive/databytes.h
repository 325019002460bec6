/*
 * databytes - the message size limit shared by sq-smtpd and the sealer:
 * DATABYTES_DEFAULT, DATABYTES_MAX and DATABYTES_RECEIVED are in
 * lib/mail/limits.h, where edhd derives its own limit from them.
 */
#ifndef SQ_DATABYTES_H
#define SQ_DATABYTES_H

#include "mail/limits.h"

/* The largest message sq-queue copies for control/databytes (0: the
 * default): a sealed copy of what the sealer takes (the message and its
 * Received: line), SEALED_MAX of it; a plain copy is smaller. */
static inline unsigned long databytes_queue_max(unsigned long databytes)
{
	unsigned long plain = (databytes ? databytes : DATABYTES_DEFAULT) +
	                      DATABYTES_RECEIVED;
	return (unsigned long)SEALED_MAX(plain);
}

#endif
