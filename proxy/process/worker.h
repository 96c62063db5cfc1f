/*
 * worker: the event-loop threads. Each worker owns one event_base, its own
 * listening socket per TCP route (SO_REUSEPORT, so the kernel spreads new
 * connections across workers), a TLS session cache per originating route,
 * and the list of its open connections. Unix-socket routes listen on
 * worker 0 only.
 *
 * The pool is built by the main thread (routes, key material, sockets), so
 * that everything that needs privileges happens before the process drops
 * them; worker_pool_start() then starts the threads.
 */
#ifndef COTAI_WORKER_H
#define COTAI_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "config.h"
#include "route.h"
#include "tls.h"

struct conn_table;
struct listener;
struct renew;
struct resolver;
struct worker_pool;

/*
 * A new set of routes for one worker, made by the main thread on reload
 * (reload.c) and applied by the worker between two events: listeners move
 * to the new routes (KEEP) or start on new sockets (LFD), listeners of
 * routes that are gone close, live connections keep their old route.
 */
struct worker_update {
	struct route **routes; /* nroutes references, moved to the worker */
	size_t nroutes;
	int *lfd;     /* per new route: a socket for this worker, or -1 */
	int *keep;    /* per new route: old route index whose listener stays */
	bool recheck; /* close connections whose peer is no longer valid */
	struct worker_update *next;
};

struct worker {
	size_t id;
	struct worker_pool *pool;
	struct event_base *base;
	/* This worker's view of the routes (reloads replace it). */
	const struct cotai_config *cfg; /* routes[0]->owner->cfg */
	struct route **routes;          /* per route: a reference */
	size_t nroutes;
	pthread_mutex_t mu;            /* guards updates */
	struct worker_update *updates; /* posted, not yet applied */
	int *lfd;                      /* per route: bound socket, -1 if none */
	struct listener **lst;         /* per route: accepting, or NULL */
	/* its connections, tunnels and client sessions (owned) */
	struct conn_table *ct;
	bool draining;
	int cmd[2];             /* pipe: main thread -> worker */
	struct event *ev_cmd;   /* reads cmd[0] */
	struct event *ev_drain; /* drain deadline */
	pthread_t thread;
	bool started;
	atomic_bool finished; /* the thread's loop has returned */
};

/* Reload outcomes, for cotai_reloads_total{result=...}. */
enum pool_reload {
	POOL_RELOAD_OK,
	POOL_RELOAD_CONFIG, /* the file fails --check */
	POOL_RELOAD_TLS,    /* key material or chain does not verify */
	POOL_RELOAD_BIND,   /* a new listen address cannot be bound */
	POOL_RELOAD__N
};

/*
 * The main thread's view. Workers never read the fields a reload changes
 * (rcfg, cfg, routes, nroutes, bound): they have their own copy.
 */
struct worker_pool {
	struct route_config *rcfg;      /* the current config, a reference */
	const struct cotai_config *cfg; /* rcfg->cfg */
	struct route **routes;          /* nroutes, owned references */
	size_t nroutes;
	char **bound;     /* per route: "HOST:PORT" bound */
	struct worker *w; /* nw workers */
	size_t nw;
	/* looks up the current routes' targets again (resolver.h) */
	struct resolver *resolver;
	atomic_uint active; /* open connections, all routes */
	uint64_t reloads[POOL_RELOAD__N];
	char admin_bound[128];  /* "" when there is no admin endpoint */
	char health_bound[128]; /* "" without admin.health_listen */
	/* admin.tls: the admin endpoint's context (owned), built from
	 * cfg->admin_route and replaced by reloads; NULL without */
	SSL_CTX *admin_ctx;
	/* admin.tls: clients refused, by reason (main thread only) */
	uint64_t admin_refused[REASON__N];
	/* identity.renew: the renewal client (metrics only; borrowed) */
	const struct renew *renew;
};

/*
 * Build routes (TLS contexts, upstreams), event bases and bound listening
 * sockets for RC (a reference is taken), and the resolver with every
 * route's upstream registered. Returns the pool, or NULL after logging
 * why. Free with worker_pool_free().
 */
struct worker_pool *worker_pool_new(struct route_config *rc);

/*
 * Bind route I of CFG for every worker that serves it: FDS[k] for worker
 * k (-1 for workers that do not serve it) and the bound name in NAME.
 * 0, or -1 (logged) with nothing left open.
 */
int worker_pool_bind_route(const struct worker_pool *p,
    const struct config_route *r, int *fds, char *name, size_t len);

/* Hand U (owned from now on) to worker W; it applies it soon. */
void worker_post(struct worker *w, struct worker_update *u);

/* Free U and what it still holds; NULL-safe. */
void worker_update_free(struct worker_update *u);

/* Write "ROUTE HOST:PORT" lines (and "admin HOST:PORT" when there is an
 * admin endpoint) to PATH atomically (mkstemp next to it + rename), never
 * through a symbolic link: PATH being one is refused. 0/-1 (logged). */
int worker_pool_write_ports(const struct worker_pool *p, const char *path);

/* Start one thread per worker and the resolver's. 0, or -1 (logged;
 * already started threads are told to stop and must be joined with
 * worker_pool_join()). */
int worker_pool_start(struct worker_pool *p);

/*
 * From any thread but the workers': stop accepting and let connections
 * finish, closing what is left after cfg->drain_timeout_ms.
 */
void worker_pool_drain(struct worker_pool *p);

/* True when no started worker thread is still running its loop. */
bool worker_pool_finished(struct worker_pool *p);

/* Wait until every started worker thread has finished; stop the
 * resolver. */
void worker_pool_join(struct worker_pool *p);

/* Free everything; the threads must have been joined. NULL-safe. */
void worker_pool_free(struct worker_pool *p);

#endif
