/*
 * ca_csr: see ca_csr.h.
 */
#include "ca_csr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CA_CSR_RSA_MIN 2048
#define CA_CSR_RSA_MAX 8192

/* Base64 (whitespace skipped) into a new buffer; NULL on bad input. */
static unsigned char *
ca_csr_unbase64(const char *body, size_t len, size_t *outlen)
{
	EVP_ENCODE_CTX *ctx = NULL;
	unsigned char *out = NULL, *clean = NULL;
	size_t n = 0;
	int l1 = 0, l2 = 0;

	if ((clean = OPENSSL_malloc(len + 1)) == NULL)
		return (NULL);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)body[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (!isalnum(ch) && ch != '+' && ch != '/' && ch != '=')
			goto err;
		clean[n++] = ch;
	}
	if (n == 0 || n % 4 != 0 || n > INT32_MAX / 2)
		goto err;
	if ((out = OPENSSL_malloc(n / 4 * 3 + 3)) == NULL ||
	    (ctx = EVP_ENCODE_CTX_new()) == NULL)
		goto err;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, out, &l1, clean, (int)n) < 0 ||
	    EVP_DecodeFinal(ctx, out + l1, &l2) != 1)
		goto err;
	EVP_ENCODE_CTX_free(ctx);
	OPENSSL_free(clean);
	*outlen = (size_t)(l1 + l2);
	return (out);
err:
	EVP_ENCODE_CTX_free(ctx);
	OPENSSL_free(clean);
	OPENSSL_free(out);
	return (NULL);
}

X509_REQ *
ca_csr_decode(const char *body, size_t len, const char **why)
{
	const unsigned char *p;
	unsigned char *der = NULL;
	X509_REQ *req = NULL;
	size_t dlen = 0;
	BIO *b;

	*why = "not a base64 or PEM PKCS#10 request";
	if (len == 0 || len > CA_CSR_MAX_BODY)
		return (NULL);
	if (len > 11 && memcmp(body, "-----BEGIN ", 11) == 0) {
		if ((b = BIO_new_mem_buf(body, (int)len)) == NULL)
			return (NULL);
		req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
		BIO_free(b);
		ERR_clear_error();
		return (req);
	}
	if ((der = ca_csr_unbase64(body, len, &dlen)) == NULL)
		return (NULL);
	p = der;
	req = d2i_X509_REQ(NULL, &p, (long)dlen);
	if (req != NULL && p != der + dlen) {
		*why = "bytes after the PKCS#10 request";
		X509_REQ_free(req);
		req = NULL;
	}
	OPENSSL_free(der);
	ERR_clear_error();
	return (req);
}

/* Is KEY strong enough? Sets TYPE to its index spelling. */
static int
ca_csr_key_ok(EVP_PKEY *key, char *type, const char **why)
{
	char group[64];
	EVP_PKEY_CTX *pc = NULL;
	int bits, ok;

	if (EVP_PKEY_is_a(key, "RSA")) {
		bits = EVP_PKEY_get_bits(key);
		if (bits < CA_CSR_RSA_MIN || bits > CA_CSR_RSA_MAX) {
			*why = "RSA key size not within 2048-8192 bits";
			return (-1);
		}
		snprintf(type, 16, "rsa-%d", bits);
		return (0);
	}
	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(
		key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL)) {
		*why = "key type not accepted (EC P-256, P-384 or RSA >= 2048)";
		return (-1);
	}
	if (strcmp(group, "prime256v1") == 0)
		snprintf(type, 16, "ec-p256");
	else if (strcmp(group, "secp384r1") == 0)
		snprintf(type, 16, "ec-p384");
	else {
		*why = "EC curve not accepted (P-256 or P-384)";
		return (-1);
	}
	ok = (pc = EVP_PKEY_CTX_new(key, NULL)) != NULL &&
	    EVP_PKEY_public_check(pc) == 1;
	EVP_PKEY_CTX_free(pc);
	if (!ok) {
		*why = "invalid EC public key";
		return (-1);
	}
	return (0);
}

