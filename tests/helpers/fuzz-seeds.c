/*
 * fuzz-seeds - writes the structured seeds of the fuzz corpora into DIR
 * (tests/fuzz/corpus): messages sealed by the project's own seal code for
 * the fixed test PEK of tests/fuzz/fuzzkeys.h, as DER for seal_open and
 * sealcheck (fuzzcms.h) and inside whole sessions for edhsession; the
 * test certificates and the wrapped key of the pdk corpus as DER; the
 * envelopes and messages of the sealer; and SMTP, POP3, PKS API and
 * control-file sessions. Seals are random (an ephemeral key, an IV), so
 * running it again makes new files, not the same ones: run it when a
 * target's input format changes, then let make fuzz-long merge.
 *   fuzz-seeds DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../fuzz/fuzzcms.h"
#include "../fuzz/fuzzkeys.h"
#include "crypto/pki.h"
#include "crypto/seal.h"
#include "util/sbuf.h"

static const char *root;

static void die(const char *what)
{
	fprintf(stderr, "fuzz-seeds: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Writes root/target/name. */
static void seed(const char *target, const char *name, const void *data,
                 size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", root, target);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
		die(path);
}

static void seed_str(const char *target, const char *name, const char *text)
{
	seed(target, name, text, strlen(text));
}

/* The stored form of plain sealed for the test PEK: the size line and
 * the S/MIME entity, as the sealer queues it. */
static void sealed(const char *plain, struct sbuf *out)
{
	static X509 *pek;
	if (!pek && !(pek = pki_cert_from_pem(fuzz_pek_pem,
	                                      sizeof fuzz_pek_pem - 1)))
		die("the test PEK");
	int fd = memfd_create("seed", 0);
	if (fd < 0 || seal_mem(plain, strlen(plain), fd, pek, NULL) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0 || sbuf_read_fd(out, fd) < 0)
		die("seal");
	close(fd);
}

/* The CMS structure of an S/MIME entity: its base64 body decoded. */
static void der_of(const struct sbuf *smime, struct sbuf *der)
{
	const char *body = memmem(smime->s, smime->len, "\n\n", 2);
	if (!body)
		die("no body in the sealed message");
	body += 2;
	int inl = (int)(smime->s + smime->len - body);
	unsigned char *buf = malloc((size_t)inl);
	int n = 0, fin = 0;
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	EVP_DecodeInit(ctx);
	if (!buf || EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)body,
	                             inl) < 0 ||
	    EVP_DecodeFinal(ctx, buf + n, &fin) < 0 ||
	    sbuf_put(der, buf, (size_t)(n + fin)) < 0)
		die("base64");
	EVP_ENCODE_CTX_free(ctx);
	free(buf);
}

/* seal_open and sealcheck: each plaintext's CMS as DER. */
static void cms_seeds(void)
{
	for (size_t i = 0; i < sizeof fuzzcms_plaintexts / sizeof fuzzcms_plaintexts[0]; i++) {
		struct sbuf s, d;
		char name[64];
		sbuf_init(&s, 1 << 20);
		sbuf_init(&d, 1 << 20);
		sealed(fuzzcms_plaintexts[i][1], &s);
		der_of(&s, &d);
		snprintf(name, sizeof name, "der-%s", fuzzcms_plaintexts[i][0]);
		seed("seal_open", name, d.s, d.len);
		seed("sealcheck", name, d.s, d.len);
		sbuf_free(&s);
		sbuf_free(&d);
	}
}

/* Text as DATA sends it: CRLF line ends, dots stuffed, the end line. */
static void data_of(const char *text, size_t len, struct sbuf *out)
{
	int bol = 1;
	for (size_t i = 0; i < len; i++) {
		if (bol && text[i] == '.')
			sbuf_putc(out, '.');
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			sbuf_putc(out, '\r');
		sbuf_putc(out, text[i]);
		bol = text[i] == '\n';
	}
	if (!bol)
		sbuf_puts(out, "\r\n");
	sbuf_puts(out, ".\r\n");
}

