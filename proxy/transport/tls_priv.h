/*
 * tls_priv.h: what tls.c (connections) and tls_ctx.c (contexts) share.
 */
#ifndef COTAI_TLS_PRIV_H
#define COTAI_TLS_PRIV_H

#include <openssl/ssl.h>

/*
 * The verify callback of every route's context: a chain error becomes the
 * connection's reason, and at depth 0 the leaf's identity is matched.
 */
int tls_verify_cb(int ok, X509_STORE_CTX *xs);

#endif
