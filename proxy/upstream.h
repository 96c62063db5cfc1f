/*
 * upstream: where a route connects to. The target is resolved when the
 * route is built; a name that does not resolve then is retried (once per
 * connection attempt) when a connection needs it. Connecting is
 * non-blocking, one address at a time in resolver order, so a caller can
 * fall back to the next address when one refuses.
 */
#ifndef COTAI_UPSTREAM_H
#define COTAI_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct upstream;

/*
 * A new upstream for TARGET (borrowed; must outlive the upstream). Name
 * resolution failures are logged but not fatal. Returns NULL only when
 * memory runs out. Free with upstream_free(); NULL is a no-op.
 */
struct upstream *upstream_new(const struct config_addr *target);
void upstream_free(struct upstream *u);

/*
 * Start a non-blocking connect to address number IDX (0, 1, ...). Returns a
 * new socket (the caller closes it) whose connection is in progress or
 * done, or -1 with errno set: ENOENT when there is no address IDX.
 * TCP sockets get TCP_NODELAY.
 */
int upstream_connect(struct upstream *u, size_t idx);

/* The result of a connect started on FD: 0 or an errno value. */
int upstream_connect_result(int fd);

/* The host name to send as SNI, or NULL (unix socket). */
const char *upstream_host(const struct upstream *u);

#endif
