/*
 * ca_cert: see ca_cert.h. Simple extensions are added from their OpenSSL
 * configuration spelling (X509V3_EXT_conf_nid: the values are constants),
 * names are built as GENERAL_NAMEs so no user input is ever parsed as
 * configuration text.
 */
#include "ca_cert.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "ca_key.h"
#include "ca_name.h"
#include "ca_util.h"
#include "identity.h"

int
ca_cert_set_serial(X509 *x)
{
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn = NULL;
	int rc = -1;

	/* 128 bits with the top one set: always 16 octets, always positive. */
	if ((bn = BN_new()) == NULL ||
	    !BN_rand(bn, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) ||
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_set_serialNumber(x, ai)) {
		ca_util_err_ssl("serial number");
		goto out;
	}
	rc = 0;
out:
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return (rc);
}

int
ca_cert_serial_hex(const X509 *x, char *buf, size_t len)
{
	int rc = identity_serial_hex(x, buf, len);

	if (rc == -2)
		ca_util_err("serial number too long");
	else if (rc != 0)
		ca_util_err_ssl("serial number");
	return (rc == 0 ? 0 : -1);
}

int
ca_cert_times(const X509 *x, int64_t *not_before, int64_t *not_after)
{
	if (ca_util_asn1_time(X509_get0_notBefore(x), not_before) != 0 ||
	    ca_util_asn1_time(X509_get0_notAfter(x), not_after) != 0)
		return (-1);
	return (0);
}

/*
 * A new unsigned certificate for subject CN=CN with KEY's public key,
 * issued by ISSUER (NULL: self-issued), valid from NOW - 60 s for TTL
 * seconds but never past the issuer's notAfter.
 */
static X509 *
ca_cert_base(
    const char *cn, X509 *issuer, EVP_PKEY *key, int64_t now, int64_t ttl)
{
	X509_NAME *name = NULL;
	X509 *x = NULL;
	int64_t nb = now - CA_CERT_BACKDATE, na = now + ttl, inb, ina;

	if (issuer != NULL) {
		if (ca_cert_times(issuer, &inb, &ina) != 0) {
			ca_util_err("issuing CA has unreadable validity dates");
			return (NULL);
		}
		if (now >= ina) {
			ca_util_err("the issuing CA expired; run init again");
			return (NULL);
		}
		if (na > ina)
			na = ina;
	}
	if (ttl <= 0) {
		ca_util_err("lifetime must be positive");
		return (NULL);
	}
	if ((x = X509_new()) == NULL || (name = X509_NAME_new()) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(
		x, issuer != NULL ? X509_get_subject_name(issuer) : name) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) == NULL ||
	    !X509_set_pubkey(x, key)) {
		ca_util_err_ssl("build certificate for %s", cn);
		goto err;
	}
	if (ca_cert_set_serial(x) != 0)
		goto err;
	X509_NAME_free(name);
	return (x);
err:
	X509_NAME_free(name);
	X509_free(x);
	return (NULL);
}

/* Add extension NID from a constant configuration VALUE. */
static int
ca_cert_add_conf(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509_EXTENSION *ext = NULL;
	X509V3_CTX ctx;
	int rc = -1;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL ||
	    !X509_add_ext(x, ext, -1)) {
		ca_util_err_ssl("add %s", OBJ_nid2sn(nid));
		goto out;
	}
	rc = 0;
out:
	X509_EXTENSION_free(ext);
	return (rc);
}

/* A GENERAL_NAME of IA5String TYPE (GEN_DNS, GEN_URI) holding S. */
static GENERAL_NAME *
ca_cert_gen_ia5(int type, const char *s)
{
	ASN1_IA5STRING *ia5 = NULL;
	GENERAL_NAME *g = NULL;

	if ((g = GENERAL_NAME_new()) == NULL ||
	    (ia5 = ASN1_IA5STRING_new()) == NULL ||
	    !ASN1_STRING_set(ia5, s, -1)) {
		ca_util_err_ssl("name %s", s);
		ASN1_IA5STRING_free(ia5);
		GENERAL_NAME_free(g);
		return (NULL);
	}
	GENERAL_NAME_set0_value(g, type, ia5);
	return (g);
}

