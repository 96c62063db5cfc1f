/*
 * conn_priv: what the files of the conn module share (conn.c, the state
 * machine; conn_audit.c, the audit line; conn_limits.c, timeouts, retries,
 * limits and the recheck after a reload; conn_resume.c, one full handshake
 * per burst on an originate route). Nothing outside proxy/conn*.c
 * includes it.
 */
#ifndef COTAI_CONN_PRIV_H
#define COTAI_CONN_PRIV_H

#include <netinet/in.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "conn.h"
#include "leg.h"
#include "pgconn.h"
#include "pump.h"
#include "reason.h"
#include "route.h"
#include "tls.h"
#include "worker.h"

#define CONN_MAGIC 0x434f4e4eU /* "CONN" */
#define CONN_DEAD 0xdeadc0deU

enum conn_state {
	CONN_S_CONNECT,   /* waiting for the upstream connect */
	CONN_S_HANDSHAKE, /* TLS handshake on c->tl */
	CONN_S_RELAY,     /* moving bytes */
	CONN_S_PG,        /* PostgreSQL negotiation (pgconn.h) */
	CONN_S_TLS_WAIT,  /* originate: waiting for a session (conn_resume.c) */
	CONN_S_CLOSED
};

/* Who ended the connection, for closed_by=. */
enum conn_by { CONN_BY_PROXY, CONN_BY_CLIENT, CONN_BY_UPSTREAM };

struct conn {
	uint32_t magic;
	enum conn_state state;
	struct worker *w;
	struct route *r; /* a reference */
	TAILQ_ENTRY(conn) link;
	struct leg cl, up;
	struct leg *tl;         /* the TLS leg: &cl (terminate) or &up */
	struct pump dup, ddown; /* cl -> up, up -> cl */
	struct tls_peer peer;
	struct pgconn *pg; /* protocol postgres, else NULL */
	/* Deadlines before RELAY (event_new'd; NULL in RELAY: conn_sweep) */
	struct event *ev_timer;
	struct conn *more_next;          /* in w->more while more_due */
	uint64_t t_start, t_state, t_io; /* monotonic ms */
	size_t ai_next;                  /* next upstream address to try */
	int up_err;                      /* last upstream connect errno */
	uint32_t retries;                /* upstream connect retries so far */
	enum conn_by first_eof;
	bool any_eof;
	bool handshaken;
	bool pre_tls;       /* counted in w->nhandshakes (see conn_count) */
	bool retry_wait;    /* the timer is a connect retry's backoff */
	bool more_due;      /* in w->more: run the pumps again soon */
	bool ticket_leader; /* out for its worker's first session
			       (conn_resume.c) */
	bool adopted;       /* its TLS leg became a tunnel (conn_mux.c) */
	char client[INET6_ADDRSTRLEN + 8];
	/* The legs' two events, in the connection's own allocation. */
	alignas(max_align_t) unsigned char evmem[];
};

#define CONN_EV_CL 0
#define CONN_EV_UP 1
#define CONN_NEV 2

/*
 * A new connection of worker W on route R (a reference is taken), in
 * state CONNECT, counted (accepted, active) and on W's list; no legs and
 * no timer yet. NULL when out of memory (logged, nothing counted).
 */
struct conn *conn_new(struct worker *w, struct route *r);

/* Leg event I of C's allocation (CONN_EV_CL, CONN_EV_UP). */
struct event *conn_event(struct conn *c, int i);

/* The legs' libevent callbacks (ARG is the conn). */
void conn_cl_cb(evutil_socket_t fd, short what, void *arg);
void conn_up_cb(evutil_socket_t fd, short what, void *arg);

/* Both legs are up: start relaying. */
void conn_relay_start(struct conn *c);

/*
 * conn_mux.c. conn_mux_attach(): originate, first connect attempt: open a
 * stream on one of the worker's tunnels instead; true when done (C is
 * relaying, or closed). conn_mux_handshaken(): C's handshake has just
 * finished: with ALPN h2 its TLS leg becomes a tunnel (an originate C
 * goes on as its first stream, a terminate C ends without an audit line:
 * the tunnel writes its own), or C is refused under mux: on; true when C
 * is done with (do not touch it). conn_mux_failed(): if stream leg L
 * failed, close C with the stream's reason; true when closed.
 */
