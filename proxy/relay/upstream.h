/*
 * upstream: where a route connects to, and the addresses its target
 * resolves to now.
 *
 * A host name is looked up once when the upstream is made (by the thread
 * that builds routes: start-up or a reload, never a worker), then again by
 * the process's resolver thread (resolver.h) every resolve_interval and
 * soon after a connection attempt has failed on every address. A lookup
 * that fails keeps the last good list. Unix sockets and numeric addresses
 * are never looked up again.
 *
 * Connecting is non-blocking, one address at a time in resolver order, so
 * a caller can fall back to the next address when one refuses. Workers
 * read the list under a mutex that is only ever held for a pointer walk
 * and a non-blocking connect(); the resolver swaps in a new list under it.
 * A list swapped between two addresses of one attempt only means the next
 * index is taken from the new list.
 *
 * Upstreams are reference-counted: routes hold one each (a reload that
 * keeps a route's target and resolve_interval shares its upstream, so the
 * list survives the reload), the resolver holds one while the upstream is
 * registered and another while it looks the name up.
 */
#ifndef COTAI_UPSTREAM_H
#define COTAI_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct resolver;
struct route_stats;
struct upstream;

/* What upstream_new() needs; everything borrowed for the call only. */
struct upstream_opts {
	const char *route;                /* route name, for logs */
	const struct config_addr *target; /* copied */
	uint32_t interval_ms;             /* resolve_interval; 0 = none */
	struct route_stats *stats;        /* counts lookup failures; ref'd */
	struct resolver *rs; /* told when every address failed; may be NULL */
};

/*
 * A new upstream with one reference. A host name is looked up now
 * (blocking): failure is logged and counted but not fatal. Returns NULL
 * only when memory runs out.
 */
struct upstream *upstream_new(const struct upstream_opts *o);

/* Take another reference; returns U. */
struct upstream *upstream_ref(struct upstream *u);

/* Drop a reference, freeing U with the last one; NULL-safe. */
void upstream_unref(struct upstream *u);

/*
 * May a route whose target is TARGET, looked up every INTERVAL_MS, keep U
 * (same target as written, same interval)?
 */
bool upstream_same(const struct upstream *u, const struct config_addr *target,
    uint32_t interval_ms);

/* True for a host name (looked up again); false for unix: and literals. */
bool upstream_dynamic(const struct upstream *u);

/* resolve_interval in ms (0: only after failures). */
uint32_t upstream_interval(const struct upstream *u);

/*
 * Look the name up again (blocking: the resolver thread only, one lookup
 * of U at a time) and install the result: a change of the address set is
 * logged at info; a failure keeps the old list, is counted, and logged
 * once per run of failures. 0 or -1.
 */
int upstream_refresh(struct upstream *u);

/*
 * Start a non-blocking connect to address number IDX (0, 1, ...). Returns a
 * new socket (the caller closes it) whose connection is in progress or
 * done, or -1 with errno set: ENOENT when there is no address IDX.
 * TCP sockets get TCP_NODELAY. Never blocks on name resolution.
 */
int upstream_connect(struct upstream *u, size_t idx);

/*
 * A connection attempt failed on every address (or there was none, or it
 * timed out): ask the resolver for a fresh lookup (at most one a second
 * per upstream), so that a retry uses new addresses. Cheap; any thread.
 */
void upstream_failed(struct upstream *u);

/* Has upstream_failed() asked for a lookup not yet taken? */
bool upstream_urgent(const struct upstream *u);

/*
 * Take (clear) the request upstream_failed() made; true when there was
 * one. The resolver thread only.
 */
bool upstream_take_urgent(struct upstream *u);

/* The result of a connect started on FD: 0 or an errno value. */
int upstream_connect_result(int fd);

/* The host name to send as SNI, or NULL (unix socket). */
const char *upstream_host(const struct upstream *u);

#endif
