/*
 * home - the instance root. See home.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>

#include "auto_home.h"
#include "home.h"

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
