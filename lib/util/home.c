/*
 * home - the instance root. See home.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto_home.h"
#include "util/die.h"
#include "util/home.h"
#include "util/path.h"

/* 1 if only root can change what path names: every directory from / down
 * to it owned by root, none writable by group or others (a sticky one,
 * /tmp, may be, on the way), and path itself writable by root alone. A
 * path that does not exist is root's if only root can make it: its
 * nearest existing directory is root's alone (opening it then fails as
 * the program says). */
static int root_only(const char *path)
{
	char real[PATH_MAX];
	struct stat st;
	if (!realpath(path, real)) {
		size_t n = strlen(path);
		if (errno != ENOENT || n >= sizeof real)
			return 0;
		memcpy(real, path, n + 1);
		while (n > 1 && real[n - 1] == '/')
			real[--n] = '\0';
		char *slash = strrchr(real, '/');
		if (!slash || n <= 1)
			return 0;
		slash[slash == real ? 1 : 0] = '\0';
		return root_only(real);
	}
	for (char *end = real;; end++) {
		if (*end != '/' && *end != '\0')
			continue;
		char keep = *end;
		*end = '\0';
		int r = lstat(end == real ? "/" : real, &st);
		*end = keep;
		if (r < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0)
			return 0;
		int last = keep == '\0';
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    (last || !(st.st_mode & S_ISVTX)))
			return 0;
		if (last)
			return 1;
	}
}

int sq_home_is_test(void)
{
	const char *env = getenv("SQ_HOME");
	if (!env || *env != '/')
		return 0;
	/* set-id, or ids changed since exec: the caller's environment is
	 * not ours to follow */
	if (getauxval(AT_SECURE) || getuid() != geteuid() ||
	    getgid() != getegid())
		return 0;
	if (geteuid() == 0 && !root_only(env))
		die_sys_temp("refusing SQ_HOME as root: %s is not a directory "
		             "that only root can change", env);
	return 1;
}

const char *sq_home(void)
{
	return sq_home_is_test() ? getenv("SQ_HOME") : SQ_HOME;
}

int sq_path(char *out, size_t n, const char *rel)
{
	return path_join(out, n, sq_home(), rel, NULL);
}

int sq_sibling(char *out, size_t n, const char *prog)
{
	char self[SQ_PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self);
	if (len <= 0 || (size_t)len >= sizeof self)
		return -1;
	self[len] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return path_join(out, n, self, prog, NULL);
}
