/*
 * Unit tests for lib/identity.c: names from certificates made in memory,
 * and SPIFFE ID validation.
 */
#include <check.h>
#include <string.h>
#include <time.h>

#include "data/testcert.h"
#include "identity.h"

Suite *identity_suite(void);

/* A signed self-signed certificate with the given CN(s) and SANs. */
static X509 *
cert_with(const char *cn, const char *cn2, const char *sans)
{
	EVP_PKEY *k = testcert_key();
	X509 *x = testcert_build(k, 0x1234abcdL, cn, cn2, sans, 2);

	testcert_sign(x, k);
	EVP_PKEY_free(k);
	return (x);
}

/* A certificate with one URI SAN holding LEN raw bytes. */
static X509 *
cert_raw_uri(const char *bytes, int len)
{
	EVP_PKEY *k = testcert_key();
	X509 *x = testcert_build(k, 7, "raw", NULL, NULL, 2);
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	ck_assert_ptr_nonnull(gens);
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(ASN1_STRING_set(s, bytes, len), 1);
	GENERAL_NAME_set0_value(g, GEN_URI, s);
	ck_assert_int_gt(sk_GENERAL_NAME_push(gens, g), 0);
	ck_assert_int_eq(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
			     X509V3_ADD_DEFAULT),
	    1);
	GENERAL_NAMES_free(gens);
	testcert_sign(x, k);
	EVP_PKEY_free(k);
	return (x);
}

/* A certificate whose only CN is a UTF8String of LEN raw bytes. */
static X509 *
cert_raw_cn(const char *bytes, int len)
{
	EVP_PKEY *k = testcert_key();
	X509 *x = testcert_build(k, 7, NULL, NULL, NULL, 2);
	X509_NAME *name = X509_NAME_new();

	ck_assert_int_eq(
	    X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING,
		(const unsigned char *)bytes, len, -1, 0),
	    1);
	ck_assert_int_eq(X509_set_subject_name(x, name), 1);
	X509_NAME_free(name);
	testcert_sign(x, k);
	EVP_PKEY_free(k);
	return (x);
}

/* identity_from_x509 on X, which is freed. */
static int
from(X509 *x, struct identity *id)
{
	int rc = identity_from_x509(x, id);

	X509_free(x);
	return (rc);
}

START_TEST(workload_cert)
{
	struct identity id;
	time_t now = time(NULL);

	ck_assert_int_eq(from(cert_with("backend", NULL,
				  "URI:spiffe://cotai.internal/backend,"
				  "DNS:backend,DNS:backend.svc"),
			     &id),
	    0);
	ck_assert_str_eq(id.spiffe, "spiffe://cotai.internal/backend");
	ck_assert_str_eq(id.name, "backend");
	ck_assert_str_eq(id.trust_domain, "cotai.internal");
	ck_assert_str_eq(id.cn, "backend");
	ck_assert_str_eq(id.serial, "1234ABCD");
	ck_assert_int_ge(id.not_after, now + 2 * 86400 - 60);
	ck_assert_int_le(id.not_after, now + 2 * 86400 + 60);
	identity_clear(&id);
	ck_assert_ptr_null(id.spiffe);
	ck_assert_ptr_null(id.cn);
	ck_assert_str_eq(id.serial, "");
}
END_TEST

START_TEST(nested_path_and_other_uris)
{
	static const char *const extra[] = {
	    "URI:https://example.com/x,URI:spiffe://td/jobs/nightly",
	    "URI:spiffe://td/jobs/nightly,URI:https://td/admin",
	    "URI:spiffe://td/jobs/nightly,URI:urn:x",
	    "URI:spiffe://td/jobs/nightly,URI:spiffe://td/jobs/nightly"};
	struct identity id;

	/* X.509-SVID: the SPIFFE ID is the certificate's only URI SAN. */
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		memset(&id, 0xa5, sizeof(id));
		ck_assert_msg(from(cert_with("x", NULL, extra[i]), &id) == -1,
		    "accepted %s", extra[i]);
		ck_assert_ptr_null(id.spiffe);
	}
	/* Other kinds of SAN beside it are fine. */
	ck_assert_int_eq(from(cert_with(NULL, NULL,
				  "DNS:nightly,URI:spiffe://td/jobs/nightly,"
				  "email:a@b.c,IP:10.0.0.1"),
			     &id),
	    0);
	ck_assert_str_eq(id.spiffe, "spiffe://td/jobs/nightly");
	ck_assert_str_eq(id.name, "jobs/nightly");
	ck_assert_str_eq(id.trust_domain, "td");
	ck_assert_ptr_null(id.cn);
	identity_clear(&id);

	ck_assert_int_eq(from(cert_with("x", NULL, "URI:spiffe://td"), &id), 0);
	ck_assert_str_eq(id.spiffe, "spiffe://td");
	ck_assert_str_eq(id.trust_domain, "td");
	ck_assert_ptr_null(id.name);
	identity_clear(&id);
}
END_TEST

