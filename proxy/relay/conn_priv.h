/*
 * conn_priv: what the files of the conn module share. conn.c is the state
 * machine: it alone makes transitions. conn_limits.c (deadlines, backoff,
 * connection limits, the recheck after a reload), conn_resume.c (one full
 * handshake per burst on an originate route) and conn_mux.c (streams and
 * tunnels) return decisions and change only data; conn_audit.c writes the
 * audit line for conn_close(); conn_table.c hands the worker's events
 * (sweep, pumps to resume, reload, drain) to conn.c. Nothing outside
 * proxy/relay/conn*.c includes it.
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
#include "conn_table.h"
#include "leg.h"
#include "proto.h"
#include "pump.h"
#include "reason.h"
#include "route.h"
#include "tls.h"

#define CONN_MAGIC 0x434f4e4eU /* "CONN" */
#define CONN_DEAD 0xdeadc0deU

/* The states; the diagram at the top of conn.c shows their transitions. */
enum conn_state {
	CONN_S_NEW,         /* accepted, no step begun */
	CONN_S_CONNECTING,  /* an upstream connect in flight */
	CONN_S_BACKOFF,     /* every address failed: the retry's wait */
	CONN_S_TICKET_WAIT, /* originate: waiting for the session another
			       connection fetches (conn_resume.c) */
	CONN_S_HANDSHAKE,   /* TLS handshake on c->tl */
	CONN_S_PG,          /* the protocol's negotiation (proto.h) */
	CONN_S_RELAY,       /* moving bytes */
	CONN_S_CLOSED,
	CONN_S__N
};

/* What happened to a connection: conn.c's one switch takes each to a
 * step according to the state. */
enum conn_ev {
	CONN_E_CL,      /* its client leg is ready */
	CONN_E_UP,      /* its upstream leg is ready */
	CONN_E_TIMER,   /* its timer fired (the state's deadline) */
	CONN_E_WAKE,    /* the ticket it waits for came, or will not */
	CONN_E_SWEEP,   /* the worker's sweep of relay deadlines */
	CONN_E_MORE,    /* its pumps may go on (they stopped for fairness) */
	CONN_E_RELOAD,  /* a reload: the table's sessions are gone */
	CONN_E_RECHECK, /* ... and its peer is to pass the new routes */
};

/* Who ended the connection, for closed_by=. */
enum conn_by { CONN_BY_PROXY, CONN_BY_CLIENT, CONN_BY_UPSTREAM };

