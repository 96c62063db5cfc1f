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

/* Counters a metrics endpoint can read at any time (relaxed atomics). */
struct route_stats {
	atomic_uint_fast64_t accepted;          /* connections accepted */
	atomic_uint_fast64_t active;            /* open right now */
	atomic_uint_fast64_t handshakes;        /* successful TLS handshakes */
	atomic_uint_fast64_t resumed;           /* ... of which resumed */
	atomic_uint_fast64_t bytes_up;          /* client -> upstream */
	atomic_uint_fast64_t bytes_down;        /* upstream -> client */
	atomic_uint_fast64_t closed[REASON__N]; /* by reason */
};

struct route {
	const struct config_route *cfg; /* borrowed from the config */
	size_t index;                   /* position in cfg->routes */
	SSL_CTX *ssl_ctx;               /* owned */
	struct upstream *up;            /* owned */
	struct route_stats stats;
	atomic_uint refs;
};

/*
 * Build the route for RC (borrowed; must outlive the route), loading its
 * key material. Returns a route with one reference, or NULL (logged).
 */
struct route *route_new(const struct config_route *rc, size_t index);

/* Take another reference; returns R. */
struct route *route_ref(struct route *r);

/* Drop a reference, freeing the route with the last one; NULL-safe. */
void route_unref(struct route *r);

#endif
