/*
 * conn: the per-connection state machine.
 *
 *   originate (plaintext client, TLS upstream):
 *
 *     accept ──▶ CONNECT ──▶ HANDSHAKE ──▶ RELAY ──▶ closed
 *                (upstream)  (TLS client)   (both ways)
 *
 *   terminate (TLS client, plaintext upstream):
 *
 *     accept ──▶ HANDSHAKE ──▶ CONNECT ──▶ RELAY ──▶ closed
 *                (TLS server)  (upstream)
 *
 *   protocol postgres (pgconn.h) adds PG, the startup negotiation:
 *
 *     originate: accept ──▶ PG ──▶ CONNECT ──▶ [PG] ──▶ HANDSHAKE ──▶ RELAY
 *                (startup packet;          (SSLRequest, 'S')
 *                 local_tls: its handshake on cl inside PG)
 *     terminate: accept ──▶ PG ──▶ HANDSHAKE ──▶ PG ──▶ CONNECT ──▶ RELAY
 *                (ClientHello or SSLRequest)  (startup packet, roles)
 *     terminate, plaintext cancel (plaintext_cancel):
 *                accept ──▶ PG ──▶ CONNECT ──▶ PG ──▶ closed
 *                                  (send it, wait for the server's EOF)
 *
 *   protocol tcp with mux (conn_mux.c, mux.h):
 *
 *     originate: accept ──▶ RELAY, on a stream of a tunnel of the worker
 *                (none with room: CONNECT ──▶ HANDSHAKE as above; ALPN h2
 *                 makes the TLS leg a tunnel and c->up its first stream)
 *     terminate: HANDSHAKE (h2) ──▶ closed without an audit line (the
 *                tunnel writes its own); each CONNECT on the tunnel is a
 *                new connection: CONNECT ──▶ 200 ──▶ RELAY
 *
 *   Any state ──(error, timeout, limit, drain)──▶ closed.
 *
 * A connection has two legs (leg.h): cl, the accepted socket, and up, the
 * socket to the target; exactly one of them speaks mutual TLS (c->tl; with
 * local_tls, pgconn also puts a TLS server on cl, which the legs and pumps
 * handle alike). In RELAY two pumps (pump.h) move bytes, each through a
 * buffer of route->buffer_bytes that it holds only while bytes are in
 * flight (an idle connection holds none): dup (cl -> up) and ddown (up ->
 * cl). A direction stops reading its source when its buffer is full and
 * starts again when it is down to half (backpressure: a slow reader never
 * grows memory). When a source reaches EOF (FIN or close_notify) and its
 * buffer is empty, the destination is shut down for writing (FIN or
 * close_notify) while the other direction keeps flowing. When both
 * directions are done the connection closes with reason eof.
 *
 * The libevent callbacks (conn_cl_cb, conn_up_cb, conn_timer_cb) only check
 * the magic, note which events fired and switch on the state to one
 * on_<event>() function. conn_close() is the only place that writes the
 * audit line and frees the connection; every caller returns right after it.
 *
 * Before RELAY a connection has a timer: in CONNECT and HANDSHAKE it is
 * the deadline of that step; when every upstream address failed, CONNECT
 * waits on it for the next connect_retry attempt (retry_wait), having
 * asked the resolver for a fresh lookup of the target (resolver.h), so
 * that the retry sees the new addresses. A relaying
 * connection has none (128 bytes less each): its worker's sweep
 * (conn_sweep, every CONN_SWEEP_MS) checks the last time a byte moved
 * against idle_ms, or against halfclose_ms once one direction is
 * finished, and when a pump stops early for fairness the connection goes
 * on its worker's list of pumps to resume (more_due, conn_more_run). With
 * one event per leg, the legs' two events live in the connection's own
 * allocation (evmem).
 *
 * Terminate connections before their handshake count in w->nhandshakes;
 * over max_handshakes a new one sheds the oldest (conn_shed), and so it
 * does over max_connections (conn_make_room): a peer that has not
 * authenticated never keeps out one that will. After a reload
 * conn_reload_all() checks every handshaken peer again, and a handshake
 * that finishes on a route replaced by a reload is judged by the current
 * one (conn_recheck_current).
 */
