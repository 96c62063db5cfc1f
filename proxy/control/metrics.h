/*
 * metrics: the Prometheus text exposition of cotai-proxy's counters. Label
 * values come only from the configuration (route names and the fixed reason
 * names), never from peers, so a stranger cannot grow the series count.
 */
#ifndef COTAI_METRICS_H
#define COTAI_METRICS_H

#include <time.h>

#include <event2/buffer.h>
#include <openssl/ssl.h>

struct worker_pool;

/* Append the exposition of POOL's counters (borrowed) to OUT. 0/-1. */
int metrics_render(const struct worker_pool *pool, struct evbuffer *out);

/* notAfter of the certificate CTX presents, as Unix time; 0 if none. */
time_t metrics_cert_not_after(const SSL_CTX *ctx);

/* The earliest nextUpdate of the CRLs in CTX's store, as Unix time; 0 when
 * there is none. */
time_t metrics_crl_next_update(const SSL_CTX *ctx);

#endif
