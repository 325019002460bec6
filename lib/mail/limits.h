/*
 * limits - the message size limits that the MTA and edhd share.
 *
 * control/databytes gives the largest message sq-smtpd takes, in octets;
 * 0 or no file means DATABYTES_DEFAULT, never "no limit": every message
 * is held in memory, by sq-smtpd and then by a sealer worker, so the limit
 * must be finite, and both must apply the same one, for a message
 * sq-smtpd takes to be one the sealer takes too (else 554 instead of 552).
 *
 * What the sealer seals is that message and the Received: line in front
 * of it; what edhd stores is the sealed entity (sq-sealed(5)), larger:
 * SEALED_MAX gives, for a plaintext size, the most octets the stored
 * message can have, and edhd's default limit is SEALED_MAX of the
 * default plaintext limit, so that mail sq-smtpd took is never refused
 * by edhd (a 552 there is a permanent failure of a message already
 * accepted).
 */
#ifndef SQ_MAIL_LIMITS_H
#define SQ_MAIL_LIMITS_H

#define DATABYTES_DEFAULT (64UL * 1024 * 1024)  /* 64 MiB */
#define DATABYTES_MAX (1UL << 40)               /* what control/databytes
                                                   may say */
#define DATABYTES_RECEIVED 65536        /* room for the Received: line
                                           sq-smtpd puts before the message */

/* The octets around the content in a sealed message: the
 * X-SQ-Plaintext-Size line, the MIME header of the S/MIME form, and
 * the DER of the CMS structure without its content (the recipient info
 * with the ephemeral key and the PEK's issuer and serial, the algorithm
 * parameters, the GCM tag): a few hundred octets in practice. */
#define SEALED_OVERHEAD 16384UL

/* The most octets a message of p plaintext octets has once sealed
 * (lib/crypto/seal.c): the content is streamed in BER octet strings of
 * at most 1024 octets, each with a header of at most 4 (p / 256), which
 * is SEALED_DER_MAX, the binary form sealing writes. SEALED_MAX is the
 * S/MIME form older versions queued and sent, which edhd and sq-queue
 * still take: the DER in base64 (4 octets for 3) in lines of 64 and a
 * line end (65 for 64), plus SEALED_OVERHEAD before and after the
 * base64. The arithmetic is in unsigned long long; p up to
 * DATABYTES_MAX. */
#define SEALED_DER_MAX(p) ((unsigned long long)(p) + \
                           (unsigned long long)(p) / 256 + SEALED_OVERHEAD)
#define SEALED_MAX(p) ((SEALED_DER_MAX(p) + 2) / 3 * 4 / 64 * 65 + 65 + \
                       SEALED_OVERHEAD)

#endif
