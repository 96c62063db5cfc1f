/*
 * Unit tests for proxy/control/metrics.c: the exposition of a pool snapshot
 * with one route whose counters are set by hand (histogram buckets are
 * cumulative, label values come from the route name and fixed names only).
 */
#include <check.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/ssl.h>

#include "metrics.h"
#include "route.h"
#include "worker.h"

Suite *metrics_suite(void);

static char *
render(const struct pool_snapshot *p)
{
	const struct metrics_src src = {.pool = *p};
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *s;

	ck_assert_int_eq(metrics_render(&src, b), 0);
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return (s);
}

#define HAS(s, x) ck_assert_msg(strstr(s, x) != NULL, "no \"%s\"", x)

START_TEST(one_route)
{
	struct config_route rc = {.name = "pg-in"};
	struct route r, *rp = &r;
	struct pool_snapshot p;
	char *s;

	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	r.stats = calloc(1, sizeof(*r.stats));
	ck_assert_ptr_nonnull(r.stats);
	r.cfg = &rc;
	r.ssl_ctx = SSL_CTX_new(TLS_method());
	p.routes = &rp;
	p.nroutes = 1;
	p.active = 4;
	p.reloads[POOL_RELOAD_OK] = 7;
	p.reloads[POOL_RELOAD_TLS] = 1;
	atomic_store(&r.stats->accepted, 12);
	route_observe_handshake(&r, 1);  /* le 0.001 */
	route_observe_handshake(&r, 30); /* le 0.05 */
	route_observe_handshake(&r, 99999);
	route_handshake_failed(&r, REASON_CERT_REVOKED);
	atomic_store(&r.stats->closed[REASON_EOF], 9);
	atomic_store(&r.stats->resolve_failures, 5);
	s = render(&p);
	HAS(s, "# TYPE cotai_handshake_duration_seconds histogram\n");
	HAS(s,
	    "cotai_handshake_duration_seconds_bucket{route=\"pg-in\","
	    "le=\"0.001\"} 1\n");
	HAS(s,
	    "cotai_handshake_duration_seconds_bucket{route=\"pg-in\","
	    "le=\"0.025\"} 1\n");
	HAS(s,
	    "cotai_handshake_duration_seconds_bucket{route=\"pg-in\","
	    "le=\"0.05\"} 2\n");
	HAS(s,
	    "cotai_handshake_duration_seconds_bucket{route=\"pg-in\","
	    "le=\"+Inf\"} 3\n");
	HAS(s, "cotai_handshake_duration_seconds_count{route=\"pg-in\"} 3\n");
	HAS(s,
	    "cotai_handshake_duration_seconds_sum{route=\"pg-in\"} "
	    "100.030\n");
	HAS(s,
	    "cotai_handshake_failures_total{route=\"pg-in\","
	    "reason=\"cert_revoked\"} 1\n");
	/* Failures that never happened are left out... */
	ck_assert_ptr_null(strstr(s,
	    "cotai_handshake_failures_total{route="
	    "\"pg-in\",reason=\"unknown_ca\"}"));
	/* ...closed counters are all there. */
	HAS(s,
	    "cotai_connections_closed_total{route=\"pg-in\","
	    "reason=\"unknown_ca\"} 0\n");
	HAS(s,
	    "cotai_connections_closed_total{route=\"pg-in\","
	    "reason=\"eof\"} 9\n");
	HAS(s, "cotai_connections_accepted_total{route=\"pg-in\"} 12\n");
	HAS(s, "cotai_open_connections 4\n");
	HAS(s, "cotai_reloads_total{result=\"ok\"} 7\n");
	HAS(s, "cotai_reloads_total{result=\"tls_error\"} 1\n");
	HAS(s, "cotai_cert_expiry_timestamp_seconds{route=\"pg-in\"} 0\n");
	/* Not a postgres route: no cancel series. */
	ck_assert_ptr_null(strstr(s, "cotai_pg_cancel_requests_total{"));
	HAS(s, "# TYPE cotai_upstream_resolve_failures_total counter\n");
	HAS(s, "cotai_upstream_resolve_failures_total{route=\"pg-in\"} 5\n");
	free(s);
	free(r.stats);
	SSL_CTX_free(r.ssl_ctx);
}
END_TEST

/* A postgres route: cancels by client_tls and result, local_tls expiry. */
START_TEST(pg_route)
{
	struct config_route rc = {
	    .name = "pg", .protocol = CONFIG_PROTO_POSTGRES};
	struct route r, *rp = &r;
	struct pool_snapshot p;
	char *s;

	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	ck_assert_ptr_nonnull(r.stats = calloc(1, sizeof(*r.stats)));
	r.cfg = &rc;
	r.ssl_ctx = SSL_CTX_new(TLS_method());
	r.local_ctx = SSL_CTX_new(TLS_method());
	p.routes = &rp;
	p.nroutes = 1;
	atomic_store(&r.stats->pg_cancels[0][ROUTE_CANCEL_RELAYED], 3);
	atomic_store(&r.stats->pg_cancels[0][ROUTE_CANCEL_REFUSED], 2);
	atomic_store(&r.stats->pg_cancels[1][ROUTE_CANCEL_FAILED], 1);
	s = render(&p);
	HAS(s, "# TYPE cotai_pg_cancel_requests_total counter\n");
	HAS(s,
	    "cotai_pg_cancel_requests_total{route=\"pg\",client_tls="
	    "\"false\",result=\"relayed\"} 3\n");
	HAS(s,
	    "cotai_pg_cancel_requests_total{route=\"pg\",client_tls="
	    "\"false\",result=\"refused\"} 2\n");
	HAS(s,
	    "cotai_pg_cancel_requests_total{route=\"pg\",client_tls="
	    "\"true\",result=\"failed\"} 1\n");
	HAS(s,
	    "cotai_pg_cancel_requests_total{route=\"pg\",client_tls="
	    "\"true\",result=\"relayed\"} 0\n");
	HAS(s,
	    "cotai_local_tls_cert_expiry_timestamp_seconds{route=\"pg\"} "
	    "0\n");
	free(s);
	free(r.stats);
	SSL_CTX_free(r.ssl_ctx);
	SSL_CTX_free(r.local_ctx);
}
END_TEST

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, one_route);
	tcase_add_test(tc, pg_route);
	suite_add_tcase(s, tc);
	return (s);
}
