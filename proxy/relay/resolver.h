/*
 * resolver: the one thread per process that looks the current routes'
 * target names up again, so that no worker ever blocks on DNS and a
 * target whose address changes (a recreated container) is followed
 * without a reload.
 *
 * The process that owns the routes (worker.c, reload.c) registers the
 * upstream of every current route and unregisters those of routes a
 * reload removed; only registered upstreams are looked up. Each is looked
 * up every resolve_interval after its last lookup ended (never when 0),
 * and, when a worker reports that every address failed
 * (upstream_failed()), as soon as one second has passed since its last
 * lookup began. Lookups run one at a time, without the resolver's lock.
 *
 * References make removal race-free: the registry holds one per
 * registered upstream, and the thread takes its own (under the lock)
 * before a lookup, so a reload that unregisters an upstream and drops its
 * routes while the lookup runs leaves the last reference to the thread.
 */
#ifndef COTAI_RESOLVER_H
#define COTAI_RESOLVER_H

struct resolver;
struct upstream;

/* A resolver with nothing registered and no thread yet; NULL (logged). */
struct resolver *resolver_new(void);

/*
 * Start the thread (signals must be blocked by the caller: it inherits
 * the mask). 0, or -1 (logged).
 */
int resolver_start(struct resolver *rs);

/*
 * Register U (a reference is taken) for periodic lookups; registering an
 * upstream again only counts. Upstreams that need no lookup (unix:,
 * literals) are ignored. Main thread.
 */
void resolver_add(struct resolver *rs, struct upstream *u);

/* Undo one resolver_add(); with the last one U is no longer looked up. */
void resolver_remove(struct resolver *rs, struct upstream *u);

/* Look at the schedule again (an upstream wants a prompt lookup). */
void resolver_wake(struct resolver *rs);

/*
 * Stop the thread and wait for it, at most a second for a lookup in
 * progress (a dead name server can hold glibc for 30 s, past a container's
 * stop grace): after that it is left running, and resolver_free() leaves
 * the resolver to it, for the process is exiting. Idempotent; NULL-safe.
 */
void resolver_stop(struct resolver *rs);

/* Stop, drop every registration and free; NULL-safe. */
void resolver_free(struct resolver *rs);

#endif
