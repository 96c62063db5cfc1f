/*
 * Unit tests for ca/ca_cert.c and ca/ca_crl.c: the certificate profiles
 * built in memory, name constraints, serials, the CRL.
 */
#include <check.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "ca_cert.h"
#include "ca_crl.h"
#include "ca_key.h"

Suite *ca_cert_suite(void);

#define NOW 1795847229

/* A root and intermediate made in memory for each test. */
struct pki {
	EVP_PKEY *root_key, *inter_key, *leaf_key;
	X509 *root, *inter;
};

static void
pki_make(struct pki *p, const char *const *permit, size_t npermit)
{
	memset(p, 0, sizeof(*p));
	p->root_key = ca_key_generate(CA_KEY_EC_P384);
	p->inter_key = ca_key_generate(CA_KEY_EC_P256);
	p->leaf_key = ca_key_generate(CA_KEY_EC_P256);
	ck_assert_ptr_nonnull(p->root_key);
	ck_assert_ptr_nonnull(p->inter_key);
	ck_assert_ptr_nonnull(p->leaf_key);
	p->root = ca_cert_root("cotai.test", p->root_key, NOW);
	ck_assert_ptr_nonnull(p->root);
	p->inter = ca_cert_intermediate("cotai.test", permit, npermit,
	    p->inter_key, p->root, p->root_key, NOW);
	ck_assert_ptr_nonnull(p->inter);
}

static void
pki_free(struct pki *p)
{
	X509_free(p->inter);
	X509_free(p->root);
	EVP_PKEY_free(p->leaf_key);
	EVP_PKEY_free(p->inter_key);
	EVP_PKEY_free(p->root_key);
}

static X509 *
leaf_for(struct pki *p, const char *name, const char *const *dns, size_t ndns,
    const char *const *ips, size_t nips, int64_t ttl)
{
	struct ca_cert_leaf_req r;

	memset(&r, 0, sizeof(r));
	r.name = name;
	r.trust_domain = "cotai.test";
	r.sans.dns = dns;
	r.sans.ndns = ndns;
	r.sans.ips = ips;
	r.sans.nips = nips;
	r.now = NOW;
	r.ttl = ttl;
	r.key = p->leaf_key;
	return (ca_cert_leaf(&r, p->inter, p->inter_key));
}

static int
is_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	ck_assert_int_ge(i, 0);
	return (X509_EXTENSION_get_critical(X509_get_ext(x, i)));
}

/* Count SANs of TYPE; the first one's text goes into BUF. */
static int
count_sans(X509 *x, int type, char *buf, size_t len)
{
	GENERAL_NAMES *gens =
	    X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int n = 0;

	ck_assert_ptr_nonnull(gens);
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type != type)
			continue;
		if (n++ == 0 && buf != NULL)
			snprintf(buf, len, "%.*s", g->d.ia5->length,
			    (const char *)g->d.ia5->data);
	}
	GENERAL_NAMES_free(gens);
	return (n);
}

START_TEST(leaf_profile)
{
	static const char *const dns[] = {"backend.local", "backend"};
	static const char *const ips[] = {"10.0.0.1", "::1"};
	struct pki p;
	X509 *x;
	BIGNUM *bn;
	char buf[256];
	int64_t nb, na;

	pki_make(&p, NULL, 0);
	x = leaf_for(&p, "backend", dns, 2, ips, 2, 7 * 86400);
	ck_assert_ptr_nonnull(x);
	/* Critical CA:FALSE, critical keyUsage digitalSignature only. */
	ck_assert_int_eq(X509_check_ca(x), 0);
	ck_assert_int_eq(is_critical(x, NID_basic_constraints), 1);
	ck_assert_int_eq(is_critical(x, NID_key_usage), 1);
	ck_assert_uint_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	ck_assert_uint_eq(
	    X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	ck_assert_int_eq(is_critical(x, NID_ext_key_usage), 0);
	/* One URI, DNS name + the new extra (duplicate dropped), two IPs. */
	ck_assert_int_eq(count_sans(x, GEN_URI, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "spiffe://cotai.test/backend");
	ck_assert_int_eq(count_sans(x, GEN_DNS, buf, sizeof(buf)), 2);
	ck_assert_str_eq(buf, "backend");
	ck_assert_int_eq(count_sans(x, GEN_IPADD, NULL, 0), 2);
	X509_NAME_get_text_by_NID(
	    X509_get_subject_name(x), NID_commonName, buf, sizeof(buf));
	ck_assert_str_eq(buf, "backend");
	/* SKI, AKI = the intermediate's SKI. */
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(x));
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
			     X509_get0_subject_key_id(p.inter)),
	    0);
	/* 128-bit positive serial. */
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	ck_assert_int_eq(BN_num_bits(bn), 128);
	ck_assert_int_eq(BN_is_negative(bn), 0);
	BN_free(bn);
	/* Backdated a minute, 7 days, signed by the intermediate. */
	ck_assert_int_eq(ca_cert_times(x, &nb, &na), 0);
	ck_assert_int_eq(nb, NOW - 60);
	ck_assert_int_eq(na, NOW + 7 * 86400);
	ck_assert_int_eq(X509_verify(x, p.inter_key), 1);
	X509_free(x);
	pki_free(&p);
}
END_TEST

