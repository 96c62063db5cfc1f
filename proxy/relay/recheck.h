/*
 * recheck: after a reload, does the peer of a live TLS connection still
 * pass the route it would be checked against now? The new route's trust
 * store (CA bundle and CRL, leaf-only), the certificate's validity period
 * and the route's allow/expect list are applied to the certificate the
 * peer presented when it connected. The same check judges a handshake
 * that finishes after a reload on a connection accepted before it.
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

/*
 * The same check for a handshake that just finished on a route a reload
 * has since replaced by R (the connection was accepted before the
 * reload): it is judged as a new connection would be, so the reasons are
 * those of a refusal in the handshake (REASON_CERT_REVOKED,
 * REASON_CERT_EXPIRED, REASON_CERT_NOT_YET_VALID, REASON_UNKNOWN_CA,
 * REASON_BAD_CERT, REASON_IDENTITY_NOT_ALLOWED on terminate routes,
 * REASON_IDENTITY_NOT_EXPECTED on originate ones, REASON_INTERNAL when the
 * check cannot run), or REASON_NONE.
 */
enum reason
recheck_handshake(SSL *ssl, const struct route *r, char *detail, size_t len);

#endif
