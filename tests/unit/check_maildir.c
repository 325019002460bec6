/* check_maildir - mailbox ids, message names, crash-safe delivery,
 * listing, usage, and refusing whatever a hostile maildir holds. */
#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/maildir.h"
#include "testutil.h"

static char *dir;
static int pfd;

static void setup(void)
{
	dir = make_tmpdir();
	pfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(pfd, 0);
}

static void teardown(void)
{
	close(pfd);
	rm_rf(dir);
	free(dir);
}

/* Entries of dir/rel other than . and .. */
static int entries(const char *rel)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void deliver(struct maildir *md, const char *data,
                    unsigned long long w, struct maildir_delivered *out)
{
	ck_assert_int_eq(maildir_deliver(md, "edh.example", data, strlen(data),
	                                 w, out), 0);
}

/* ---- ids ------------------------------------------------------------------ */

START_TEST(ids_format_and_parse_round_trip)
{
	char id[MAILDIR_ID_SIZE];
	uint32_t h;
	uint64_t row;
	ck_assert_int_eq(maildir_id_format(id, 0x1a2b3c4d, 17), 0);
	ck_assert_str_eq(id, "1a2b3c4d-17");
	ck_assert_int_eq(maildir_id_parse(id, &h, &row), 0);
	ck_assert_uint_eq(h, 0x1a2b3c4d);
	ck_assert_uint_eq(row, 17);
	ck_assert_int_eq(maildir_id_format(id, 0, 9223372036854775807ULL), 0);
	ck_assert_str_eq(id, "00000000-9223372036854775807");
	ck_assert_int_eq(maildir_id_parse(id, &h, &row), 0);
	ck_assert_uint_eq(row, 9223372036854775807ULL);
	ck_assert_int_eq(maildir_id_format(id, 1, 0), -1);
	ck_assert_int_eq(maildir_id_format(id, 1, 9223372036854775808ULL), -1);
}
END_TEST

START_TEST(ids_are_validated_strictly)
{
	static const char *const bad[] = {
		"", "1a2b3c4d", "1a2b3c4d-", "1a2b3c4d-0", "1a2b3c4d-017",
		"1A2B3C4D-17", "1a2b3c4-17", "1a2b3c4d0-17", "1a2b3c4d_17",
		"1a2b3c4d-17 ", " 1a2b3c4d-17", "1a2b3c4d-+17", "1a2b3c4d--17",
		"1a2b3c4d-9223372036854775808", "1a2b3c4d-99999999999999999999",
		"../../etc", "1a2b3c4d-1/..", "1a2b3c4g-1", "1a2b3c4d-1\n",
		"1a2b3c4d-0x11", "1a2b3c4d-1a",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(!maildir_id_valid(bad[i]), "accepted \"%s\"", bad[i]);
		errno = 0;
		ck_assert_int_eq(maildir_id_parse(bad[i], NULL, NULL), -1);
		ck_assert_int_eq(errno, EINVAL);
	}
	ck_assert(maildir_id_valid("00000000-1"));
	ck_assert(maildir_id_valid("ffffffff-9223372036854775807"));
	ck_assert(!maildir_id_valid(NULL));
}
END_TEST

/* ---- names ---------------------------------------------------------------- */

START_TEST(names_parse_with_and_without_flags)
{
	struct maildir_name n;
	const char *name = "1700000000.M000042P99V803I1f.edh,S=123,W=456";
	ck_assert_int_eq(maildir_name_parse(name, &n), 0);
	ck_assert_uint_eq(n.uidlen, strlen("1700000000.M000042P99V803I1f.edh"));
	ck_assert_uint_eq(n.size, 123);
	ck_assert_uint_eq(n.plainsize, 456);
	ck_assert_str_eq(n.flags, "");
	ck_assert_int_eq(maildir_name_parse("1.M1P1V1I1.h\\057x,S=0,W=0:2,RS",
	                                    &n), 0);
	ck_assert_str_eq(n.flags, "RS");
	ck_assert_int_eq(maildir_name_parse("a,S=1099511627776,W=0:2,", &n), 0);
	ck_assert_uint_eq(n.size, 1ULL << 40);
}
END_TEST