START_TEST(rsa_leaf_key_encipherment)
{
	struct pki p;
	EVP_PKEY *ec;
	X509 *x;

	pki_make(&p, NULL, 0);
	ec = p.leaf_key;
	p.leaf_key = ca_key_generate(CA_KEY_RSA_3072);
	ck_assert_ptr_nonnull(p.leaf_key);
	x = leaf_for(&p, "postgres", NULL, 0, NULL, 0, 3600);
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(
	    X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	X509_free(x);
	EVP_PKEY_free(ec);
	pki_free(&p);
}
END_TEST

START_TEST(leaf_capped_at_issuer)
{
	struct pki p;
	X509 *x;
	int64_t nb, na, inb, ina;

	pki_make(&p, NULL, 0);
	x = leaf_for(&p, "backend", NULL, 0, NULL, 0, 800 * 86400);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(ca_cert_times(x, &nb, &na), 0);
	ck_assert_int_eq(ca_cert_times(p.inter, &inb, &ina), 0);
	ck_assert_int_eq(na, ina);
	X509_free(x);
	pki_free(&p);
}
END_TEST

START_TEST(ca_profiles)
{
	struct pki p;

	pki_make(&p, NULL, 0);
	ck_assert_int_eq(X509_check_ca(p.root), 1);
	ck_assert_int_eq(X509_get_pathlen(p.root), 1);
	ck_assert_int_eq(X509_get_pathlen(p.inter), 0);
	ck_assert_int_eq(is_critical(p.root, NID_basic_constraints), 1);
	ck_assert_int_eq(is_critical(p.root, NID_key_usage), 1);
	ck_assert_uint_eq(
	    X509_get_key_usage(p.root), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ck_assert_uint_eq(
	    X509_get_key_usage(p.inter), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ck_assert_int_eq(is_critical(p.inter, NID_name_constraints), 1);
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(p.root));
	ck_assert_int_eq(EVP_PKEY_get_bits(X509_get0_pubkey(p.root)), 384);
	ck_assert_int_eq(X509_verify(p.root, p.root_key), 1);
	ck_assert_int_eq(X509_verify(p.inter, p.root_key), 1);
	pki_free(&p);
}
END_TEST

START_TEST(name_constraints_enforced)
{
	static const char *const permit[] = {"postgres", "svc.internal"};
	static const char *const evil[] = {"evil.com"};
	static const char *const ok[] = {"db.svc.internal"};
	struct pki p;
	X509 *x;

	pki_make(&p, permit, 2);
	x = leaf_for(&p, "postgres", ok, 1, NULL, 0, 3600);
	ck_assert_ptr_nonnull(x);
	X509_free(x);
	x = leaf_for(&p, "a.postgres", NULL, 0, NULL, 0, 3600);
	ck_assert_ptr_nonnull(x);
	X509_free(x);
	ck_assert_ptr_null(leaf_for(&p, "backend", NULL, 0, NULL, 0, 3600));
	ck_assert_ptr_null(leaf_for(&p, "postgres", evil, 1, NULL, 0, 3600));
	ck_assert_ptr_null(leaf_for(&p, "xpostgres", NULL, 0, NULL, 0, 3600));
	pki_free(&p);
}
END_TEST

START_TEST(expired_issuer_refused)
{
	struct pki p;
	struct ca_cert_leaf_req r;

	pki_make(&p, NULL, 0);
	memset(&r, 0, sizeof(r));
	r.name = "backend";
	r.trust_domain = "cotai.test";
	r.now = NOW + 400LL * 86400;
	r.ttl = 3600;
	r.key = p.leaf_key;
	ck_assert_ptr_null(ca_cert_leaf(&r, p.inter, p.inter_key));
	pki_free(&p);
}
END_TEST

START_TEST(serials_differ)
{
	X509 *a = X509_new(), *b = X509_new();

	ck_assert_int_eq(ca_cert_set_serial(a), 0);
	ck_assert_int_eq(ca_cert_set_serial(b), 0);
	ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
			     X509_get0_serialNumber(b)),
	    0);
	X509_free(a);
	X509_free(b);
}
END_TEST

START_TEST(crl_profile)
{
	static const char text[] =
	    "V 0A 100 200 - - ec-p256 a /o\n"
	    "R 0B 100 200 150 keyCompromise ec-p256 b /o\n"
	    "R 0C 100 200 160 unspecified ec-p256 c /o\n";
	struct ca_index *idx = ca_index_parse(text, strlen(text));
	X509_CRL *crl;
	ASN1_INTEGER *num;
	AUTHORITY_KEYID *akid;
	struct pki p;
	int crit;

	ck_assert_ptr_nonnull(idx);
	pki_make(&p, NULL, 0);
	crl = ca_crl_build(p.inter, p.inter_key, idx, 7, NOW, NOW + 86400);
	ck_assert_ptr_nonnull(crl);
	ck_assert_int_eq(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	ck_assert_int_eq(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	ck_assert_ptr_nonnull(num);
	ck_assert_int_eq(ASN1_INTEGER_get(num), 7);
	ASN1_INTEGER_free(num);
	akid = X509_CRL_get_ext_d2i(
	    crl, NID_authority_key_identifier, &crit, NULL);
	ck_assert_ptr_nonnull(akid);
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(
			     akid->keyid, X509_get0_subject_key_id(p.inter)),
	    0);
	AUTHORITY_KEYID_free(akid);
	ck_assert_int_eq(X509_CRL_verify(crl, p.inter_key), 1);
	ck_assert_int_eq(
	    ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), NOW + 86400),
	    0);
	X509_CRL_free(crl);
	ca_index_free(idx);
	pki_free(&p);
}
END_TEST

Suite *
ca_cert_suite(void)
{
	Suite *s = suite_create("ca_cert");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, leaf_profile);
	tcase_add_test(tc, rsa_leaf_key_encipherment);
	tcase_add_test(tc, leaf_capped_at_issuer);
	tcase_add_test(tc, ca_profiles);
	tcase_add_test(tc, name_constraints_enforced);
	tcase_add_test(tc, expired_issuer_refused);
	tcase_add_test(tc, serials_differ);
	tcase_add_test(tc, crl_profile);
	suite_add_tcase(s, tc);
	return (s);
}
