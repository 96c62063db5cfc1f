/*
 * ca_crl: build and sign a CRL (pure: the caller passes the clock).
 *
 * A v2 CRL with issuer = the CA's subject, lastUpdate = now, nextUpdate =
 * the given time, a CRL number and an authorityKeyIdentifier (the CA's
 * SKI), listing every revoked entry of the index with its revocation date
 * and, unless "unspecified", a reason code.
 */
#ifndef COTAI_CA_CRL_H
#define COTAI_CA_CRL_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca_index.h"

/* How long a CRL is valid: nextUpdate = lastUpdate + this. */
#define CA_CRL_VALIDITY (4 * 86400)

/*
 * A CRL signed by ISSUER/KEY listing the revoked entries of IDX (NULL: an
 * empty CRL) numbered NUMBER, lastUpdate NOW (callers backdate it a minute
 * like certificates, for clock skew). NULL after printing the error.
 */
X509_CRL *ca_crl_build(X509 *issuer, EVP_PKEY *key, struct ca_index *idx,
    uint64_t number, int64_t now, int64_t next_update);

#endif
