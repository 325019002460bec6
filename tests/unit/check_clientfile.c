/* check_clientfile - edhd's clients: fresh ids and secrets, only salted
 * hashes kept, strict parsing of control/edhclients. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clientfile.h"
#include "testutil.h"

#define SALT "00112233445566778899aabbccddeeff"
#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(a_new_client_verifies_only_its_own_secret)
{
	struct edh_client c;
	char secret[EDH_SECRET_LEN + 1];
	ck_assert_int_eq(edh_client_new(&c, EDH_ROLE_DELIVER, "ah1 sq-store",
	                                NULL, secret), 0);
	ck_assert_uint_ne(c.id, 0);
	ck_assert_uint_eq(strlen(secret), EDH_SECRET_LEN);
	ck_assert_uint_eq(strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
	                         "nopqrstuvwxyz0123456789-_"), EDH_SECRET_LEN);
	ck_assert_int_eq(edh_client_verify(&c, secret, strlen(secret)), 1);
	secret[7] ^= 1;
	ck_assert_int_eq(edh_client_verify(&c, secret, strlen(secret)), 0);
	secret[7] ^= 1;
	ck_assert_int_eq(edh_client_verify(&c, secret, EDH_SECRET_LEN - 1), 0);
	ck_assert_int_eq(edh_client_verify(&c, "", 0), 0);
	ck_assert_int_eq(edh_client_verify(NULL, secret, strlen(secret)), 0);
	ck_assert_ptr_null(memmem(&c, sizeof c, secret, 8));
	ck_assert_int_eq(edh_client_new(&c, 7, "", NULL, secret), -1);
	ck_assert_int_eq(edh_client_new(&c, EDH_ROLE_DELIVER, "bad\nnote", NULL,
	                                secret), -1);
}
END_TEST

START_TEST(lines_round_trip_through_the_file_format)
{
	struct edh_client a, b;
	struct edh_clients all = { NULL, 0 };
	char sa[EDH_SECRET_LEN + 1], sb[EDH_SECRET_LEN + 1];
	struct sbuf text;
	size_t bad;
	sbuf_init(&text, 4096);
	ck_assert_int_eq(edh_client_new(&a, EDH_ROLE_DELIVER, "", NULL, sa), 0);
	ck_assert_int_eq(edh_client_new(&b, EDH_ROLE_RETRIEVE, "pop3 on ah1", NULL,
	                                sb), 0);
	sbuf_puts(&text, "# edhd's clients\n\n");
	ck_assert_int_eq(edh_client_format(&a, &text), 0);
	ck_assert_int_eq(edh_client_format(&b, &text), 0);
	ck_assert_ptr_null(strstr(text.s, sa));
	ck_assert_int_eq(edh_clients_parse(text.s, text.len, &all, &bad), 0);
	ck_assert_uint_eq(all.n, 2);
	const struct edh_client *f = edh_clients_find(&all, b.id);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->role, EDH_ROLE_RETRIEVE);
	ck_assert_str_eq(f->note, "pop3 on ah1");
	ck_assert_int_eq(edh_client_verify(f, sb, strlen(sb)), 1);
	ck_assert_int_eq(edh_client_verify(edh_clients_find(&all, a.id), sb,
	                                   strlen(sb)), 0);
	struct edh_client c;
	ck_assert_int_eq(edh_client_new(&c, EDH_ROLE_DELIVER, "", &all, sa), 0);
	ck_assert_ptr_null(edh_clients_find(&all, c.id));
	edh_clients_free(&all);
	sbuf_free(&text);
}
END_TEST

static int parse(const char *text, size_t *bad)
{
	struct edh_clients all;
	errno = 0;
	int r = edh_clients_parse(text, strlen(text), &all, bad);
	if (r == 0)
		edh_clients_free(&all);
	else
		ck_assert_ptr_null(all.v);
	return r;
}

START_TEST(malformed_lines_make_the_file_invalid)
{
	static const char *const bad[] = {
		"0 deliver " SALT " " HASH "\n",
		"01 deliver " SALT " " HASH "\n",
		"4294967296 deliver " SALT " " HASH "\n",
		"-1 deliver " SALT " " HASH "\n",
		"12 admin " SALT " " HASH "\n",
		"12 Deliver " SALT " " HASH "\n",
		"12 deliver " SALT "0 " HASH "\n",
		"12 deliver " SALT " " HASH "0\n",
		"12 deliver 00112233445566778899AABBCCDDEEFF " HASH "\n",
		"12 deliver " SALT "\n",
		"12 deliver\n",
		"12\n",
		"12 deliver " SALT " " HASH " note with \x01 control\n",
		"12 deliver " SALT " " HASH "\n12 retrieve " SALT " " HASH "\n",
	};
	size_t line;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(parse(bad[i], &line) == -1, "accepted %s", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_uint_eq(line, i == 13 ? 2 : 1);
	}
	ck_assert_int_eq(parse("4294967295\tretrieve  " SALT " " HASH
	                       "   a note \n", &line), 0);
	ck_assert_int_eq(parse("", &line), 0);
	ck_assert_int_eq(parse("12 deliver " SALT " " HASH "\n\0", &line), 0);
	struct edh_clients all;
	ck_assert_int_eq(edh_clients_parse("1 deliver\0", 10, &all, &line), -1);
}
END_TEST

START_TEST(load_tells_missing_from_unreadable)
{
	char *dir = make_tmpdir();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct edh_clients all;
	size_t bad;
	ck_assert_int_eq(edh_clients_load(dfd, "edhclients", &all, &bad), 0);
	ck_assert_uint_eq(all.n, 0);
	static const char line[] = "7 deliver " SALT " " HASH "\n";
	write_file(dir, "edhclients", line, sizeof line - 1);
	ck_assert_int_eq(edh_clients_load(dfd, "edhclients", &all, &bad), 1);
	ck_assert_uint_eq(all.n, 1);
	ck_assert_uint_eq(all.v[0].id, 7);
	edh_clients_free(&all);
	write_file(dir, "edhclients", "7 deliver\n", 10);
	ck_assert_int_eq(edh_clients_load(dfd, "edhclients", &all, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(unlinkat(dfd, "edhclients", 0), 0);
	ck_assert_int_eq(mkdirat(dfd, "edhclients", 0700), 0);
	ck_assert_int_eq(edh_clients_load(dfd, "edhclients", &all, &bad), -1);
	close(dfd);
	rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(roles_and_ids_have_one_spelling)
{
	uint32_t id;
	ck_assert_int_eq(edh_role_parse("deliver"), EDH_ROLE_DELIVER);
	ck_assert_int_eq(edh_role_parse("retrieve"), EDH_ROLE_RETRIEVE);
	ck_assert_int_eq(edh_role_parse("login"), 0);
	ck_assert_str_eq(edh_role_name(EDH_ROLE_RETRIEVE), "retrieve");
	ck_assert_str_eq(edh_role_name(0), "unknown");
	ck_assert_int_eq(edh_client_id_parse("4294967295", 10, &id), 0);
	ck_assert_uint_eq(id, 4294967295U);
	ck_assert_int_eq(edh_client_id_parse("42x", 3, &id), -1);
	ck_assert_int_eq(edh_client_id_parse("", 0, &id), -1);
	ck_assert_int_eq(edh_client_id_parse("00000000042", 11, &id), -1);
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("clientfile");
	TCase *tc = tcase_create("clientfile");
	tcase_add_test(tc, a_new_client_verifies_only_its_own_secret);
	tcase_add_test(tc, lines_round_trip_through_the_file_format);
	tcase_add_test(tc, malformed_lines_make_the_file_invalid);
	tcase_add_test(tc, load_tells_missing_from_unreadable);
	tcase_add_test(tc, roles_and_ids_have_one_spelling);
	suite_add_tcase(s, tc);
	return s;
}