#include "conn.h"
#include "conn_priv.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mux.h"
#include "upstream.h"

static void on_handshake_start(struct conn *c, struct leg *l);
static void on_pg_io(struct conn *c);

/*
 * Keep w->nhandshakes equal to the number of terminate connections that
 * have not finished their TLS handshake (the part a client that never
 * sends a ClientHello can hold); call after every change of state.
 */
static void
conn_count(struct conn *c)
{
	bool pre = !c->handshaken && c->r->cfg->mode == CONFIG_MODE_TERMINATE &&
	    (c->state == CONN_S_HANDSHAKE || c->state == CONN_S_PG);

	if (pre == c->pre_tls)
		return;
	c->pre_tls = pre;
	if (pre)
		c->w->nhandshakes++;
	else
		c->w->nhandshakes--;
}

/* The size of one event in evmem, rounded up to keep the next aligned. */
static size_t
conn_event_size(void)
{
	size_t a = alignof(max_align_t);

	return ((event_get_struct_event_size() + a - 1) / a * a);
}

struct event *
conn_event(struct conn *c, int i)
{
	return ((struct event *)(c->evmem + (size_t)i * conn_event_size()));
}

uint64_t
conn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static enum conn_by
conn_side(const struct conn *c, const struct leg *l)
{
	return (l == &c->cl ? CONN_BY_CLIENT : CONN_BY_UPSTREAM);
}

/*
 * The one way a connection ends: count, write the audit line, free
 * everything. Idempotent while C is alive; C is freed on return, so
 * callers return right after calling it.
 */
void
conn_close(struct conn *c, enum reason why, enum conn_by by, const char *detail)
{
	struct route_stats *st = c->r->stats;
	struct worker *w = c->w;
	/* Refusals answered with an ErrorResponse end with a FIN. */
	bool abort = why != REASON_EOF && why != REASON_ROLE_NOT_ALLOWED &&
	    why != REASON_PROTOCOL;

	if (c->state == CONN_S_CLOSED)
		return;
	c->state = CONN_S_CLOSED;
	conn_count(c);
	if (!c->adopted) /* a tunnel now: it writes its own line */
		atomic_fetch_add_explicit(
		    &st->closed[why], 1, memory_order_relaxed);
	else /* and counts as a tunnel; each stream counts as accepted */
		atomic_fetch_sub_explicit(
		    &st->accepted, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&st->active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &st->bytes_up, c->up.bytes_out, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &st->bytes_down, c->cl.bytes_out, memory_order_relaxed);
	atomic_fetch_sub_explicit(&w->pool->active, 1, memory_order_relaxed);
	conn_count_cancel(c, why);
	if (!c->adopted)
		conn_audit(c, why, by, detail);
	conn_resume_close(c);

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
	pgconn_free(c->pg);
	pump_release(&c->dup);
	pump_release(&c->ddown);
	TAILQ_REMOVE(&w->conns, c, link);
	w->nconns--;
	route_unref(c->r);
	c->magic = CONN_DEAD;
	free(c);
	worker_conn_gone(w);
}

void
conn_drop(struct conn *c, enum reason why)
{
	conn_close(c, why, CONN_BY_PROXY, NULL);
}

void
conn_set_state(struct conn *c, enum conn_state s)
{
	c->state = s;
	c->t_state = c->t_io = conn_now();
	conn_count(c);
	conn_arm_timer(c);
}

struct conn *
conn_new(struct worker *w, struct route *r)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c) + CONN_NEV * conn_event_size())) ==
	    NULL) {
		log_errno("calloc");
		return (NULL);
	}
	c->magic = CONN_MAGIC;
	c->w = w;
	c->r = route_ref(r);
	leg_init(&c->cl);
	leg_init(&c->up);
	tls_peer_init(&c->peer, r->cfg, &w->sessions[r->index]);
	c->t_start = c->t_state = c->t_io = conn_now();
	c->state = CONN_S_CONNECT;
	TAILQ_INSERT_TAIL(&w->conns, c, link);
	w->nconns++;
	atomic_fetch_add_explicit(&r->stats->accepted, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->stats->active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->pool->active, 1, memory_order_relaxed);
	return (c);
}

