/*
 * renew: the sidecar's own certificate from a `cotai-ca serve` EST server
 * (config key identity.renew). On the main thread's event base, with
 * libevent's HTTP client over OpenSSL bufferevents (TLS 1.3, the server's
 * certificate verified against renew.ca and the URL's host):
 *
 *   - bootstrap (before anything is built): when state_dir has no valid
 *     certificate, generate an EC P-256 key (written only to
 *     state_dir/key.pem, 0600), POST simpleenroll with the token, GET
 *     cacerts and /crl; a valid state directory needs no network;
 *   - renewal at at_frac of the lifetime (with jitter): a new key and CSR,
 *     POST simplereenroll authenticated by the current certificate, write
 *     the files atomically, then reload_run() swaps the TLS contexts as a
 *     file reload does; failures retry with exponential backoff + jitter
 *     and keep the current certificate;
 *   - every crl_interval: GET /crl (If-None-Match) and cacerts; a change is
 *     applied by reload_run() (live connections of revoked peers closed).
 */
#ifndef COTAI_RENEW_H
#define COTAI_RENEW_H

#include <event2/buffer.h>
#include <event2/event.h>

#include "config.h"

struct renew;
struct reload;

/*
 * A renewal client for CFG (copied); creates state_dir (0700), given to
 * USER (NULL: none) when running as root. NULL after logging why.
 */
struct renew *renew_new(const struct config_renew *cfg, const char *user);

/*
 * Make state_dir hold a valid certificate, key, bundle and CRL, enrolling
 * with the token when needed (network failures are retried with backoff;
 * a refusal is not). Runs its own event loop; call before the workers
 * exist. 0, or -1 after logging why (the state directory is unchanged).
 */
int renew_bootstrap(struct renew *rn);

/* Schedule renewals and CRL fetches on BASE, applied through RL
 * (borrowed). 0 or -1 (logged). */
int renew_start(struct renew *rn, struct event_base *base, struct reload *rl);

/* Append the renewal metric families to OUT. RN may be NULL. */
void renew_metrics(const struct renew *rn, struct evbuffer *out);

/* NULL-safe. Requests in flight are abandoned. */
void renew_free(struct renew *rn);

#endif
