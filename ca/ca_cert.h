/*
 * ca_cert: build and sign the three certificate profiles cotai-ca issues.
 * Pure: no files, no clock (the caller passes "now"); errors are printed
 * with ca_util_err().
 *
 *	root          CN "<TD> root CA", ECDSA P-384, 10 years, critical
 *	              CA:TRUE pathlen:1, critical keyCertSign+cRLSign, SKI
 *	intermediate  CN "<TD> issuing CA", 1 year (capped at the root),
 *	              critical CA:TRUE pathlen:0, critical keyCertSign+cRLSign,
 *	              SKI, AKI, critical nameConstraints: permitted
 *	              URI:<TD> and one permitted DNS subtree per --permit-dns
 *	leaf          CN NAME, SAN URI spiffe://TD/NAME + DNS NAME + --dns +
 *	              --ip, critical CA:FALSE, critical keyUsage
 *	              digitalSignature (+keyEncipherment for RSA), EKU
 *	              serverAuth+clientAuth, SKI, AKI
 * Every certificate gets a 128-bit random positive serial and a notBefore
 * 60 seconds before now.
 */
#ifndef COTAI_CA_CERT_H
#define COTAI_CA_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca_name.h"

#define CA_CERT_BACKDATE 60
#define CA_CERT_ROOT_DAYS 3650
#define CA_CERT_INTERMEDIATE_DAYS 365
/* Room for a serial in hex (20 octets at most). */
#define CA_CERT_SERIAL_HEX 48

/* What a leaf certificate says; all strings must already be validated. */
struct ca_cert_leaf_req {
	const char *name;         /* CN, first DNS SAN, SPIFFE path */
	const char *trust_domain; /* SPIFFE trust domain */
	struct ca_sans sans;      /* extra DNS SANs, IP SANs */
	int64_t now;              /* unix seconds */
	int64_t ttl;              /* seconds; capped at the issuer */
	EVP_PKEY *key;            /* the leaf's key (public part used) */
};

/* A new self-signed root for TD, signed with KEY. NULL on error. */
X509 *ca_cert_root(const char *td, EVP_PKEY *key, int64_t now);

/*
 * A new intermediate for TD carrying KEY's public key, signed by ROOT with
 * ROOT_KEY, with the name constraints described above (PERMIT_DNS may be
 * empty: then no DNS constraint). NULL on error.
 */
X509 *ca_cert_intermediate(const char *td, const char *const *permit_dns,
    size_t npermit, EVP_PKEY *key, X509 *root, EVP_PKEY *root_key, int64_t now);

/*
 * A new leaf for REQ signed by ISSUER with ISSUER_KEY. Fails (NULL) when a
 * name falls outside ISSUER's name constraints or the issuer has expired.
 */
X509 *ca_cert_leaf(
    const struct ca_cert_leaf_req *req, X509 *issuer, EVP_PKEY *issuer_key);

/*
 * Check signed X's SANs and CN against ISSUER's name constraints (if any) the
 * way chain verification will; returns 0, or -1 after printing the violation.
 */
int ca_cert_check_constraints(X509 *x, X509 *issuer);

/* X's serial in upper-case hex into BUF (CA_CERT_SERIAL_HEX); 0 or -1. */
int ca_cert_serial_hex(const X509 *x, char *buf, size_t len);

/* notBefore/notAfter of X as unix seconds; 0 or -1. */
int ca_cert_times(const X509 *x, int64_t *not_before, int64_t *not_after);

/* Set a fresh 128-bit random positive serial on X; 0 or -1. */
int ca_cert_set_serial(X509 *x);

#endif
