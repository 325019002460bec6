/*
 * databytes - the message size limit shared by sq-smtpd and the sealer:
 * DATABYTES_DEFAULT, DATABYTES_MAX and DATABYTES_RECEIVED are in
 * lib/mail/limits.h, where edhd derives its own limit from them.
 */
#ifndef SQ_DATABYTES_H
#define SQ_DATABYTES_H

#include "mail/limits.h"

#endif
