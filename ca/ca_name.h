/*
 * ca_name: validation of the names cotai-ca puts into certificates. Pure
 * functions, no I/O, no logging: each returns 0 when the name is acceptable
 * and -1 otherwise.
 *
 * A workload NAME is used as the certificate's CN, its first DNS SAN, the
 * path of its SPIFFE ID and a file name, so it must be valid as all four:
 * one or more DNS labels separated by '.', each 1-63 characters of
 * [a-z0-9-] that start and end with a letter or digit, 253 characters at
 * most. Upper case, '_', '/', and empty labels are refused.
 */
#ifndef COTAI_CA_NAME_H
#define COTAI_CA_NAME_H

#include <stddef.h>

/*
 * The names a certificate carries besides its workload NAME: extra DNS
 * SANs and IP SANs (text form), already validated; the arrays are
 * borrowed. One type for what issue asks for (ca_ctx_req), what the leaf
 * says (ca_cert_leaf_req) and what a CSR may ask for (ca_csr_identity).
 */
struct ca_sans {
	const char *const *dns;
	size_t ndns;
	const char *const *ips;
	size_t nips;
};

/* Longest workload or DNS name accepted (RFC 1035). */
#define CA_NAME_MAX 253
/* Longest trust domain accepted. */
#define CA_NAME_TD_MAX 255
/* Room for "spiffe://" TD "/" NAME and the NUL. */
#define CA_NAME_SPIFFE_MAX (9 + CA_NAME_TD_MAX + 1 + CA_NAME_MAX + 1)

/* A workload name (see above). */
int ca_name_workload(const char *name);

/* A DNS host name for --dns and --permit-dns: the same rules as a workload. */
int ca_name_dns(const char *name);

/*
 * A trust domain for init: valid in the SPIFFE grammar (spiffe.h: 1-255
 * characters of [a-z0-9._-]) and, on top, DNS-style labels: not starting
 * or ending with '.', no empty labels, labels of 1-63 characters that
 * start and end with a letter or digit.
 */
int ca_name_trust_domain(const char *td);

/*
 * The fixed file of an output directory that workload NAME would collide
 * with (NAME.crt is "ca.crt" for "ca", NAME.pem is "crl.pem" for "crl"),
 * or NULL when NAME is free. Such names are refused for issue and renew.
 */
const char *ca_name_reserved(const char *name);

/* An IPv4 or IPv6 address literal (inet_pton). */
int ca_name_ip(const char *ip);

/*
 * Write "spiffe://TD/NAME" into BUF of LEN bytes; returns 0, or -1 when
 * either part is invalid, it does not fit, or the result is not a valid
 * SPIFFE ID (spiffe_parse()).
 */
int ca_name_spiffe_id(const char *td, const char *name, char *buf, size_t len);

#endif
