/*
 * probe: the client side of `cotai-proxy health`: ask a running proxy's
 * admin endpoint for a path and report whether it answered 200. Blocking,
 * bounded by one overall deadline; for Compose healthchecks in images that
 * have no curl.
 */
#ifndef COTAI_PROBE_H
#define COTAI_PROBE_H

#include <stddef.h>

/*
 * GET PATH from the admin endpoint at ADDR ("host:port", "[v6]:port" or
 * "unix:/path"), giving up after TIMEOUT_MS in all. Returns the HTTP status
 * (200 means healthy), or -1 with the reason in WHY (always NUL-terminated).
 */
int probe_http(const char *addr, const char *path, int timeout_ms, char *why,
    size_t whylen);

#endif