void
conn_accept(struct worker *w, struct route *r, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct conn *c;
	int one = 1;

	if ((c = conn_new(w, r)) == NULL) {
		close(fd);
		return;
	}
	conn_format_client(c, sa);
	leg_open(&c->cl, conn_event(c, CONN_EV_CL), w->base, fd, conn_cl_cb, c);
	if ((c->ev_timer = evtimer_new(w->base, conn_timer_cb, c)) == NULL) {
		conn_close(c, REASON_INTERNAL, CONN_BY_PROXY, "out of memory");
		return;
	}
	if (!conn_make_room(c, atomic_load(&r->stats->active),
		atomic_load(&w->pool->active))) {
		conn_close(c, REASON_LIMIT, CONN_BY_PROXY, NULL);
		return;
	}
	if (r->cfg->mode == CONFIG_MODE_TERMINATE)
		conn_shed(w);
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(
		    fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (r->cfg->protocol == CONFIG_PROTO_POSTGRES) {
		if ((c->pg = pgconn_new(r->cfg, r->ssl_ctx, r->local_ctx)) ==
		    NULL) {
			conn_close(
			    c, REASON_INTERNAL, CONN_BY_PROXY, "out of memory");
			return;
		}
		conn_set_state(c, CONN_S_PG);
		on_pg_io(c);
	} else if (r->cfg->mode == CONFIG_MODE_ORIGINATE)
		conn_connect_start(c);
	else
		on_handshake_start(c, &c->cl);
}

/*
 * Could a fresh lookup help after a connect failed with ERR (0: no
 * address)? Not when the process is out of descriptors or buffers, or the
 * sandbox refused the port.
 */
static bool
conn_stale_address(int err)
{
	switch (err) {
	case 0:
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return (true);
	default:
		return (false);
	}
}

void
conn_connect_start(struct conn *c)
{
	int fd;

	/* The first attempt: a stream on a tunnel instead (conn_mux.c)? */
	if (c->ai_next == 0 && c->retries == 0 && conn_mux_attach(c))
		return;
	/* The first attempt: wait for a session another connection fetches? */
	if (c->r->cfg->mode == CONFIG_MODE_ORIGINATE && c->ai_next == 0 &&
	    c->retries == 0 && c->state != CONN_S_TLS_WAIT &&
	    conn_resume_wait(c))
		return;

	while ((fd = upstream_connect(c->r->up, c->ai_next++)) < 0) {
		if (errno == ENOENT)
			break;
		c->up_err = errno;
	}
	/* Every address failed: have the name looked up again if it can help.
	 */
	if (fd < 0 && conn_stale_address(c->up_err))
		upstream_failed(c->r->up);
	if (fd < 0 && conn_retry(c))
		return;
	if (fd < 0 && c->up_err == ETIMEDOUT) {
		conn_close(c, REASON_CONNECT_TIMEOUT, CONN_BY_PROXY, NULL);
		return;
	}
	if (fd < 0) {
		conn_close(c,
		    c->up_err == ECONNREFUSED ? REASON_UPSTREAM_REFUSED
					      : REASON_UPSTREAM_UNREACHABLE,
		    CONN_BY_UPSTREAM,
		    c->up_err != 0 ? strerror(c->up_err) : "no address");
		return;
	}
	leg_open(
	    &c->up, conn_event(c, CONN_EV_UP), c->w->base, fd, conn_up_cb, c);
	conn_set_state(c, CONN_S_CONNECT);
	c->up.wr_block = EV_WRITE;
	leg_watch(&c->cl, 0);
	leg_watch(&c->up, EV_WRITE);
}

/* The upstream socket became writable: connected, or failed. */
static void
on_connect_done(struct conn *c)
{
	int err = upstream_connect_result(c->up.fd);

	if (err != 0) {
		c->up_err = err;
		leg_clear(&c->up, false);
		leg_init(&c->up);
		conn_connect_start(c);
		return;
	}
	leg_watch(&c->up, 0);
	if (c->pg != NULL && pgconn_upstream_begin(c->pg)) {
		conn_set_state(c, CONN_S_PG);
		on_pg_io(c);
	} else if (c->r->cfg->mode != CONFIG_MODE_ORIGINATE) {
		if (c->cl.ms !=
		    NULL) /* a tunnel's stream: answer the CONNECT */
			mux_stream_respond(c->cl.ms);
		conn_relay_start(c);
	} else {
		on_handshake_start(c, &c->up);
	}
}

/* One step of the TLS handshake on c->tl. */
static void
on_handshake_io(struct conn *c)
{
	struct leg *l = c->tl;
	enum conn_by by;

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
		    ? conn_side(c, l)
		    : CONN_BY_PROXY;
		conn_close(c, c->peer.reason, by, c->peer.detail);
		return;
	}
	if (tls_after_handshake(l->ssl, &c->peer) != 0) {
		route_handshake_failed(c->r, c->peer.reason);
		conn_close(c, c->peer.reason, CONN_BY_PROXY, c->peer.detail);
		return;
	}
	if (conn_recheck_current(c) != 0)
		return;
	c->handshaken = true;
	conn_count(c);
	conn_resume_handshaken(c);
	route_observe_handshake(c->r, conn_now() - c->t_state);
	atomic_fetch_add_explicit(
	    &c->r->stats->handshakes, 1, memory_order_relaxed);
	if (SSL_session_reused(l->ssl))
		atomic_fetch_add_explicit(
		    &c->r->stats->resumed, 1, memory_order_relaxed);
	leg_watch(l, 0);
	if (conn_mux_handshaken(c)) /* ALPN h2: a tunnel now */
		return;
	if (c->r->cfg->mode == CONFIG_MODE_ORIGINATE) {
		conn_relay_start(c);
	} else if (c->pg != NULL) {
		pgconn_tls_done(c->pg);
		conn_set_state(c, CONN_S_PG);
		on_pg_io(c);
	} else {
		conn_connect_start(c);
	}
}

