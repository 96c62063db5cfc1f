/*
 * identity: see identity.h.
 */
#include "identity.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "spiffe.h"

/* Copy an IA5String URI; NULL if it holds a NUL or a non-ASCII byte. */
static char *
identity_uri(const ASN1_IA5STRING *s)
{
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s);

	for (int i = 0; i < len; i++) {
		if (d[i] == 0 || d[i] > 0x7e)
			return (NULL);
	}
	return (strndup((const char *)d, (size_t)len));
}

/*
 * The spiffe URI SAN: 0 with *out set (or NULL if none), -1 if bad. A
 * SPIFFE ID must be the certificate's only URI SAN (X.509-SVID): another
 * URI beside it, spiffe or not, makes the identity malformed.
 */
static int
identity_san(X509 *cert, char **out)
{
	GENERAL_NAMES *gens = NULL;
	char *uri = NULL;
	int rc = -1, crit = 0, nuri = 0;

	*out = NULL;
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL) {
		/* crit == -1: absent; otherwise present but undecodable. */
		return (crit == -1 ? 0 : -1);
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type != GEN_URI)
			continue;
		nuri++;
		if ((uri = identity_uri(g->d.uniformResourceIdentifier)) ==
		    NULL)
			goto out;
		if (strncasecmp(uri, "spiffe:", 7) != 0) {
			free(uri);
			uri = NULL;
			continue;
		}
		if (*out != NULL || !spiffe_valid(uri))
			goto out;
		*out = uri;
		uri = NULL;
	}
	if (*out != NULL && nuri != 1)
		goto out;
	rc = 0;
out:
	free(uri);
	if (rc == -1) {
		free(*out);
		*out = NULL;
	}
	GENERAL_NAMES_free(gens);
	return (rc);
}

/* The subject CN as UTF-8 (NULL if none); -1 if several or not text. */
static int
identity_cn(X509 *cert, char **out)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	unsigned char *utf8 = NULL;
	int i, len;

	*out = NULL;
	if (subj == NULL ||
	    (i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1)) < 0)
		return (0);
	if (X509_NAME_get_index_by_NID(subj, NID_commonName, i) >= 0)
		return (-1);
	len = ASN1_STRING_to_UTF8(
	    &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
	if (len < 0)
		return (-1);
	if (strlen((char *)utf8) != (size_t)len) {
		OPENSSL_free(utf8);
		return (-1);
	}
	*out = strdup((char *)utf8);
	OPENSSL_free(utf8);
	return (*out == NULL ? -1 : 0);
}

int
identity_serial_hex(const X509 *cert, char *buf, size_t len)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int rc = -1;

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) ==
		NULL ||
	    (hex = BN_bn2hex(bn)) == NULL)
		goto out;
	if (strlen(hex) >= len) {
		rc = -2;
		goto out;
	}
	memcpy(buf, hex, strlen(hex) + 1);
	rc = 0;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return (rc);
}

/* Split id->spiffe into trust_domain and name. */
static int
identity_split(struct identity *id)
{
	struct spiffe_id p;

	if (spiffe_parse(id->spiffe, 0, &p, NULL) != 0 ||
	    (id->trust_domain = strndup(p.td, p.tdlen)) == NULL)
		return (-1);
	if (p.path[0] != '\0' && (id->name = strdup(p.path)) == NULL)
		return (-1);
	return (0);
}

int
identity_from_x509(X509 *cert, struct identity *out)
{
	struct tm tm;
	const ASN1_TIME *na;

	memset(out, 0, sizeof(*out));
	if (cert == NULL)
		return (-1);
	if (identity_san(cert, &out->spiffe) == -1 ||
	    (out->spiffe != NULL && identity_split(out) == -1) ||
	    identity_cn(cert, &out->cn) == -1 ||
	    identity_serial_hex(cert, out->serial, sizeof(out->serial)) != 0 ||
	    (na = X509_get0_notAfter(cert)) == NULL ||
	    ASN1_TIME_to_tm(na, &tm) != 1) {
		identity_clear(out);
		return (-1);
	}
	out->not_after = timegm(&tm);
	return (0);
}

void
identity_clear(struct identity *id)
{
	if (id == NULL)
		return;
	free(id->spiffe);
	free(id->name);
	free(id->trust_domain);
	free(id->cn);
	memset(id, 0, sizeof(*id));
}