START_TEST(names_that_do_not_parse_are_refused)
{
	static const char *const bad[] = {
		"", "x", "x,S=1", "x,W=1,S=1", "x,S=1,W=1,T=4", ",S=1,W=1",
		".hidden,S=1,W=1", "x,S=01,W=1", "x,S=1,W=", "x,S=-1,W=1",
		"x,S=1099511627777,W=1", "x,S=1,W=1:1,S", "x,S=1,W=1:2,S1",
		"x y,S=1,W=1", "x/y,S=1,W=1", "x,S=1,W=1:", "x,S= 1,W=1",
		"x,S=1,W=1 ", "x:y,S=1,W=1", "x,S=18446744073709551616,W=1",
	};
	struct maildir_name n;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(maildir_name_parse(bad[i], &n) == -1, "accepted %s",
		              bad[i]);
	char longname[400];
	memset(longname, 'a', 300);
	strcpy(longname + 300, ",S=1,W=1");
	ck_assert_int_eq(maildir_name_parse(longname, &n), -1);
	memset(longname, 'a', MAILDIR_UID_MAX + 1);
	strcpy(longname + MAILDIR_UID_MAX + 1, ",S=1,W=1");
	ck_assert_int_eq(maildir_name_parse(longname, &n), -1);
	ck_assert_int_eq(maildir_name_parse(longname + 1, &n), 0);
}
END_TEST

/* ---- mailboxes -------------------------------------------------------- */

