/* fuzz_maildir - mailbox ids and message names read from a directory or
 * a client: never crash; what parses is safe to use as a path component
 * and an id formats back to itself. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mail/maildir.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

static void check_id(const char *s)
{
	uint32_t hash;
	uint64_t row;
	char again[MAILDIR_ID_SIZE];
	if (maildir_id_parse(s, &hash, &row) < 0)
		return;
	if (maildir_id_format(again, hash, row) < 0 || strcmp(again, s) != 0 ||
	    !maildir_id_valid(s))
		abort();
}

static void check_name(const char *s)
{
	struct maildir_name n;
	if (maildir_name_parse(s, &n) < 0)
		return;
	if (strchr(s, '/') || s[0] == '.' || n.uidlen == 0 ||
	    n.uidlen > MAILDIR_UID_MAX || !maildir_uid_valid(s, n.uidlen) ||
	    s[n.uidlen] != ',' || n.size > MAILDIR_SIZE_MAX ||
	    n.plainsize > MAILDIR_SIZE_MAX || strlen(s) >= MAILDIR_NAME_SIZE)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_id(s);
	check_name(s);
	free(s);
	return 0;
}
