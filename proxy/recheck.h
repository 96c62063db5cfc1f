/*
 * recheck: after a reload, does the peer of a live TLS connection still
 * pass the route it would be checked against now? The new route's trust
 * store (CA bundle and CRL, leaf-only), the certificate's validity period
 * and the route's allow/expect list are applied to the certificate the
 * peer presented when it connected.
 */
#ifndef COTAI_RECHECK_H
#define COTAI_RECHECK_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "reason.h"
#include "route.h"

/*
 * Check the peer of SSL (borrowed, handshake done) against route R
 * (borrowed). Returns REASON_NONE when it passes, or
 * REASON_REVOKED_AFTER_RELOAD, REASON_EXPIRED_AFTER_RELOAD or
 * REASON_NOT_ALLOWED_AFTER_RELOAD with a human reason in DETAIL.
 */
enum reason
recheck_peer(SSL *ssl, const struct route *r, char *detail, size_t len);

#endif
