/*
 * ttyio - what the provisioning tools read from a person or a script:
 * lines from the terminal, passwords from the terminal without echo, or
 * passwords from a file descriptor (--password-fd), one a line. Never
 * from argv or the environment.
 */
#ifndef SQ_TTYIO_H
#define SQ_TTYIO_H

#include <stddef.h>

#include "util/rbuf.h"
#include "util/sbuf.h"

/* Prints prompt on the terminal and reads one line (without its end)
 * into out; 0, or -1 at EOF or on error. */
int tty_line(const char *prompt, char *out, size_t n);

/* Reads a password: from the terminal without echo (fd < 0; prompt
 * shown), or the next line of fd. Into a secret sbuf; 0 or -1. */
int tty_password(const char *prompt, struct rbuf *fd, struct sbuf *out);

#endif
