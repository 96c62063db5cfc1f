/*
 * pgconn: the PostgreSQL startup phase of a connection on a route with
 * `protocol: postgres`, between accept and the relay (see
 * proxy/DESIGN.md, "Protocol facts", and the state diagram in conn.c).
 *
 *   originate: read the client's startup packets in plaintext, answering
 *   'N' to SSLRequest and GSSENCRequest (with local_tls: 'S' to an
 *   SSLRequest that nothing follows, then a TLS handshake on the app's
 *   leg, or TLS at once on a ClientHello with ALPN "postgresql"), until a
 *   StartupMessage (checked against the route's roles with our own
 *   identity) or a CancelRequest (also in plaintext with local_tls: libpq
 *   before 17 sends them so) is in; after the upstream connect, unless
 *   the upstream is a sidecar or uses sslnegotiation: direct, send
 *   SSLRequest and read exactly one byte: 'S' and nothing after it starts
 *   TLS, anything else closes (CVE-2021-23222).
 *
 *   terminate: before TLS, a ClientHello (first byte 0x16) starts TLS at
 *   once (a cotai sidecar or sslnegotiation=direct); an SSLRequest that is
 *   the only thing received is answered 'S' (bytes after it close the
 *   connection: CVE-2021-23214); GSSENCRequest gets 'N'; a plaintext
 *   CancelRequest with nothing after it is relayed alone over a fresh
 *   upstream leg when plaintext_cancel is on and dropped otherwise; other
 *   plaintext startups are refused. After the handshake the startup packet
 *   is read inside TLS and checked against roles with the peer's identity;
 *   a stream of a mux tunnel (mux.h) starts there, with the tunnel peer's
 *   identity, its legs being stream legs.
 *
 * The startup bytes read are handed to the relay (pgconn_prefill), so the
 * server gets them unchanged. Refusals send a PostgreSQL ErrorResponse
 * (28000 for roles, 08P01 for malformed packets) before closing.
 */
#ifndef COTAI_PGCONN_H
#define COTAI_PGCONN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "audit.h"
#include "config.h"
#include "identity.h"
#include "leg.h"
#include "log.h"
#include "proto.h"
#include "pump.h"
#include "reason.h"

struct pgconn;

/*
 * pgconn is the postgres entry of the protocol table (proto.h): its
 * verdicts are the table's (PGCONN_CLOSE: pgconn_result() says why).
 */
enum pgconn_next {
	PGCONN_WAIT = PROTO_WAIT,
	PGCONN_CONNECT = PROTO_CONNECT, /* a startup packet or cancel is in */
	PGCONN_TLS = PROTO_TLS,
	PGCONN_CLOSE = PROTO_CLOSE
};

/*
 * A new startup phase for a connection on route RC (borrowed, must outlive
 * it). CTX is the route's context: on originate routes with roles, our own
 * certificate's identity is read from it. LOCAL_CTX (borrowed, may be
 * NULL) is the local_tls context of an originate route. NULL when memory
 * runs out.
 */
struct pgconn *
pgconn_new(const struct config_route *rc, SSL_CTX *ctx, SSL_CTX *local_ctx);

/*
 * A reload replaced the connection's route (same name, mode and
 * protocol): what is still to come is judged by RC (borrowed, must outlive
 * PG) and, on originate routes, the app's TLS leg (if it has not started)
 * uses LOCAL_CTX (borrowed, may be NULL). NULL-safe.
 */
void pgconn_rebind(
    struct pgconn *pg, const struct config_route *rc, SSL_CTX *local_ctx);

/* Free PG; NULL-safe. */
void pgconn_free(struct pgconn *pg);

/* PG as the protocol table's connection (its first member; NULL-safe). */
struct proto_conn *pgconn_proto(struct pgconn *pg);

/*
 * Do what can be done after an event on CL or UP (already passed to
 * leg_ready()). PEER is the TLS peer's identity on terminate routes (NULL
 * on originate). On PGCONN_WAIT the legs are watched as needed.
 */
enum pgconn_next pgconn_io(struct pgconn *pg, struct leg *cl, struct leg *up,
    const struct identity *peer);

/*
 * Upstream connected: true when pgconn has work there first (then call
 * pgconn_io): originate, the SSLRequest exchange; terminate, a plaintext
 * cancel to send. False: TLS (originate) or the relay starts at once.
 */
bool pgconn_upstream_begin(struct pgconn *pg);

/* Terminate, TLS handshake done (or a mux stream begun): the startup
 * packet comes next. */
void pgconn_tls_done(struct pgconn *pg);

/* Startup bytes waiting for the relay (0 for a NULL PG). */
size_t pgconn_pending(const struct pgconn *pg);

/* Move the waiting bytes into P's empty buffer (P->cap must be at least
 * pgconn_pending()); NULL-safe. */
void pgconn_prefill(struct pgconn *pg, struct pump *p);

/* Why PGCONN_CLOSE: the reason, *DETAIL, and whether the upstream did it. */
enum reason
pgconn_result(const struct pgconn *pg, const char **detail, bool *upstream);

/* Add pg_user, pg_database (and pg_request=cancel, local_tls=VERSION)
 * to an audit line. */
void pgconn_audit(const struct pgconn *pg, struct audit_rec *rec);

/*
 * Was it a CancelRequest? Then *CLIENT_TLS says whether it came over TLS
 * and *REFUSED whether it was refused rather than relayed (a plaintext
 * cancel without plaintext_cancel). False for NULL or another packet.
 */
bool
pgconn_cancel_info(const struct pgconn *pg, bool *client_tls, bool *refused);

#endif
