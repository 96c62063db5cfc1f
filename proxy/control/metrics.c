/*
 * metrics: see metrics.h. Every family is written with HELP and TYPE lines
 * and one sample per route (and per reason or direction where labelled).
 * Counters are read with relaxed atomic loads: a scrape sees each counter
 * at some recent instant, which is all Prometheus asks for.
 */
#include "metrics.h"
#include "renew.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "audit.h"
#include "mux.h"
#include "reason.h"
#include "route.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

time_t
metrics_cert_not_after(const SSL_CTX *ctx)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	struct tm tm;

	if (cert == NULL || !ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
		return (0);
	return (timegm(&tm));
}

time_t
metrics_crl_next_update(const SSL_CTX *ctx)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	STACK_OF(X509_OBJECT) * objs;
	time_t min = 0;

	/* Locked: a handshake's lookup may sort the objects meanwhile. */
	if (store == NULL || !X509_STORE_lock(store))
		return (0);
	objs = X509_STORE_get0_objects(store);
	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509_CRL *crl =
		    X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
		const ASN1_TIME *next;
		struct tm tm;
		time_t t;

		if (crl == NULL ||
		    (next = X509_CRL_get0_nextUpdate(crl)) == NULL ||
		    !ASN1_TIME_to_tm(next, &tm))
			continue;
		t = timegm(&tm);
		if (min == 0 || t < min)
			min = t;
	}
	X509_STORE_unlock(store);
	return (min);
}

static void
metrics_family(
    struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(
	    out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample per route of the counter that FIELD selects. */
static void
metrics_per_route(struct evbuffer *out, const struct pool_snapshot *p,
    const char *name, size_t field)
{
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct route *r = p->routes[i];
		const atomic_uint_fast64_t *c =
		    (const atomic_uint_fast64_t *)((const char *)r->stats +
			field);
		evbuffer_add_printf(out, "%s{route=\"%s\"} %llu\n", name,
		    r->cfg->name,
		    (unsigned long long)atomic_load_explicit(
			c, memory_order_relaxed));
	}
}

#define PER_ROUTE(out, p, name, type, help, member)                            \
	do {                                                                   \
		metrics_family(out, name, type, help);                         \
		metrics_per_route(                                             \
		    out, p, name, offsetof(struct route_stats, member));       \
	} while (0)

/* Handshake duration histogram, one series set per route. */
static void
metrics_histogram(struct evbuffer *out, const struct pool_snapshot *p)
{
	metrics_family(out, "cotai_handshake_duration_seconds", "histogram",
	    "TLS handshake duration (completed handshakes).");
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct route *r = p->routes[i];
		unsigned long long cum = 0;

		for (size_t b = 0; b <= ROUTE_HS_BUCKETS; b++) {
			cum += (unsigned long long)LOAD(r->stats->hs_bucket[b]);
			if (b < ROUTE_HS_BUCKETS)
				evbuffer_add_printf(out,
				    "cotai_handshake_duration_seconds_bucket{"
				    "route=\"%s\",le=\"%g\"} %llu\n",
				    r->cfg->name,
				    route_hs_bounds_ms[b] / 1000.0, cum);
			else
				evbuffer_add_printf(out,
				    "cotai_handshake_duration_seconds_bucket{"
				    "route=\"%s\",le=\"+Inf\"} %llu\n",
				    r->cfg->name, cum);
		}
		evbuffer_add_printf(out,
		    "cotai_handshake_duration_seconds_sum{route=\"%s\"} "
		    "%.3f\n"
		    "cotai_handshake_duration_seconds_count{route=\"%s\"} "
		    "%llu\n",
		    r->cfg->name, (double)LOAD(r->stats->hs_sum_ms) / 1000.0,
		    r->cfg->name, cum);
	}
}

/* One sample per route and reason of the array at FIELD (zeros left out
 * except eof, so that every route has a series). */
static void
metrics_by_reason(struct evbuffer *out, const struct pool_snapshot *p,
    const char *name, size_t field, bool all)
{
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct route *r = p->routes[i];
		const atomic_uint_fast64_t *a =
		    (const atomic_uint_fast64_t *)((const char *)r->stats +
			field);

		for (int k = REASON_NONE + 1; k < REASON__N; k++) {
			unsigned long long v =
			    (unsigned long long)atomic_load_explicit(
				&a[k], memory_order_relaxed);

			if (v == 0 && !all)
				continue;
			evbuffer_add_printf(out,
			    "%s{route=\"%s\",reason=\"%s\"} %llu\n", name,
			    r->cfg->name, reason_name((enum reason)k), v);
		}
	}
}

