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

#include <stdint.h>

#include <event2/event.h>

#include "config.h"

struct admin;
struct worker_pool;

/*
 * Bind the admin endpoint at A and serve it on BASE for POOL (all three
 * borrowed; they must outlive the admin). /readyz fails when a certificate
 * expires within the current config's admin.ready_min_validity. Returns
 * NULL after logging why.
 */
struct admin *admin_new(struct event_base *base, const struct config_addr *a,
    const struct worker_pool *pool);

/* "HOST:PORT" the endpoint is bound to, for the ports file. */
const char *admin_bound(const struct admin *ad);

/* Report draining from now on (/healthz and /readyz answer 503). */
void admin_set_draining(struct admin *ad);

/* Close the endpoint and every admin connection; NULL-safe. */
void admin_free(struct admin *ad);

#endif
