/*
 * ca_key: see ca_key.h.
 */
#include "ca_key.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/rand.h>

#include "ca_store.h"
#include "ca_util.h"

static const struct {
	const char *name;
	enum ca_key_type type;
} ca_key_types[] = {
    {"ec-p256", CA_KEY_EC_P256},
    {"ec-p384", CA_KEY_EC_P384},
    {"ed25519", CA_KEY_ED25519},
    {"rsa-3072", CA_KEY_RSA_3072},
};
#define CA_KEY_NTYPES (sizeof(ca_key_types) / sizeof(ca_key_types[0]))

int
ca_key_type_parse(const char *s, enum ca_key_type *out)
{
	for (size_t i = 0; i < CA_KEY_NTYPES; i++) {
		/* The root's P-384 is not offered for leaves. */
		if (ca_key_types[i].type == CA_KEY_EC_P384)
			continue;
		if (strcmp(s, ca_key_types[i].name) == 0) {
			*out = ca_key_types[i].type;
			return (0);
		}
	}
	return (-1);
}

int
ca_key_type_known(const char *s)
{
	size_t n;

	for (size_t i = 0; i < CA_KEY_NTYPES; i++)
		if (strcmp(s, ca_key_types[i].name) == 0)
			return (0);
	if (strncmp(s, "rsa-", 4) != 0)
		return (-1);
	n = strlen(s + 4);
	return (
	    n >= 4 && n <= 5 && s[4] != '0' && strspn(s + 4, "0123456789") == n
		? 0
		: -1);
}

const char *
ca_key_type_name(enum ca_key_type type)
{
	for (size_t i = 0; i < CA_KEY_NTYPES; i++)
		if (ca_key_types[i].type == type)
			return (ca_key_types[i].name);
	return ("unknown");
}

EVP_PKEY *
ca_key_generate(enum ca_key_type type)
{
	EVP_PKEY *key = NULL;

	switch (type) {
	case CA_KEY_EC_P256:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case CA_KEY_EC_P384:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case CA_KEY_ED25519:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case CA_KEY_RSA_3072:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	}
	if (key == NULL)
		ca_util_err_ssl("generate %s key", ca_key_type_name(type));
	return (key);
}

/* Write KEY into B as an scrypt-encrypted PKCS#8 PEM; 1 or 0. */
static int
ca_key_write_scrypt(BIO *b, EVP_PKEY *key, const char *pass, size_t passlen)
{
	PKCS8_PRIV_KEY_INFO *p8inf = NULL;
	X509_ALGOR *pbe = NULL;
	X509_SIG *p8 = NULL;
	int ok = 0;

	if (passlen > INT_MAX || (p8inf = EVP_PKEY2PKCS8(key)) == NULL ||
	    (pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 0, NULL,
		 CA_KEY_SCRYPT_N, CA_KEY_SCRYPT_R, CA_KEY_SCRYPT_P)) == NULL)
		goto out;
	/* On success P8 owns PBE. */
	if ((p8 = PKCS8_set0_pbe(pass, (int)passlen, p8inf, pbe)) == NULL)
		goto out;
	pbe = NULL;
	ok = PEM_write_bio_PKCS8(b, p8);
out:
	X509_SIG_free(p8);
	X509_ALGOR_free(pbe);
	PKCS8_PRIV_KEY_INFO_free(p8inf);
	return (ok);
}

BIO *
ca_key_to_pem(EVP_PKEY *key, const char *pass, size_t passlen)
{
	BIO *b = NULL;
	int ok;

	if ((b = BIO_new(BIO_s_mem())) == NULL) {
		ca_util_err_ssl("BIO_new");
		return (NULL);
	}
	if (pass != NULL)
		ok = ca_key_write_scrypt(b, key, pass, passlen);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(
		    b, key, NULL, NULL, 0, NULL, NULL);
	if (!ok) {
		ca_util_err_ssl("encode private key");
		BIO_free(b);
		return (NULL);
	}
	return (b);
}

/* Never prompt: an encrypted key without a passphrase fails to load. */
static int
ca_key_no_prompt(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return (-1);
}

EVP_PKEY *
ca_key_load(const char *path, const char *pass)
{
	EVP_PKEY *key = NULL;
	BIO *b = NULL;

	if (ca_store_check_private(path) != 0)
		return (NULL);
	if ((b = ca_store_read_bio(path, 1)) == NULL)
		return (NULL);
	if (pass != NULL)
		key = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)pass);
	else
		key = PEM_read_bio_PrivateKey(b, NULL, ca_key_no_prompt, NULL);
	if (key == NULL)
		ca_util_err_ssl("load key %s", path);
	BIO_free(b);
	return (key);
}

int
ca_key_read_pass(const char *path, char *buf, size_t len)
{
	FILE *f = NULL;
	size_t n;

	if ((f = fopen(path, "r")) == NULL) {
		ca_util_err(
		    "open passphrase file %s: %s", path, strerror(errno));
		return (-1);
	}
	if (fgets(buf, (int)len, f) == NULL) {
		buf[0] = '\0';
	}
	fclose(f);
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1) {
		ca_util_err("passphrase in %s is too long", path);
		OPENSSL_cleanse(buf, len);
		return (-1);
	}
	buf[n] = '\0';
	if (n == 0) {
		ca_util_err("passphrase file %s is empty", path);
		return (-1);
	}
	return (0);
}

int
ca_key_random_pass(char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[32];

	if (len < 2 * sizeof(r) + 1 || RAND_bytes(r, sizeof(r)) != 1) {
		ca_util_err_ssl("random passphrase");
		return (-1);
	}
	for (size_t i = 0; i < sizeof(r); i++) {
		buf[2 * i] = hex[r[i] >> 4];
		buf[2 * i + 1] = hex[r[i] & 0xf];
	}
	buf[2 * sizeof(r)] = '\0';
	OPENSSL_cleanse(r, sizeof(r));
	return (0);
}

const EVP_MD *
ca_key_sign_md(EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "ED25519"))
		return (NULL);
	if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) > 256)
		return (EVP_sha384());
	return (EVP_sha256());
}
