/*
 * ready: see ready.h.
 */
#include "ready.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "metrics.h"
#include "route.h"

/*
 * Is CTX's certificate missing or expiring within WINDOW seconds of NOW?
 * Then BUF says so (route NAME, WHAT certificate).
 */
static bool
ready_cert_short(const SSL_CTX *ctx, const char *name, const char *what,
    time_t now, time_t window, char *buf, size_t len)
{
	time_t na = metrics_cert_not_after(ctx);

	if (na == 0) {
		snprintf(buf, len, "route %s: no %scertificate", name, what);
		return (true);
	}
	if (na - now < window) {
		snprintf(buf, len, "route %s: %scertificate expires in %llds",
		    name, what, (long long)(na - now));
		return (true);
	}
	return (false);
}

/* Why route R is not ready (in BUF), or NULL. */
static const char *
ready_route(
    const struct route *r, time_t now, time_t window, char *buf, size_t len)
{
	time_t crl_next;

	if (ready_cert_short(
		r->ssl_ctx, r->cfg->name, "", now, window, buf, len) ||
	    (r->local_ctx != NULL &&
		ready_cert_short(r->local_ctx, r->cfg->name, "local_tls ", now,
		    window, buf, len)))
		return (buf);
	/* Leaf checks then refuse every peer: not ready. */
	crl_next = metrics_crl_next_update(r->ssl_ctx);
	if (crl_next != 0 && crl_next < now) {
		snprintf(buf, len,
		    "route %s: CRL past its nextUpdate %llds ago", r->cfg->name,
		    (long long)(now - crl_next));
		return (buf);
	}
	return (NULL);
}

const char *
ready_why_not(const struct worker_pool *pool, char *buf, size_t len)
{
	const struct cotai_config *cfg = worker_pool_config(pool);
	SSL_CTX *admin_ctx = worker_pool_admin_ctx(pool);
	time_t now = time(NULL);
	time_t window = (time_t)(cfg->ready_min_validity_ms / 1000);

	if (admin_ctx != NULL &&
	    ready_cert_short(admin_ctx, "(admin)", "", now, window, buf, len))
		return (buf);
	for (size_t i = 0; i < worker_pool_nroutes(pool); i++)
		if (ready_route(worker_pool_route(pool, i), now, window, buf,
			len) != NULL)
			return (buf);
	return (NULL);
}
