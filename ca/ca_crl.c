/*
 * ca_crl: see ca_crl.h.
 */
#include "ca_crl.h"

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "ca_key.h"
#include "ca_util.h"

/* Add one revoked entry for E to CRL; 0 or -1. */
static int
ca_crl_add(X509_CRL *crl, const struct ca_index_entry *e)
{
	X509_REVOKED *r = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *reason = NULL;
	BIGNUM *bn = NULL;
	int rc = -1;

	if (!BN_hex2bn(&bn, e->serial) ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    (when = ASN1_TIME_set(NULL, (time_t)e->revoked_at)) == NULL ||
	    (r = X509_REVOKED_new()) == NULL ||
	    !X509_REVOKED_set_serialNumber(r, serial) ||
	    !X509_REVOKED_set_revocationDate(r, when))
		goto out;
	if (e->reason > 0 &&
	    ((reason = ASN1_ENUMERATED_new()) == NULL ||
		!ASN1_ENUMERATED_set(reason, e->reason) ||
		!X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0)))
		goto out;
	if (!X509_CRL_add0_revoked(crl, r))
		goto out;
	r = NULL;
	rc = 0;
out:
	if (rc != 0)
		ca_util_err_ssl("CRL entry %s", e->serial);
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_REVOKED_free(r);
	return (rc);
}

/* CRL number and authorityKeyIdentifier; 0 or -1. */
static int
ca_crl_add_exts(X509_CRL *crl, X509 *issuer, uint64_t number)
{
	AUTHORITY_KEYID *akid = NULL;
	ASN1_INTEGER *num = NULL;
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer);
	int rc = -1;

	if (ski == NULL) {
		ca_util_err("issuing CA has no subjectKeyIdentifier");
		return (-1);
	}
	if ((num = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_uint64(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) ||
	    (akid = AUTHORITY_KEYID_new()) == NULL ||
	    (akid->keyid = ASN1_OCTET_STRING_dup(ski)) == NULL ||
	    !X509_CRL_add1_ext_i2d(
		crl, NID_authority_key_identifier, akid, 0, 0)) {
		ca_util_err_ssl("CRL extensions");
		goto out;
	}
	rc = 0;
out:
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	return (rc);
}

X509_CRL *
ca_crl_build(X509 *issuer, EVP_PKEY *key, struct ca_index *idx, uint64_t number,
    int64_t now, int64_t next_update)
{
	X509_CRL *crl = NULL;
	ASN1_TIME *last = NULL, *next = NULL;

	if ((crl = X509_CRL_new()) == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
	    (last = ASN1_TIME_set(NULL, (time_t)now)) == NULL ||
	    (next = ASN1_TIME_set(NULL, (time_t)next_update)) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, last) ||
	    !X509_CRL_set1_nextUpdate(crl, next)) {
		ca_util_err_ssl("build CRL");
		goto err;
	}
	for (size_t i = 0; idx != NULL && i < ca_index_len(idx); i++) {
		const struct ca_index_entry *e = ca_index_at(idx, i);

		if (e->status == CA_INDEX_REVOKED && ca_crl_add(crl, e) != 0)
			goto err;
	}
	if (ca_crl_add_exts(crl, issuer, number) != 0)
		goto err;
	if (!X509_CRL_sort(crl) ||
	    X509_CRL_sign(crl, key, ca_key_sign_md(key)) <= 0) {
		ca_util_err_ssl("sign CRL");
		goto err;
	}
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	return (crl);
err:
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return (NULL);
}
