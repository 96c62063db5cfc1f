/*
 * conn: the per-connection state machine. Every transition is made here:
 * the legs' callbacks, the timer's and the worker's events (conn_table.c)
 * all go through conn_dispatch(), one switch on c->state that calls one
 * on_<event>() step. The helpers of the module (conn_priv.h) only return
 * decisions: the deadline of a state, the backoff or "give up", "shed
 * this one" or "refuse", "wait for the ticket" or "go".
 *
 *   accept ──▶ NEW ─┬─ originate ─────────────────────▶ (connect)
 *                   ├─ terminate ─────────────────────▶ HANDSHAKE
 *                   ├─ protocol postgres ─────────────▶ PG
 *                   ├─ a tunnel's stream (handshaken) ─▶ (connect)
 *                   └─ ... on a postgres route ────────▶ PG (startup)
 *
 *   (connect): the first attempt of an originate connection may instead
 *       take a stream on a tunnel of the worker ─────────────▶ RELAY
 *       or wait for the session another connection fetches ──▶ TICKET_WAIT
 *     else the next upstream address ────────────────────────▶ CONNECTING
 *     none left: connect_retry allows one more round ────────▶ BACKOFF
 *                else (refused, unreachable, connect_timeout) ▶ CLOSED
 *
 *   TICKET_WAIT ──(ticket came; leader closed; timer: ticket late or
 *                  handshake_ms; reload) ──▶ (connect), without waiting
 *   BACKOFF     ──(timer: the backoff is over) ──▶ (connect), first address
 *   CONNECTING  ──(failed; timer: connect_ms) ──▶ (connect), next address
 *               ──(connected) ─┬─ originate ──────────────▶ HANDSHAKE
 *                              ├─ postgres to negotiate ──▶ PG
 *                              └─ terminate (a stream: 200) ▶ RELAY
 *   HANDSHAKE   ──(done) ─┬─ originate ───────────────────▶ RELAY
 *                         │  (ALPN h2: the TLS leg becomes a tunnel, c->up
 *                         │   its first stream)
 *                         ├─ terminate h2: a tunnel now ──▶ CLOSED, no line
 *                         ├─ terminate postgres ──────────▶ PG
 *                         └─ terminate ───────────────────▶ (connect)
 *               ──(failed; timer: handshake_ms) ──────────▶ CLOSED
 *   PG          ──(proto_conn_io: connect / TLS / close) ──▶ (connect) /
 *                 HANDSHAKE / CLOSED; timer: handshake_ms ──▶ CLOSED
 *   RELAY       ──(both directions done) ──▶ CLOSED (eof); the sweep:
 *                 idle_ms, halfclose_ms ──▶ CLOSED
 *   Any state ──(error, limit, shed, drain, recheck after a reload)──▶
 *   CLOSED.
 *
 * By protocol: originate NEW, CONNECTING, HANDSHAKE (client), RELAY;
 * terminate NEW, HANDSHAKE (server), CONNECTING, RELAY; a protocol that
 * negotiates (proto.h: postgres) adds PG: originate NEW, PG (startup
 * packet; local_tls: its handshake on cl), CONNECTING, [PG (SSLRequest)],
 * HANDSHAKE, RELAY; terminate NEW, PG (ClientHello or SSLRequest), HANDSHAKE,
 * PG (startup packet, roles), CONNECTING, RELAY, or for a plaintext cancel NEW,
 * PG, CONNECTING, PG, CLOSED; mux (conn_mux.c): originate NEW, RELAY on a
 * tunnel's stream (postgres with upstream: sidecar: NEW, PG, RELAY); each
 * CONNECT on a terminate tunnel is a connection NEW, CONNECTING, RELAY (on
 * a postgres route NEW, PG (startup packet, roles), CONNECTING, RELAY).
 * BACKOFF and TICKET_WAIT may come before CONNECTING, as drawn.
 *
 * A connection has two legs (leg.h): cl, the accepted socket, and up, the
 * socket to the target; exactly one of them speaks mutual TLS (c->tl). In
 * RELAY two pumps move bytes both ways (conn_relay.c).
 *
 * conn_close() is the only place that writes the audit line and frees
 * the connection; every caller returns right after it.
 *
 * Before RELAY a connection has a timer, armed at each transition for the
 * deadline of the new state (conn_deadline). When every upstream address
 * failed, the resolver is asked for a fresh lookup of the target
 * (resolver.h) so that the retry after BACKOFF sees the new addresses. A
 * relaying connection has no timer (128 bytes less each): its table's
 * sweep checks its idle and half-close deadlines (conn_relay.c).
 *
 * What is not a state is a plain fact of the connection: handshaken,
 * pre_tls (counted in t->nhandshakes), ticket_leader (out for its route's
 * first session), more_due (on the table's list of pumps to resume),
 * any_eof, adopted (its TLS leg became a tunnel). The limits that shed
 * connections that have not authenticated: conn_limits.c.
 */