/* PostgreSQL negotiation: let pgconn work, then take the next step. */
static void
on_pg_io(struct conn *c)
{
	const char *detail;
	bool up;
	enum reason why;

	if (c->tl == NULL && c->up.fd < 0) /* nothing begun under c->r */
		conn_follow_reload(c);
	switch (pgconn_io(c->pg, &c->cl, &c->up,
	    c->handshaken ? tls_peer_identity(&c->peer) : NULL)) {
	case PGCONN_WAIT:
		return;
	case PGCONN_CONNECT:
		conn_connect_start(c);
		return;
	case PGCONN_TLS:
		on_handshake_start(c,
		    c->r->cfg->mode == CONFIG_MODE_ORIGINATE ? &c->up : &c->cl);
		return;
	case PGCONN_CLOSE:
		why = pgconn_result(c->pg, &detail, &up);
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
	conn_set_state(c, CONN_S_HANDSHAKE);
	on_handshake_io(c);
}

/* Note the first EOF: who closed first, and the half-close timeout. */
static void
conn_first_eof(struct conn *c, const struct leg *src)
{
	if (c->any_eof)
		return;
	c->any_eof = true;
	c->first_eof = conn_side(c, src);
	conn_arm_timer(c);
}

void
conn_relay_io(struct conn *c)
{
	uint64_t before =
	    c->cl.bytes_in + c->up.bytes_in + c->cl.bytes_out + c->up.bytes_out;
	struct pump *p[2] = {&c->dup, &c->ddown};
	struct leg *bad = NULL;
	char buf[120];

	for (int i = 0; i < 2; i++) {
		switch (pump_run(p[i], &bad)) {
		case PUMP_ERR:
			if (bad->ms != NULL) {
				conn_mux_failed(c, bad);
				return;
			}
			conn_close(c,
			    bad->ssl != NULL ? REASON_TLS_ERROR : REASON_RESET,
			    conn_side(c, bad),
			    leg_detail(bad, buf, sizeof(buf)));
			return;
		case PUMP_EOF:
			conn_first_eof(c, p[i]->src);
			break;
		default:
			break;
		}
	}
	if (c->peer.cache != NULL) /* originate: a new ticket? */
		tls_peer_poll(c->tl->ssl, &c->peer);
	if (pump_done(&c->dup) && pump_done(&c->ddown)) {
		conn_close(c, REASON_EOF, c->first_eof, NULL);
		return;
	}
	if (c->cl.bytes_in + c->up.bytes_in + c->cl.bytes_out +
		c->up.bytes_out !=
	    before)
		c->t_io = conn_now();
	conn_classify(c,
	    c->cl.bytes_in + c->up.bytes_in + c->cl.bytes_out +
		c->up.bytes_out - before);
	leg_watch(&c->cl, pump_wants(&c->cl, &c->dup, &c->ddown));
	leg_watch(&c->up, pump_wants(&c->up, &c->ddown, &c->dup));
	/*
	 * Come back for the rest after other connections had their turn, on
	 * the worker's event (not on a leg's: an I/O event that is active
	 * but not added is never added to epoll by event_add(), libevent
	 * 2.1).
	 */
	if ((c->dup.more || c->ddown.more) && !c->more_due) {
		c->more_due = true;
		c->more_next = c->w->more;
		c->w->more = c;
		event_active(c->w->ev_more, EV_TIMEOUT, 1);
	}
	c->dup.more = c->ddown.more = false;
	if (c->ticket_leader)
		conn_resume_check(c);
}

/* Both legs are up: set up the pumps (buffers come when bytes do). */
void
conn_relay_start(struct conn *c)
{
	size_t cap =
	    c->r->cfg->buffer_bytes != 0 ? c->r->cfg->buffer_bytes : 256 * 1024;

	c->dup = (struct pump){.src = &c->cl, .dst = &c->up, .cap = cap};
	c->ddown = (struct pump){.src = &c->up, .dst = &c->cl, .cap = cap};
	if (c->pg != NULL) { /* pgconn_prefill() needs the buffer */
		if (pgconn_pending(c->pg) > cap)
			c->dup.cap = pgconn_pending(c->pg);
		if (pump_reserve(&c->dup) != 0) {
			conn_close(
			    c, REASON_INTERNAL, CONN_BY_PROXY, "out of memory");
			return;
		}
	}
	pgconn_prefill(c->pg, &c->dup); /* the startup packet, if any */
	c->cl.rd_block = c->cl.wr_block = 0;
	/*
	 * The upstream leg was set up last: its peer has sent nothing yet,
	 * unless TLS read it along with the handshake. Wait for its first
	 * bytes instead of reading only to get EAGAIN (one read(2), and on
	 * a TLS leg one SSL_read, per connection and proxy).
	 */
	c->up.rd_block = leg_pending(&c->up) ? 0 : EV_READ;
	c->up.wr_block = 0;
	event_free(c->ev_timer); /* the worker's sweep from now on */
	c->ev_timer = NULL;
	conn_set_state(c, CONN_S_RELAY);
	conn_relay_io(c);
}

/* An event on leg L of C. */
static void
conn_leg_event(struct conn *c, struct leg *l, short what)
{
	if (c->magic != CONN_MAGIC) {
		log_error("event on a dead connection %p", (void *)c);
		return;
	}
	leg_ready(l, what);
	if (l->ms != NULL && conn_mux_failed(c, l))
		return;
	switch (c->state) {
	case CONN_S_CONNECT:
		if (l == &c->up)
			on_connect_done(c);
		break;
	case CONN_S_HANDSHAKE:
		if (l == c->tl)
			on_handshake_io(c);
		break;
	case CONN_S_RELAY:
		conn_relay_io(c);
		break;
	case CONN_S_PG:
		on_pg_io(c);
		break;
	default:
		break;
	}
}

void
conn_cl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	conn_leg_event(c, &c->cl, what);
}

void
conn_up_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	conn_leg_event(c, &c->up, what);
}
