/*
 * Unit tests for cotai-ca serve's pure parts: ca/ca_csr.c (decoding and
 * checking CSRs), ca/ca_token.c (one-time tokens) and ca/ca_keyset.c.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca_csr.h"
#include "ca_keyset.h"
#include "ca_token.h"

Suite *ca_est_suite(void);

static EVP_PKEY *
gen(const char *alg, const char *param)
{
	EVP_PKEY *k = NULL;

	if (strcmp(alg, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(param));
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, alg, param);
	ck_assert_ptr_nonnull(k);
	return (k);
}

/* A CSR for KEY with subject CN (NULL: empty) and optional SAN text. */
static X509_REQ *
make_csr(EVP_PKEY *key, const char *cn, const char *san)
{
	X509_REQ *r = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();

	ck_assert_ptr_nonnull(r);
	if (cn != NULL)
		ck_assert(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
		    (const unsigned char *)cn, -1, -1, 0));
	ck_assert(X509_REQ_set_subject_name(r, n));
	X509_NAME_free(n);
	ck_assert(X509_REQ_set_pubkey(r, key));
	if (san != NULL) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *e =
		    X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);

		ck_assert_ptr_nonnull(e);
		sk_X509_EXTENSION_push(exts, e);
		ck_assert(X509_REQ_add_extensions(r, exts));
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	ck_assert(X509_REQ_sign(
	    r, key, EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256()));
	return (r);
}

/* R as base64 DER (malloc'd, NUL-terminated, with line breaks). */
static char *
csr_b64(X509_REQ *r)
{
	unsigned char *der = NULL;
	int len = i2d_X509_REQ(r, &der);
	char *out = malloc((size_t)len * 2 + 8);
	int n;

	ck_assert_int_gt(len, 0);
	n = EVP_EncodeBlock((unsigned char *)out, der, len);
	/* a line break in the middle, as base64 tools write */
	memmove(out + 41, out + 40, (size_t)n - 40 + 1);
	out[40] = '\n';
	OPENSSL_free(der);
	return (out);
}

static const char *const dns_api[] = {"api.internal"};
static const char *const ips_api[] = {"10.0.0.7"};
static const struct ca_csr_identity id_api = {
    "api", "spiffe://cotai.test/api", {dns_api, 1, ips_api, 1}};

/* Decode B64 and check it against id_api; returns the refusal or NULL. */
static const char *
check_b64(const char *b64, char *key_type)
{
	const char *why = NULL;
	X509_REQ *r = ca_csr_decode(b64, strlen(b64), &why);

	if (r == NULL)
		return (why);
	if (ca_csr_check(r, &id_api, key_type, &why) == 0)
		why = NULL;
	X509_REQ_free(r);
	return (why);
}

static const char *
check_key(EVP_PKEY *k, const char *cn, const char *san, char *key_type)
{
	X509_REQ *r = make_csr(k, cn, san);
	char *b = csr_b64(r);
	const char *why = check_b64(b, key_type);

	free(b);
	X509_REQ_free(r);
	return (why);
}

