/*
 * databytes - the message size limit shared by sq-smtpd and the sealer.
 *
 * control/databytes gives the largest message in octets; 0 or no file
 * means DATABYTES_DEFAULT, never "no limit": every message is held in
 * memory, by sq-smtpd and then by a sealer worker, so the limit must be
 * finite, and both must apply the same one, for a message sq-smtpd takes
 * to be one the sealer takes too (else 554 instead of 552).
 */
#ifndef SQ_DATABYTES_H
#define SQ_DATABYTES_H

#define DATABYTES_DEFAULT (64UL * 1024 * 1024)  /* 64 MiB */
#define DATABYTES_MAX (1UL << 40)               /* what control/databytes
                                                   may say */
#define DATABYTES_RECEIVED 65536        /* room for the Received: line
                                           sq-smtpd puts before the message */
#define DATABYTES_SEAL_HEADERS 65536    /* room for a sealed copy's headers
                                           and CMS structure */

/* The largest message sq-queue copies for control/databytes (0: the
 * default): what the sealer takes (the message and its Received: line)
 * as a sealed copy of it may be, base64 at most 66 octets for 48 (64
 * characters and CRLF a line) and DATABYTES_SEAL_HEADERS. */
static inline unsigned long databytes_queue_max(unsigned long databytes)
{
	unsigned long plain = (databytes ? databytes : DATABYTES_DEFAULT) +
	                      DATABYTES_RECEIVED;
	return (plain * 66 + 47) / 48 + DATABYTES_SEAL_HEADERS;
}

#endif