/* A GEN_IPADD GENERAL_NAME for the address literal S. */
static GENERAL_NAME *
ca_cert_gen_ip(const char *s)
{
	ASN1_OCTET_STRING *ip = NULL;
	GENERAL_NAME *g = NULL;

	if ((ip = a2i_IPADDRESS(s)) == NULL ||
	    (g = GENERAL_NAME_new()) == NULL) {
		ca_util_err_ssl("IP address %s", s);
		ASN1_OCTET_STRING_free(ip);
		return (NULL);
	}
	GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
	return (g);
}

/* Push G (NULL: an error already printed) onto GENS; 0 or -1. */
static int
ca_cert_push(GENERAL_NAMES *gens, GENERAL_NAME *g)
{
	if (g == NULL)
		return (-1);
	if (!sk_GENERAL_NAME_push(gens, g)) {
		ca_util_err_ssl("subjectAltName");
		GENERAL_NAME_free(g);
		return (-1);
	}
	return (0);
}

/* True when S is NAME or one of the first N entries of LIST. */
static int
ca_cert_seen(const char *s, const char *name, const char *const *list, size_t n)
{
	if (strcmp(s, name) == 0)
		return (1);
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return (1);
	return (0);
}

/* subjectAltName: the SPIFFE ID, DNS NAME, the extra DNS names, the IPs. */
static int
ca_cert_add_san(X509 *x, const struct ca_cert_leaf_req *req)
{
	GENERAL_NAMES *gens = NULL;
	char id[CA_NAME_SPIFFE_MAX];
	int rc = -1;

	/* Only a valid SPIFFE ID (lib/spiffe.h) goes into a certificate. */
	if (ca_name_spiffe_id(req->trust_domain, req->name, id, sizeof(id)) !=
	    0) {
		ca_util_err("not a valid SPIFFE ID: spiffe://%s/%s",
		    req->trust_domain, req->name);
		return (-1);
	}
	if ((gens = sk_GENERAL_NAME_new_null()) == NULL) {
		ca_util_err_ssl("subjectAltName");
		return (-1);
	}
	if (ca_cert_push(gens, ca_cert_gen_ia5(GEN_URI, id)) != 0 ||
	    ca_cert_push(gens, ca_cert_gen_ia5(GEN_DNS, req->name)) != 0)
		goto out;
	for (size_t i = 0; i < req->sans.ndns; i++) {
		if (ca_cert_seen(req->sans.dns[i], req->name, req->sans.dns, i))
			continue;
		if (ca_cert_push(
			gens, ca_cert_gen_ia5(GEN_DNS, req->sans.dns[i])))
			goto out;
	}
	for (size_t i = 0; i < req->sans.nips; i++)
		if (ca_cert_push(gens, ca_cert_gen_ip(req->sans.ips[i])) != 0)
			goto out;
	if (!X509_add1_ext_i2d(
		x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT)) {
		ca_util_err_ssl("add subjectAltName");
		goto out;
	}
	rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return (rc);
}

/* Sign X with KEY; 0 or -1. */
static int
ca_cert_sign(X509 *x, EVP_PKEY *key)
{
	if (X509_sign(x, key, ca_key_sign_md(key)) <= 0) {
		ca_util_err_ssl("sign certificate");
		return (-1);
	}
	return (0);
}

