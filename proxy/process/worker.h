/*
 * worker: the event-loop threads. Each worker owns one event_base, its own
 * listening socket per TCP route (SO_REUSEPORT, so the kernel spreads new
 * connections across workers) and a table of its connections, tunnels and
 * client sessions (conn_table.h). Unix-socket routes listen on worker 0
 * only.
 *
 * The pool is built by the main thread (routes, key material, sockets), so
 * that everything that needs privileges happens before the process drops
 * them; worker_pool_start() then starts the threads. Both structs are
 * opaque: the main thread (main.c, reload.c, admin, metrics) reads the
 * pool through the functions below and changes it in one place,
 * worker_pool_swap(). Every function here is for the main thread.
 */
#ifndef COTAI_WORKER_H
#define COTAI_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"
#include "route.h"

struct worker;
struct worker_pool;

/* Reload outcomes, for cotai_reloads_total{result=...}. */
enum pool_reload {
	POOL_RELOAD_OK,
	POOL_RELOAD_CONFIG, /* the file fails --check */
	POOL_RELOAD_TLS,    /* key material or chain does not verify */
	POOL_RELOAD_BIND,   /* a new listen address cannot be bound */
	POOL_RELOAD__N
};

/* Their names, as in the metric and the logs. */
extern const char *const pool_reload_names[POOL_RELOAD__N];

/*
 * Build routes (TLS contexts, upstreams), event bases and bound listening
 * sockets for RC (a reference is taken), and the resolver with every
 * route's upstream registered. Returns the pool, or NULL after logging
 * why. Free with worker_pool_free().
 */
struct worker_pool *worker_pool_new(struct route_config *rc);

/* Start one thread per worker and the resolver's. 0, or -1 (logged;
 * already started threads are told to stop and must be joined with
 * worker_pool_join()). */
int worker_pool_start(struct worker_pool *p);

/*
 * Stop accepting and let connections finish, closing what is left after
 * cfg->drain_timeout_ms.
 */
void worker_pool_drain(struct worker_pool *p);

/* True when no started worker thread is still running its loop. */
bool worker_pool_finished(const struct worker_pool *p);

/* Wait until every started worker thread has finished; stop the
 * resolver. */
void worker_pool_join(struct worker_pool *p);

/* Free everything; the threads must have been joined. NULL-safe. */
void worker_pool_free(struct worker_pool *p);

/* --- what the pool serves now (valid until the next swap) --- */

/* The current configuration, and the shared object it lives in (to take
 * a reference with route_config_ref()). */
const struct cotai_config *worker_pool_config(const struct worker_pool *p);
struct route_config *worker_pool_route_config(const struct worker_pool *p);

size_t worker_pool_nworkers(const struct worker_pool *p);
size_t worker_pool_nroutes(const struct worker_pool *p);

/* Route I (< worker_pool_nroutes()), and what its listeners are bound to
 * ("HOST:PORT" or "unix:/path"). */
const struct route *worker_pool_route(const struct worker_pool *p, size_t i);
const char *worker_pool_bound(const struct worker_pool *p, size_t i);

/* The current route named NAME, or NULL. */
const struct route *
worker_pool_route_named(const struct worker_pool *p, const char *name);

/* admin.tls: the admin endpoint's context (borrowed), or NULL without. */
SSL_CTX *worker_pool_admin_ctx(const struct worker_pool *p);

/* A snapshot of the pool for metrics: borrowed pointers, valid until the
 * next swap; counters as read now. */
struct pool_snapshot {
	struct route *const *routes;
	size_t nroutes;
	SSL_CTX *admin_ctx; /* admin.tls, or NULL */
	unsigned active;    /* open connections, all routes */
	uint64_t reloads[POOL_RELOAD__N];
};
void worker_pool_snapshot(const struct worker_pool *p, struct pool_snapshot *s);

/* --- the main thread's bookkeeping --- */

/* The admin endpoints' bound names, for the ports file (NULL: none). */
void worker_pool_set_admin_bound(
    struct worker_pool *p, const char *admin, const char *health);

/* True when an admin endpoint is bound (worker_pool_set_admin_bound). */
bool worker_pool_has_admin(const struct worker_pool *p);

/* Count one reload that came to RES. */
void worker_pool_count_reload(struct worker_pool *p, enum pool_reload res);

/* Drop expired sessions from every route's server cache. */
void worker_pool_sweep_sessions(struct worker_pool *p);

/* Write "ROUTE HOST:PORT" lines (and "admin HOST:PORT" when there is an
 * admin endpoint) to PATH atomically (mkstemp next to it + rename), never
 * through a symbolic link: PATH being one is refused. 0/-1 (logged). */
int worker_pool_write_ports(const struct worker_pool *p, const char *path);

/* --- reloads: build everything, then swap it in at once --- */

/*
 * Route I of RC built for P: its upstream registered with P's resolver
 * when swapped in, its counters continuing those of P's route of the
 * same name. NULL after logging why.
 */
struct route *
worker_pool_route_new(struct worker_pool *p, struct route_config *rc, size_t i);

/*
 * Bind route R for every worker of P that serves it: FDS[k] for worker k
 * (-1 for workers that do not serve it; FDS has worker_pool_nworkers()
 * entries) and the bound name in NAME. 0, or -1 (logged) with nothing
 * left open.
 */
int worker_pool_bind_route(const struct worker_pool *p,
    const struct config_route *r, int *fds, char *name, size_t len);

/*
 * What a reload builds before anything changes (reload.c), then hands to
 * worker_pool_swap(): the new configuration's routes, their sockets and
 * names, the admin context. Arrays are per new route; the swap moves
 * what it takes and sets the pointers to NULL; pool_swap_clear() frees
 * what is left.
 */
struct pool_swap {
	struct route_config *rc; /* the new configuration, borrowed */
	struct route **routes;   /* n references */
	size_t n, nw;            /* routes; workers (worker_pool_nworkers) */
	int *fds;     /* n * nw sockets for new addresses, -1 where none */
	int *keep;    /* per route: current route whose sockets stay, or -1 */
	char **bound; /* per route: what its listeners are bound to */
	SSL_CTX *admin_ctx; /* admin.tls: the new context; NULL: the old */
	bool recheck;       /* live connections check their peer again */
};

/*
 * Allocate S's arrays for N routes of P, every socket -1. 0 or -1
 * (logged).
 */
int pool_swap_init(struct pool_swap *s, const struct worker_pool *p, size_t n);

/* Free what S still holds; S is zeroed. */
void pool_swap_clear(struct pool_swap *s);

/*
 * The one place a running pool changes: every worker gets S's routes and
 * sockets (applied between two events; live connections keep their
 * routes), the resolver follows the new upstreams, the old routes'
 * server session caches are flushed, and P's routes, names, admin context
 * and configuration become S's. 0; or -1 when memory runs out before
 * anything changed (logged; S is left to pool_swap_clear()).
 */
int worker_pool_swap(struct worker_pool *p, struct pool_swap *s);

#endif