/* AUTH PLAIN's argument for client id with the test secret. */
static void auth_plain(const char *id, char *out)
{
	unsigned char raw[128];
	size_t n = 0;
	raw[n++] = '\0';
	memcpy(raw + n, id, strlen(id));
	n += strlen(id);
	raw[n++] = '\0';
	memcpy(raw + n, FUZZ_EDH_SECRET, sizeof FUZZ_EDH_SECRET - 1);
	n += sizeof FUZZ_EDH_SECRET - 1;
	EVP_EncodeBlock((unsigned char *)out, raw, (int)n);
}

static void edh_seeds(void)
{
	char a1[200], a2[200];
	struct sbuf msg, s;
	auth_plain("1", a1);
	auth_plain("2", a2);
	sbuf_init(&msg, 1 << 20);
	sbuf_init(&s, 1 << 20);
	sealed(fuzzcms_plaintexts[1][1], &msg);
	sbuf_printf(&s, "LHLO fuzz\r\nAUTH PLAIN %s\r\nMAIL FROM:<a@example.org> "
	            "SIZE=%zu\r\nRCPT TO:<1a2b3c4d-17>\r\nRCPT TO:<0badf00d-1>\r\n"
	            "RCPT TO:<bad>\r\nDATA\r\n", a1, msg.len);
	data_of(msg.s, msg.len, &s);
	sbuf_printf(&s, "RSET\r\nNOOP\r\nQUIT\r\n=RETRIEVE=\r\nAUTH PLAIN %s\r\n"
	            "MAILBOX 1a2b3c4d-17\r\nLIST\r\nFETCH 1700000000.M1P1.fuzz\r\n"
	            "DELETE 1700000000.M1P1.fuzz\r\nLIST\r\nQUIT\r\n", a2);
	seed("edhsession", "deliver-retrieve", s.s, s.len);
	sbuf_truncate(&s, 0);
	sbuf_printf(&s, "LHLO fuzz\r\nAUTH PLAIN %s\r\nMAIL FROM:<>\r\n"
	            "RCPT TO:<1a2b3c4d-17>\r\nDATA\r\nSubject: not sealed\r\n\r\n"
	            "plain\r\n.\r\nAUTH PLAIN %s\r\nMAIL FROM:<a@b> BODY=8BITMIME\r\n"
	            "QUIT\r\n", a1, a2);
	seed("edhsession", "refused-plain", s.s, s.len);
	sbuf_truncate(&s, 0);
	sbuf_printf(&s, "LHLO fuzz\r\nMAIL FROM:<a@b>\r\nAUTH PLAIN %s\r\nAUTH "
	            "PLAIN AGEAYg==\r\nAUTH LOGIN\r\nAUTH PLAIN\r\nQUIT\r\n", a2);
	seed("edhsession", "auth-fail", s.s, s.len);
	sbuf_truncate(&s, 0);
	sbuf_printf(&s, "=RETRIEVE=\r\nAUTH PLAIN %s\r\nMAILBOX 0badf00d-1\r\n"
	            "LIST\r\nFETCH x\r\nMAILBOX bad\r\nQUIT\r\n", a2);
	seed("edhsession", "retrieve-empty", s.s, s.len);
	sbuf_free(&msg);
	sbuf_free(&s);
}

/* An envelope and a message, as sq-seal hands them to the sealer. */
static void sealer_seed(const char *name, const char *env, size_t envlen,
                        const char *msg)
{
	struct sbuf s;
	sbuf_init(&s, 1 << 20);
	sbuf_put(&s, env, envlen);
	sbuf_puts(&s, msg);
	seed("sealer", name, s.s, s.len);
	sbuf_free(&s);
}

#define ENV(lit) lit, sizeof lit - 1

