/*
 * home - the instance root. See home.h.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "auto_home.h"
#include "util/home.h"
#include "util/path.h"

const char *sq_home(void)
{
	const char *env = getauxval(AT_SECURE) ? NULL : getenv("SQ_HOME");
	return env && *env == '/' ? env : SQ_HOME;
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
