/*
 * fuzzio - what the session targets share: the fuzzer's input as the
 * client's side of a connection (a memfd that a netio reads to its end,
 * as it would a socket the client then closes), a sink for the replies,
 * and a scratch instance directory ($SQ_HOME) with control files, made
 * once per process. Header-only: each target is one file plus replay.c.
 */
#ifndef SQ_FUZZIO_H
#define SQ_FUZZIO_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/netio.h"

/* A descriptor that reads data[0..size) and then end of file. A regular
 * file never blocks, so the session's polls return at once. -1 only if
 * the kernel refuses (the target then aborts: nothing would be tested). */
static inline int fuzz_input_fd(const void *data, size_t size)
{
	int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
	const char *p = data;
	for (size_t off = 0; fd >= 0 && off < size;) {
		ssize_t w = write(fd, p + off, size - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (fd >= 0 && lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The connection: input from the fuzzer, replies to /dev/null (opened
 * once: the session writes every reply through it). */
static inline int fuzz_netio_open(struct netio *io, const void *data,
                                  size_t size)
{
	static int sink = -1;
	if (sink < 0)
		sink = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int fd = fuzz_input_fd(data, size);
	if (fd < 0 || sink < 0)
		abort();
	netio_init(io, fd, sink, 1000);
	return fd;
}

static inline void fuzz_netio_close(struct netio *io, int fd)
{
	netio_flush(io);
	netio_fini(io);
	close(fd);
}

/* Writes dir/name with text (a control file, a .qmail file). */
static inline void fuzz_write(const char *dir, const char *name,
                              const void *text, size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || (len && fwrite(text, 1, len, f) != len) || fclose(f) != 0)
		abort();
}

static inline void fuzz_write_str(const char *dir, const char *name,
                                  const char *text)
{
	fuzz_write(dir, name, text, strlen(text));
}

static inline int fuzz_remove_one(const char *path, const struct stat *st,
                                  int flag, struct FTW *f)
{
	(void)st, (void)flag;
	if (f->level > 0 && remove(path) < 0)
		abort(); /* left behind, the next input would see it */
	return 0;
}

/* Empties dir (it stays). */
static inline void fuzz_empty_dir(const char *dir)
{
	if (nftw(dir, fuzz_remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		abort();
}

static char fuzz_home_dir[256];

/* At the end of a run: the instance goes (a crash leaves it). */
static inline void fuzz_home_remove(void)
{
	fuzz_empty_dir(fuzz_home_dir);
	rmdir(fuzz_home_dir);
}

/* A fresh instance directory with control/ (and whatever the target
 * adds), exported as SQ_HOME so that sq_path finds it; made in TMPDIR,
 * else in /dev/shm (the targets that write and fsync files on every
 * input run at memory speed there), else /tmp; mode 0700. */
static inline const char *fuzz_home(const char *tag)
{
	char *home = fuzz_home_dir;
	const char *tmp = getenv("TMPDIR");
	struct stat st;
	char ctl[300];
	if (!tmp || !*tmp)
		tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)
		      ? "/dev/shm" : "/tmp";
	snprintf(home, sizeof fuzz_home_dir, "%s/sq-fuzz-%s-XXXXXX", tmp, tag);
	if (!mkdtemp(home))
		abort();
	snprintf(ctl, sizeof ctl, "%s/control", home);
	if (mkdir(ctl, 0700) < 0 || setenv("SQ_HOME", home, 1) < 0 ||
	    atexit(fuzz_home_remove) != 0)
		abort();
	return home;
}

#endif
