/* fuzz_control - the control file parser: bounded, never crashes, every
 * value line it keeps is free of comments and trailing white space. */
#include <stdlib.h>
#include <string.h>

#include "util/control.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf lines;
	size_t count = 0, seen = 0;
	sbuf_init(&lines, CONTROL_FILE_MAX);
	if (control_split((const char *)data, size, &lines, &count) == 0) {
		for (const char *l = control_nextline(&lines, NULL); l;
		     l = control_nextline(&lines, l)) {
			size_t n = strlen(l);
			if (n == 0 || n > CONTROL_LINE_MAX || l[0] == '#' ||
			    strchr(" \t\r", l[n - 1]) || strchr(l, '\n'))
				abort();
			seen++;
		}
		if (seen != count)
			abort();
	}
	sbuf_free(&lines);
	return 0;
}