/* Is the ASN1 string S equal to the C string WANT? */
static int
ca_csr_str_is(const ASN1_STRING *s, const char *want)
{
	size_t n = strlen(want);

	return (s != NULL && (size_t)ASN1_STRING_length(s) == n &&
	    memcmp(ASN1_STRING_get0_data(s), want, n) == 0);
}

/* Is the subject's CN (if any) NAME, and is there only one? */
static int
ca_csr_subject_ok(X509_REQ *req, const char *name)
{
	const X509_NAME *subj = X509_REQ_get_subject_name(req);
	int i = -1, seen = 0;

	while ((i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0) {
		const X509_NAME_ENTRY *ne = X509_NAME_get_entry(subj, i);

		if (seen++ ||
		    !ca_csr_str_is(X509_NAME_ENTRY_get_data(ne), name))
			return (-1);
	}
	return (0);
}

/* Is the requested SAN G one the CA would issue for ID? */
static int
ca_csr_san_ok(const GENERAL_NAME *g, const struct ca_csr_identity *id)
{
	char ip[INET6_ADDRSTRLEN];
	const ASN1_STRING *s;

	switch (g->type) {
	case GEN_URI:
		return (
		    ca_csr_str_is(g->d.uniformResourceIdentifier, id->spiffe)
			? 0
			: -1);
	case GEN_DNS:
		if (ca_csr_str_is(g->d.dNSName, id->name))
			return (0);
		for (size_t i = 0; i < id->sans.ndns; i++)
			if (ca_csr_str_is(g->d.dNSName, id->sans.dns[i]))
				return (0);
		return (-1);
	case GEN_IPADD:
		s = g->d.iPAddress;
		if ((s->length != 4 && s->length != 16) ||
		    inet_ntop(s->length == 4 ? AF_INET : AF_INET6, s->data, ip,
			sizeof(ip)) == NULL)
			return (-1);
		for (size_t i = 0; i < id->sans.nips; i++)
			if (strcmp(ip, id->sans.ips[i]) == 0)
				return (0);
		return (-1);
	}
	return (-1);
}

/* Are all SANs requested in REQ's extensions ones ID may have? */
static int
ca_csr_sans_ok(X509_REQ *req, const struct ca_csr_identity *id)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *gens = NULL;
	int rc = 0, i;

	if (exts == NULL)
		return (0);
	if ((i = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1)) >= 0) {
		gens = X509V3_EXT_d2i(X509v3_get_ext(exts, i));
		if (gens == NULL ||
		    X509v3_get_ext_by_NID(exts, NID_subject_alt_name, i) >= 0)
			rc = -1;
		for (int j = 0; rc == 0 && j < sk_GENERAL_NAME_num(gens); j++)
			rc = ca_csr_san_ok(sk_GENERAL_NAME_value(gens, j), id);
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return (rc);
}

int
ca_csr_check(X509_REQ *req, const struct ca_csr_identity *id, char *key_type,
    const char **why)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey(req);

	if (key == NULL) {
		*why = "no usable public key";
		ERR_clear_error();
		return (-1);
	}
	if (ca_csr_key_ok(key, key_type, why) != 0) {
		ERR_clear_error();
		return (-1);
	}
	if (X509_REQ_verify(req, key) != 1) {
		*why = "CSR signature does not verify";
		ERR_clear_error();
		return (-1);
	}
	if (ca_csr_subject_ok(req, id->name) != 0) {
		*why = "CSR subject names another identity";
		return (-1);
	}
	if (ca_csr_sans_ok(req, id) != 0) {
		*why = "CSR asks for names of another identity";
		return (-1);
	}
	return (0);
}

int
ca_csr_key_id(EVP_PKEY *key, unsigned char id[CA_CSR_KEY_ID])
{
	unsigned char *der = NULL;
	unsigned int n = 0;
	int len, ok;

	if ((len = i2d_PUBKEY(key, &der)) <= 0)
		return (-1);
	ok = EVP_Digest(der, (size_t)len, id, &n, EVP_sha256(), NULL) &&
	    n == CA_CSR_KEY_ID;
	OPENSSL_free(der);
	return (ok ? 0 : -1);
}
