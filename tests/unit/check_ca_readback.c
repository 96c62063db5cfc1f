/*
 * Unit tests for ca/ca_readback.c: issue and renew report success only
 * when NAME.key, NAME.crt (and NAME.pem) still hold what was written. The
 * files are made in a temp dir with in-memory certificates, then replaced
 * the ways a collision would: another certificate, another serial, a CRL,
 * a missing key.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca_cert.h"
#include "ca_readback.h"
#include "data/testcert.h"

Suite *ca_readback_suite(void);

static char tmp[64];
static EVP_PKEY *k1, *k2;
static X509 *x1, *x2, *x3;
static struct ca_index_entry e;

static void
path_of(char *buf, size_t len, const char *file)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/%s", tmp, file), (int)len);
}

static void
put_cert(const char *file, X509 *x)
{
	char p[128];

	path_of(p, sizeof(p), file);
	testcert_write_cert(p, x);
}

static void
put_key(const char *file, EVP_PKEY *k)
{
	char p[128];

	path_of(p, sizeof(p), file);
	testcert_write_key(p, k, 0600);
}

/* NAME.pem as cotai-ca writes it: certificate, then key. */
static void
put_combined(X509 *x, EVP_PKEY *k)
{
	char p[128];
	FILE *fp;

	path_of(p, sizeof(p), "w.pem");
	ck_assert_ptr_nonnull(fp = fopen(p, "w"));
	ck_assert_int_eq(PEM_write_X509(fp, x), 1);
	ck_assert_int_eq(
	    PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL), 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(p, 0600), 0);
}

static void
setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/check_ca_readback.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	k1 = testcert_key();
	k2 = testcert_key();
	x1 = testcert_make(k1, "w", NULL);
	/* Same serial, another key; then the right key, another serial. */
	x2 = testcert_make(k2, "w", NULL);
	x3 = testcert_build(k1, 77, "w", NULL, NULL, 2);
	testcert_sign(x3, k1);
	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "w");
	ck_assert_int_eq(ca_cert_serial_hex(x1, e.serial, sizeof(e.serial)), 0);
	put_key("w.key", k1);
	put_cert("w.crt", x1);
	put_combined(x1, k1);
}

static void
teardown(void)
{
	static const char *const files[] = {"w.key", "w.crt", "w.pem"};
	char p[128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path_of(p, sizeof(p), files[i]);
		unlink(p);
	}
	rmdir(tmp);
	X509_free(x1);
	X509_free(x2);
	X509_free(x3);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

START_TEST(as_written)
{
	ck_assert_int_eq(ca_readback_check(tmp, &e, 0), 0);
	ck_assert_int_eq(ca_readback_check(tmp, &e, 1), 0);
}
END_TEST

START_TEST(cert_replaced)
{
	put_cert("w.crt", x2);
	ck_assert_int_eq(ca_readback_check(tmp, &e, 0), -1);
	put_cert("w.crt", x3);
	ck_assert_int_eq(ca_readback_check(tmp, &e, 0), -1);
}
END_TEST

START_TEST(cert_replaced_by_crl)
{
	char p[128];

	/* What "issue crl --combined" did: the CRL over NAME.pem. */
	path_of(p, sizeof(p), "w.pem");
	testcert_write_crl(p, x1, k1);
	ck_assert_int_eq(chmod(p, 0600), 0);
	ck_assert_int_eq(ca_readback_check(tmp, &e, 0), 0);
	ck_assert_int_eq(ca_readback_check(tmp, &e, 1), -1);
	/* What "issue ca" did: the root over NAME.crt. */
	put_cert("w.crt", x2);
	ck_assert_int_eq(ca_readback_check(tmp, &e, 0), -1);
}
END_TEST

START_TEST(key_replaced_or_gone)
{
	char p[128];

	put_key("w.key", k2);
	ck_assert_int_eq(ca_readback_check(tmp, &e, 0), -1);
	path_of(p, sizeof(p), "w.key");
	unlink(p);
	ck_assert_int_eq(ca_readback_check(tmp, &e, 0), -1);
	put_key("w.key", k1);
	put_combined(x1, k2);
	ck_assert_int_eq(ca_readback_check(tmp, &e, 1), -1);
}
END_TEST

Suite *
ca_readback_suite(void)
{
	Suite *s = suite_create("ca_readback");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, as_written);
	tcase_add_test(tc, cert_replaced);
	tcase_add_test(tc, cert_replaced_by_crl);
	tcase_add_test(tc, key_replaced_or_gone);
	suite_add_tcase(s, tc);
	return (s);
}
