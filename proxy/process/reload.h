/*
 * reload: replace the running configuration without dropping anything, on
 * SIGHUP or when watched files change (watch.h). On the main thread:
 *
 *   1. load the file as --check would; a bad file changes nothing;
 *   2. build every route anew (TLS contexts: the key must match the
 *      certificate and the certificate must verify against the CA bundle);
 *   3. keep the listening sockets of routes whose listen address is
 *      unchanged, bind the new ones;
 *   4. swap it all in with one call, worker_pool_swap() (worker.h): each
 *      worker gets its new routes and moves its listeners over, closes
 *      those of removed routes and checks its live connections' peers
 *      again (reload.close_revoked); the main thread's view (metrics,
 *      admin) becomes the new one;
 *   5. rewrite the ports file.
 *
 * Steps 1-3 build a struct pool_swap and leave the pool untouched, so any
 * failure before step 4 (and running out of memory in it) leaves
 * everything as it was; the outcome is logged and counted
 * (worker_pool_count_reload, cotai_reloads_total). Live connections keep
 * the routes (and TLS contexts and config) they started with, through
 * references.
 */
#ifndef COTAI_RELOAD_H
#define COTAI_RELOAD_H

#include <event2/event.h>

#include "worker.h"

struct reload;

/*
 * Reloads of POOL (borrowed) from the file it was loaded from; PORTS is
 * the ports file to rewrite (NULL: none; borrowed). When the config says
 * reload.watch, files are watched on BASE. NULL after logging why.
 */
struct reload *reload_new(
    struct event_base *base, struct worker_pool *pool, const char *ports);

/* Reload now; TRIGGER says why, for the log. Returns the outcome. */
enum pool_reload reload_run(struct reload *rl, const char *trigger);

/* From now on ignore triggers (draining). */
void reload_stop(struct reload *rl);

/* NULL-safe. */
void reload_free(struct reload *rl);

#endif
