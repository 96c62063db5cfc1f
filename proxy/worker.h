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

struct conn;
struct listener;
struct worker_pool;

struct worker {
	size_t id;
	struct worker_pool *pool;
	struct event_base *base;
	int *lfd;                   /* per route: bound socket, -1 if none */
	struct listener **lst;      /* per route: accepting, or NULL */
	struct tls_cache *sessions; /* per route: client sessions */
	TAILQ_HEAD(conn_list, conn) conns;
	size_t nconns;
	bool draining;
	int cmd[2];             /* pipe: main thread -> worker */
	struct event *ev_cmd;   /* reads cmd[0] */
	struct event *ev_drain; /* drain deadline */
	pthread_t thread;
	bool started;
};

struct worker_pool {
	const struct cotai_config *cfg; /* borrowed */
	struct route **routes;          /* nroutes, owned references */
	size_t nroutes;
	char **bound;     /* per route: "HOST:PORT" bound */
	struct worker *w; /* nw workers */
	size_t nw;
	atomic_uint active; /* open connections, all routes */
};

/*
 * Build routes (TLS contexts, upstreams), event bases and bound listening
 * sockets for CFG (borrowed; must outlive the pool). Returns the pool, or
 * NULL after logging why. Free with worker_pool_free().
 */
struct worker_pool *worker_pool_new(const struct cotai_config *cfg);

/* Write "ROUTE HOST:PORT" lines to PATH atomically (temp + rename). 0/-1. */
int worker_pool_write_ports(const struct worker_pool *p, const char *path);

/* Start one thread per worker. 0, or -1 (logged; already started threads
 * are told to stop and must be joined with worker_pool_join()). */
int worker_pool_start(struct worker_pool *p);

/*
 * From any thread but the workers': stop accepting and let connections
 * finish, closing what is left after cfg->drain_timeout_ms.
 */
void worker_pool_drain(struct worker_pool *p);

/* Wait until every started worker thread has finished. */
void worker_pool_join(struct worker_pool *p);

/* Free everything; the threads must have been joined. NULL-safe. */
void worker_pool_free(struct worker_pool *p);

/* conn.c: a connection of W has been unlinked and freed. */
void worker_conn_gone(struct worker *w);

#endif