#include "conn.h"
#include "conn_priv.h"

#include <errno.h>
#include <stdlib.h>

#include "mux.h"
#include "upstream.h"

static void on_connect(struct conn *c);
static void on_handshake_start(struct conn *c, struct leg *l);
static void on_pg_io(struct conn *c);
static void on_relay_start(struct conn *c);

/* Enter state S now: its timestamps, counters and timer. */
static void
conn_enter(struct conn *c, enum conn_state s)
{
	c->state = s;
	c->t_state = c->t_io = conn_now();
	conn_count(c);
	conn_arm_timer(c);
}

/* Those waiting for the session C fetched go ahead (CONN_E_WAKE). */
static void
conn_wake(struct conn *c)
{
	struct conn *o, *next;

	/* Each can only close itself, so NEXT stays valid. */
	for (o = TAILQ_FIRST(&c->t->conns); o != NULL; o = next) {
		next = TAILQ_NEXT(o, link);
		if (o->state == CONN_S_TICKET_WAIT && o->r == c->r)
			conn_dispatch(o, CONN_E_WAKE);
	}
}

void
conn_close(struct conn *c, enum reason why, enum conn_by by, const char *detail)
{
	struct conn_table *t = c->t;
	/* Refusals answered with an ErrorResponse end with a FIN. */
	bool abort = why != REASON_EOF && why != REASON_ROLE_NOT_ALLOWED &&
	    why != REASON_PROTOCOL;

	if (c->state == CONN_S_CLOSED)
		return;
	c->state = CONN_S_CLOSED;
	conn_count(c);
	conn_count_close(c, why);
	if (!c->adopted) /* a tunnel now: it writes its own line */
		conn_audit(c, why, by, detail);
	if (conn_resume_release(c, true)) /* it was out for a session */
		conn_wake(c);
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	if (c->more_due)
		conn_more_unlink(c);
	/* A stream leg ends with the reason: a refusal or RST_STREAM. */
	mux_stream_close(&c->cl, why);
	mux_stream_close(&c->up, why);
	/* A plaintext leg is reset on failure, so the app sees an error. */
	leg_clear(&c->cl, abort && c->cl.ssl == NULL);
	leg_clear(&c->up, abort && c->up.ssl == NULL);
	tls_peer_clear(&c->peer);
	proto_conn_free(c->proto);
	pump_release(&c->dup);
	pump_release(&c->ddown);
	TAILQ_REMOVE(&t->conns, c, link);
	t->nconns--;
	route_unref(c->r);
	c->magic = CONN_DEAD;
	free(c);
	if (t->draining && t->nconns == 0)
		event_base_loopexit(t->base, NULL);
}

void
conn_drop(struct conn *c, enum reason why)
{
	conn_close(c, why, CONN_BY_PROXY, NULL);
}

