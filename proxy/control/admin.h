/*
 * admin: the operator endpoint, a tiny HTTP/1.0 server on the main
 * thread's event base (loopback by default):
 *
 *	/healthz  200 while the process serves its listeners, 503 once
 *	          it is draining
 *	/readyz   200 when every route's certificate is loaded and valid
 *	          for longer than the readiness window, no route's CRL is
 *	          past its nextUpdate, and not draining
 *	/metrics  Prometheus text format (see metrics.h)
 *
 * One request per connection, a fixed 5 s deadline from accept to the
 * answer, and a cap of 32 admin connections at which the oldest incomplete
 * request is evicted for a newcomer, so slow or hostile clients cannot
 * hold the endpoint.
 */
#ifndef COTAI_ADMIN_H
#define COTAI_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"

struct admin;
struct renew;
struct worker_pool;

/* How an endpoint serves. */
struct admin_opts {
	/*
	 * Mutual TLS with the pool's admin context (admin.tls): every
	 * connection's client certificate must verify and match admin.allow
	 * of the config current when it was accepted; refusals are logged
	 * (event admin_refused) and counted (cotai_admin_refused_total).
	 */
	bool tls;
	/* Answer /healthz and /readyz only, /metrics is 404
	 * (admin.health_listen). */
	bool health_only;
	/* identity.renew: the renewal client, for /metrics (borrowed, may
	 * be NULL) */
	const struct renew *renew;
};

/*
 * Bind the admin endpoint at A and serve it on BASE for POOL as OPTS say
 * (all borrowed; they must outlive the admin; OPTS is copied). /readyz
 * answers as ready.h says. Returns NULL after logging why.
 */
struct admin *admin_new(struct event_base *base, const struct config_addr *a,
    struct worker_pool *pool, const struct admin_opts *opts);

/* "HOST:PORT" the endpoint is bound to, for the ports file. */
const char *admin_bound(const struct admin *ad);

/* Report draining from now on (/healthz and /readyz answer 503). */
void admin_set_draining(struct admin *ad);

/* Close the endpoint and every admin connection; NULL-safe. */
void admin_free(struct admin *ad);

#endif