struct conn {
	uint32_t magic;
	enum conn_state state;
	struct conn_table *t; /* its worker's */
	struct route *r;      /* a reference */
	TAILQ_ENTRY(conn) link;
	struct leg cl, up;
	struct leg *tl;         /* the TLS leg: &cl (terminate) or &up */
	struct pump dup, ddown; /* cl -> up, up -> cl */
	struct tls_peer peer;
	struct proto_conn *proto; /* its negotiation (proto.h), or NULL */
	/* The deadline of its state (conn_deadline; NULL in RELAY: the sweep)
	 */
	struct event *ev_timer;
	struct conn *more_next;          /* in t->more while more_due */
	uint64_t t_start, t_state, t_io; /* monotonic ms */
	size_t ai_next;                  /* next upstream address to try */
	int up_err;                      /* last upstream connect errno */
	uint32_t retries;                /* upstream connect retries so far */
	enum conn_by first_eof;
	bool any_eof;
	bool handshaken;
	bool pre_tls;       /* counted in t->nhandshakes (see conn_count) */
	bool more_due;      /* in t->more: run the pumps again soon */
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
 * conn.c. conn_new(): a new connection of table T on route R (a reference
 * is taken), in state NEW, counted (accepted, active) and on T's list; no
 * legs and no timer yet; NULL when out of memory (logged, nothing
 * counted). conn_start(): take C (conn_new, its client leg set up) to its
 * first step, or close it for WHY (not REASON_NONE: BY, DETAIL) once
 * counted against the limits. conn_event(): leg event I of C's allocation
 * (CONN_EV_CL, CONN_EV_UP). conn_cl_cb(), conn_up_cb(): the legs'
 * libevent callbacks (ARG is the conn). conn_dispatch(): event EV
 * happened to C (conn_table.c); C may be freed on return.
 */
struct conn *conn_new(struct conn_table *t, struct route *r);
void conn_start(
    struct conn *c, enum reason why, enum conn_by by, const char *detail);
struct event *conn_event(struct conn *c, int i);
void conn_cl_cb(evutil_socket_t fd, short what, void *arg);
void conn_up_cb(evutil_socket_t fd, short what, void *arg);
void conn_timer_cb(evutil_socket_t fd, short what, void *arg);
void conn_dispatch(struct conn *c, enum conn_ev ev);

#define CONN_EV_CL 0
#define CONN_EV_UP 1
#define CONN_NEV 2

/*
 * The one way a connection ends: count, write the audit line, free
 * everything. C is freed on return, so callers return right after it.
 */
void conn_close(
    struct conn *c, enum reason why, enum conn_by by, const char *detail);

/*
 * conn_mux.c. conn_mux_attach(): originate, first connect attempt: make
 * c->up a stream on one of the table's tunnels with room instead; true
 * when done (C is to relay). conn_mux_after(): C's handshake has just
 * finished: CONN_MUX_NONE (go on as ever), CONN_MUX_REFUSE (mux: on and
 * no h2) or CONN_MUX_TUNNEL (ALPN h2: call conn_mux_adopt()).
 * conn_mux_adopt(): make C's TLS leg a tunnel; a terminate C is then
 * adopted (to close without an audit line: the tunnel writes its own),
 * an originate one goes on as its first stream (to relay); 0, or -1 with
 * *DETAIL (close C, reason internal). conn_mux_error(): why stream leg L
 * failed (REASON_NONE: it did not), BY and DETAIL for the close.
 */
enum conn_mux { CONN_MUX_NONE, CONN_MUX_REFUSE, CONN_MUX_TUNNEL };
/*
 * conn_mux_route(): the terminate route of table T a CONNECT for AUTHORITY
 * reaches on a tunnel accepted on route R: the route of that name when it
 * is a terminate route of R's protocol with mux not off, trusting the same
 * CA and CRL files, else R's current version (the terminate route of its
 * name and protocol); NULL when a reload removed it or changed its
 * protocol. Borrowed from T.
 */
struct route *
conn_mux_route(struct conn_table *t, const struct route *r, const char *auth);
bool conn_mux_attach(struct conn *c);
enum conn_mux conn_mux_after(const struct conn *c);
int conn_mux_adopt(struct conn *c, const char **detail);
enum reason conn_mux_error(
    const struct conn *c, struct leg *l, enum conn_by *by, const char **detail);

/*
 * conn_resume.c (decisions and the burst's data, never a transition).
 * conn_resume_wait(): C, about to connect for the first time on an
 * originate route: true when it is to wait (TICKET_WAIT) for the session
 * another connection fetches; makes C that connection (ticket_leader)
 * when none is. conn_resume_handshaken(): C's handshake finished; true
 * when the connections waiting on its route are to re-arm their timers
 * (the ticket is due: conn_deadline). conn_resume_release(): leader C
 * holds the ticket (HAVE) or closes or became a tunnel: true when the
 * waiting ones are to go ahead (CONN_E_WAKE). conn_resume_timeout(): a
 * waiting C's wait is over: note when no ticket came in time.
 * conn_resume_due(): the ticket's due time for C's waiting (0: none).
 */
bool conn_resume_wait(struct conn *c);
bool conn_resume_handshaken(struct conn *c);
bool conn_resume_release(struct conn *c, bool have);
void conn_resume_timeout(struct conn *c);
uint64_t conn_resume_due(const struct conn *c);

/*
 * conn_relay.c. conn_relay_setup(): both legs are up: set up the pumps
 * (and PostgreSQL's prefill); 0, or -1 when out of memory.
 * conn_relay_step(): move what can be moved; CONN_RELAY_ON (go on),
 * CONN_RELAY_CLOSE (close with *WHY, *BY, *DETAIL, which may point into
 * BUF of LEN) or CONN_RELAY_STALL (a stream leg failed whose stream has
 * not said why yet: its event will). It also notes the first EOF, polls
 * for a session ticket and queues C on the table's list of pumps to
 * resume when a pump stopped early for fairness.
 */
enum conn_relay { CONN_RELAY_ON, CONN_RELAY_CLOSE, CONN_RELAY_STALL };
int conn_relay_setup(struct conn *c);
enum conn_relay conn_relay_step(struct conn *c, enum reason *why,
    enum conn_by *by, char *buf, size_t len, const char **detail);

/* conn_audit.c: C's audit line and the counters of its close (from
 * conn_close only); the printable peer address of an accepted socket. */
void conn_count_close(struct conn *c, enum reason why);
void conn_audit(
    struct conn *c, enum reason why, enum conn_by by, const char *detail);
void conn_format_client(struct conn *c, const struct sockaddr *sa);

/*
 * conn_limits.c: decisions, never a transition.
 * conn_deadline(): when C's timer is due in its state (monotonic ms), 0
 * when the state has none: CONNECTING connect_ms after it began, BACKOFF
 * the backoff of its retry, TICKET_WAIT and HANDSHAKE and PG handshake_ms
 * (TICKET_WAIT: sooner when the ticket is due), none in NEW, RELAY and
 * CLOSED. conn_backoff(): every upstream address failed after RETRIES
 * rounds: true, and *MS the wait before the next round, while RT allows
 * (a database that starts after its sidecar); false: give up.
 * conn_connect_failure(): the reason (and BY, DETAIL) of giving up with
 * the last connect errno ERR. conn_stale_address(): could a fresh lookup
 * of the target help after ERR? conn_relay_deadline(): a relaying C past
 * its half-close or idle deadline at NOW: that reason, else REASON_NONE.
 */
uint64_t conn_deadline(const struct conn *c);
/*
 * conn_count(): keep t->nhandshakes equal to the number of terminate
 * connections that have not finished their TLS handshake (the part a
 * client that never sends a ClientHello can hold); call after every
 * change of state. conn_arm_timer(): arm C's timer for the deadline of its
 * state (none: disarm it; RELAY has no timer). conn_due(): the timer
 * fired: true when the deadline is reached; else (the coarse clock lags
 * libevent's) it is armed again.
 */
void conn_count(struct conn *c);
void conn_arm_timer(struct conn *c);
bool conn_due(struct conn *c);
bool
conn_backoff(const struct config_retry *rt, uint32_t retries, uint64_t *ms);
enum reason
conn_connect_failure(int err, enum conn_by *by, const char **detail);
bool conn_stale_address(int err);
enum reason conn_relay_deadline(const struct conn *c, uint64_t now);

/*
 * C was just accepted and counted (ROUTE_ACTIVE on its route, ALL in the
 * process). CONN_ROOM_OK: within max_connections. CONN_ROOM_SHED: close
 * *VICTIM (reason handshake_shed), the oldest connection of its table that
 * has not authenticated and counts against the limit reached, to make
 * room. CONN_ROOM_REFUSE: refuse C (reason limit); authenticated
 * connections are never closed for it.
 */
enum conn_room { CONN_ROOM_OK, CONN_ROOM_SHED, CONN_ROOM_REFUSE };
enum conn_room conn_room(const struct conn *c, uint64_t route_active,
    unsigned all, struct conn **victim);

/* Over the cap on handshakes in progress: T's oldest pending connection,
 * to shed; NULL when under the cap. */
struct conn *conn_shed_victim(const struct conn_table *t);

/*
 * C's TLS handshake has just succeeded. If a reload replaced C's route
 * since C was accepted, judge the peer by the current route of the same
 * name (CA bundle, CRL, allow/expect): the reason a new connection would
 * be refused with (DETAIL filled), else REASON_NONE, and a terminate
 * connection that passes goes on under the current route (its roles,
 * target, timeouts).
 */
enum reason conn_recheck_current(struct conn *c, char *detail, size_t len);

/*
 * C has started neither its TLS leg nor its upstream leg (PostgreSQL
 * startup phase). If a reload replaced C's route since C was accepted,
 * move C to the current route of the same name (same counters and
 * protocol), so that its roles, target, TLS context (CA bundle, CRL) and
 * allow/expect are those in force now.
 */
void conn_follow_reload(struct conn *c);

/*
 * A reload brought new routes (c->t->routes): does handshaken C's peer
 * still pass the route of its name? REASON_NONE, or the *_after_reload
 * reason (DETAIL filled).
 */
enum reason conn_reload_verdict(const struct conn *c, char *detail, size_t len);

/* Take C off its table's list of pumps to resume (conn_close). */
void conn_more_unlink(struct conn *c);

/* Monotonic ms to a timeval from NOW to DUE (at least 1 ms). */
struct timeval conn_tv_until(uint64_t due, uint64_t now);

#endif