/* Close O, a connection that has not authenticated, to make room. */
static void
on_shed(struct conn *o, const char *detail)
{
	route_handshake_failed(o->r, REASON_HANDSHAKE_SHED);
	conn_close(o, REASON_HANDSHAKE_SHED, CONN_BY_PROXY, detail);
}

void
conn_start(struct conn *c, enum reason why, enum conn_by by, const char *detail)
{
	struct conn_table *t = c->t;
	const struct config_route *rc = c->r->cfg;
	struct conn *o = NULL;

	if ((c->ev_timer = evtimer_new(t->base, conn_timer_cb, c)) == NULL) {
		conn_close(c, REASON_INTERNAL, CONN_BY_PROXY, "out of memory");
		return;
	}
	switch (conn_room(
	    c, atomic_load(&c->r->stats->active), atomic_load(t->active), &o)) {
	case CONN_ROOM_REFUSE:
		conn_close(c, REASON_LIMIT, CONN_BY_PROXY, NULL);
		return;
	case CONN_ROOM_SHED:
		on_shed(
		    o, "max_connections reached: room for a new connection");
		break;
	case CONN_ROOM_OK:
		break;
	}
	if (why != REASON_NONE) {
		conn_close(c, why, by, detail);
		return;
	}
	if (rc->mode == CONFIG_MODE_TERMINATE && !c->handshaken &&
	    (o = conn_shed_victim(t)) != NULL)
		on_shed(o, "too many handshakes in progress");
	/* A tunnel's stream is handshaken: its peer is the tunnel's. */
	if (c->handshaken && !proto_negotiates(rc)) {
		on_connect(c);
	} else if (proto_negotiates(rc)) {
		c->proto = proto_conn_new(rc, c->r->ssl_ctx, c->r->local_ctx);
		if (c->proto == NULL) {
			conn_close(
			    c, REASON_INTERNAL, CONN_BY_PROXY, "out of memory");
			return;
		}
		if (c->handshaken) /* a stream: as after a TLS handshake */
			proto_conn_tls_done(c->proto);
		conn_enter(c, CONN_S_PG);
		on_pg_io(c);
	} else if (rc->mode == CONFIG_MODE_ORIGINATE) {
		on_connect(c);
	} else {
		on_handshake_start(c, &c->cl);
	}
}

/* Every upstream address failed: a retry after the backoff, or give up. */
static void
on_connect_exhausted(struct conn *c)
{
	const char *detail;
	enum conn_by by;
	enum reason why;

	/* Have the name looked up again if it can help. */
	if (conn_stale_address(c->up_err))
		upstream_failed(c->r->up);
	if (conn_backoff(&c->r->cfg->retry, c->retries, NULL)) {
		c->retries++;
		c->ai_next = 0;
		atomic_fetch_add_explicit(
		    &c->r->stats->retries, 1, memory_order_relaxed);
		conn_enter(c, CONN_S_BACKOFF);
		leg_watch(&c->cl, 0);
		return;
	}
	why = conn_connect_failure(c->up_err, &by, &detail);
	conn_close(c, why, by, detail);
}

/* Connect to the next upstream address (the first attempt may take a
 * stream or wait for a session instead). */
static void
on_connect(struct conn *c)
{
	bool first = c->ai_next == 0 && c->retries == 0;
	int fd;

	if (first && conn_mux_attach(c)) {
		on_relay_start(c);
		return;
	}
	if (first && c->r->cfg->mode == CONFIG_MODE_ORIGINATE &&
	    c->state != CONN_S_TICKET_WAIT && conn_resume_wait(c)) {
		conn_enter(c, CONN_S_TICKET_WAIT);
		leg_watch(
		    &c->cl, 0); /* its bytes wait in the socket meanwhile */
		return;
	}
	while ((fd = upstream_connect(c->r->up, c->ai_next++)) < 0) {
		if (errno == ENOENT)
			break;
		c->up_err = errno;
	}
	if (fd < 0) {
		on_connect_exhausted(c);
		return;
	}
	leg_open(
	    &c->up, conn_event(c, CONN_EV_UP), c->t->base, fd, conn_up_cb, c);
	conn_enter(c, CONN_S_CONNECTING);
	c->up.wr_block = EV_WRITE;
	leg_watch(&c->cl, 0);
	leg_watch(&c->up, EV_WRITE);
}