START_TEST(no_spiffe)
{
	struct identity id;

	ck_assert_int_eq(from(cert_with("legacy", NULL, NULL), &id), 0);
	ck_assert_ptr_null(id.spiffe);
	ck_assert_ptr_null(id.name);
	ck_assert_ptr_null(id.trust_domain);
	ck_assert_str_eq(id.cn, "legacy");
	identity_clear(&id);

	ck_assert_int_eq(
	    from(cert_with("legacy", NULL, "DNS:legacy,URI:https://legacy/"),
		&id),
	    0);
	ck_assert_ptr_null(id.spiffe);
	ck_assert_str_eq(id.cn, "legacy");
	identity_clear(&id);
}
END_TEST

START_TEST(malformed)
{
	static const char *const sans[] = {
	    "URI:spiffe://td/a,URI:spiffe://td/b",
	    "URI:spiffe://td/a,URI:spiffe://td/a",
	    "URI:spiffe://TD/a",
	    "URI:spiffe://td/a/../b",
	    "URI:spiffe://td:8443/a",
	    "URI:spiffe://td/a?x=1",
	    "URI:SPIFFE://td/a",
	    "URI:spiffe://user@td/a",
	    "URI:spiffe://td/",
	};
	struct identity id;

	for (size_t i = 0; i < sizeof(sans) / sizeof(sans[0]); i++) {
		ck_assert_msg(from(cert_with("x", NULL, sans[i]), &id) == -1,
		    "accepted %s", sans[i]);
		identity_clear(&id);
		ck_assert_ptr_null(id.spiffe);
	}
	ck_assert_int_eq(from(cert_raw_uri("spiffe://td/a\0b", 15), &id), -1);
	identity_clear(&id);
	ck_assert_int_eq(
	    from(cert_raw_uri("spiffe://td/\xc3\xa4", 14), &id), -1);
	identity_clear(&id);
	ck_assert_int_eq(
	    from(cert_with("a", "b", "URI:spiffe://td/a"), &id), -1);
	identity_clear(&id);
	ck_assert_int_eq(from(cert_raw_cn("ab\0c", 4), &id), -1);
	identity_clear(&id);
	/*
	 * (A CN that is not UTF-8 cannot be made here: OpenSSL refuses to
	 * encode such a name; identity_cn() still checks the conversion.)
	 */
	ck_assert_int_eq(identity_from_x509(NULL, &id), -1);
	identity_clear(&id);
}
END_TEST

START_TEST(cn_utf8_and_serials)
{
	struct identity id;
	EVP_PKEY *k = testcert_key();
	X509 *x = testcert_build(k, 1,
	    "b\xc3\xa4"
	    "ckend",
	    NULL, NULL, 1);
	BIGNUM *bn = NULL;

	/* A 20-byte serial, as cotai-ca issues (128 random bits or more). */
	ck_assert_int_gt(BN_hex2bn(&bn,
			     "7F0102030405060708090A0B0C0D0E0F"
			     "10111213"),
	    0);
	ck_assert_ptr_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	testcert_sign(x, k);
	EVP_PKEY_free(k);
	ck_assert_int_eq(from(x, &id), 0);
	ck_assert_str_eq(id.cn,
	    "b\xc3\xa4"
	    "ckend");
	ck_assert_str_eq(id.serial, "7F0102030405060708090A0B0C0D0E0F10111213");
	identity_clear(&id);
	identity_clear(&id);
	identity_clear(NULL);
}
END_TEST

Suite *
identity_suite(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("identity");

	tcase_add_test(tc, workload_cert);
	tcase_add_test(tc, nested_path_and_other_uris);
	tcase_add_test(tc, no_spiffe);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, cn_utf8_and_serials);
	suite_add_tcase(s, tc);
	return (s);
}
