/* fuzz_edhcmd - what edhd and its client parse from a line: the verb of a
 * command, RCPT TO:<MAILBOX>, and HOST:PORT. Never crash; what is
 * accepted is valid. */
#include <stdlib.h>
#include <string.h>

#include "client/edhclient.h"
#include "fuzz.h"
#include "util/hostport.h"
#include "lmtp.h"
#include "mail/maildir.h"
#include "session.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

static void verb(const char *line)
{
	struct edh_session s;
	char v[8];
	memset(&s, 0, sizeof s);
	sbuf_init_secret(&s.line, EDH_LINE_MAX + 2);
	if (sbuf_puts(&s.line, line) == 0) {
		const char *arg = session_verb(&s, v, sizeof v);
		if (strlen(v) >= sizeof v || arg < s.line.s ||
		    arg > s.line.s + s.line.len)
			abort();
	}
	sbuf_free(&s.line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1), box[MAILDIR_ID_SIZE], host[256], port[8];
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	verb(line);
	if (lmtp_rcpt_parse(line, box) == 0 && !maildir_id_valid(box))
		abort();
	if (hostport_parse(line, host, sizeof host, port) == 0 &&
	    (!*host || atoi(port) < 1 || atoi(port) > 65535))
		abort();
	free(line);
	return 0;
}