static void sealer_seeds(void)
{
	const char *m = "From: a@example.org\nSubject: hi\n\nbody\n";
	sealer_seed("sealed", ENV("Fa@remote.example\0Tfuzz@example.org\0\0"), m);
	sealer_seed("remote", ENV("Ffuzz@example.org\0Tb@remote.example\0\0"), m);
	sealer_seed("keyless-notice", ENV("Ffuzz@example.org\0Tnokey@example.org"
	            "\0Tfuzz@v.example.net\0\0"), m);
	sealer_seed("keyless-remote-sender", ENV("Fa@remote.example\0"
	            "Tnokey@example.org\0Tfuzz@example.org\0\0"), m);
	sealer_seed("null-sender", ENV("F\0Tnokey@example.org\0Tfuzz@example.org"
	            "\0\0"), m);
	sealer_seed("postmaster", ENV("Fa@b.example\0TPostmaster\0"
	            "Tpostmaster@example.org\0\0"), m);
	sealer_seed("all-keyless", ENV("Fa@b.example\0Tnokey@example.org\0\0"), m);
	sealer_seed("bad-envelope", ENV("Xa\0\0"), m);
}

static void smtp_seeds(void)
{
	seed_str("smtpsession", "relay",
	         "EHLO relay\r\nMAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME\r\n"
	         "RCPT TO:<b@relay.example.com>\r\nRCPT TO:<fuzz@example.org>\r\n"
	         "RCPT TO:<postmaster>\r\nDATA\r\nReceived: x\r\nSubject: hi\r\n"
	         "\r\nbody\r\n..dot\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<c@x.example.net>"
	         "\r\nDATA\r\nshort\r\n.\r\nRSET\r\nQUIT\r\n");
	seed_str("smtpsession", "refused",
	         "MAIL FROM:<a@b>\r\nHELO there\r\nMAIL FROM:<bad@example.org>\r\n"
	         "MAIL FROM:<x@spam.example>\r\nMAIL FROM:<a@b> SIZE=99999999\r\n"
	         "MAIL FROM:<a@b>\r\nMAIL FROM:<c@d>\r\nRCPT TO:<x@elsewhere.example>"
	         "\r\nDATA\r\nSTARTTLS\r\nVRFY x\r\nNOOP\r\nHELP\r\nQUIT\r\n");
	seed_str("smtpsession", "bare-lf",
	         "EHLO relay\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@relay.example.com>\r\n"
	         "DATA\r\nline\nbare\r\n.\r\n");
	seed_str("smtpsession", "pipelined",
	         "EHLO relay\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@relay.example.com>\r\n"
	         "DATA\r\nx\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<y@relay.example.com>"
	         "\r\nDATA\r\ny\r\n.\r\nQUIT\r\n");
}

/* The DER of each PEM block of text (a certificate, an encrypted key). */
static void pem_der_seed(const char *target, const char *name,
                         const char *text, size_t len)
{
	char *pemname = NULL, *header = NULL;
	unsigned char *der = NULL;
	long n = 0;
	BIO *b = BIO_new_mem_buf(text, (int)len);
	if (!b || !PEM_read_bio(b, &pemname, &header, &der, &n))
		die(name);
	seed(target, name, der, (size_t)n);
	OPENSSL_free(pemname);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(b);
}

/* pek: the test CA and PEK as DER; pdk: the corpus's cheap wrapped key
 * (a real one costs a full scrypt per input) as DER. */
static void der_seeds(void)
{
	struct sbuf cheap;
	char path[4096];
	pem_der_seed("pek", "der-pek", fuzz_pek_pem, sizeof fuzz_pek_pem - 1);
	pem_der_seed("pek", "der-ca", fuzz_ca_pem, sizeof fuzz_ca_pem - 1);
	snprintf(path, sizeof path, "%s/pdk/cheap-scrypt", root);
	FILE *f = fopen(path, "rb");
	sbuf_init(&cheap, 1 << 16);
	if (!f || sbuf_read_fd(&cheap, fileno(f)) < 0)
		die(path);
	fclose(f);
	pem_der_seed("pdk", "der-cheap-scrypt", cheap.s, cheap.len);
	sbuf_free(&cheap);
}

