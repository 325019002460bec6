/* fuzz_assign - users/assign text (written by hand by administrators):
 * the parser and the editors never crash, and every entry the parser
 * accepts formats back into a line that parses to the same entry. */
#include <stdlib.h>
#include <string.h>

#include "mail/assign.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct assign_list l;
	size_t bad;
	assign_list_init(&l);
	if (assign_parse((const char *)data, size, &l, &bad) == 0) {
		for (size_t i = 0; i < l.n; i++) {
			struct sbuf line;
			struct assign_list back;
			sbuf_init(&line, 8192);
			assign_list_init(&back);
			if (l.v[i].type != '+')
				l.v[i].type = '=';
			if (assign_format(&l.v[i], &line) == 0) {
				if (sbuf_puts(&line, ".\n") < 0 ||
				    assign_parse(line.s, line.len, &back, &bad) < 0 ||
				    back.n != 1 || strcmp(back.v[0].local, l.v[i].local) ||
				    strcmp(back.v[0].ext, l.v[i].ext))
					abort();
			}
			assign_list_free(&back);
			sbuf_free(&line);
		}
		struct sbuf text;
		sbuf_init(&text, 1 << 20);
		if (sbuf_put(&text, data, size) == 0)
			(void)assign_remove(&text, "joe");
		sbuf_free(&text);
	}
	assign_list_free(&l);
	return 0;
}
