/*
 * route: see route.h.
 */
#include "route.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "tls.h"
#include "upstream.h"

struct route *
route_new(const struct config_route *rc, size_t index)
{
	struct route *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	r->cfg = rc;
	r->index = index;
	atomic_init(&r->refs, 1);
	if ((r->ssl_ctx = tls_ctx_new(rc)) == NULL ||
	    (r->up = upstream_new(&rc->target)) == NULL) {
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
	upstream_free(r->up);
	free(r);
}