static void pop3_seeds(void)
{
	seed_str("pop3", "session",
	         "STAT\r\nLIST\r\nLIST 1\r\nUIDL\r\nUIDL 2\r\nRETR 1\r\nTOP 2 1\r\n"
	         "TOP 1 0\r\nDELE 1\r\nRETR 1\r\nRSET\r\nRETR 3\r\nCAPA\r\nNOOP\r\n"
	         "QUIT\r\n");
	seed_str("pop3", "session-errors",
	         "RETR 4\r\nRETR 0\r\nTOP 1\r\nDELE 01\r\nXYZZY\r\n\r\nlist 2\r\n"
	         "QUIT now\r\nQUIT\r\n");
}

static void pksapi_seeds(void)
{
	static const char *const reqs[][2] = {
		{ "health", "GET /v1/health HTTP/1.1\r\nAuthorization: Basic "
		  "MTpzZWNyZXQ=\r\n\r\n" },
		{ "peks", "GET /v1/keys/0badf00d HTTP/1.1\r\n\r\n" },
		{ "pdks", "GET /v1/keys/0badf00d/pdk HTTP/1.1\r\n\r\n" },
		{ "create", "POST /v1/keys HTTP/1.1\r\nContent-Type: application/json"
		  "\r\n\r\n{\"address\": \"Fuzz@Example.org\", \"pek\": \"p\", "
		  "\"pdk\": \"d\"}" },
		{ "version", "POST /v1/keys/0badf00d/versions HTTP/1.1\r\n\r\n"
		  "{\"address\": \"a@b\", \"pek\": \"p\", \"pdk\": \"d\", \"x\": 1}" },
		{ "put-pdk", "PUT /v1/keys/0badf00d/rows/17/pdk HTTP/1.1\r\n\r\n"
		  "{\"pdk\": \"wrapped\"}" },
		{ "delete", "DELETE /v1/addresses/a%40example.org HTTP/1.1\r\n\r\n" },
		{ "availability", "GET /v1/addresses/a%40example.org/availability "
		  "HTTP/1.1\r\n\r\n" },
		{ "login-failure", "POST /v1/keys/0badf00d/rows/9007199254740991/"
		  "login-failure HTTP/1.1\r\n\r\n" },
		{ "login-success", "POST /v1/keys/0badf00d/rows/1/login-success?x=1 "
		  "HTTP/1.1\r\n\r\n" },
		{ "wrong-method", "PUT /v1/health HTTP/1.1\r\n\r\n" },
		{ "duplicate-key", "POST /v1/keys HTTP/1.1\r\n\r\n{\"pdk\": \"a\", "
		  "\"pdk\": \"b\"}" },
	};
	for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
		seed_str("pksapi", reqs[i][0], reqs[i][1]);
}

static void localconf_seeds(void)
{
	seed_str("localconf", "instance",
	         "==rcpthosts\nexample.org\n.example.net\n==locals\nexample.org\n"
	         "==virtualdomains\nv.example.net:vv\n==postmaster\nfuzz@example.org\n"
	         "==assign\n=fuzz:sqmail:1000:1000:@HOME@:::\n"
	         "+vv-:sqmail:1000:1000:@HOME@:-:ext:\n.\n"
	         "==qmail\n# the subscriber\n%sealed Fuzz@Example.org\n"
	         "==qmail-ext\n%sealed vv@v.example.net\n"
	         "==addresses\nfuzz@example.org\nFUZZ@example.org\npostmaster\n"
	         "postmaster@example.org\nx@v.example.net\nnobody@example.org\n"
	         "a@elsewhere.example\n");
	seed_str("localconf", "bad-files",
	         "==rcpthosts\nexample.org\n==locals\nexample.org\n==sealwait\nx\n"
	         "==assign\n=fuzz:u:1:1:@HOME@:::\n"
	         "==qmail\n./Maildir/\n|forward\n==addresses\nfuzz@example.org\n");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds DIR\n");
		return 2;
	}
	root = argv[1];
	cms_seeds();
	der_seeds();
	edh_seeds();
	sealer_seeds();
	smtp_seeds();
	pop3_seeds();
	pksapi_seeds();
	localconf_seeds();
	return 0;
}
