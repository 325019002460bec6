/* check_privdrop - becoming an instance user, for good. Each case runs in
 * a child of its own: a drop must not outlive it (CK_FORK=no). */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/privdrop.h"
#include "testutil.h"

static void drop_to_nobody(void *arg)
{
	(void)arg;
	struct passwd *pw = getpwnam("nobody");
	unsetenv("SQ_HOME");
	if (!pw)
		_exit(3);
	if (geteuid() != 0) /* not root: only "become" oneself */
		_exit(privdrop("nobody") == -1 && errno == EPERM ? 0 : 1);
	if (privdrop("nobody") < 0)
		_exit(4);
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || setuid(0) == 0)
		_exit(5);
	_exit(0);
}

static void unknown_user(void *arg)
{
	(void)arg;
	unsetenv("SQ_HOME");
	_exit(privdrop("no-such-user-sq") == -1 &&
	      (geteuid() == 0 ? errno == ENOENT : errno == EPERM) ? 0 : 1);
}

static void test_instance(void *arg)
{
	(void)arg;
	setenv("SQ_HOME", "/tmp", 1);
	/* root must drop even then; anyone else runs on as itself */
	_exit(geteuid() == 0 || privdrop("no-such-user-sq") == 0 ? 0 : 1);
}

START_TEST(drops_for_good)
{
	char err[256];
	ck_assert_int_eq(run_capture(drop_to_nobody, NULL, err, sizeof err), 0);
	ck_assert_int_eq(run_capture(unknown_user, NULL, err, sizeof err), 0);
	ck_assert_int_eq(run_capture(test_instance, NULL, err, sizeof err), 0);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("privdrop");
	TCase *tc = tcase_create("privdrop");
	tcase_add_test(tc, drops_for_good);
	suite_add_tcase(s, tc);
	return s;
}
