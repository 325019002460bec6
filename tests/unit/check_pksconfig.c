/*
 * check_pksconfig - the PKS client's configuration and credential file,
 * loaded from a scratch control directory: defaults, limits, and reasons
 * that never quote the secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/control.h"
#include "client/pksconfig.h"
#include "util/sbuf.h"
#include "testutil.h"

/* --- configuration ------------------------------------------------------ */

static char *cdir;
static struct control ctl;

static void config_setup(void)
{
	ctl.dirfd = -1;
	sbuf_init(&ctl.me, 1);
	cdir = make_tmpdir();
}

static void config_teardown(void)
{
	control_close(&ctl);
	rm_rf(cdir);
	free(cdir);
}

static void put(const char *name, const char *text)
{
	write_file(cdir, name, text, strlen(text));
}

static int load(struct pks_config *cfg, char *why, size_t whylen)
{
	control_close(&ctl);
	ck_assert_int_eq(control_open(&ctl, cdir), 0);
	return pks_config_load(cfg, &ctl, cdir, "pkscred", why, whylen);
}

/* Loading must fail, say why, never quote the secret and leave no trace. */
static void load_fails(const char *what)
{
	struct pks_config cfg;
	char why[256] = "";
	memset(&cfg, 'x', sizeof cfg);
	ck_assert_int_eq(load(&cfg, why, sizeof why), -1);
	ck_assert_msg(strstr(why, what) != NULL, "reason \"%s\", want %s",
	              why, what);
	ck_assert_ptr_null(strstr(why, "Sekr"));
	for (size_t i = 0; i < sizeof cfg.secret; i++)
		ck_assert_int_eq(cfg.secret[i], 0);
}

START_TEST(config_defaults_apply_when_control_files_are_absent)
{
	struct pks_config cfg;
	char why[256] = "", ca[4200];
	put("ca.pem", "x");
	put("pkscred", "4242:Sekr3t-0123456789abcdef\n");
	ck_assert_int_eq(load(&cfg, why, sizeof why), 0);
	ck_assert_str_eq(cfg.url, PKS_URL_DEFAULT);
	ck_assert_int_eq(cfg.timeout_ms, 10000);
	ck_assert_int_eq(cfg.connect_timeout_ms, 5000);
	snprintf(ca, sizeof ca, "%s/ca.pem", cdir);
	ck_assert_str_eq(cfg.cafile, ca);
	ck_assert_uint_eq(cfg.client_id, 4242);
	ck_assert_str_eq(cfg.secret, "Sekr3t-0123456789abcdef");
	pks_config_wipe(&cfg);
	ck_assert_str_eq(cfg.secret, "");
}
END_TEST

START_TEST(config_reads_url_timeouts_and_credentials)
{
	struct pks_config cfg;
	char why[256] = "";
	put("ca.pem", "x");
	put("pksurl", "# the key store\nhttps://pks.internal:8443/base//\r\n");
	put("timeoutpks", "30\n");
	put("timeoutpksconnect", "2");
	put("pkscred", "# deliver role\n\n4294967295:a:b:c~!\"$%&'()*  \r\n");
	ck_assert_int_eq(load(&cfg, why, sizeof why), 0);
	ck_assert_str_eq(cfg.url, "https://pks.internal:8443/base");
	ck_assert_int_eq(cfg.timeout_ms, 30000);
	ck_assert_int_eq(cfg.connect_timeout_ms, 2000);
	ck_assert_uint_eq(cfg.client_id, 4294967295u);
	ck_assert_str_eq(cfg.secret, "a:b:c~!\"$%&'()*");
	pks_config_wipe(&cfg);
}
END_TEST

START_TEST(missing_credential_file_is_an_error)
{
	put("ca.pem", "x");
	load_fails("pkscred: No such file");
}
END_TEST

START_TEST(missing_ca_file_is_an_error)
{
	put("pkscred", "1:Sekr3t\n");
	load_fails("ca.pem: No such file");
}
END_TEST

