/*
 * testutil - small helpers shared by the check suites.
 */
#ifndef SQ_TESTUTIL_H
#define SQ_TESTUTIL_H

#include <check.h>
#include <stddef.h>

#include <openssl/x509.h>

Suite *module_suite(void);

/* A fresh private temporary directory; the path is static storage per
 * call site and is removed by rm_rf. */
char *make_tmpdir(void);
void rm_rf(const char *path);

/* Writes len bytes to dir/name (mode 0644); aborts the test on error. */
void write_file(const char *dir, const char *name, const void *data,
                size_t len);

/* Runs fn in a child with stderr captured; returns the exit status (or
 * 128 + signal) and copies up to outlen - 1 bytes of stderr into out. */
int run_capture(void (*fn)(void *), void *arg, char *out, size_t outlen);

/* A loopback TCP socket bound to a free port (*port); listening if
 * backlog > 0. Aborts the test on error. */
int loopback_socket(int backlog, int *port);

/* Writes cert as PEM to dir/name (a CA file for the clients under test). */
void write_cert_pem(const char *dir, const char *name, X509 *cert);

#endif
