/*
 * route: see route.h.
 */
#include "route.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "proto.h"
#include "tls.h"
#include "upstream.h"

const unsigned route_hs_bounds_ms[ROUTE_HS_BUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000};

struct route_config *
route_config_new(struct cotai_config *cfg)
{
	struct route_config *rc;

	if ((rc = calloc(1, sizeof(*rc))) == NULL) {
		log_errno("calloc");
		config_free(cfg);
		return (NULL);
	}
	rc->cfg = cfg;
	atomic_init(&rc->refs, 1);
	return (rc);
}

struct route_config *
route_config_ref(struct route_config *rc)
{
	atomic_fetch_add_explicit(&rc->refs, 1, memory_order_relaxed);
	return (rc);
}

void
route_config_unref(struct route_config *rc)
{
	if (rc == NULL ||
	    atomic_fetch_sub_explicit(&rc->refs, 1, memory_order_acq_rel) != 1)
		return;
	config_free(rc->cfg);
	free(rc);
}

void
route_observe_handshake(struct route *r, uint64_t ms)
{
	size_t i = 0;

	while (i < ROUTE_HS_BUCKETS && ms > route_hs_bounds_ms[i])
		i++;
	atomic_fetch_add_explicit(
	    &r->stats->hs_bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &r->stats->hs_sum_ms, ms, memory_order_relaxed);
}

void
route_handshake_failed(struct route *r, enum reason why)
{
	if ((unsigned)why < REASON__N)
		atomic_fetch_add_explicit(
		    &r->stats->hs_failed[why], 1, memory_order_relaxed);
}

struct route_stats *
route_stats_ref(struct route_stats *st)
{
	atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
	return (st);
}

void
route_stats_unref(struct route_stats *st)
{
	if (st != NULL &&
	    atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) == 1)
		free(st);
}

/* R's upstream: PREV's when it fits, else a new one. NULL on ENOMEM. */
static struct upstream *
route_upstream(
    const struct route *r, const struct route *prev, struct resolver *rs)
{
	const struct config_route *rc = r->cfg;
	struct upstream_opts o = {
	    rc->name, &rc->target, rc->resolve_interval_ms, r->stats, rs};

	if (prev != NULL &&
	    upstream_same(prev->up, &rc->target, rc->resolve_interval_ms))
		return (upstream_ref(prev->up));
	return (upstream_new(&o));
}

struct route *
route_new(struct route_config *owner, size_t index, const struct route *prev,
    struct resolver *rs)
{
	const struct config_route *rc = &owner->cfg->routes[index];
	struct tls_ctx_opts o, lo;
	struct route *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	r->cfg = rc;
	r->owner = route_config_ref(owner);
	if (prev != NULL) {
		r->stats = route_stats_ref(prev->stats);
	} else if ((r->stats = calloc(1, sizeof(*r->stats))) != NULL) {
		atomic_init(&r->stats->refs, 1);
	}
	r->index = index;
	atomic_init(&r->refs, 1);
	proto_tls_opts(rc, &o, &lo); /* what its protocol asks of TLS */
	if (r->stats == NULL ||
	    (r->ssl_ctx = tls_ctx_new_opts(rc, &o)) == NULL ||
	    (rc->pg_local_tls.cert != NULL &&
		(r->local_ctx = tls_local_ctx_new(rc, &lo)) == NULL) ||
	    (r->up = route_upstream(r, prev, rs)) == NULL) {
		log_error("route %s: cannot set up", rc->name);
		route_unref(r);
		return (NULL);
	}
	return (r);
}

struct route *
route_ref(struct route *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return (r);
}

void
route_unref(struct route *r)
{
	if (r == NULL ||
	    atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	SSL_CTX_free(r->ssl_ctx);
	SSL_CTX_free(r->local_ctx);
	upstream_unref(r->up);
	route_config_unref(r->owner);
	route_stats_unref(r->stats);
	free(r);
}
