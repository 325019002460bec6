/*
 * replay - main() for the fuzz targets outside libFuzzer: runs the target
 * once on each file named on the command line and reports how many ran.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "util/sbuf.h"

int main(int argc, char **argv)
{
	LLVMFuzzerInitialize(&argc, &argv);
	int ran = 0;
	for (int i = 1; i < argc; i++) {
		struct sbuf in;
		sbuf_init(&in, 16 << 20);
		FILE *f = fopen(argv[i], "rb");
		int ok = f && sbuf_read_fd(&in, fileno(f)) == 0;
		if (f)
			fclose(f);
		if (!ok) {
			fprintf(stderr, "replay: cannot read %s\n", argv[i]);
			return 1;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)(in.s ? in.s : ""), in.len);
		sbuf_free(&in);
		ran++;
	}
	printf("replay: %d inputs\n", ran);
	return ran > 0 ? 0 : 1;
}
