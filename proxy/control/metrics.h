/*
 * metrics: the Prometheus text exposition of cotai-proxy's counters. Label
 * values come only from the configuration (route names and the fixed reason
 * names), never from peers, so a stranger cannot grow the series count.
 */
#ifndef COTAI_METRICS_H
#define COTAI_METRICS_H

#include <stdint.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/ssl.h>

#include "worker.h"

struct renew;

/* What a scrape shows, all borrowed. */
struct metrics_src {
	struct pool_snapshot pool; /* worker_pool_snapshot() */
	/* admin.tls: clients the endpoint refused, REASON__N counts by
	 * reason; NULL without */
	const uint64_t *admin_refused;
	const struct renew *renew; /* identity.renew, or NULL */
};

/* Append the exposition of SRC's counters to OUT. 0/-1. */
int metrics_render(const struct metrics_src *src, struct evbuffer *out);

/* notAfter of the certificate CTX presents, as Unix time; 0 if none. */
time_t metrics_cert_not_after(const SSL_CTX *ctx);

/* The earliest nextUpdate of the CRLs in CTX's store, as Unix time; 0 when
 * there is none. */
time_t metrics_crl_next_update(const SSL_CTX *ctx);

#endif
