/*
 * proto: the protocol table, one entry per `protocol:` of a route (tcp,
 * postgres, redis, mongo), in the style of redis's connection.h: a struct
 * of function pointers per protocol, and a small per-connection object
 * (struct proto_conn) that carries its entry, so the relay calls through
 * it without knowing which protocol it runs.
 *
 * An entry says two things:
 *
 *   what the route's TLS contexts need (tls_opts, local_tls_opts): ALPN
 *   and the EOF rule, handed to the context builder (tls.h) as data;
 *
 *   whether a connection negotiates before the relay (conn_new not NULL:
 *   postgres, pgconn.h) and, if so, the steps of that negotiation. A step
 *   (io) returns a verdict the relay acts on: wait for the legs, connect
 *   the upstream, start TLS, or close for the reason result() gives.
 *   tcp, redis and mongo relay at once (redis and mongo speak TLS from
 *   their first byte, native upstream TLS: nothing to negotiate).
 *
 * Everything here runs in the thread of the connection's worker.
 */
#ifndef COTAI_PROTO_H
#define COTAI_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "audit.h"
#include "config.h"
#include "identity.h"
#include "leg.h"
#include "pump.h"
#include "reason.h"
#include "tls.h"

/*
 * The ALPN protocol of a mux tunnel (mux.h): tcp routes offer it
 * (originate) or select it when offered (terminate) unless mux is off.
 */
#define PROTO_ALPN_MUX "h2"

/* A negotiation step's verdict (see struct proto, io). */
enum proto_next {
	PROTO_WAIT,    /* the legs are watched for what is awaited */
	PROTO_CONNECT, /* what the upstream needs is in: connect */
	PROTO_TLS,     /* start TLS: on cl (terminate) or up (originate) */
	PROTO_CLOSE    /* close; proto_conn_result() says why */
};

struct proto;

/*
 * One connection's negotiation: the first member of each protocol's own
 * state (struct pgconn), which its entry's functions convert back.
 */
struct proto_conn {
	const struct proto *type;
};

struct proto {
	const char *name; /* as in the configuration */
	/* Add route RC's settings to O, its context's (zeroed by the
	 * caller); NULL: none. */
	void (*tls_opts)(const struct config_route *rc, struct tls_ctx_opts *o);
	/* The same for RC's local_tls context; NULL: none. */
	void (*local_tls_opts)(
	    const struct config_route *rc, struct tls_ctx_opts *o);

	/*
	 * The negotiation of a new connection on route RC (borrowed, must
	 * outlive it; CTX its context, LOCAL_CTX its local_tls context or
	 * NULL, both borrowed). NULL when memory runs out. The entry is
	 * NULL for a protocol that relays at once; then so are the rest.
	 */
	struct proto_conn *(*conn_new)(
	    const struct config_route *rc, SSL_CTX *ctx, SSL_CTX *local_ctx);
	void (*conn_free)(struct proto_conn *pc);
	/* A reload replaced the route (same name, mode, protocol). */
	void (*rebind)(struct proto_conn *pc, const struct config_route *rc,
	    SSL_CTX *local_ctx);
	/* Do what can be done after an event on CL or UP (already passed to
	 * leg_ready()). PEER: the TLS peer's identity once handshaken. */
	enum proto_next (*io)(struct proto_conn *pc, struct leg *cl,
	    struct leg *up, const struct identity *peer);
	/* Upstream connected: true when the protocol has work there first
	 * (then call io), false when TLS or the relay starts at once. */
	bool (*upstream_begin)(struct proto_conn *pc);
	/* Terminate: the TLS handshake on cl is done. */
	void (*tls_done)(struct proto_conn *pc);
	/* Bytes read that the relay must send on, and handing them over to
	 * P's empty buffer (P->cap at least that many). */
	size_t (*pending)(const struct proto_conn *pc);
	void (*prefill)(struct proto_conn *pc, struct pump *p);
	/* Why PROTO_CLOSE: the reason, *DETAIL, whether the upstream did
	 * it. */
	enum reason (*result)(
	    const struct proto_conn *pc, const char **detail, bool *upstream);
	/* Add the protocol's fields to the connection's audit line. */
	void (*audit)(const struct proto_conn *pc, struct audit_rec *rec);
	/* A cancel request? Then whether it came over TLS and was refused
	 * rather than relayed. */
	bool (*cancel_info)(
	    const struct proto_conn *pc, bool *client_tls, bool *refused);
};

extern const struct proto proto_tcp, proto_postgres, proto_redis, proto_mongo;

/* The entry of protocol P. */
const struct proto *proto_of(enum config_proto p);

/*
 * Route RC's TLS settings from its protocol's entry: *O for its context,
 * *LOCAL for its local_tls context. Both zeroed first.
 */
void proto_tls_opts(const struct config_route *rc, struct tls_ctx_opts *o,
    struct tls_ctx_opts *local);

/* Does a connection on RC negotiate before the relay? */
bool proto_negotiates(const struct config_route *rc);

/*
 * The negotiation of a new connection on RC, whose protocol negotiates
 * (proto_negotiates()); NULL when memory runs out. The caller frees it
 * with proto_conn_free().
 */
struct proto_conn *
proto_conn_new(const struct config_route *rc, SSL_CTX *ctx, SSL_CTX *local_ctx);

/*
 * Calls through PC's entry (see struct proto). The ones marked NULL-safe
 * do nothing (0, false) for a NULL PC: a connection without negotiation.
 */
void proto_conn_free(struct proto_conn *pc); /* NULL-safe */
void proto_conn_rebind(struct proto_conn *pc, const struct config_route *rc,
    SSL_CTX *local_ctx); /* NULL-safe */
enum proto_next proto_conn_io(struct proto_conn *pc, struct leg *cl,
    struct leg *up, const struct identity *peer);
bool proto_conn_upstream_begin(struct proto_conn *pc); /* NULL-safe */
void proto_conn_tls_done(struct proto_conn *pc);
size_t proto_conn_pending(const struct proto_conn *pc);         /* NULL-safe */
void proto_conn_prefill(struct proto_conn *pc, struct pump *p); /* NULL-safe */
enum reason proto_conn_result(
    const struct proto_conn *pc, const char **detail, bool *upstream);
void proto_conn_audit(
    const struct proto_conn *pc, struct audit_rec *rec); /* NULL-safe */
bool proto_conn_cancel_info(const struct proto_conn *pc, bool *client_tls,
    bool *refused); /* NULL-safe */

#endif
