/* fuzz_smtpcmd - command lines and paths: never crashes, refuses only
 * what the contract says, a failed path is left empty, and an accepted
 * mailbox parses back to itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mail/smtpcmd.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

static enum smtp_path_error parse_path(const char *arg, int rcpt,
                                       struct smtp_path *p)
{
	return rcpt ? smtpcmd_rcpt_to(arg, p) : smtpcmd_mail_from(arg, p);
}

static void check_path(const char *arg, int rcpt)
{
	struct smtp_path p, q;
	if (parse_path(arg, rcpt, &p) != PATH_OK) {
		if (p.addr[0] || p.null || p.size || p.body8)
			abort();
		return;
	}
	size_t n = strnlen(p.addr, sizeof p.addr);
	if (n > ADDR_MAX || p.null != (n == 0) || (rcpt && p.null))
		abort();
	char again[ADDR_MAX + 16];
	snprintf(again, sizeof again, "%s<%s>", rcpt ? "TO:" : "FROM:", p.addr);
	if (parse_path(again, rcpt, &q) != PATH_OK ||
	    strcmp(p.addr, q.addr) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	if (!line)
		abort();
	if (size)
		memcpy(line, data, size);
	line[size] = '\0';
	struct smtp_cmd cmd;
	int refused = size > SMTP_LINE_MAX || memchr(line, '\0', size) != NULL;
	if (smtpcmd_parse(line, size, &cmd) != (refused ? -1 : 0))
		abort();
	if (!refused) {
		if (cmd.arg < line || cmd.arg > line + size)
			abort();
		check_path(cmd.arg, 0);
		check_path(cmd.arg, 1);
	}
	/* the path parsers alone, on any C string, however long */
	check_path(line, 0);
	check_path(line, 1);
	free(line);
	return 0;
}
