/*
 * crl: certificate revocation lists for a trust store, shared by the
 * routes' TLS contexts (proxy/transport/tls_ctx.c) and the audit
 * collector's client (proxy/audit/audit_syslog_conn.c).
 */
#ifndef COTAI_CRL_H
#define COTAI_CRL_H

#include <openssl/x509.h>

/*
 * Add every PEM CRL in FILE to STORE and turn on checking of the leaf
 * certificate against them (X509_V_FLAG_CRL_CHECK, not the whole chain:
 * cotai's CRLs are its issuing intermediates'). 0, or -1 after logging
 * (the file cannot be read, a CRL cannot be added, or it holds none).
 */
int crl_load(X509_STORE *store, const char *file);

#endif