START_TEST(open_creates_a_private_maildir_only_when_asked)
{
	struct maildir md;
	struct stat st;
	errno = 0;
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 0), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(entries("."), 0);
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	ck_assert_str_eq(md.id, "1a2b3c4d-17");
	for (int i = 0; i < 4; i++) {
		static const char *const p[] = { "", "/tmp", "/new", "/cur" };
		char path[64];
		snprintf(path, sizeof path, "1a2b3c4d-17%s", p[i]);
		ck_assert_int_eq(fstatat(pfd, path, &st, 0), 0);
		ck_assert(S_ISDIR(st.st_mode));
		ck_assert_int_eq(st.st_mode & 077, 0);
	}
	maildir_close(&md);
	ck_assert_int_eq(md.dirfd, -1);
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 0), 0);
	maildir_close(&md);
	errno = 0;
	ck_assert_int_eq(maildir_open(&md, pfd, "../escape-1", 1), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(a_half_created_mailbox_is_completed)
{
	struct maildir md;
	/* as a crash after the first mkdir would leave it */
	ck_assert_int_eq(mkdirat(pfd, "00000001-2", 0700), 0);
	ck_assert_int_eq(mkdirat(pfd, "00000001-2/tmp", 0700), 0);
	errno = 0;
	ck_assert_int_eq(maildir_open(&md, pfd, "00000001-2", 0), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(maildir_open(&md, pfd, "00000001-2", 1), 0);
	ck_assert_int_eq(entries("00000001-2"), 3);
	maildir_close(&md);
}
END_TEST

START_TEST(a_symlink_or_file_is_not_a_maildir)
{
	struct maildir md;
	ck_assert_int_eq(mkdirat(pfd, "elsewhere", 0700), 0);
	ck_assert_int_eq(symlinkat("elsewhere", pfd, "00000001-3"), 0);
	errno = 0;
	ck_assert_int_eq(maildir_open(&md, pfd, "00000001-3", 1), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	write_file(dir, "00000001-4", "x", 1);
	errno = 0;
	ck_assert_int_eq(maildir_open(&md, pfd, "00000001-4", 1), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_int_eq(entries("elsewhere"), 0);
}
END_TEST

/* ---- delivery ------------------------------------------------------------ */

START_TEST(delivery_lands_in_new_with_its_sizes_in_the_name)
{
	struct maildir md;
	struct maildir_delivered d;
	struct maildir_name n;
	struct stat st;
	char path[600], buf[64];
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	deliver(&md, "sealed bytes\n", 4321, &d);
	ck_assert_int_eq(maildir_name_parse(d.name, &n), 0);
	ck_assert_uint_eq(n.size, 13);
	ck_assert_uint_eq(n.plainsize, 4321);
	ck_assert_uint_eq(d.size, 13);
	ck_assert_uint_eq(d.uidlen, n.uidlen);
	/* <sec>.M<usec>P<pid>V<dev>I<ino>.<host> */
	snprintf(path, sizeof path, "P%ldV", (long)getpid());
	ck_assert_ptr_nonnull(strstr(d.name, path));
	ck_assert_ptr_nonnull(strstr(d.name, ".edh.example,S=13,W=4321"));
	snprintf(path, sizeof path, "1a2b3c4d-17/new/%s", d.name);
	ck_assert_int_eq(fstatat(pfd, path, &st, 0), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	char ino[64];
	snprintf(ino, sizeof ino, "I%llx.", (unsigned long long)st.st_ino);
	ck_assert_ptr_nonnull(strstr(d.name, ino));
	int fd = openat(pfd, path, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof buf), 13);
	close(fd);
	ck_assert(memcmp(buf, "sealed bytes\n", 13) == 0);
	ck_assert_int_eq(entries("1a2b3c4d-17/tmp"), 0);
	ck_assert_int_eq(entries("1a2b3c4d-17/new"), 1);
	maildir_close(&md);
}
END_TEST

START_TEST(the_host_is_escaped_as_the_maildir_spec_says)
{
	struct maildir md;
	struct maildir_delivered d;
	struct maildir_name n;
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	ck_assert_int_eq(maildir_deliver(&md, "a/b:c,d\\e f", "x", 1, 1, &d), 0);
	ck_assert_ptr_nonnull(strstr(d.name, ".a\\057b\\072c\\054d\\134e\\040f,"));
	ck_assert_int_eq(maildir_name_parse(d.name, &n), 0);
	ck_assert_int_eq(maildir_deliver(&md, NULL, "y", 1, 1, &d), 0);
	ck_assert_int_eq(maildir_name_parse(d.name, &n), 0);
	char huge[600];
	memset(huge, ':', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	ck_assert_int_eq(maildir_deliver(&md, huge, "z", 1, 1, &d), 0);
	ck_assert_int_eq(maildir_name_parse(d.name, &n), 0);
	maildir_close(&md);
}
END_TEST

START_TEST(many_deliveries_in_a_row_get_distinct_names)
{
	struct maildir md;
	struct maildir_delivered d;
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	for (int i = 0; i < 200; i++)
		deliver(&md, "m\n", 2, &d);
	ck_assert_int_eq(entries("1a2b3c4d-17/new"), 200);
	maildir_close(&md);
}
END_TEST

START_TEST(deliver_fd_copies_and_honours_its_limit)
{
	struct maildir md;
	struct maildir_delivered d;
	char path[4096];
	snprintf(path, sizeof path, "%s/in", dir);
	static char big[200000];
	memset(big, 'q', sizeof big);
	write_file(dir, "in", big, sizeof big);
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	int fd = open(path, O_RDONLY);
	ck_assert_int_eq(maildir_deliver_fd(&md, "h", fd, 0, 7, &d), 0);
	ck_assert_uint_eq(d.size, sizeof big);
	close(fd);
	fd = open(path, O_RDONLY);
	errno = 0;
	ck_assert_int_eq(maildir_deliver_fd(&md, "h", fd, 1000, 7, &d), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	close(fd);
	ck_assert_int_eq(entries("1a2b3c4d-17/new"), 1);
	ck_assert_int_eq(entries("1a2b3c4d-17/tmp"), 0);
	maildir_close(&md);
}
END_TEST

START_TEST(a_failed_delivery_leaves_nothing_behind)
{
	struct maildir md;
	struct maildir_delivered d;
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	/* new/ replaced by a file: the link fails */
	ck_assert_int_eq(unlinkat(pfd, "1a2b3c4d-17/new", AT_REMOVEDIR), 0);
	write_file(dir, "1a2b3c4d-17/new", "", 0);
	ck_assert_int_eq(maildir_deliver(&md, "h", "x", 1, 1, &d), -1);
	ck_assert_int_eq(entries("1a2b3c4d-17/tmp"), 0);
	ck_assert_str_eq(d.name, "");
	errno = 0;
	ck_assert_int_eq(maildir_deliver(&md, "h", "x", 1,
	                                 (1ULL << 40) + 1, &d), -1);
	ck_assert_int_eq(errno, EINVAL);
	maildir_close(&md);
}
END_TEST

START_TEST(stale_tmp_files_are_swept_fresh_ones_kept)
{
	struct maildir md;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-18", 1), 0);
	write_file(dir, "1a2b3c4d-18/tmp/crashed", "x", 1);
	write_file(dir, "1a2b3c4d-18/tmp/writing", "y", 1);
	ck_assert_int_eq(mkdirat(md.tmpfd, "adir", 0700), 0);
	ck_assert_int_eq(utimensat(md.tmpfd, "crashed", old, 0), 0);
	ck_assert_int_eq(utimensat(md.tmpfd, "adir", old, 0), 0);
	ck_assert_int_eq(maildir_sweep_tmp(&md, time(NULL) - MAILDIR_TMP_STALE),
	                 1);
	ck_assert_int_eq(entries("1a2b3c4d-18/tmp"), 2); /* writing, adir */
	maildir_close(&md);
}
END_TEST

/* ---- listing, usage, opening, removal --------------------------------- */

START_TEST(listing_is_oldest_first_with_sizes)
{
	struct maildir md;
	struct maildir_delivered d[3];
	struct maildir_list l;
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	deliver(&md, "one\n", 10, &d[0]);
	deliver(&md, "two two\n", 20, &d[1]);
	deliver(&md, "three three\n", 30, &d[2]);
	/* a reader moved the second into cur/ */
	char from[600], to[600];
	snprintf(from, sizeof from, "1a2b3c4d-17/new/%s", d[1].name);
	snprintf(to, sizeof to, "1a2b3c4d-17/cur/%s:2,S", d[1].name);
	ck_assert_int_eq(renameat(pfd, from, pfd, to), 0);
	ck_assert_int_eq(maildir_list(&md, 100, &l), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_uint_eq(l.skipped, 0);
	ck_assert_int_eq(l.truncated, 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(l.msgs[i].plainsize, 10 * (i + 1));
		ck_assert_uint_eq(l.msgs[i].uidlen, d[i].uidlen);
		ck_assert(memcmp(l.msgs[i].name, d[i].name, d[i].uidlen) == 0);
	}
	ck_assert_uint_eq(l.msgs[0].size, 4);
	ck_assert_int_eq(l.msgs[1].cur, 1);
	ck_assert_int_eq(l.msgs[0].cur, 0);
	maildir_list_free(&l);
	ck_assert_int_eq(maildir_list(&md, 2, &l), 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(l.truncated, 1);
	maildir_list_free(&l);
	unsigned long long octets, count;
	ck_assert_int_eq(maildir_usage(&md, &octets, &count), 0);
	ck_assert_uint_eq(octets, 4 + 8 + 12);
	ck_assert_uint_eq(count, 3);
	maildir_close(&md);
}
END_TEST

START_TEST(hostile_entries_are_skipped_never_trusted)
{
	struct maildir md;
	struct maildir_delivered d;
	struct maildir_list l;
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	deliver(&md, "real\n", 5, &d);
	write_file(dir, "1a2b3c4d-17/new/garbage", "x", 1);
	write_file(dir, "1a2b3c4d-17/cur/.hidden,S=1,W=1", "x", 1);
	ck_assert_int_eq(symlinkat("/etc/passwd", pfd,
	                           "1a2b3c4d-17/new/1.M1P1V1I1.h,S=9,W=9"), 0);
	ck_assert_int_eq(mkdirat(pfd, "1a2b3c4d-17/cur/2.M1P1V1I1.h,S=9,W=9",
	                         0700), 0);
	ck_assert_int_eq(mkfifoat(pfd, "1a2b3c4d-17/cur/3.M1P1V1I1.h,S=9,W=9",
	                          0600), 0);
	ck_assert_int_eq(maildir_list(&md, 100, &l), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_uint_eq(l.skipped, 5);
	maildir_list_free(&l);
	unsigned long long octets, count;
	ck_assert_int_eq(maildir_usage(&md, &octets, &count), 0);
	ck_assert_uint_eq(octets, 5);
	ck_assert_uint_eq(count, 1);
	/* a made-up entry naming the link is refused at open */
	struct maildir_msg m = { "1.M1P1V1I1.h,S=9,W=9", 12, 9, 9, 0 };
	errno = 0;
	ck_assert_int_eq(maildir_open_msg(&md, &m), -1);
	ck_assert_int_eq(errno, ELOOP);
	struct maildir_msg fifo = { "3.M1P1V1I1.h,S=9,W=9", 12, 9, 9, 1 };
	ck_assert_int_eq(maildir_open_msg(&md, &fifo), -1);
	struct maildir_msg up = { "../../x,S=1,W=1", 7, 1, 1, 0 };
	errno = 0;
	ck_assert_int_eq(maildir_open_msg(&md, &up), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(maildir_remove_msg(&md, &up), -1);
	maildir_close(&md);
}
END_TEST

START_TEST(messages_open_and_go_by_unique_id)
{
	struct maildir md;
	struct maildir_delivered d, e;
	char uid[MAILDIR_NAME_SIZE], buf[16];
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	deliver(&md, "first\n", 6, &d);
	deliver(&md, "second\n", 7, &e);
	snprintf(uid, sizeof uid, "%.*s", (int)d.uidlen, d.name);
	int fd = maildir_open_uid(&md, uid);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof buf), 6);
	ck_assert(memcmp(buf, "first\n", 6) == 0);
	close(fd);
	ck_assert_int_eq(maildir_remove_uid(&md, uid), 0);
	errno = 0;
	ck_assert_int_eq(maildir_open_uid(&md, uid), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(maildir_remove_uid(&md, uid), -1);
	ck_assert_int_eq(entries("1a2b3c4d-17/new"), 1);
	/* a prefix of an id is not the id */
	uid[d.uidlen - 1] = '\0';
	ck_assert_int_eq(maildir_open_uid(&md, uid), -1);
	errno = 0;
	ck_assert_int_eq(maildir_open_uid(&md, "../../../etc/passwd"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(maildir_remove_uid(&md, ""), -1);
	struct maildir_msg m;
	snprintf(uid, sizeof uid, "%.*s", (int)e.uidlen, e.name);
	ck_assert_int_eq(maildir_find(&md, uid, &m), 0);
	ck_assert_str_eq(m.name, e.name);
	ck_assert_int_eq(maildir_remove_msg(&md, &m), 0);
	ck_assert_int_eq(maildir_sync(&md), 0);
	maildir_msg_free(&m);
	ck_assert_int_eq(entries("1a2b3c4d-17/new"), 0);
	maildir_close(&md);
}
END_TEST

/* ---- delivery ids ------------------------------------------------------ */

START_TEST(delivery_ids_are_formatted_and_checked_strictly)
{
	char did[MAILDIR_UID_MAX + 1];
	ck_assert_int_eq(maildir_did_format(did, 1700000000, 42, 98765,
	                                    "ah:1/x"), 0);
	ck_assert_str_eq(did, "1700000000.M000042Q98765.ah\\0721\\057x");
	ck_assert(maildir_did_valid(did));
	const char *bad[] = { "", "1700000000.M000042Q98765.",
	                      "1700000000.M42Q98765.h", "x.M000042Q98765.h",
	                      "1700000000.M000042P98765.h",
	                      "1700000000.M000042Q.h", "1700000000M000042Q1.h",
	                      "1700000000.M000042Q1.h,S=1", "1.M000042Q1.h/x",
	                      "12345678901234567890.M000042Q1.h" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(!maildir_did_valid(bad[i]), "%s", bad[i]);
	ck_assert_int_eq(maildir_did_format(did, 1, 1000000, 1, "h"), -1);
}
END_TEST

START_TEST(a_delivery_id_is_stored_once_however_often_retried)
{
	struct maildir md;
	struct maildir_delivered d, again;
	const char *did = "1700000000.M000042Q98765.ah";
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	ck_assert_int_eq(maildir_deliver_once(&md, did, "sealed", 6, 3, &d), 0);
	ck_assert_int_eq(d.again, 0);
	ck_assert_str_eq(d.name, "1700000000.M000042Q98765.ah,S=6,W=3");
	ck_assert_int_eq(maildir_deliver_once(&md, did, "sealed", 6, 3, &again),
	                 0);
	ck_assert_int_eq(again.again, 1);
	ck_assert_str_eq(again.name, d.name);
	ck_assert_int_eq(entries("1a2b3c4d-17/new"), 1);
	ck_assert_int_eq(entries("1a2b3c4d-17/tmp"), 0);
	/* another message (another id) is stored beside it */
	ck_assert_int_eq(maildir_deliver_once(&md, "1700000000.M000042Q1.ah",
	                                      "sealed", 6, 3, &again), 0);
	ck_assert_int_eq(again.again, 0);
	ck_assert_int_eq(entries("1a2b3c4d-17/new"), 2);
	ck_assert_int_eq(maildir_deliver_once(&md, "not an id", "x", 1, 1, &d),
	                 -1);
	ck_assert_int_eq(errno, EINVAL);
	maildir_close(&md);
}
END_TEST

START_TEST(a_delivery_moved_to_cur_is_still_recognised)
{
	struct maildir md;
	struct maildir_delivered d;
	char from[4096], to[4096];
	const char *did = "1700000000.M000042Q7.ah";
	ck_assert_int_eq(maildir_open(&md, pfd, "1a2b3c4d-17", 1), 0);
	ck_assert_int_eq(maildir_deliver_once(&md, did, "sealed", 6, 3, &d), 0);
	snprintf(from, sizeof from, "%s/1a2b3c4d-17/new/%s", dir, d.name);
	snprintf(to, sizeof to, "%s/1a2b3c4d-17/cur/%s:2,S", dir, d.name);
	ck_assert_int_eq(rename(from, to), 0);
	ck_assert_int_eq(maildir_deliver_once(&md, did, "sealed", 6, 3, &d), 0);
	ck_assert_int_eq(d.again, 1);
	ck_assert_int_eq(entries("1a2b3c4d-17/new"), 0);
	ck_assert_int_eq(entries("1a2b3c4d-17/cur"), 1);
	maildir_close(&md);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("maildir");
	TCase *tc = tcase_create("maildir");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ids_format_and_parse_round_trip);
	tcase_add_test(tc, ids_are_validated_strictly);
	tcase_add_test(tc, names_parse_with_and_without_flags);
	tcase_add_test(tc, names_that_do_not_parse_are_refused);
	tcase_add_test(tc, open_creates_a_private_maildir_only_when_asked);
	tcase_add_test(tc, a_half_created_mailbox_is_completed);
	tcase_add_test(tc, a_symlink_or_file_is_not_a_maildir);
	tcase_add_test(tc, delivery_lands_in_new_with_its_sizes_in_the_name);
	tcase_add_test(tc, the_host_is_escaped_as_the_maildir_spec_says);
	tcase_add_test(tc, many_deliveries_in_a_row_get_distinct_names);
	tcase_add_test(tc, deliver_fd_copies_and_honours_its_limit);
	tcase_add_test(tc, a_failed_delivery_leaves_nothing_behind);
	tcase_add_test(tc, stale_tmp_files_are_swept_fresh_ones_kept);
	tcase_add_test(tc, listing_is_oldest_first_with_sizes);
	tcase_add_test(tc, hostile_entries_are_skipped_never_trusted);
	tcase_add_test(tc, messages_open_and_go_by_unique_id);
	tcase_add_test(tc, delivery_ids_are_formatted_and_checked_strictly);
	tcase_add_test(tc, a_delivery_id_is_stored_once_however_often_retried);
	tcase_add_test(tc, a_delivery_moved_to_cur_is_still_recognised);
	suite_add_tcase(s, tc);
	return s;
}
