/*
 * testcert: certificates made in memory for the config, identity and policy
 * unit tests (included by each; the Makefile only compiles check_*.c).
 * Everything here aborts the test on failure through ck_assert.
 */
#ifndef COTAI_TESTCERT_H
#define COTAI_TESTCERT_H

#include <check.h>
#include <stdio.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TESTCERT_UNUSED __attribute__((unused))

/* A new EC P-256 key. */
static TESTCERT_UNUSED EVP_PKEY *
testcert_key(void)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	ck_assert_ptr_nonnull(pk);
	return (pk);
}

/* Add an extension in OpenSSL's config syntax ("URI:spiffe://a/b,..."). */
static TESTCERT_UNUSED void
testcert_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/*
 * An unsigned certificate for KEY: serial, subject CN (if not NULL; cn2 adds
 * a second CN), SANs (if not NULL, e.g. "URI:spiffe://td/x,DNS:x"), valid
 * from now for DAYS.
 */
static TESTCERT_UNUSED X509 *
testcert_build(EVP_PKEY *key, long serial, const char *cn, const char *cn2,
    const char *sans, int days)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert_ptr_nonnull(
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * days));
	if (cn != NULL)
		ck_assert_int_eq(
		    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
			(const unsigned char *)cn, -1, -1, 0),
		    1);
	if (cn2 != NULL)
		ck_assert_int_eq(
		    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
			(const unsigned char *)cn2, -1, -1, 0),
		    1);
	ck_assert_int_eq(X509_set_subject_name(x, name), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
	X509_NAME_free(name);
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	if (sans != NULL)
		testcert_ext(x, NID_subject_alt_name, sans);
	return (x);
}

static TESTCERT_UNUSED void
testcert_sign(X509 *x, EVP_PKEY *key)
{
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
}

/* A signed self-signed certificate (see testcert_build). */
static TESTCERT_UNUSED X509 *
testcert_make(EVP_PKEY *key, const char *cn, const char *sans)
{
	X509 *x = testcert_build(key, 0x1234abcdL, cn, NULL, sans, 2);

	testcert_sign(x, key);
	return (x);
}

/* Write X (and a chain of nothing else) as PEM to PATH. */
static TESTCERT_UNUSED void
testcert_write_cert(const char *path, X509 *x)
{
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(PEM_write_X509(fp, x), 1);
	ck_assert_int_eq(fclose(fp), 0);
}

/* Write KEY unencrypted as PEM to PATH with MODE. */
static TESTCERT_UNUSED void
testcert_write_key(const char *path, EVP_PKEY *key, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(
	    PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* Write an empty CRL issued by X and signed with KEY to PATH. */
static TESTCERT_UNUSED void
testcert_write_crl(const char *path, X509 *x, EVP_PKEY *key)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = X509_gmtime_adj(NULL, 0);
	FILE *fp;

	ck_assert_ptr_nonnull(crl);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(X509_CRL_set_version(crl, 1), 1);
	ck_assert_int_eq(
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(x)), 1);
	ck_assert_int_eq(X509_CRL_set1_lastUpdate(crl, t), 1);
	ck_assert_int_gt(X509_CRL_sign(crl, key, EVP_sha256()), 0);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_int_eq(PEM_write_X509_CRL(fp, crl), 1);
	ck_assert_int_eq(fclose(fp), 0);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
}

#endif