/* The connect failed with ERR (a timeout too): the next address. */
static void
on_connect_failed(struct conn *c, int err)
{
	c->up_err = err;
	leg_clear(&c->up, false);
	leg_init(&c->up);
	on_connect(c);
}

/* The upstream socket became writable: connected, or failed. */
static void
on_connect_done(struct conn *c)
{
	int err = upstream_connect_result(c->up.fd);

	if (err != 0) {
		on_connect_failed(c, err);
		return;
	}
	leg_watch(&c->up, 0);
	if (proto_conn_upstream_begin(c->proto)) {
		conn_enter(c, CONN_S_PG);
		on_pg_io(c);
	} else if (c->r->cfg->mode != CONFIG_MODE_ORIGINATE) {
		if (c->cl.ms !=
		    NULL) /* a tunnel's stream: answer the CONNECT */
			mux_stream_respond(c->cl.ms);
		on_relay_start(c);
	} else {
		on_handshake_start(c, &c->up);
	}
}

/* The handshake (or the negotiation before it) took too long. */
static void
on_handshake_timeout(struct conn *c)
{
	route_handshake_failed(c->r, REASON_HANDSHAKE_TIMEOUT);
	conn_close(c, REASON_HANDSHAKE_TIMEOUT, CONN_BY_PROXY, NULL);
}

/* The handshake negotiated h2: C's TLS leg becomes a tunnel. */
static void
on_tunnel(struct conn *c)
{
	const char *detail;

	if (conn_mux_adopt(c, &detail) != 0) {
		conn_close(c, REASON_INTERNAL, CONN_BY_PROXY, detail);
		return;
	}
	if (c->adopted) { /* terminate: the tunnel writes its own line */
		conn_close(c, REASON_EOF, CONN_BY_PROXY, NULL);
		return;
	}
	/* Connections waiting for this one's session take streams now. */
	if (conn_resume_release(c, true))
		conn_wake(c);
	c->peer.cache = NULL; /* the tunnel's now */
	on_relay_start(c);
}

/* C's handshake succeeded: count it, then the next step. */
static void
on_handshake_done(struct conn *c)
{
	struct leg *l = c->tl;
	struct conn *o;

	c->handshaken = true;
	conn_count(c);
	if (conn_resume_handshaken(c)) { /* the ticket is due: re-arm */
		for (o = TAILQ_FIRST(&c->t->conns); o != NULL;
		     o = TAILQ_NEXT(o, link))
			if (o->state == CONN_S_TICKET_WAIT && o->r == c->r)
				conn_arm_timer(o);
	}
	route_observe_handshake(c->r, conn_now() - c->t_state);
	atomic_fetch_add_explicit(
	    &c->r->stats->handshakes, 1, memory_order_relaxed);
	if (SSL_session_reused(l->ssl))
		atomic_fetch_add_explicit(
		    &c->r->stats->resumed, 1, memory_order_relaxed);
	leg_watch(l, 0);
	switch (conn_mux_after(c)) {
	case CONN_MUX_REFUSE:
		conn_close(c, REASON_PROTOCOL, CONN_BY_PROXY,
		    "mux: on, and the peer did not negotiate h2");
		return;
	case CONN_MUX_TUNNEL:
		on_tunnel(c);
		return;
	case CONN_MUX_NONE:
		break;
	}
	if (c->r->cfg->mode == CONFIG_MODE_ORIGINATE) {
		on_relay_start(c);
	} else if (c->proto != NULL) {
		proto_conn_tls_done(c->proto);
		conn_enter(c, CONN_S_PG);
		on_pg_io(c);
	} else {
		on_connect(c);
	}
}

