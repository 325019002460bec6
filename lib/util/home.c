/*
 * home - the instance root. See home.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "auto_home.h"
#include "util/home.h"

const char *sq_home(void)
{
	const char *env = getauxval(AT_SECURE) ? NULL : getenv("SQ_HOME");
	return env && *env == '/' ? env : SQ_HOME;
}

int sq_path(char *out, size_t n, const char *rel)
{
	int r = snprintf(out, n, "%s/%s", sq_home(), rel);
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

int sq_sibling(char *out, size_t n, const char *prog)
{
	ssize_t len = readlink("/proc/self/exe", out, n);
	if (len <= 0 || (size_t)len >= n)
		return -1;
	out[len] = '\0';
	char *slash = strrchr(out, '/');
	if (!slash)
		return -1;
	int r = snprintf(slash + 1, n - (size_t)(slash + 1 - out), "%s", prog);
	return r < 0 || (size_t)r >= n - (size_t)(slash + 1 - out) ? -1 : 0;
}
