/*
 * ca_key: key generation, PKCS#8 PEM encoding and loading, passphrases.
 */
#ifndef COTAI_CA_KEY_H
#define COTAI_CA_KEY_H

#include <stddef.h>

#include <openssl/evp.h>

/* Longest passphrase accepted from a file. */
#define CA_KEY_PASS_MAX 1024

enum ca_key_type {
	CA_KEY_EC_P256,
	CA_KEY_EC_P384,
	CA_KEY_ED25519,
	CA_KEY_RSA_3072,
};

/* Parse a --key-type value ("ec-p256", "ed25519", "rsa-3072"); 0 or -1. */
int ca_key_type_parse(const char *s, enum ca_key_type *out);

/*
 * Is S a key type the index may record: a --key-type value, "ec-p384" or
 * "rsa-BITS" (keys from CSRs sent to cotai-ca serve)? 0 or -1.
 */
int ca_key_type_known(const char *s);

/* The --key-type spelling of TYPE ("ec-p384" for the root). */
const char *ca_key_type_name(enum ca_key_type type);

/* Generate a new key; NULL after printing the error. Caller frees. */
EVP_PKEY *ca_key_generate(enum ca_key_type type);

/*
 * The scrypt cost of an encrypted key (RFC 7914): N = 2^14, r = 8, p = 5,
 * one of OWASP's equivalent choices; 16 MiB per derivation, within the
 * 32 MiB OpenSSL allows by default when it decrypts, so `openssl pkey`
 * still reads the key.
 */
#define CA_KEY_SCRYPT_N 16384
#define CA_KEY_SCRYPT_R 8
#define CA_KEY_SCRYPT_P 5

/*
 * Encode KEY as PKCS#8 PEM into a new memory BIO: encrypted (PBES2 with
 * the scrypt KDF above and AES-256-CBC) when PASS is not NULL, else in the
 * clear. NULL on error.
 */
BIO *ca_key_to_pem(EVP_PKEY *key, const char *pass, size_t passlen);

/*
 * Load a PKCS#8 PEM key from PATH, which must be private to us (see
 * ca_store_check_private); PASS may be NULL for an unencrypted key. Keys
 * written before scrypt (PBES2 with PBKDF2) load as before.
 */
EVP_PKEY *ca_key_load(const char *path, const char *pass);

/*
 * Read a passphrase: the first line of PATH (read as a stream, so
 * /dev/fd/N works), without its line end, into BUF of LEN bytes.
 * Refuses an empty passphrase. Returns 0 or -1 after printing the error.
 */
int ca_key_read_pass(const char *path, char *buf, size_t len);

/* Fill BUF (LEN >= 65) with a random 64-hex-digit passphrase; 0 or -1. */
int ca_key_random_pass(char *buf, size_t len);

/* The digest to sign with KEY: NULL for Ed25519, SHA-384 for P-384. */
const EVP_MD *ca_key_sign_md(EVP_PKEY *key);

#endif