START_TEST(malformed_credentials_are_refused)
{
	static const struct { const char *text, *why; } bad[] = {
		{ "", "found 0" },
		{ "# only a comment\n", "found 0" },
		{ "Sekr3t\n", "not ID:SECRET" },
		{ ":Sekr3t\n", "ID" },
		{ "12a:Sekr3t\n", "ID" },
		{ "-1:Sekr3t\n", "ID" },
		{ " 1:Sekr3t\n", "ID" },
		{ "+1:Sekr3t\n", "ID" },
		{ "1:\n", "secret" },
		{ "1:Sekr 3t\n", "printable" },
		{ "1:Sekr\x01t\n", "printable" },
		{ "1:Sekr\xc3\xa9t\n", "printable" },
		{ "1:Sekr3t\n2:Sekr3t\n", "found 2" },
		{ "1:Sekr3t\0\n", "text" },
	};
	put("ca.pem", "x");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = strlen(bad[i].text);
		if (i == sizeof bad / sizeof bad[0] - 1)
			len = 9; /* with its NUL byte */
		write_file(cdir, "pkscred", bad[i].text, len);
		load_fails(bad[i].why);
	}
}
END_TEST

START_TEST(id_above_32_bits_is_refused)
{
	put("ca.pem", "x");
	put("pkscred", "4294967296:Sekr3t\n");
	load_fails("32 bits");
	put("pkscred", "99999999999:Sekr3t\n");
	load_fails("ID");
	put("pkscred", "0000000007:Sekr3t\n");
	struct pks_config cfg;
	char why[256];
	ck_assert_int_eq(load(&cfg, why, sizeof why), 0);
	ck_assert_uint_eq(cfg.client_id, 7);
	pks_config_wipe(&cfg);
}
END_TEST

START_TEST(secret_longer_than_127_bytes_is_refused)
{
	char line[200];
	struct pks_config cfg;
	char why[256];
	put("ca.pem", "x");
	memcpy(line, "1:", 2);
	memset(line + 2, 'S', 127);
	line[129] = '\n';
	write_file(cdir, "pkscred", line, 130);
	ck_assert_int_eq(load(&cfg, why, sizeof why), 0);
	ck_assert_uint_eq(strlen(cfg.secret), 127);
	pks_config_wipe(&cfg);
	memset(line + 2, 'S', 128);
	line[130] = '\n';
	write_file(cdir, "pkscred", line, 131);
	load_fails("1 to 127 bytes");
}
END_TEST

START_TEST(only_plain_https_urls_are_accepted)
{
	static const char *bad[] = { "http://127.0.0.1:7443", "https://",
		"ftp://x", "127.0.0.1:7443", "https://h/x?y=1", "https://h/#f",
		"https://u:p@h", "https://h /x" };
	put("ca.pem", "x");
	put("pkscred", "1:Sekr3t\n");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put("pksurl", bad[i]);
		load_fails("pksurl");
	}
	char longurl[300] = "https://";
	memset(longurl + 8, 'h', 260);
	longurl[268] = '\0';
	put("pksurl", longurl);
	load_fails("longer than 255");
}
END_TEST

START_TEST(bad_timeouts_are_refused)
{
	static const char *bad[] = { "0", "3601", "ten", "-5", "1.5" };
	put("ca.pem", "x");
	put("pkscred", "1:Sekr3t\n");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put("timeoutpks", bad[i]);
		load_fails("timeoutpks");
	}
	put("timeoutpks", "3600");
	put("timeoutpksconnect", "0");
	load_fails("timeoutpksconnect");
}
END_TEST

Suite *module_suite(void)
{
	Suite *s = suite_create("pksconfig");
	TCase *cfg_tc = tcase_create("config");
	tcase_add_checked_fixture(cfg_tc, config_setup, config_teardown);
	tcase_add_test(cfg_tc, config_defaults_apply_when_control_files_are_absent);
	tcase_add_test(cfg_tc, config_reads_url_timeouts_and_credentials);
	tcase_add_test(cfg_tc, missing_credential_file_is_an_error);
	tcase_add_test(cfg_tc, missing_ca_file_is_an_error);
	tcase_add_test(cfg_tc, malformed_credentials_are_refused);
	tcase_add_test(cfg_tc, id_above_32_bits_is_refused);
	tcase_add_test(cfg_tc, secret_longer_than_127_bytes_is_refused);
	tcase_add_test(cfg_tc, only_plain_https_urls_are_accepted);
	tcase_add_test(cfg_tc, bad_timeouts_are_refused);
	suite_add_tcase(s, cfg_tc);
	return s;
}
