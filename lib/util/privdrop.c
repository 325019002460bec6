#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/home.h"
#include "util/privdrop.h"

int privdrop(const char *user)
{
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (geteuid() != 0) {
		if ((pw && pw->pw_uid == geteuid()) || sq_home_is_test())
			return 0;
		errno = EPERM;
		return -1;
	}
	if (!pw) {
		errno = errno ? errno : ENOENT;
		return -1;
	}
	if (pw->pw_uid == 0) {
		errno = EPERM; /* a "user" that is root drops nothing */
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		return -1;
	/* setuid(0) must now fail: the drop is for good */
	if (setuid(0) == 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}
