/*
 * worker_priv: the worker and pool structs, for worker.c (the threads),
 * worker_pool.c (the pool) and worker_swap.c (reloads) only. Everything
 * else goes through worker.h's functions; the connections (proxy/relay/)
 * see only the conn_table (conn_table.h) each worker creates and hands
 * them.
 */
#ifndef COTAI_WORKER_PRIV_H
#define COTAI_WORKER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "config.h"
#include "route.h"
#include "tls.h"
#include "worker.h"

struct conn_table;
struct listener;
struct resolver;

/*
 * A new set of routes for one worker, made on the main thread by
 * worker_pool_swap() and applied by the worker between two events:
 * listeners move to the new routes (KEEP) or start on new sockets (LFD),
 * listeners of routes that are gone close, live connections keep their
 * old route.
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
	struct worker *w; /* nw workers, at most CONFIG_MAX_WORKERS */
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
};

/* worker.c, for worker_pool.c: set up worker W (number ID) of P with P's
 * routes (references taken by the caller), tear it down (NULL-safe
 * fields), start its thread's events, signal it. */
int worker_init(struct worker_pool *p, struct worker *w, size_t id);
void worker_clear(struct worker *w);
int worker_arm(struct worker *w);
void *worker_main(void *arg);

/* worker.c, for worker_swap.c: hand U (owned from now on) to worker W; it
 * applies it soon. Free U and what it still holds (NULL-safe). */
void worker_post(struct worker *w, struct worker_update *u);
void worker_update_free(struct worker_update *u);

#endif
