/* fuzz_rbuf - bounded line reads: no line longer than the limit is ever
 * returned, and every byte is accounted for. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/atomicfile.h"
#include "fuzz.h"
#include "util/rbuf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t max = 64;
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, data, size) < 0)
		abort();
	lseek(fd, 0, SEEK_SET);
	struct rbuf *rb = malloc(sizeof *rb);
	struct sbuf line;
	sbuf_init(&line, max);
	rbuf_init(rb, fd, 1000);
	size_t total = 0;
	for (;;) {
		enum rbuf_line r = rbuf_getline(rb, &line, max);
		if (r == RBUF_EOF)
			break;
		if (r == RBUF_ERROR)
			abort();
		if (r == RBUF_LINE && (line.len == 0 || line.len > max))
			abort();
		total += line.len;
	}
	if (total > size)
		abort();
	sbuf_free(&line);
	free(rb);
	close(fd);
	return 0;
}