/* One step of the TLS handshake on c->tl. */
static void
on_handshake_io(struct conn *c)
{
	struct leg *l = c->tl;
	enum conn_by by;
	enum reason why;
	char detail[256];

	switch (leg_handshake(l)) {
	case LEG_AGAIN:
		leg_watch(l, l->rd_block);
		return;
	case LEG_OK:
		break;
	default:
		tls_handshake_failed(&c->peer);
		route_handshake_failed(c->r, c->peer.reason);
		by = c->peer.reason == REASON_TLS_ERROR ||
			c->peer.reason == REASON_TLS_VERSION ||
			c->peer.reason == REASON_NO_CLIENT_CERT
		    ? (l == &c->cl ? CONN_BY_CLIENT : CONN_BY_UPSTREAM)
		    : CONN_BY_PROXY;
		conn_close(c, c->peer.reason, by, c->peer.detail);
		return;
	}
	if (tls_after_handshake(l->ssl, &c->peer) != 0) {
		route_handshake_failed(c->r, c->peer.reason);
		conn_close(c, c->peer.reason, CONN_BY_PROXY, c->peer.detail);
		return;
	}
	if ((why = conn_recheck_current(c, detail, sizeof(detail))) !=
	    REASON_NONE) {
		route_handshake_failed(c->r, why);
		conn_close(c, why, CONN_BY_PROXY, detail);
		return;
	}
	on_handshake_done(c);
}

/* The protocol's negotiation: let it work, then take the next step. */
static void
on_pg_io(struct conn *c)
{
	const char *detail;
	bool up;
	enum reason why;

	if (c->tl == NULL && c->up.fd < 0) /* nothing begun under c->r */
		conn_follow_reload(c);
	switch (proto_conn_io(c->proto, &c->cl, &c->up,
	    c->handshaken ? tls_peer_identity(&c->peer) : NULL)) {
	case PROTO_WAIT:
		return;
	case PROTO_CONNECT:
		on_connect(c);
		return;
	case PROTO_TLS:
		on_handshake_start(c,
		    c->r->cfg->mode == CONFIG_MODE_ORIGINATE ? &c->up : &c->cl);
		return;
	case PROTO_CLOSE:
		why = proto_conn_result(c->proto, &detail, &up);
		conn_close(c, why,
		    why == REASON_EOF || why == REASON_RESET ||
			    why == REASON_TLS_ERROR || why == REASON_TLS_VERSION
			? (up ? CONN_BY_UPSTREAM : CONN_BY_CLIENT)
			: CONN_BY_PROXY,
		    detail);
		return;
	}
}

/* Create the SSL on leg L and start the handshake. */
static void
on_handshake_start(struct conn *c, struct leg *l)
{
	const char *host = l == &c->up ? upstream_host(c->r->up) : NULL;

	if ((l->ssl = tls_ssl_new(c->r->ssl_ctx, l->fd, &c->peer, host)) ==
	    NULL) {
		conn_close(c, REASON_INTERNAL, CONN_BY_PROXY, "SSL_new");
		return;
	}
	c->tl = l;
	conn_enter(c, CONN_S_HANDSHAKE);
	on_handshake_io(c);
}

/* Something happened on a leg in RELAY (or its pumps may go on). */
static void
on_relay_io(struct conn *c)
{
	const char *detail = NULL;
	enum conn_by by;
	enum reason why;
	char buf[120];

	switch (conn_relay_step(c, &why, &by, buf, sizeof(buf), &detail)) {
	case CONN_RELAY_ON:
		break;
	case CONN_RELAY_CLOSE:
		conn_close(c, why, by, detail);
		return;
	case CONN_RELAY_STALL: /* a stream leg failed, not yet its stream */
		return;
	}
	if (c->ticket_leader && conn_resume_release(c, false))
		conn_wake(c); /* it holds the ticket now */
}

