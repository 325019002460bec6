/*
 * edhcli - drives lib/client/edhclient for tests/integration/edh.t, with the
 * control files of $SQ_HOME (sq-edh(5)):
 *   edhcli deliver MAILBOX [PAUSE]   message on stdin; with PAUSE, a second
 *                                    delivery on the same handle PAUSE
 *                                    seconds later
 *   edhcli list MAILBOX              "UID SIZE PLAINSIZE" lines
 *   edhcli fetch MAILBOX UID         the octets on stdout
 *   edhcli delete MAILBOX UID
 * Exit 0 (EDHC_OK), 111 (EDHC_TEMP), 100 (EDHC_PERM), with edhc_error()
 * on stderr.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "util/control.h"
#include "client/edhclient.h"
#include "util/home.h"

static int code(enum edhc_result r, struct edhc *c)
{
	fprintf(stderr, "edhcli: %s: %s\n", r == EDHC_OK ? "ok" : r == EDHC_TEMP
	        ? "temporary" : "permanent", edhc_error(c));
	return r == EDHC_OK ? 0 : r == EDHC_TEMP ? 111 : 100;
}

static int deliver(struct edhc *c, const char *box, const char *pause)
{
	struct sbuf msg;
	sbuf_init(&msg, 1U << 30);
	if (sbuf_read_fd(&msg, 0) < 0)
		return 111;
	enum edhc_result r = edhc_deliver(c, box, NULL, msg.s ? msg.s : "", msg.len);
	if (r == EDHC_OK && pause) {
		code(r, c);
		sleep((unsigned)atoi(pause));
		r = edhc_deliver(c, box, NULL, msg.s, msg.len);
	}
	sbuf_free(&msg);
	return code(r, c);
}

static int list(struct edhc *c, const char *box)
{
	struct edhc_msg *m;
	size_t n;
	enum edhc_result r = edhc_list(c, box, &m, &n);
	for (size_t i = 0; i < n; i++)
		printf("%s %llu %llu\n", m[i].uid, m[i].size, m[i].plainsize);
	free(m);
	return code(r, c);
}

static int fetch(struct edhc *c, const char *box, const char *uid)
{
	struct sbuf out;
	sbuf_init(&out, EDHC_FETCH_MAX);
	enum edhc_result r = edhc_fetch(c, box, uid, &out);
	if (r == EDHC_OK && write_all(1, out.s ? out.s : "", out.len) < 0)
		r = EDHC_TEMP;
	sbuf_free(&out);
	return code(r, c);
}

int main(int argc, char **argv)
{
	struct control ctl;
	struct edhc_config cfg;
	char dir[4096], why[256];
	if (argc < 3)
		return 100;
	signal(SIGPIPE, SIG_IGN); /* as edhclient.h asks */
	int lmtp = strcmp(argv[1], "deliver") == 0;
	if (sq_path(dir, sizeof dir, "control") < 0 || control_open(&ctl, dir) < 0)
		return 111;
	if (edhc_config_load(&cfg, lmtp ? EDHC_LMTP : EDHC_RETRIEVE, &ctl, dir,
	                     lmtp ? EDHC_LMTP_HOSTFILE : EDHC_RETRIEVE_HOSTFILE,
	                     lmtp ? EDHC_LMTP_CREDFILE : EDHC_RETRIEVE_CREDFILE,
	                     why, sizeof why) < 0) {
		fprintf(stderr, "edhcli: %s\n", why);
		control_close(&ctl);
		return 111;
	}
	control_close(&ctl);
	struct edhc *c = edhc_new(&cfg);
	edhc_config_wipe(&cfg);
	if (!c)
		return 111;
	int rc = 100;
	if (lmtp)
		rc = deliver(c, argv[2], argc > 3 ? argv[3] : NULL);
	else if (!strcmp(argv[1], "list"))
		rc = list(c, argv[2]);
	else if (!strcmp(argv[1], "fetch") && argc == 4)
		rc = fetch(c, argv[2], argv[3]);
	else if (!strcmp(argv[1], "delete") && argc == 4)
		rc = code(edhc_delete(c, argv[2], argv[3]), c);
	edhc_free(c);
	return rc;
}
