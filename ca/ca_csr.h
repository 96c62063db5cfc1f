/*
 * ca_csr: decoding and checking the PKCS#10 requests that cotai-ca serve
 * receives (RFC 7030 simpleenroll / simplereenroll). Pure: no I/O, no
 * logging; a refusal comes back as a short reason for the audit record and
 * the HTTP answer.
 *
 * A CSR is accepted when:
 *	- its body is base64 of DER (RFC 7030 section 4.2.1; whitespace
 *	  allowed), or PEM; nothing follows the DER;
 *	- its self-signature verifies;
 *	- its key is EC P-256 or P-384 (a valid point), or RSA of 2048 to
 *	  8192 bits;
 *	- it names no other identity: a subject CN, if any, is the workload
 *	  name; requested SANs, if any, are among the names the CA will
 *	  issue (the SPIFFE ID, NAME, the recorded DNS and IP SANs). The
 *	  issued names never come from the CSR: this only refuses a client
 *	  that asks for someone else.
 * Key reuse is checked by the caller with ca_csr_key_id().
 */
#ifndef COTAI_CA_CSR_H
#define COTAI_CA_CSR_H

#include <stddef.h>

#include <openssl/x509.h>

#include "ca_name.h"

/* Longest CSR body accepted (base64 or PEM). */
#define CA_CSR_MAX_BODY 65536
/* Bytes of a key id (SHA-256 of the DER SubjectPublicKeyInfo). */
#define CA_CSR_KEY_ID 32

/* The identity a request may ask for. */
struct ca_csr_identity {
	const char *name;   /* workload name: CN and first DNS SAN */
	const char *spiffe; /* spiffe://TD/NAME */
	struct ca_sans sans;
};

/*
 * Decode LEN bytes of BODY (base64 DER or PEM) into a new X509_REQ; NULL
 * with *WHY set when it is not exactly one CSR.
 */
X509_REQ *ca_csr_decode(const char *body, size_t len, const char **why);

/*
 * Check REQ's signature, key and requested names against ID; 0, or -1
 * with *WHY set. KEY_TYPE (16 bytes) gets the index spelling of the key
 * ("ec-p256", "ec-p384", "rsa-2048", ...).
 */
int ca_csr_check(X509_REQ *req, const struct ca_csr_identity *id,
    char *key_type, const char **why);

/* SHA-256 of KEY's DER SubjectPublicKeyInfo into ID; 0 or -1. */
int ca_csr_key_id(EVP_PKEY *key, unsigned char id[CA_CSR_KEY_ID]);

#endif
