/*
 * NAME
 *	sq-checkpw - check a POP3 login and unlock the subscriber's PDK
 * SYNOPSIS
 *	sq-checkpw prog [arg ...]
 * DESCRIPTION
 *	The checkpassword contract: "user\0password\0timestamp\0" on
 *	descriptor 3, at most 512 octets. The user is an address; its
 *	wrapped PDKs come from the key store (login role) and are unlocked
 *	with the password. On success the key store hears of it, and prog
 *	runs with the unlocked keys on descriptor 4 (a sealed memfd, never
 *	argv or the environment), USER the address and SQ_MAILBOX its
 *	mailbox; never as root. The key store counts every attempt as a
 *	failure before it serves the PDKs, per address and per client
 *	network (TCPREMOTEIP, from tcpserver: not a secret), and takes it
 *	back on success. Before it unwraps a version with scrypt it asks the
 *	login cache sq-pdkcache(8) (pdkcache.h), and gives it a PDK only
 *	scrypt opened. Exit 1: wrong password or unknown address; 2:
 *	misuse; 111: cannot tell now, including a login the key store
 *	throttles (it served no PDK, so the password was not tried).
 * SECURITY
 *	Holds the password and, once it has unlocked them, the subscriber's
 *	PDKs; both are wiped when handed on, and core dumps are off. Runs
 *	as the POP3 user (sqmailp), whose PKS login credential it reads
 *	(control/pkslogin); started as root, it drops to that user before
 *	the next program and never runs that as root. The keys go on as a
 *	sealed memfd on descriptor 4, never argv, environment or disk.
 *	The PKS counts every attempt before it serves a PDK and throttles
 *	guessing (pksd(8), LOGIN THROTTLING).
 * SEE ALSO
 *	sq-checkpw(8), sq-pdkcache(8)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/addr.h"
#include "auto_users.h"
#include "checkpw.h"
#include "pdkcache.h"
#include "pkslogin.h"
#include "util/control.h"
#include "util/home.h"
#include "util/log.h"
#include "util/path.h"
#include "crypto/pki.h"
#include "util/privdrop.h"
#include "util/secretfd.h"

#define PDK_FD 4

static char input[CHECKPW_INPUT_MAX + 1];

static void wipe_input(void)
{
	explicit_bzero(input, sizeof input);
}

/* Exits with code after wiping the password. */
static void __attribute__((noreturn)) leave(int code)
{
	wipe_input();
	_exit(code);
}

static size_t read_input(void)
{
	size_t got = 0;
	ssize_t n;
	while (got < sizeof input &&
	       (n = read(3, input + got, sizeof input - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_msg(SQLOG_WARN, "cannot read descriptor 3: %s",
			        strerror(errno));
			leave(2);
		}
		got += (size_t)n;
	}
	close(3);
	if (got > CHECKPW_INPUT_MAX) {
		log_msg(SQLOG_WARN, "input longer than %d octets",
		        CHECKPW_INPUT_MAX);
		leave(2);
	}
	return got;
}

static X509 *load_ca(void)
{
	char capath[SQ_PATH_MAX];
	X509 *ca = sq_path(capath, sizeof capath, "control/ca.pem") == 0
	           ? pki_cert_load(capath) : NULL;
	if (!ca)
		log_msg(SQLOG_ALERT, "cannot read control/ca.pem");
	return ca;
}

/* The client's address for the key store's throttle: tcpserver's
 * TCPREMOTEIP when it is an IP address (a link-local zone such as
 * "%eth0" dropped), else "" (pksd counts it under "unknown") rather than
 * a request pksd would refuse, which would fail every login. */
static const char *client_ip(char *buf, size_t len)
{
	const char *ip = getenv("TCPREMOTEIP");
	unsigned char a[16];
	if (!ip || !*ip)
		return "";
	snprintf(buf, len, "%s", ip);
	buf[strcspn(buf, "%")] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1)
		return buf;
	log_msg(SQLOG_WARN, "TCPREMOTEIP is not an IP address; counted as "
	        "unknown");
	return "";
}

static void run_next(char **argv, const char *address,
                     struct checkpw_unlocked *u)
{
	int fd = secret_memfd(u->pem.s, u->pem.len);
	checkpw_unlocked_free(u);
	if (fd < 0 || secret_pass(fd, PDK_FD) < 0)
		leave(111);
	if (geteuid() == 0 && privdrop(SQ_USER_POP) < 0) {
		log_msg(SQLOG_ALERT, "cannot become %s: %s", SQ_USER_POP,
		        strerror(errno));
		leave(111);
	}
	if (geteuid() == 0)
		leave(111); /* never the next program as root */
	if (setenv("USER", address, 1) < 0 ||
	    setenv("SQ_MAILBOX", u->mailbox, 1) < 0)
		leave(111);
	wipe_input();
	execvp(argv[0], argv);
	log_msg(SQLOG_ALERT, "cannot run %s: %s", argv[0], strerror(errno));
	_exit(111);
}

int main(int argc, char **argv)
{
	const char *user, *password;
	char address[ADDR_MAX + 1], why[400];
	struct checkpw_unlocked u;
	X509 *ca = NULL;
	log_init("sq-checkpw");
	secret_nodump_or_die();
	if (argc < 2)
		leave(2);
	size_t len = read_input();
	if (checkpw_parse(input, len, &user, &password) < 0)
		leave(2);
	if (addr_normalize(user, strlen(user), address) != ADDR_OK)
		snprintf(address, sizeof address, "invalid@invalid");
	char relay[SQ_PATH_MAX], cache[SQ_PATH_MAX], ipbuf[64];
	if (sq_path(relay, sizeof relay, PKSLOGIN_SOCKET) < 0 ||
	    sq_path(cache, sizeof cache, PDKCACHE_SOCKET) < 0 ||
	    !(ca = load_ca()))
		leave(111);
	const char *ip = client_ip(ipbuf, sizeof ipbuf);
	struct checkpw_sockets at = { relay, cache };
	enum checkpw_result r = checkpw_unlock(&at, ca, address, ip, password,
	                                       &u, why, sizeof why);
	wipe_input();
	X509_free(ca);
	char hex[9], pkswhy[300];
	addr_hash_hex(u.hash, hex);
	/* a wrong password is counted already: the attempt was */
	if (r == CHECKPW_OK &&
	    pkslogin_succeeded(relay, PKSLOGIN_WAIT_MS, u.hash, ip, pkswhy,
	                       sizeof pkswhy) != PKS_OK)
		log_msg(SQLOG_WARN, "%s: the key store did not take the login: %s",
		        hex, pkswhy);
	log_msg(r == CHECKPW_OK ? SQLOG_INFO : SQLOG_WARN, "login %s from %s: %s",
	        hex, *ip ? ip : "unknown", r != CHECKPW_OK ? why : u.cached
	        ? "unlocked, from the login cache" : "unlocked");
	if (r != CHECKPW_OK) {
		checkpw_unlocked_free(&u);
		leave(r == CHECKPW_WRONG ? 1 : 111);
	}
	run_next(argv + 1, address, &u);
}
