/*
 * probe: the client side of `cotai-proxy health`: ask a running proxy's
 * admin endpoint for a path and report whether it answered 200. Blocking,
 * bounded by one overall deadline; for Compose healthchecks in images that
 * have no curl.
 */
#ifndef COTAI_PROBE_H
#define COTAI_PROBE_H

#include <stddef.h>
#include <stdio.h>

/*
 * GET PATH from the admin endpoint at ADDR ("host:port", "[v6]:port" or
 * "unix:/path"), giving up after TIMEOUT_MS in all. Returns the HTTP status
 * (200 means healthy), or -1 with the reason in WHY (always NUL-terminated).
 */
int probe_http(const char *addr, const char *path, int timeout_ms, char *why,
    size_t whylen);

/*
 * `cotai-proxy health [-c FILE | --admin ADDR] [--ready]` (ARGV[0] is
 * "health"): probe_http() of /healthz or /readyz, the result on stdout;
 * USAGE prints the program's usage for -h and bad arguments. Returns the
 * exit status: 0 healthy, 1 not, 2 bad arguments.
 */
int probe_main(int argc, char **argv, void (*usage)(FILE *));

#endif