/* Both legs are up: relay (buffers come when bytes do). */
static void
on_relay_start(struct conn *c)
{
	if (conn_relay_setup(c) != 0) {
		conn_close(c, REASON_INTERNAL, CONN_BY_PROXY, "out of memory");
		return;
	}
	event_free(c->ev_timer); /* the table's sweep from now on */
	c->ev_timer = NULL;
	conn_enter(c, CONN_S_RELAY);
	on_relay_io(c);
}

/* The sweep: close relaying C past its idle or half-close deadline. */
static void
on_relay_deadline(struct conn *c)
{
	enum reason why = conn_relay_deadline(c, conn_now());

	if (why != REASON_NONE)
		conn_close(c, why, CONN_BY_PROXY, NULL);
}

/* A reload with recheck: close C if its peer no longer passes. */
static void
on_recheck(struct conn *c)
{
	enum reason why;
	char detail[160];

	if (!c->handshaken)
		return;
	if ((why = conn_reload_verdict(c, detail, sizeof(detail))) !=
	    REASON_NONE)
		conn_close(c, why, CONN_BY_PROXY, detail);
}

/* A stream leg's event: if the stream failed, close C (any state). */
static bool
on_stream_failed(struct conn *c, struct leg *l)
{
	const char *detail;
	enum conn_by by;
	enum reason why;

	if (l->ms == NULL ||
	    (why = conn_mux_error(c, l, &by, &detail)) == REASON_NONE)
		return (false);
	conn_close(c, why, by, detail);
	return (true);
}

void
conn_dispatch(struct conn *c, enum conn_ev ev)
{
	bool leg = ev == CONN_E_CL || ev == CONN_E_UP;

	if (leg && on_stream_failed(c, ev == CONN_E_CL ? &c->cl : &c->up))
		return;
	switch (c->state) {
	case CONN_S_NEW:
	case CONN_S_CLOSED:
	case CONN_S__N:
		return; /* nothing is watched yet, or any more */
	case CONN_S_CONNECTING:
		if (ev == CONN_E_UP)
			on_connect_done(c);
		else if (ev == CONN_E_TIMER && conn_due(c))
			on_connect_failed(c, ETIMEDOUT); /* like a refusal */
		else if (ev == CONN_E_RECHECK)
			on_recheck(c);
		return;
	case CONN_S_BACKOFF:
		if (ev == CONN_E_TIMER && conn_due(c))
			on_connect(c);
		else if (ev == CONN_E_RECHECK)
			on_recheck(c);
		return;
	case CONN_S_TICKET_WAIT:
		if (ev == CONN_E_TIMER && conn_due(c)) {
			conn_resume_timeout(c);
			on_connect(c);
		} else if (ev == CONN_E_WAKE || ev == CONN_E_RELOAD ||
		    ev == CONN_E_RECHECK) {
			on_connect(c); /* a reload: the session is gone */
		}
		return;
	case CONN_S_HANDSHAKE:
		if (ev == CONN_E_TIMER && conn_due(c))
			on_handshake_timeout(c);
		else if (leg && c->tl == (ev == CONN_E_CL ? &c->cl : &c->up))
			on_handshake_io(c);
		return;
	case CONN_S_PG:
		if (ev == CONN_E_TIMER && conn_due(c))
			on_handshake_timeout(c);
		else if (leg)
			on_pg_io(c);
		else if (ev == CONN_E_RECHECK)
			on_recheck(c);
		return;
	case CONN_S_RELAY:
		if (leg || ev == CONN_E_MORE)
			on_relay_io(c);
		else if (ev == CONN_E_SWEEP)
			on_relay_deadline(c);
		else if (ev == CONN_E_RECHECK)
			on_recheck(c);
		return;
	}
}
