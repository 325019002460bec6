/* fuzz_edhsession - whole edhd sessions, as lmtp_run and retr_run serve
 * them after the TLS handshake: the input is what the clients send, first
 * an LMTP session (LHLO, AUTH PLAIN, MAIL, RCPT, DATA with a sealed
 * message that sealcheck must pass, into a scratch maildirs/), then,
 * after a line "=RETRIEVE=", a retrieval session (AUTH, MAILBOX, LIST,
 * FETCH, DELETE) over what the first one stored and one message planted
 * under a fixed name (delivered names hold the time and the pid: no
 * corpus could name them). Two clients with a fixed
 * secret are in control/edhclients (1 deliver, 2 retrieve) so that the
 * corpus authenticates (tests/helpers/fuzz-seeds writes it). Never
 * crashes; every mailbox is emptied again after each input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientfile.h"
#include "crypto/clientsecret.h"
#include "fuzz.h"
#include "fuzzio.h"
#include "fuzzkeys.h"
#include "lmtp.h"
#include "retr.h"
#include "session.h"

#define SEPARATOR "=RETRIEVE=\r\n"

static struct edh_config cfg;
static char maildirs[512];

/* The line ses-adduser's edh-ctl would write for client id of role. */
static void add_client(struct sbuf *file, uint32_t id, int role)
{
	struct edh_client c;
	memset(&c, 0, sizeof c);
	c.id = id;
	c.role = role;
	memset(c.salt, 0x5a, sizeof c.salt);
	clientsecret_hash(c.salt, FUZZ_EDH_SECRET, strlen(FUZZ_EDH_SECRET),
	                  c.hash);
	if (edh_client_format(&c, file) < 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char dir[512];
	struct sbuf clients;
	const char *home = fuzz_home("edh");
	_Static_assert(sizeof FUZZ_EDH_SECRET - 1 == CLIENTSECRET_LEN,
	               "the secret has the length of a real one");
	snprintf(dir, sizeof dir, "%s/control", home);
	snprintf(maildirs, sizeof maildirs, "%s/maildirs", home);
	sbuf_init(&clients, 4096);
	add_client(&clients, 1, EDH_ROLE_DELIVER);
	add_client(&clients, 2, EDH_ROLE_RETRIEVE);
	fuzz_write(dir, EDH_CLIENTS_FILE, clients.s, clients.len);
	sbuf_free(&clients);
	/* a small quota for one mailbox, so that both answers are reached */
	fuzz_write_str(dir, "quota", "0badf00d-1 2000\n");
	if (mkdir(maildirs, 0700) < 0 || control_open(&cfg.ctl, dir) < 0)
		abort();
	cfg.maildirs = open(maildirs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfg.maildirs < 0)
		abort();
	snprintf(cfg.me, sizeof cfg.me, "edh.example.org");
	cfg.databytes = 65536;
	cfg.timeout = 1;
	return 0;
}

/* Runs one protocol over data, as edhd's child does after the handshake. */
static void run(const void *data, size_t size, int role,
                void (*serve)(struct edh_session *))
{
	static struct edh_session s;
	memset(&s, 0, sizeof s);
	s.cfg = &cfg;
	s.role = role;
	snprintf(s.ip, sizeof s.ip, "fuzz");
	sbuf_init_secret(&s.line, EDH_LINE_MAX + 2);
	int fd = fuzz_netio_open(&s.io, data, size);
	serve(&s);
	fuzz_netio_close(&s.io, fd);
	sbuf_free(&s.line);
}

/* The message of a known name that FETCH and DELETE can find. */
#define PLANTED_BOX "1a2b3c4d-17"
#define PLANTED_UID "1700000000.M1P1.fuzz"

static void plant(void)
{
	static const char msg[] = "X-SQ-Plaintext-Size: 5\nnot sealed\n";
	char box[600], sub[700];
	snprintf(box, sizeof box, "%s/" PLANTED_BOX, maildirs);
	if (mkdir(box, 0700) < 0 && errno != EEXIST)
		abort();
	for (int i = 0; i < 3; i++) {
		snprintf(sub, sizeof sub, "%s/%s", box, (const char *[]){
		         "tmp", "new", "cur" }[i]);
		if (mkdir(sub, 0700) < 0 && errno != EEXIST)
			abort();
	}
	snprintf(sub, sizeof sub, "%s/new", box);
	fuzz_write(sub, PLANTED_UID ",S=34,W=5", msg, sizeof msg - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *sep = memmem(p, size, SEPARATOR, sizeof SEPARATOR - 1);
	size_t first = sep ? (size_t)(sep - p) : size;
	run(p, first, EDH_ROLE_DELIVER, lmtp_run);
	if (sep) {
		size_t skip = first + sizeof SEPARATOR - 1;
		plant();
		run(p + skip, size - skip, EDH_ROLE_RETRIEVE, retr_run);
	}
	fuzz_empty_dir(maildirs);
	return 0;
}
