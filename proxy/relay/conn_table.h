/*
 * conn_table: what the connections and tunnels of one worker thread share:
 * their lists, counters, the per-route client sessions with their
 * ticket-burst state, the events that resume pumps and sweep relay
 * deadlines, and the worker's current view of the routes. The worker
 * (proxy/process/) creates one per thread, hands it to its listeners and
 * tells it about reloads and drains; conn*.c and mux*.c use nothing else
 * of the worker. Every function runs in the table's thread, except
 * conn_table_new/free, which run before the thread starts and after it
 * has ended.
 */
#ifndef COTAI_CONN_TABLE_H
#define COTAI_CONN_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "config.h"
#include "route.h"
#include "tls.h"

struct conn;
struct mux_tunnel;

/*
 * One route's client session (tls.h) and its ticket burst (conn_resume.c):
 * while no session is held, one connection (the leader) fetches it and
 * the others wait. FETCHING: 0 none out, 1 the leader is in its
 * handshake, 2 its handshake is done and the ticket is due by DUE
 * (monotonic ms). NO_TICKETS: the server sent none in time, so
 * connections no longer wait (until a ticket comes). Only conn*.c
 * changes the burst; tls.c keeps the session in TC.
 */
struct conn_session {
	struct tls_cache tc;
	unsigned char fetching;
	bool no_tickets;
	uint64_t due;
};

struct conn_table {
	struct event_base *base; /* borrowed: the worker's */
	/* The worker's view of the routes (borrowed; conn_table_reload). */
	struct route *const *routes;
	size_t nroutes;
	const struct cotai_config *cfg; /* routes[0]->owner->cfg */
	size_t nworkers;     /* max_handshakes is shared out among them */
	atomic_uint *active; /* open connections of the process (shared) */
	struct conn_session *sessions; /* per route */
	struct conn_session *spare;    /* conn_table_reserve()d, or NULL */
	size_t nspare;
	TAILQ_HEAD(conn_list, conn) conns;        /* in accept order */
	TAILQ_HEAD(mux_list, mux_tunnel) tunnels; /* mux.h */
	size_t nconns;
	size_t nhandshakes; /* terminate connections before their handshake */
	bool draining;      /* exit the loop when the last connection ends */
	struct event *ev_sweep; /* relay deadlines (CONN_E_SWEEP) */
	struct event *ev_more;  /* pumps to resume (CONN_E_MORE) */
	struct conn *more;      /* ... these, linked by more_next */
};

/*
 * What a worker gives its table: its event base; its routes, N of them
 * (the array is borrowed: the caller keeps it and the routes in it alive
 * until conn_table_reload() replaces it; it may fill it in later, before
 * the first connection); the config they come from; how many workers
 * share max_handshakes; the process's count of open connections (shared
 * by the workers). All borrowed.
 */
struct conn_table_args {
	struct event_base *base;
	struct route *const *routes;
	size_t nroutes;
	const struct cotai_config *cfg;
	size_t nworkers;
	atomic_uint *active;
};

/* A new table; starts the sweep of relay deadlines. NULL when out of
 * memory (logged). */
struct conn_table *conn_table_new(const struct conn_table_args *a);

/* Close every connection (reason drain) and tunnel, free T. NULL-safe. */
void conn_table_free(struct conn_table *t);

/*
 * The two steps of a reload: conn_table_reserve() allocates what N new
 * routes need (0, or -1 when out of memory, logged, nothing changed);
 * conn_table_reload() then cannot fail: every connection and tunnel
 * checks its peer against ROUTES[0..N) (closing those no longer valid
 * when RECHECK), the client sessions are forgotten (a new CA or CRL must
 * not be skipped by resuming), and ROUTES (borrowed) become T's view.
 */
int conn_table_reserve(struct conn_table *t, size_t n);
void conn_table_reload(
    struct conn_table *t, struct route *const *routes, size_t n, bool recheck);

/*
 * Drain: with CLOSE, close every connection (reason drain) and tunnel now;
 * else send the tunnels a GOAWAY and have the loop of T's base exit when
 * the last connection ends. Returns the connections still open.
 */
size_t conn_table_drain(struct conn_table *t, bool close);

#endif