X509 *
ca_cert_root(const char *td, EVP_PKEY *key, int64_t now)
{
	char cn[CA_NAME_TD_MAX + 16];
	X509 *x = NULL;

	snprintf(cn, sizeof(cn), "%s root CA", td);
	if ((x = ca_cert_base(cn, NULL, key, now,
		 (int64_t)CA_CERT_ROOT_DAYS * 86400)) == NULL)
		return (NULL);
	if (ca_cert_add_conf(x, NULL, NID_basic_constraints,
		"critical,CA:TRUE,pathlen:1") != 0 ||
	    ca_cert_add_conf(
		x, NULL, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
	    ca_cert_add_conf(x, NULL, NID_subject_key_identifier, "hash") !=
		0 ||
	    ca_cert_sign(x, key) != 0) {
		X509_free(x);
		return (NULL);
	}
	return (x);
}

/* Push a permitted subtree of TYPE for S onto NC; 0 or -1. */
static int
ca_cert_permit(NAME_CONSTRAINTS *nc, int type, const char *s)
{
	GENERAL_SUBTREE *st = NULL;

	if ((st = GENERAL_SUBTREE_new()) == NULL) {
		ca_util_err_ssl("name constraints");
		return (-1);
	}
	GENERAL_NAME_free(st->base);
	if ((st->base = ca_cert_gen_ia5(type, s)) == NULL ||
	    !sk_GENERAL_SUBTREE_push(nc->permittedSubtrees, st)) {
		ca_util_err_ssl("name constraints");
		GENERAL_SUBTREE_free(st);
		return (-1);
	}
	return (0);
}

/* Critical nameConstraints: URI TD, and DNS for each of PERMIT. */
static int
ca_cert_add_constraints(
    X509 *x, const char *td, const char *const *permit, size_t n)
{
	NAME_CONSTRAINTS *nc = NULL;
	int rc = -1;

	if ((nc = NAME_CONSTRAINTS_new()) == NULL ||
	    (nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null()) == NULL) {
		ca_util_err_ssl("name constraints");
		goto out;
	}
	if (ca_cert_permit(nc, GEN_URI, td) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (ca_cert_permit(nc, GEN_DNS, permit[i]) != 0)
			goto out;
	if (!X509_add1_ext_i2d(
		x, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT)) {
		ca_util_err_ssl("add nameConstraints");
		goto out;
	}
	rc = 0;
out:
	NAME_CONSTRAINTS_free(nc);
	return (rc);
}

X509 *
ca_cert_intermediate(const char *td, const char *const *permit_dns,
    size_t npermit, EVP_PKEY *key, X509 *root, EVP_PKEY *root_key, int64_t now)
{
	char cn[CA_NAME_TD_MAX + 16];
	X509 *x = NULL;

	snprintf(cn, sizeof(cn), "%s issuing CA", td);
	if ((x = ca_cert_base(cn, root, key, now,
		 (int64_t)CA_CERT_INTERMEDIATE_DAYS * 86400)) == NULL)
		return (NULL);
	if (ca_cert_add_conf(x, root, NID_basic_constraints,
		"critical,CA:TRUE,pathlen:0") != 0 ||
	    ca_cert_add_conf(
		x, root, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
	    ca_cert_add_conf(x, root, NID_subject_key_identifier, "hash") !=
		0 ||
	    ca_cert_add_conf(
		x, root, NID_authority_key_identifier, "keyid:always") != 0 ||
	    ca_cert_add_constraints(x, td, permit_dns, npermit) != 0 ||
	    ca_cert_sign(x, root_key) != 0) {
		X509_free(x);
		return (NULL);
	}
	return (x);
}

X509 *
ca_cert_leaf(
    const struct ca_cert_leaf_req *req, X509 *issuer, EVP_PKEY *issuer_key)
{
	const char *ku = "critical,digitalSignature";
	X509 *x = NULL;

	if (EVP_PKEY_is_a(req->key, "RSA"))
		ku = "critical,digitalSignature,keyEncipherment";
	if ((x = ca_cert_base(
		 req->name, issuer, req->key, req->now, req->ttl)) == NULL)
		return (NULL);
	if (ca_cert_add_conf(
		x, issuer, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    ca_cert_add_conf(x, issuer, NID_key_usage, ku) != 0 ||
	    ca_cert_add_conf(
		x, issuer, NID_ext_key_usage, "serverAuth,clientAuth") != 0 ||
	    ca_cert_add_conf(x, issuer, NID_subject_key_identifier, "hash") !=
		0 ||
	    ca_cert_add_conf(
		x, issuer, NID_authority_key_identifier, "keyid:always") != 0 ||
	    ca_cert_add_san(x, req) != 0 || ca_cert_sign(x, issuer_key) != 0 ||
	    ca_cert_check_constraints(x, issuer) != 0) {
		X509_free(x);
		return (NULL);
	}
	return (x);
}

/* Append the permitted DNS subtrees of NC to BUF for an error message. */
static void
ca_cert_permitted_dns(NAME_CONSTRAINTS *nc, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees);
	     i++) {
		GENERAL_SUBTREE *st =
		    sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
		int n;

		if (st->base->type != GEN_DNS)
			continue;
		n = snprintf(buf + used, len - used, "%s%.*s",
		    used > 0 ? ", " : "", st->base->d.dNSName->length,
		    (const char *)st->base->d.dNSName->data);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	if (used == 0)
		snprintf(buf, len, "(no DNS constraint)");
}

/* Does DNS name N (LEN bytes) fall under permitted subtree BASE? */
static int
ca_cert_dns_under(
    const ASN1_IA5STRING *base, const unsigned char *n, size_t len)
{
	const unsigned char *b = base->data;
	size_t blen = (size_t)base->length;

	if (blen > 0 && b[0] == '.')
		return (len > blen && memcmp(n + len - blen, b, blen) == 0);
	if (len == blen)
		return (memcmp(n, b, blen) == 0);
	return (len > blen && n[len - blen - 1] == '.' &&
	    memcmp(n + len - blen, b, blen) == 0);
}

/*
 * For the error message only (OpenSSL's check is the authority): the
 * first DNS SAN of X outside NC's permitted DNS subtrees, into BUF.
 */
static void
ca_cert_dns_offender(X509 *x, NAME_CONSTRAINTS *nc, char *buf, size_t len)
{
	GENERAL_NAMES *gens =
	    X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int ndns = 0;

	snprintf(buf, len, "?");
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int ok = 0;

		if (g->type != GEN_DNS)
			continue;
		for (int j = 0;
		     j < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); j++) {
			GENERAL_SUBTREE *st =
			    sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, j);

			if (st->base->type != GEN_DNS)
				continue;
			ndns++;
			ok |= ca_cert_dns_under(st->base->d.dNSName,
			    g->d.dNSName->data, (size_t)g->d.dNSName->length);
		}
		if (ndns > 0 && !ok) {
			snprintf(buf, len, "DNS:%.*s", g->d.dNSName->length,
			    (const char *)g->d.dNSName->data);
			break;
		}
	}
	GENERAL_NAMES_free(gens);
}