/* Process-wide families: open connections, reloads. */
static void
metrics_process(struct evbuffer *out, const struct pool_snapshot *p)
{
	metrics_family(out, "cotai_open_connections", "gauge",
	    "Connections open now, all routes (removed ones included).");
	evbuffer_add_printf(out, "cotai_open_connections %u\n", p->active);
	metrics_family(out, "cotai_reloads_total", "counter",
	    "Reloads (SIGHUP or changed files), by result.");
	for (int k = 0; k < POOL_RELOAD__N; k++)
		evbuffer_add_printf(out,
		    "cotai_reloads_total{result=\"%s\"} %llu\n",
		    pool_reload_names[k], (unsigned long long)p->reloads[k]);
	metrics_family(out, "cotai_mux_tunnels", "gauge",
	    "HTTP/2 tunnels to or from peer sidecars open now (mux).");
	evbuffer_add_printf(out, "cotai_mux_tunnels %llu\n",
	    (unsigned long long)LOAD(mux_stats.tunnels));
	metrics_family(out, "cotai_mux_tunnels_total", "counter",
	    "HTTP/2 tunnels opened (each one TLS handshake).");
	evbuffer_add_printf(out, "cotai_mux_tunnels_total %llu\n",
	    (unsigned long long)LOAD(mux_stats.tunnels_total));
	metrics_family(out, "cotai_mux_streams_total", "counter",
	    "Streams opened on tunnels (one per multiplexed connection).");
	evbuffer_add_printf(out, "cotai_mux_streams_total %llu\n",
	    (unsigned long long)LOAD(mux_stats.streams));
	metrics_family(out, "cotai_mux_flow_stalls_total", "counter",
	    "Times a stream's receive window filled up because its reader "
	    "was slower than its sender (that stream waits; others go on).");
	evbuffer_add_printf(out, "cotai_mux_flow_stalls_total %llu\n",
	    (unsigned long long)LOAD(mux_stats.flow_stalls));
}

/* The mTLS admin endpoint (admin.tls): the clients it refused (REFUSED,
 * per reason). */
static void
metrics_admin(struct evbuffer *out, const struct pool_snapshot *p,
    const uint64_t *refused)
{
	if (p->admin_ctx == NULL || refused == NULL)
		return;
	metrics_family(out, "cotai_admin_refused_total", "counter",
	    "Clients the mTLS admin endpoint refused, by reason.");
	evbuffer_add_printf(out,
	    "cotai_admin_refused_total{reason=\"%s\"} %llu\n",
	    reason_name(REASON_IDENTITY_NOT_ALLOWED),
	    (unsigned long long)refused[REASON_IDENTITY_NOT_ALLOWED]);
	for (int k = REASON_NONE + 1; k < REASON__N; k++)
		if (k != REASON_IDENTITY_NOT_ALLOWED && refused[k] > 0)
			evbuffer_add_printf(out,
			    "cotai_admin_refused_total{reason=\"%s\"} "
			    "%llu\n",
			    reason_name((enum reason)k),
			    (unsigned long long)refused[k]);
}

/*
 * PostgreSQL routes: cancels by how they came and what became of them,
 * and the local_tls certificate's notAfter where there is one.
 */
static void
metrics_pg(struct evbuffer *out, const struct pool_snapshot *p)
{
	static const char *const results[ROUTE_CANCEL__N] = {
	    "relayed", "refused", "failed"};

	metrics_family(out, "cotai_pg_cancel_requests_total", "counter",
	    "PostgreSQL CancelRequests, by whether they came over TLS and "
	    "what became of them.");
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct route *r = p->routes[i];

		if (r->cfg->protocol != CONFIG_PROTO_POSTGRES)
			continue;
		for (int t = 0; t < 2; t++)
			for (int k = 0; k < ROUTE_CANCEL__N; k++)
				evbuffer_add_printf(out,
				    "cotai_pg_cancel_requests_total{route="
				    "\"%s\",client_tls=\"%s\",result=\"%s\"} "
				    "%llu\n",
				    r->cfg->name, t ? "true" : "false",
				    results[k],
				    (unsigned long long)LOAD(
					r->stats->pg_cancels[t][k]));
	}
	metrics_family(out, "cotai_local_tls_cert_expiry_timestamp_seconds",
	    "gauge", "notAfter of the local_tls certificate (postgres).");
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct route *r = p->routes[i];

		if (r->local_ctx != NULL)
			evbuffer_add_printf(out,
			    "cotai_local_tls_cert_expiry_timestamp_seconds{"
			    "route=\"%s\"} %lld\n",
			    r->cfg->name,
			    (long long)metrics_cert_not_after(r->local_ctx));
	}
}

