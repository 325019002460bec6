/* check_keyring - the PKS keys pksd holds, across rotations. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keyring.h"
#include "testutil.h"

static char *dir;
static int dfd;

static void setup(void)
{
	if (pks_crypto_init() < 0)
		abort();
	dir = make_tmpdir();
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
}

static void teardown(void)
{
	close(dfd);
	rm_rf(dir);
	free(dir);
}

static uint32_t new_key(const char *name)
{
	struct pkskey k;
	ck_assert_int_eq(pkskey_generate(&k), 0);
	ck_assert_int_eq(pkskey_save(&k, dfd, name, (uid_t)-1, (gid_t)-1), 0);
	uint32_t id = k.id;
	pkskey_free(&k);
	return id;
}

/* Directory times have a resolution: make the next change visible. */
static void tick(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

START_TEST(no_key_is_an_error)
{
	struct keyring kr;
	ck_assert_int_eq(keyring_open(&kr, dir, geteuid()), -1);
	ck_assert_ptr_nonnull(strstr(kr.error, "pks-ctl init"));
}
END_TEST

START_TEST(sealer_is_next_during_a_rotation_and_all_keys_open)
{
	struct keyring kr;
	uint32_t cur = new_key("pks.key");
	ck_assert_int_eq(keyring_open(&kr, dir, geteuid()), 0);
	ck_assert_uint_eq(keyring_sealer(&kr)->id, cur);
	tick();
	uint32_t next = new_key("pks.key.next");
	ck_assert_uint_eq(keyring_sealer(&kr)->id, next); /* noticed */
	ck_assert_ptr_nonnull(keyring_find(&kr, cur));
	tick();
	ck_assert_int_eq(renameat(dfd, "pks.key", dfd, "pks.key.old"), 0);
	ck_assert_int_eq(renameat(dfd, "pks.key.next", dfd, "pks.key"), 0);
	ck_assert_uint_eq(keyring_sealer(&kr)->id, next);
	ck_assert_ptr_nonnull(keyring_find(&kr, cur)); /* as pks.key.old */
	ck_assert_ptr_null(keyring_find(&kr, 12345));
	keyring_close(&kr);
}
END_TEST

START_TEST(failed_reload_keeps_the_keys_in_use)
{
	struct keyring kr;
	uint32_t cur = new_key("pks.key");
	ck_assert_int_eq(keyring_open(&kr, dir, geteuid()), 0);
	tick();
	/* a next key readable by others: refused, so the reload fails */
	new_key("pks.key.next");
	ck_assert_int_eq(fchmodat(dfd, "pks.key.next", 0444, 0), 0);
	ck_assert_int_eq(keyring_refresh(&kr), -1);
	ck_assert_ptr_nonnull(keyring_sealer(&kr));
	ck_assert_uint_eq(keyring_sealer(&kr)->id, cur);
	ck_assert_ptr_nonnull(keyring_find(&kr, cur));
	/* mended: the next use picks it up */
	ck_assert_int_eq(fchmodat(dfd, "pks.key.next", 0400, 0), 0);
	ck_assert_int_eq(keyring_refresh(&kr), 0);
	ck_assert_uint_ne(keyring_sealer(&kr)->id, cur);
	keyring_close(&kr);
}
END_TEST

/* A key file's mode must be 0400 exactly, and its owner the one given
 * (pksd's own uid) or, for (uid_t)-1, the key directory's. */
START_TEST(key_files_must_be_0400_and_owned_by_the_reader)
{
	struct keyring kr;
	new_key("pks.key");
	ck_assert_int_eq(fchmodat(dfd, "pks.key", 0600, 0), 0);
	ck_assert_int_eq(keyring_open(&kr, dir, geteuid()), -1);
	ck_assert_ptr_nonnull(strstr(kr.error, "pks.key: mode must be exactly "
	                             "0400"));
	ck_assert_int_eq(fchmodat(dfd, "pks.key", 0700, 0), 0);
	ck_assert_int_eq(keyring_open(&kr, dir, geteuid()), -1);
	ck_assert_int_eq(fchmodat(dfd, "pks.key", 0400, 0), 0);
	ck_assert_int_eq(keyring_open(&kr, dir, geteuid() + 1), -1);
	ck_assert_ptr_nonnull(strstr(kr.error, "must be owned by uid"));
	ck_assert_int_eq(keyring_open(&kr, dir, (uid_t)-1), 0);
	keyring_close(&kr);
	ck_assert_int_eq(keyring_open(&kr, dir, geteuid()), 0);
	keyring_close(&kr);
	if (geteuid() == 0) {   /* a key another user owns: refused */
		ck_assert_int_eq(fchownat(dfd, "pks.key", 4242, 4242, 0), 0);
		ck_assert_int_eq(keyring_open(&kr, dir, (uid_t)-1), -1);
		ck_assert_int_eq(keyring_open(&kr, dir, geteuid()), -1);
	}
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("keyring");
	TCase *tc = tcase_create("keyring");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, no_key_is_an_error);
	tcase_add_test(tc, sealer_is_next_during_a_rotation_and_all_keys_open);
	tcase_add_test(tc, failed_reload_keeps_the_keys_in_use);
	tcase_add_test(tc, key_files_must_be_0400_and_owned_by_the_reader);
	suite_add_tcase(s, tc);
	return s;
}
