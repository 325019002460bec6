/* fuzz_pop3 - POP3 command lines and the message formatter: never crash;
 * a parsed keyword is 3 or 4 upper-case letters; the formatted message
 * ends in ".\r\n", has no bare LF, and, unstuffed, is popmsg_size octets
 * long. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "popcmd.h"
#include "popmsg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

static void command(const uint8_t *data, size_t size)
{
	struct sbuf line;
	struct pop_cmd c;
	unsigned long n, m;
	sbuf_init(&line, POP_LINE_MAX);
	if (sbuf_copy(&line, data, size) == 0 && popcmd_parse(&line, &c) == 0) {
		size_t v = strlen(c.verb);
		if (v < 3 || v > 4)
			abort();
		for (size_t i = 0; i < v; i++)
			if (!isupper((unsigned char)c.verb[i]))
				abort();
		if (popcmd_number(c.arg, 100, &n) == 0 && (n < 1 || n > 100))
			abort();
		if (popcmd_two_numbers(c.arg, 100, &n, &m) == 0 &&
		    (n < 1 || n > 100))
			abort();
	}
	sbuf_free(&line);
}

static void message(const uint8_t *data, size_t size)
{
	struct sbuf out;
	sbuf_init(&out, 4 * size + 16);
	const char *msg = (const char *)data;
	if (popmsg_format(msg, size, -1, &out) < 0 || out.len < 3 ||
	    memcmp(out.s + out.len - 3, ".\r\n", 3))
		abort();
	size_t sent = out.len - 3;
	for (size_t i = 0; i < out.len; i++) {
		if (out.s[i] == '\n' && (i == 0 || out.s[i - 1] != '\r'))
			abort();
		if (out.s[i] == '.' && (i == 0 || out.s[i - 1] == '\n') &&
		    i + 3 < out.len)
			sent--; /* each line's stuffed dot */
	}
	if (sent != popmsg_size(msg, size))
		abort();
	sbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	command(data, size);
	message(data, size);
	return 0;
}