/*
 * The server session cache of each terminate route (tls.c): how many
 * sessions it holds now. SSL_CTX_sess_number() reads the count without
 * the cache's lock, so a scrape may see it one handshake early or late.
 */
static void
metrics_sessions(struct evbuffer *out, const struct pool_snapshot *p)
{
	metrics_family(out, "cotai_tls_sessions_cached", "gauge",
	    "Sessions in a terminate route's resumption cache.");
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct route *r = p->routes[i];

		if (r->cfg->mode != CONFIG_MODE_TERMINATE)
			continue;
		evbuffer_add_printf(out,
		    "cotai_tls_sessions_cached{route=\"%s\"} %ld\n",
		    r->cfg->name, SSL_CTX_sess_number(r->ssl_ctx));
	}
}

int
metrics_render(const struct metrics_src *src, struct evbuffer *out)
{
	const struct pool_snapshot *p = &src->pool;
	time_t admin_next;

	metrics_process(out, p);
	renew_metrics(src->renew, out);
	PER_ROUTE(out, p, "cotai_connections_active", "gauge",
	    "Connections open now (before and after reloads).", active);
	PER_ROUTE(out, p, "cotai_connections_accepted_total", "counter",
	    "Connections accepted.", accepted);
	PER_ROUTE(out, p, "cotai_handshakes_total", "counter",
	    "TLS handshakes completed.", handshakes);
	PER_ROUTE(out, p, "cotai_handshakes_resumed_total", "counter",
	    "TLS handshakes that resumed a session.", resumed);
	PER_ROUTE(out, p, "cotai_upstream_retries_total", "counter",
	    "Upstream connect retries (connect_retry).", retries);
	PER_ROUTE(out, p, "cotai_upstream_resolve_failures_total", "counter",
	    "Lookups of the target's host name that failed (the last good "
	    "addresses were kept).",
	    resolve_failures);
	metrics_histogram(out, p);
	metrics_family(out, "cotai_handshake_failures_total", "counter",
	    "TLS handshakes that failed or never finished, by reason.");
	metrics_by_reason(out, p, "cotai_handshake_failures_total",
	    offsetof(struct route_stats, hs_failed), false);
	metrics_family(out, "cotai_connections_closed_total", "counter",
	    "Connections closed, by reason (TLS and identity failures "
	    "included).");
	metrics_by_reason(out, p, "cotai_connections_closed_total",
	    offsetof(struct route_stats, closed), true);

	metrics_family(out, "cotai_bytes_total", "counter",
	    "Bytes relayed; up is client to upstream.");
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct route *r = p->routes[i];
		evbuffer_add_printf(out,
		    "cotai_bytes_total{route=\"%s\",direction=\"up\"} %llu\n"
		    "cotai_bytes_total{route=\"%s\",direction=\"down\"} "
		    "%llu\n",
		    r->cfg->name, (unsigned long long)LOAD(r->stats->bytes_up),
		    r->cfg->name,
		    (unsigned long long)LOAD(r->stats->bytes_down));
	}

	metrics_family(out, "cotai_cert_expiry_timestamp_seconds", "gauge",
	    "notAfter of the certificate each route presents.");
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct route *r = p->routes[i];
		evbuffer_add_printf(out,
		    "cotai_cert_expiry_timestamp_seconds{route=\"%s\"} "
		    "%lld\n",
		    r->cfg->name,
		    (long long)metrics_cert_not_after(r->ssl_ctx));
	}
	if (p->admin_ctx != NULL)
		evbuffer_add_printf(out,
		    "cotai_cert_expiry_timestamp_seconds{route=\"(admin)\"} "
		    "%lld\n",
		    (long long)metrics_cert_not_after(p->admin_ctx));
	metrics_family(out, "cotai_crl_next_update_seconds", "gauge",
	    "nextUpdate of the route's CRL (the earliest when the file holds "
	    "several), as Unix time; no sample without a CRL.");
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct route *r = p->routes[i];
		time_t next = metrics_crl_next_update(r->ssl_ctx);

		if (next != 0)
			evbuffer_add_printf(out,
			    "cotai_crl_next_update_seconds{route=\"%s\"} "
			    "%lld\n",
			    r->cfg->name, (long long)next);
	}
	if (p->admin_ctx != NULL &&
	    (admin_next = metrics_crl_next_update(p->admin_ctx)) != 0)
		evbuffer_add_printf(out,
		    "cotai_crl_next_update_seconds{route=\"(admin)\"} "
		    "%lld\n",
		    (long long)admin_next);
	metrics_admin(out, p, src->admin_refused);
	metrics_pg(out, p);
	metrics_sessions(out, p);
	audit_metrics(out);
	return (0);
}