int
ca_cert_check_constraints(X509 *x, X509 *issuer)
{
	NAME_CONSTRAINTS *nc = NULL;
	X509 *fresh = NULL;
	char permitted[512], offender[CA_NAME_MAX + 8];
	int crit = 0, rc;

	nc = X509_get_ext_d2i(issuer, NID_name_constraints, &crit, NULL);
	if (nc == NULL) {
		if (crit == -1)
			return (0);
		ca_util_err_ssl("issuing CA has unreadable name constraints");
		return (-1);
	}
	/*
	 * NAME_CONSTRAINTS_check() reads the SANs OpenSSL caches the first
	 * time it looks at a certificate's extensions, which for X may have
	 * been before they were all added: check a decoded copy, exactly what
	 * a verifier will parse, with its cache filled.
	 */
	if ((fresh = X509_dup(x)) == NULL) {
		ca_util_err_ssl("copy certificate");
		NAME_CONSTRAINTS_free(nc);
		return (-1);
	}
	(void)X509_get_extension_flags(fresh); /* fills the SAN cache */
	rc = NAME_CONSTRAINTS_check(fresh, nc);
	if (rc == X509_V_OK)
		rc = NAME_CONSTRAINTS_check_CN(fresh, nc);
	X509_free(fresh);
	if (rc != X509_V_OK) {
		ca_cert_permitted_dns(nc, permitted, sizeof(permitted));
		ca_cert_dns_offender(x, nc, offender, sizeof(offender));
		ca_util_err(
		    "a name is outside the CA's name constraints (%s: %s); "
		    "permitted DNS subtrees: %s",
		    X509_verify_cert_error_string(rc), offender, permitted);
	}
	NAME_CONSTRAINTS_free(nc);
	return (rc == X509_V_OK ? 0 : -1);
}