bool conn_mux_attach(struct conn *c);
bool conn_mux_handshaken(struct conn *c);
bool conn_mux_failed(struct conn *c, struct leg *l);

/* Enter state S now: its timestamps, counters and timer. */
void conn_set_state(struct conn *c, enum conn_state s);

/* Connect to the next upstream address (the first: maybe wait for a
 * session instead), or retry later, or give up. */
void conn_connect_start(struct conn *c);

/* Something happened on a leg in RELAY: move what can be moved. */
void conn_relay_io(struct conn *c);

/* The connection's timer (conn_limits.c): deadlines and retries. */
void conn_timer_cb(evutil_socket_t fd, short what, void *arg);

/*
 * Every upstream address failed: schedule another round after the
 * backoff while connect_retry allows. True when one is scheduled.
 */
bool conn_retry(struct conn *c);

/*
 * conn_resume.c. conn_resume_wait(): should C (about to connect, on an
 * originate route) wait for the session another connection is fetching?
 * Makes C that connection when none is. The others tell it what the
 * fetching connection (ticket_leader) did: finished its handshake, holds
 * a ticket now (checked after each relay step), closes; and that a
 * waiting connection's timer fired.
 */
bool conn_resume_wait(struct conn *c);
void conn_resume_handshaken(struct conn *c);
void conn_resume_check(struct conn *c);
void conn_resume_close(struct conn *c);
void conn_resume_timeout(struct conn *c);

/*
 * The one way a connection ends: count, write the audit line, free
 * everything. C is freed on return, so callers return right after it.
 */
void conn_close(
    struct conn *c, enum reason why, enum conn_by by, const char *detail);

/* Write C's audit line (from conn_close only). */
void conn_audit(
    struct conn *c, enum reason why, enum conn_by by, const char *detail);

/* Count a PostgreSQL CancelRequest that ends for WHY (conn_close only). */
void conn_count_cancel(struct conn *c, enum reason why);

/* Store the printable peer address of an accepted socket in c->client. */
void conn_format_client(struct conn *c, const struct sockaddr *sa);

/* Arm C's timer for its current state (see the top of conn.c); no-op in
 * RELAY, which has none. */
void conn_arm_timer(struct conn *c);

/* Take C off its worker's list of pumps to resume (conn_close). */
void conn_more_unlink(struct conn *c);

/*
 * C was just accepted and counted (ROUTE_ACTIVE on its route, ALL in the
 * process). True when it may stay: within max_connections, or after the
 * oldest connection of its worker that has not authenticated (and counts
 * against the limit reached) was closed to make room. False: refuse C
 * (reason limit); authenticated connections are never closed for it.
 */
bool conn_make_room(struct conn *c, uint64_t route_active, unsigned all);

/*
 * C's TLS handshake has just succeeded. If a reload replaced C's route
 * since C was accepted, judge the peer by the current route of the same
 * name (CA bundle, CRL, allow/expect) and close C with the reason a new
 * connection would be refused with; a terminate connection that passes
 * goes on under the current route (its roles, target, timeouts). 0, or -1
 * when C was closed (freed: return at once).
 */
int conn_recheck_current(struct conn *c);

/*
 * C has started neither its TLS leg nor its upstream leg (PostgreSQL
 * startup phase). If a reload replaced C's route since C was accepted,
 * move C to the current route of the same name (same counters and
 * protocol), so that its roles, target, TLS context (CA bundle, CRL) and
 * allow/expect are those in force now.
 */
void conn_follow_reload(struct conn *c);

/* Over the cap on handshakes in progress: close W's oldest pending one. */
void conn_shed(struct worker *w);

/*
 * A relay step of C moved MOVED bytes: run its legs' events at bulk or
 * normal priority from now on (conn_limits.c).
 */
void conn_classify(struct conn *c, uint64_t moved);

#endif
