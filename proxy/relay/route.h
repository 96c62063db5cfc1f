/*
 * route: the run-time side of one configured route: its TLS context, its
 * resolved upstream and its counters. Routes are shared by all worker
 * threads and reference-counted: every live connection holds a reference,
 * so that a later reload can swap in new routes while old connections keep
 * the context they started with.
 */
#ifndef COTAI_ROUTE_H
#define COTAI_ROUTE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"
#include "reason.h"

struct resolver;

/* Upper bounds (ms) of the handshake duration histogram's buckets. */
#define ROUTE_HS_BUCKETS 10
extern const unsigned route_hs_bounds_ms[ROUTE_HS_BUCKETS];

/* What became of a PostgreSQL CancelRequest. */
enum route_cancel {
	ROUTE_CANCEL_RELAYED, /* sent over a fresh upstream leg */
	ROUTE_CANCEL_REFUSED, /* plaintext, and plaintext_cancel is off */
	ROUTE_CANCEL_FAILED,  /* upstream down, timeout, ... */
	ROUTE_CANCEL__N
};

/*
 * Counters a metrics endpoint can read at any time (relaxed atomics).
 * Shared by the routes of one name across reloads (refs), so counters and
 * the active gauge go on when a reload rebuilds the route.
 */
struct route_stats {
	atomic_uint refs;
	atomic_uint_fast64_t accepted;   /* connections accepted */
	atomic_uint_fast64_t active;     /* open right now */
	atomic_uint_fast64_t tunnels;    /* mux tunnels open now (mux.h) */
	atomic_uint_fast64_t handshakes; /* successful TLS handshakes */
	atomic_uint_fast64_t resumed;    /* ... of which resumed */
	atomic_uint_fast64_t bytes_up;   /* client -> upstream */
	atomic_uint_fast64_t bytes_down; /* upstream -> client */
	atomic_uint_fast64_t closed[REASON__N]; /* by reason */
	atomic_uint_fast64_t retries;           /* upstream connect retries */
	atomic_uint_fast64_t resolve_failures;  /* target lookups that failed */
	atomic_uint_fast64_t hs_failed[REASON__N]; /* handshakes, by reason */
	/* handshake durations: per bucket (not cumulative), +Inf last */
	atomic_uint_fast64_t hs_bucket[ROUTE_HS_BUCKETS + 1];
	atomic_uint_fast64_t hs_sum_ms;
	/* postgres CancelRequests: [came over TLS][enum route_cancel] */
	atomic_uint_fast64_t pg_cancels[2][ROUTE_CANCEL__N];
};

/* Take another reference to ST; returns ST. */
struct route_stats *route_stats_ref(struct route_stats *st);

/* Drop a reference, freeing ST with the last one; NULL-safe. */
void route_stats_unref(struct route_stats *st);

/*
 * A loaded configuration shared by the routes built from it: a reload
 * makes new routes from a new one while old connections still hold old
 * routes, whose cfg points into the old one. Freed with its last reference.
 */
struct route_config {
	struct cotai_config *cfg; /* owned */
	atomic_uint refs;
};

/* Take CFG (owned from now on, also on failure); one reference or NULL. */
struct route_config *route_config_new(struct cotai_config *cfg);

/* Take another reference; returns RC. */
struct route_config *route_config_ref(struct route_config *rc);

/* Drop a reference, freeing the config with the last one; NULL-safe. */
void route_config_unref(struct route_config *rc);

struct route {
	const struct config_route *cfg; /* borrowed from owner->cfg */
	struct route_config *owner;     /* a reference */
	size_t index;                   /* position in cfg->routes */
	SSL_CTX *ssl_ctx;               /* owned */
	SSL_CTX *local_ctx;             /* owned: local_tls, or NULL */
	struct upstream *up;            /* a reference (upstream.h) */
	struct route_stats *stats;      /* a reference */
	atomic_uint refs;
};

/*
 * Build the route for OWNER's route INDEX (a reference to OWNER is taken),
 * loading its key material. PREV (borrowed, may be NULL) is the route it
 * replaces: their counters are shared, and so is the upstream (with its
 * resolved addresses) when target and resolve_interval are unchanged;
 * otherwise the target is looked up now (blocking: never on a worker). RS
 * (borrowed, may be NULL) is the resolver the upstream asks for prompt
 * lookups; registering it is the caller's business. Returns a route with
 * one reference, or NULL (logged).
 */
struct route *route_new(struct route_config *owner, size_t index,
    const struct route *prev, struct resolver *rs);

/* Count one completed handshake that took MS milliseconds. */
void route_observe_handshake(struct route *r, uint64_t ms);

/* Count one handshake that failed (or never finished) for reason WHY. */
void route_handshake_failed(struct route *r, enum reason why);

/* Take another reference; returns R. */
struct route *route_ref(struct route *r);

/* Drop a reference, freeing the route with the last one; NULL-safe. */
void route_unref(struct route *r);

#endif
