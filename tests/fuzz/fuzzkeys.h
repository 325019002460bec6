/*
 * fuzzkeys - a fixed test CA, key and PEK (fuzz@example.org) so that the
 * corpus of sealed messages stays valid, and the fixed secret of the
 * edhd clients the session corpus authenticates as. Test material only: never used
 * outside tests/fuzz.
 */
#ifndef SQ_FUZZKEYS_H
#define SQ_FUZZKEYS_H

static const char fuzz_ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBaDCCAQ6gAwIBAgIUQADvW8XPHj0dMEXWlQi7ivcpQS4wCgYIKoZIzj0EAwIw\n"
	"EjEQMA4GA1UEAwwHZnV6eiBDQTAeFw0yNjExMjcxNTIyMTBaFw00NjExMjIxNTI3\n"
	"MTBaMBIxEDAOBgNVBAMMB2Z1enogQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\n"
	"AARsv979mJsohmVMlS9maqThSNMI6e/uLK8/LvMWUDi8R6TPvzPPysNZrxHdI56R\n"
	"9VDH8keVBC72gOoCjy3OWVZbo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB\n"
	"/wQEAwIBBjAdBgNVHQ4EFgQUSMeGxhiIOZoedvS9ft9unLg+K+UwCgYIKoZIzj0E\n"
	"AwIDSAAwRQIhAPlUesTQzrttzMjCEsVEsmBjam1K+EyLBYT8oHw8fKIqAiAVmEdb\n"
	"lEQienIdpnkCO1HezTPwPS/F6jwdUrJPd19k8g==\n"
	"-----END CERTIFICATE-----\n";

static const char fuzz_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDEpDgOUgrQULQt18\n"
	"EKQUPAl+O7xZn0qbLHhr9HKZ+zOhRANCAARuLEOQCIgqYzcjfwHyMsl82FW3UTRd\n"
	"mHGrJx/PjjAhgm4zPTYh9AjX6FolKnLH1jpCXLXJYKjhRDJEJWj4yfpZ\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_pek_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBwzCCAWmgAwIBAgIUcjlD05HKOaDPvKCoFWedzNqoWXswCgYIKoZIzj0EAwIw\n"
	"EjEQMA4GA1UEAwwHZnV6eiBDQTAeFw0yNjExMjcxNTIyMTBaFw0zNjExMjQxNTI3\n"
	"MTBaMBsxGTAXBgNVBAMMEGZ1enpAZXhhbXBsZS5vcmcwWTATBgcqhkjOPQIBBggq\n"
	"hkjOPQMBBwNCAARuLEOQCIgqYzcjfwHyMsl82FW3UTRdmHGrJx/PjjAhgm4zPTYh\n"
	"9AjX6FolKnLH1jpCXLXJYKjhRDJEJWj4yfpZo4GTMIGQMAwGA1UdEwEB/wQCMAAw\n"
	"DgYDVR0PAQH/BAQDAgMIMBMGA1UdJQQMMAoGCCsGAQUFBwMEMBsGA1UdEQQUMBKB\n"
	"EGZ1enpAZXhhbXBsZS5vcmcwHQYDVR0OBBYEFJ615hMWeFk/yNBGeJpjyR7NUgzz\n"
	"MB8GA1UdIwQYMBaAFEjHhsYYiDmaHnb0vX7fbpy4PivlMAoGCCqGSM49BAMCA0gA\n"
	"MEUCIQDQSDAbAwrW0A2mXrDVgHcK/GRA2WTwERGSvdQGMakNWAIgRP+KrbTXVFzT\n"
	"C8wzUVp/YiXnoS/599BwnYOu9OTUTrw=\n"
	"-----END CERTIFICATE-----\n";

/* The secret of the edhd clients of fuzz_edhsession (id 1 deliver, id 2
 * retrieve): CLIENTSECRET_LEN base64url characters. */
#define FUZZ_EDH_SECRET "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuz"

#endif
