/* check_home - the instance root, and who may follow $SQ_HOME. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auto_home.h"
#include "util/home.h"
#include "testutil.h"

START_TEST(default_is_conf_home)
{
	unsetenv("SQ_HOME");
	ck_assert_str_eq(sq_home(), SQ_HOME);
}
END_TEST

START_TEST(sq_home_overrides_for_a_test_instance)
{
	char p[4200], want[4200];
	char *dir = make_tmpdir();      /* root's own, in /tmp, as root */
	setenv("SQ_HOME", dir, 1);
	ck_assert_str_eq(sq_home(), dir);
	ck_assert_int_eq(sq_path(p, sizeof p, "control"), 0);
	snprintf(want, sizeof want, "%s/control", dir);
	ck_assert_str_eq(p, want);
	ck_assert_int_eq(sq_path(p, 10, "control"), -1);
	rm_rf(dir);
	free(dir);
}
END_TEST

/* Runs sq_home() in a child with SQ_HOME=dir after ids(): its exit
 * status, 0 if it followed dir, 1 if it ignored it, else how it died. */
static int follow(const char *dir, void (*ids)(void))
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv("SQ_HOME", dir, 1);
		if (ids)
			ids();
		const char *h = sq_home();
		_exit(strcmp(h, dir) == 0 ? 0 : strcmp(h, SQ_HOME) == 0 ? 1 : 2);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* as a set-id program is: real uid root, effective nobody */
static void setid_nobody(void)
{
	if (setresuid(0, 65534, 0) < 0)
		_exit(3);
}

static void setgid_nogroup(void)
{
	if (setresgid(0, 65534, 0) < 0)
		_exit(3);
}

START_TEST(set_id_ignores_sq_home)
{
	if (geteuid() != 0)
		return;         /* only root can make the ids differ */
	char *dir = make_tmpdir();
	chmod(dir, 0755);
	ck_assert_int_eq(follow(dir, NULL), 0);
	ck_assert_int_eq(follow(dir, setid_nobody), 1);
	ck_assert_int_eq(follow(dir, setgid_nogroup), 1);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(root_refuses_a_directory_others_can_change)
{
	if (geteuid() != 0)
		return;         /* the rule is root's */
	char *dir = make_tmpdir();
	char sub[4200], link[4200];
	snprintf(sub, sizeof sub, "%s/inst", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(follow(sub, NULL), 0);
	/* through a symbolic link: what it resolves to counts */
	snprintf(link, sizeof link, "%s/link", dir);
	ck_assert_int_eq(symlink(sub, link), 0);
	ck_assert_int_eq(follow(link, NULL), 0);
	/* the instance owned by another user */
	ck_assert_int_eq(chown(sub, 65534, 0), 0);
	ck_assert_int_eq(follow(sub, NULL), 111);
	ck_assert_int_eq(follow(link, NULL), 111);
	ck_assert_int_eq(chown(sub, 0, 0), 0);
	/* writable by group or others, sticky or not */
	ck_assert_int_eq(chmod(sub, 01777), 0);
	ck_assert_int_eq(follow(sub, NULL), 111);
	ck_assert_int_eq(chmod(sub, 0775), 0);
	ck_assert_int_eq(follow(sub, NULL), 111);
	ck_assert_int_eq(chmod(sub, 0755), 0);
	/* a directory above it that another user owns or may write */
	ck_assert_int_eq(chown(dir, 65534, 0), 0);
	ck_assert_int_eq(follow(sub, NULL), 111);
	ck_assert_int_eq(chown(dir, 0, 0), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(follow(sub, NULL), 111);
	/* a sticky one on the way, as /tmp, is safe */
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(follow(sub, NULL), 0);
	/* a name of nothing: anyone could make it in a sticky directory,
	 * only root in root's own (opening it then fails as it should) */
	snprintf(sub, sizeof sub, "%s/none", dir);
	ck_assert_int_eq(follow(sub, NULL), 111);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(follow(sub, NULL), 0);
	snprintf(sub, sizeof sub, "%s/none/deeper/", dir);
	ck_assert_int_eq(follow(sub, NULL), 0);
	chmod(dir, 0700);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(others_follow_sq_home)
{
	if (geteuid() == 0)
		return;
	ck_assert_int_eq(follow("/tmp/instance", NULL), 0);
}
END_TEST

START_TEST(relative_sq_home_is_ignored)
{
	setenv("SQ_HOME", "instance", 1);
	ck_assert_str_eq(sq_home(), SQ_HOME);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("home");
	TCase *tc = tcase_create("home");
	tcase_add_test(tc, default_is_conf_home);
	tcase_add_test(tc, sq_home_overrides_for_a_test_instance);
	tcase_add_test(tc, relative_sq_home_is_ignored);
	tcase_add_test(tc, set_id_ignores_sq_home);
	tcase_add_test(tc, root_refuses_a_directory_others_can_change);
	tcase_add_test(tc, others_follow_sq_home);
	suite_add_tcase(s, tc);
	return s;
}
