/*
 * Unit tests for ca/ca_key.c: the KDF of an encrypted key as written
 * (PBES2 with scrypt, parsed from the PKCS#8 structure), the round trip
 * through ca_key_load(), and that a key in the older format (PBES2 with
 * PBKDF2, as OpenSSL's default writes it) still loads.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca_key.h"

Suite *ca_key_suite(void);

static const char pass[] = "correct horse battery staple";
static char tmp[64];
static char path[128];

static void
setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/check_ca_key.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/k.pem", tmp);
}

static void
teardown(void)
{
	unlink(path);
	rmdir(tmp);
}

/* Write memory BIO B to PATH with mode 0600. */
static void
save(BIO *b)
{
	char *data = NULL;
	long len = BIO_get_mem_data(b, &data);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, (size_t)len), len);
	close(fd);
}

/* B, saved to path, loads back with PASSPHRASE as KEY. */
static void
loads_back(BIO *b, const char *passphrase, EVP_PKEY *key)
{
	EVP_PKEY *back;

	save(b);
	back = ca_key_load(path, passphrase);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(EVP_PKEY_eq(key, back), 1);
	EVP_PKEY_free(back);
}

static long
int_of(const ASN1_INTEGER *i)
{
	long v = -1;

	ck_assert_ptr_nonnull(i);
	ck_assert_int_eq(ASN1_INTEGER_get_int64((int64_t *)&v, i), 1);
	return (v);
}

/* The PBES2 parameters of the encrypted PKCS#8 PEM in B (left as is). */
static PBE2PARAM *
pbes2_of(BIO *b)
{
	char *data = NULL;
	long len = BIO_get_mem_data(b, &data);
	BIO *r = BIO_new_mem_buf(data, (int)len);
	X509_SIG *p8 = PEM_read_bio_PKCS8(r, NULL, NULL, NULL);
	const X509_ALGOR *alg = NULL;
	PBE2PARAM *pbe2;

	ck_assert_ptr_nonnull(p8);
	X509_SIG_get0(p8, &alg, NULL);
	ck_assert_int_eq(OBJ_obj2nid(alg->algorithm), NID_pbes2);
	pbe2 = ASN1_TYPE_unpack_sequence(
	    ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
	ck_assert_ptr_nonnull(pbe2);
	X509_SIG_free(p8);
	BIO_free(r);
	return (pbe2);
}

START_TEST(encrypted_key_uses_scrypt)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_EC_P384);
	BIO *b = ca_key_to_pem(key, pass, strlen(pass));
	PBE2PARAM *pbe2;
	SCRYPT_PARAMS *sp;

	ck_assert_ptr_nonnull(b);
	pbe2 = pbes2_of(b);
	ck_assert_int_eq(OBJ_obj2nid(pbe2->keyfunc->algorithm), NID_id_scrypt);
	ck_assert_int_eq(
	    OBJ_obj2nid(pbe2->encryption->algorithm), NID_aes_256_cbc);
	sp = ASN1_TYPE_unpack_sequence(
	    ASN1_ITEM_rptr(SCRYPT_PARAMS), pbe2->keyfunc->parameter);
	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(int_of(sp->costParameter), CA_KEY_SCRYPT_N);
	ck_assert_int_eq(int_of(sp->blockSize), CA_KEY_SCRYPT_R);
	ck_assert_int_eq(int_of(sp->parallelizationParameter), CA_KEY_SCRYPT_P);
	ck_assert_int_ge(ASN1_STRING_length(sp->salt), 8);
	/* At least OWASP's minimum work: N * r * p >= 2^17 * 8 * 1 / 2. */
	ck_assert_int_ge(
	    (long)CA_KEY_SCRYPT_N * CA_KEY_SCRYPT_R * CA_KEY_SCRYPT_P,
	    (1L << 16) * 8);
	SCRYPT_PARAMS_free(sp);
	PBE2PARAM_free(pbe2);

	loads_back(b, pass, key);
	ck_assert_ptr_null(ca_key_load(path, "wrong passphrase"));
	ck_assert_ptr_null(ca_key_load(path, NULL));
	ERR_clear_error();
	BIO_free(b);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(old_pbkdf2_key_still_loads)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_EC_P384);
	BIO *b = BIO_new(BIO_s_mem());
	PBE2PARAM *pbe2;

	/* What ca_key_to_pem() wrote before: OpenSSL's PBKDF2 default. */
	ck_assert_int_eq(
	    PEM_write_bio_PKCS8PrivateKey(
		b, key, EVP_aes_256_cbc(), pass, (int)strlen(pass), NULL, NULL),
	    1);
	pbe2 = pbes2_of(b);
	ck_assert_int_eq(OBJ_obj2nid(pbe2->keyfunc->algorithm), NID_id_pbkdf2);
	PBE2PARAM_free(pbe2);
	loads_back(b, pass, key);
	BIO_free(b);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(clear_key_unchanged)
{
	EVP_PKEY *key = ca_key_generate(CA_KEY_EC_P256);
	BIO *b = ca_key_to_pem(key, NULL, 0);
	char *data = NULL;

	ck_assert_ptr_nonnull(b);
	BIO_get_mem_data(b, &data);
	ck_assert(strncmp(data, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	loads_back(b, NULL, key);
	BIO_free(b);
	EVP_PKEY_free(key);
}
END_TEST

Suite *
ca_key_suite(void)
{
	Suite *s = suite_create("ca_key");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* Each scrypt derivation costs 128 * N * r bytes (16 MiB) of memory
	 * work: three of them under ASan on a loaded machine overran Check's
	 * default 4 s. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, encrypted_key_uses_scrypt);
	tcase_add_test(tc, old_pbkdf2_key_still_loads);
	tcase_add_test(tc, clear_key_unchanged);
	suite_add_tcase(s, tc);
	return (s);
}