START_TEST(csr_good_keys)
{
	char kt[16];
	EVP_PKEY *k;

	k = gen("EC", "P-256");
	ck_assert_ptr_null(check_key(k, "api", NULL, kt));
	ck_assert_str_eq(kt, "ec-p256");
	/* no subject at all, and the names the CA would issue anyway */
	ck_assert_ptr_null(check_key(k, NULL,
	    "URI:spiffe://cotai.test/api,DNS:api,DNS:api.internal,"
	    "IP:10.0.0.7",
	    kt));
	EVP_PKEY_free(k);
	k = gen("EC", "P-384");
	ck_assert_ptr_null(check_key(k, "api", NULL, kt));
	ck_assert_str_eq(kt, "ec-p384");
	EVP_PKEY_free(k);
	k = gen("RSA", "2048");
	ck_assert_ptr_null(check_key(k, "api", NULL, kt));
	ck_assert_str_eq(kt, "rsa-2048");
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(csr_weak_keys)
{
	char kt[16];
	EVP_PKEY *k;

	k = gen("RSA", "1024");
	ck_assert_ptr_nonnull(strstr(check_key(k, "api", NULL, kt), "RSA"));
	EVP_PKEY_free(k);
	k = gen("EC", "P-521");
	ck_assert_ptr_nonnull(strstr(check_key(k, "api", NULL, kt), "curve"));
	EVP_PKEY_free(k);
	k = gen("EC", "secp256k1");
	ck_assert_ptr_nonnull(strstr(check_key(k, "api", NULL, kt), "curve"));
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(
	    strstr(check_key(k, "api", NULL, kt), "not accepted"));
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(csr_other_identity)
{
	char kt[16];
	EVP_PKEY *k = gen("EC", "P-256");

	ck_assert_ptr_nonnull(
	    strstr(check_key(k, "postgres", NULL, kt), "another identity"));
	ck_assert_ptr_nonnull(
	    strstr(check_key(k, "API", NULL, kt), "another identity"));
	ck_assert_ptr_nonnull(strstr(
	    check_key(k, "api", "DNS:postgres", kt), "another identity"));
	ck_assert_ptr_nonnull(
	    strstr(check_key(k, "api", "URI:spiffe://cotai.test/postgres", kt),
		"another identity"));
	ck_assert_ptr_nonnull(
	    strstr(check_key(k, "api", "URI:spiffe://evil.test/api", kt),
		"another identity"));
	ck_assert_ptr_nonnull(
	    strstr(check_key(k, "api", "IP:10.0.0.8", kt), "another identity"));
	ck_assert_ptr_nonnull(
	    strstr(check_key(k, "api", "email:a@b.c", kt), "another identity"));
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(csr_bad_signature_and_encoding)
{
	EVP_PKEY *k = gen("EC", "P-256"), *k2 = gen("EC", "P-256");
	X509_REQ *r = make_csr(k, "api", NULL);
	char kt[16], *b;
	const char *why;

	/* a CSR whose public key is swapped after signing */
	ck_assert(X509_REQ_set_pubkey(r, k2));
	b = csr_b64(r);
	why = check_b64(b, kt);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "signature"));
	/* trailing bytes after the DER, bad characters, empty, truncated */
	free(b);
	X509_REQ_free(r);
	r = make_csr(k, "api", NULL);
	b = csr_b64(r);
	ck_assert_ptr_null(check_b64(b, kt));
	b[strlen(b) - 4] = '\0';
	ck_assert_ptr_nonnull(check_b64(b, kt));
	ck_assert_ptr_nonnull(check_b64("!!!!", kt));
	ck_assert_ptr_nonnull(check_b64("", kt));
	ck_assert_ptr_nonnull(check_b64("AAAA", kt));
	free(b);
	{
		unsigned char *der = NULL, *two;
		int len = i2d_X509_REQ(r, &der);
		char *out;

		two = malloc((size_t)len + 3);
		memcpy(two, der, (size_t)len);
		memcpy(two + len, "\0\0\0", 3);
		out = malloc((size_t)len * 2 + 8);
		EVP_EncodeBlock((unsigned char *)out, two, len + 3);
		why = check_b64(out, kt);
		ck_assert_ptr_nonnull(why);
		ck_assert_ptr_nonnull(strstr(why, "after"));
		free(out);
		free(two);
		OPENSSL_free(der);
	}
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}
END_TEST

START_TEST(keyset_reuse)
{
	struct ca_keyset *s = ca_keyset_new();
	unsigned char id[CA_CSR_KEY_ID], other[CA_CSR_KEY_ID];
	EVP_PKEY *k = gen("EC", "P-256"), *k2 = gen("EC", "P-256");

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(ca_csr_key_id(k, id), 0);
	ck_assert_int_eq(ca_csr_key_id(k2, other), 0);
	ck_assert(!ca_keyset_has(s, id));
	ck_assert_int_eq(ca_keyset_add(s, id), 0);
	ck_assert(ca_keyset_has(s, id));
	ck_assert(!ca_keyset_has(s, other));
	/* many more ids: the table grows and keeps every one */
	for (int i = 0; i < 5000; i++) {
		unsigned char x[CA_CSR_KEY_ID] = {0};

		memcpy(x, &i, sizeof(i));
		x[31] = 1;
		ck_assert_int_eq(ca_keyset_add(s, x), 0);
	}
	ck_assert_uint_eq(ca_keyset_len(s), 5001);
	ck_assert(ca_keyset_has(s, id));
	ck_assert(!ca_keyset_has(s, other));
	ca_keyset_free(s);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}
END_TEST

START_TEST(token_once_for_its_name)
{
	struct ca_tokens *t = ca_tokens_new(), *t2;
	char tok[CA_TOKEN_HEX + 1], tok2[CA_TOKEN_HEX + 1],
	    name[CA_NAME_MAX + 1];
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(ca_tokens_mint(t, "web", 1000, tok), 0);
	ck_assert_int_eq(ca_tokens_mint(t, "db", 2000, tok2), 0);
	ck_assert_str_ne(tok, tok2);
	/* only the hash is stored, and it round-trips */
	ck_assert_int_eq(ca_tokens_format(t, 500, b), 0);
	len = BIO_get_mem_data(b, &data);
	ck_assert_ptr_null(memmem(data, (size_t)len, tok, strlen(tok)));
	t2 = ca_tokens_parse(data, (size_t)len);
	ck_assert_ptr_nonnull(t2);
	ck_assert_uint_eq(ca_tokens_len(t2), 2);
	ck_assert_int_eq(ca_tokens_find(t2, tok, 500, name), CA_TOKEN_OK);
	ck_assert_str_eq(name, "web");
	ck_assert_int_eq(ca_tokens_find(t2, tok2, 500, name), CA_TOKEN_OK);
	ck_assert_str_eq(name, "db");
	/* used: gone */
	ck_assert_int_eq(ca_tokens_remove(t2, tok), 0);
	ck_assert_int_eq(ca_tokens_find(t2, tok, 500, name), CA_TOKEN_UNKNOWN);
	ck_assert_int_eq(ca_tokens_remove(t2, tok), -1);
	/* expired: refused and dropped */
	ck_assert_int_eq(
	    ca_tokens_find(t2, tok2, 2000, name), CA_TOKEN_EXPIRED);
	ck_assert_int_eq(ca_tokens_find(t2, tok2, 1, name), CA_TOKEN_UNKNOWN);
	/* malformed and never minted */
	ck_assert_int_eq(ca_tokens_find(t, "abc", 1, name), CA_TOKEN_MALFORMED);
	tok[0] = tok[0] == 'a' ? 'b' : 'a';
	ck_assert_int_eq(ca_tokens_find(t, tok, 1, name), CA_TOKEN_UNKNOWN);
	/* expired lines are not written back */
	BIO_reset(b);
	ck_assert_int_eq(ca_tokens_format(t, 1500, b), 0);
	len = BIO_get_mem_data(b, &data);
	ca_tokens_free(t2);
	t2 = ca_tokens_parse(data, (size_t)len);
	ck_assert_uint_eq(ca_tokens_len(t2), 1);
	ca_tokens_free(t2);
	ca_tokens_free(t);
	BIO_free(b);
}
END_TEST

START_TEST(token_file_corrupt)
{
	static const char *bad[] = {
	    "abc 100 web\n",
	    "0000000000000000000000000000000000000000000000000000000000000000 "
	    "x web\n",
	    "0000000000000000000000000000000000000000000000000000000000000000 "
	    "100 Web\n",
	    "0000000000000000000000000000000000000000000000000000000000000000 "
	    "100\n",
	};
	static const char good[] =
	    "# cotai-ca tokens v1\n"
	    "0000000000000000000000000000000000000000000000000000000000000000 "
	    "100 web\n";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_ptr_null(ca_tokens_parse(bad[i], strlen(bad[i])));
	ca_tokens_free(ca_tokens_parse(good, strlen(good)));
}
END_TEST

Suite *
ca_est_suite(void)
{
	Suite *s = suite_create("ca_est");
	TCase *tc = tcase_create("est");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, csr_good_keys);
	tcase_add_test(tc, csr_weak_keys);
	tcase_add_test(tc, csr_other_identity);
	tcase_add_test(tc, csr_bad_signature_and_encoding);
	tcase_add_test(tc, keyset_reuse);
	tcase_add_test(tc, token_once_for_its_name);
	tcase_add_test(tc, token_file_corrupt);
	suite_add_tcase(s, tc);
	return (s);
}
