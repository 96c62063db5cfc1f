/*
 * conn_limits: the limits on a connection: its timeouts (one timer per
 * connection, see the top of conn.c), connect retries, the connection
 * limits, the handshake cap, the recheck of live connections after a
 * reload, and the share of the worker's loop a relay gets (pumps resumed
 * later, bulk transfers at a lower event priority).
 */
#include "conn_priv.h"
#include "mux.h"

#include <errno.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "policy.h"
#include "recheck.h"

/* Arm the timer for the current state (see the top comment). */
void
conn_arm_timer(struct conn *c)
{
	const struct config_timeouts *tm = &c->r->cfg->timeouts;
	uint64_t limit = 0, base = c->t_state, now = conn_now(), left;
	struct timeval tv;

	if (c->ev_timer == NULL) /* RELAY: conn_sweep() */
		return;
	switch (c->state) {
	case CONN_S_CONNECT:
		limit = tm->connect_ms;
		break;
	case CONN_S_HANDSHAKE:
	case CONN_S_PG:
	case CONN_S_TLS_WAIT:
		limit = tm->handshake_ms;
		break;
	default:
		break;
	}
	if (limit == 0) {
		evtimer_del(c->ev_timer);
		return;
	}
	left = base + limit > now ? base + limit - now : 1;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	evtimer_add(c->ev_timer, &tv);
}

/*
 * Every upstream address failed: wait and try them again while the
 * route's connect_retry allows (a database that starts after its sidecar).
 * The backoff doubles from retry.backoff_ms, at most 8 times. True when a
 * retry is scheduled.
 */
bool
conn_retry(struct conn *c)
{
	const struct config_retry *rt = &c->r->cfg->retry;
	uint64_t ms;
	struct timeval tv;

	if (c->retries >= rt->attempts)
		return (false);
	ms = (uint64_t)rt->backoff_ms << (c->retries < 8 ? c->retries : 8);
	c->retries++;
	c->ai_next = 0;
	atomic_fetch_add_explicit(
	    &c->r->stats->retries, 1, memory_order_relaxed);
	conn_set_state(c, CONN_S_CONNECT);
	leg_watch(&c->cl, 0);
	c->retry_wait = true;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(c->ev_timer, &tv);
	return (true);
}

void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	const struct config_timeouts *tm;
	uint64_t now = conn_now();

	if (c->magic != CONN_MAGIC) {
		log_error("timer on a dead connection %p", (void *)c);
		return;
	}
	if (c->retry_wait) {
		c->retry_wait = false;
		conn_connect_start(c);
		return;
	}
	tm = &c->r->cfg->timeouts;
	switch (c->state) {
	case CONN_S_CONNECT:
		if (now >= c->t_state + tm->connect_ms) {
			/* Like a refusal: the next address, or a retry. */
			c->up_err = ETIMEDOUT;
			leg_clear(&c->up, false);
			leg_init(&c->up);
			conn_connect_start(c);
			return;
		}
		break;
	case CONN_S_TLS_WAIT:
		conn_resume_timeout(c); /* its wait is over, whatever it was */
		return;
	case CONN_S_HANDSHAKE:
	case CONN_S_PG:
		if (now >= c->t_state + tm->handshake_ms) {
			route_handshake_failed(c->r, REASON_HANDSHAKE_TIMEOUT);
			conn_close(
			    c, REASON_HANDSHAKE_TIMEOUT, CONN_BY_PROXY, NULL);
			return;
		}
		break;
	default:
		break;
	}
	conn_arm_timer(c);
}

/* C relays: close it if it is past its half-close or idle deadline. */
static void
conn_relay_deadline(struct conn *c, uint64_t now)
{
	const struct config_timeouts *tm = &c->r->cfg->timeouts;

	if (c->any_eof && tm->halfclose_ms != 0 &&
	    now >= c->t_io + tm->halfclose_ms)
		conn_close(c, REASON_HALFCLOSE_TIMEOUT, CONN_BY_PROXY, NULL);
	else if (tm->idle_ms != 0 && now >= c->t_io + tm->idle_ms)
		conn_close(c, REASON_IDLE_TIMEOUT, CONN_BY_PROXY, NULL);
}

void
conn_sweep(struct worker *w)
{
	uint64_t now = conn_now();
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CONN_S_RELAY)
			conn_relay_deadline(c, now);
	}
}

void
conn_more_run(struct worker *w)
{
	struct conn *c, *list = w->more;

	/* New ones go on a fresh list and fire the event again. */
	w->more = NULL;
	while ((c = list) != NULL) {
		list = c->more_next;
		c->more_next = NULL;
		c->more_due = false;
		if (c->state == CONN_S_RELAY)
			conn_relay_io(c); /* may free C, no other */
	}
}

void
conn_more_unlink(struct conn *c)
{
	struct conn **pp;

	for (pp = &c->w->more; *pp != NULL; pp = &(*pp)->more_next)
		if (*pp == c) {
			*pp = c->more_next;
			break;
		}
	c->more_due = false;
}

/*
 * Has C's peer not authenticated yet? A terminate connection before the
 * end of its TLS handshake (or a plaintext PostgreSQL cancel): anyone who
 * can reach the port can hold one.
 */
static bool
conn_unauthenticated(const struct conn *c)
{
	return (c->r->cfg->mode == CONFIG_MODE_TERMINATE && !c->handshaken &&
	    c->state != CONN_S_CLOSED);
}

/*
 * C was just accepted and counted: ROUTE_ACTIVE open connections on its
 * route, ALL in the process. Within max_connections (route and process)
 * it may stay. Over a limit, the oldest connection of this worker whose
 * peer has not authenticated and that counts against that limit (the
 * same route for the route's limit, any route for the process's) is
 * closed (handshake_shed) to make room: strangers cannot hold the places
 * of clients that authenticate. An authenticated connection is never
 * closed for a newcomer: with none to shed the newcomer is refused.
 */
bool
conn_make_room(struct conn *c, uint64_t route_active, unsigned all)
{
	uint32_t max = c->w->cfg->max_connections;
	uint32_t rmax = c->r->cfg->max_connections;
	/* A tunnel holds a place too (so a peer cannot open them unbounded). */
	uint64_t rt = atomic_load_explicit(
		     &c->r->stats->tunnels, memory_order_relaxed),
		 at = atomic_load_explicit(
		     &mux_stats.tunnels, memory_order_relaxed);
	bool route_over = rmax != 0 && route_active + rt > rmax;
	struct conn *o;

	if (!route_over && (max == 0 || all + at <= max))
		return (true);
	/* The list is in accept order: the first match is the oldest. */
	for (o = TAILQ_FIRST(&c->w->conns); o != NULL;
	     o = TAILQ_NEXT(o, link)) {
		if (o == c || !conn_unauthenticated(o) ||
		    (route_over && o->r->stats != c->r->stats))
			continue;
		route_handshake_failed(o->r, REASON_HANDSHAKE_SHED);
		conn_close(o, REASON_HANDSHAKE_SHED, CONN_BY_PROXY,
		    "max_connections reached: room for a new connection");
		return (true);
	}
	return (false);
}

/*
 * The route C would be accepted on now: C's own while no reload replaced
 * it, else the current one of the same name and mode in C's worker, or
 * NULL when the reload removed it (or changed its mode).
 */
static struct route *
conn_route_now(const struct conn *c)
{
	const struct worker *w = c->w;
	const struct route *r = c->r;

	if (r->index < w->nroutes && w->routes[r->index] == r)
		return (c->r);
	for (size_t j = 0; j < w->nroutes; j++)
		if (strcmp(w->routes[j]->cfg->name, r->cfg->name) == 0 &&
		    w->routes[j]->cfg->mode == r->cfg->mode)
			return (w->routes[j]);
	return (NULL);
}

/*
 * Move C to CUR, the current route of its name, when that keeps its
 * counters (not removed and added again) and protocol; C's TLS peer
 * checks follow (a new tls_peer before the handshake, else only its
 * patterns) and so does its PostgreSQL phase. True when moved.
 */
static bool
conn_rebind(struct conn *c, struct route *cur)
{
	struct route *old = c->r;

	if (cur == old || cur->stats != old->stats ||
	    cur->cfg->protocol != old->cfg->protocol)
		return (false);
	c->r = route_ref(cur);
	if (!c->handshaken && c->tl == NULL) {
		tls_peer_clear(&c->peer);
		tls_peer_init(&c->peer, cur->cfg, &c->w->sessions[cur->index]);
	} else {
		c->peer.patterns = cur->cfg->allow;
		c->peer.npatterns = cur->cfg->nallow;
	}
	pgconn_rebind(c->pg, cur->cfg, cur->local_ctx);
	route_unref(old);
	return (true);
}

void
conn_follow_reload(struct conn *c)
{
	struct route *cur = conn_route_now(c);

	if (cur != NULL && cur != c->r)
		(void)conn_rebind(c, cur);
}

/*
 * C's handshake just succeeded. When C was accepted on a route a reload
 * has replaced since, judge its peer by the route of that name in force
 * now, as a new connection would be (conn_priv.h).
 */
int
conn_recheck_current(struct conn *c)
{
	struct route *cur = conn_route_now(c);
	enum reason why;
	char detail[256], what[160];

	if (cur == c->r)
		return (0);
	if (cur == NULL) {
		why = c->tl == &c->cl ? REASON_IDENTITY_NOT_ALLOWED
				      : REASON_IDENTITY_NOT_EXPECTED;
		snprintf(detail, sizeof(detail),
		    "route removed (or its mode changed) by a reload during "
		    "the handshake");
	} else {
		why = recheck_handshake(c->tl->ssl, cur, what, sizeof(what));
		snprintf(detail, sizeof(detail),
		    "judged by the policy reloaded since the accept: %s", what);
	}
	if (why != REASON_NONE) {
		route_handshake_failed(c->r, why);
		conn_close(c, why, CONN_BY_PROXY, detail);
		return (-1);
	}
	/*
	 * A terminate connection goes on under the current route (its
	 * target, timeouts and PostgreSQL roles): it sends its startup
	 * packet only now. Not on originate routes, whose upstream leg is
	 * already open.
	 */
	if (c->tl == &c->cl)
		(void)conn_rebind(c, cur);
	return (0);
}

/*
 * Over the cap on handshakes in progress (max_handshakes, shared out among
 * the workers): close the oldest connection still before its handshake,
 * so clients that never say hello cannot lock out one that does.
 */
void
conn_shed(struct worker *w)
{
	size_t cap = (w->cfg->max_handshakes + w->pool->nw - 1) / w->pool->nw;
	struct conn *c;

	if (w->nhandshakes < cap)
		return;
	/* The list is in accept order: the first one counted is the oldest. */
	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = TAILQ_NEXT(c, link)) {
		if (!c->pre_tls)
			continue;
		route_handshake_failed(c->r, REASON_HANDSHAKE_SHED);
		conn_close(c, REASON_HANDSHAKE_SHED, CONN_BY_PROXY,
		    "too many handshakes in progress");
		return;
	}
}

/* Terminate stream C: does the reloaded route of its name still admit
 * the tunnel's peer? */
static void
conn_reload_stream(struct conn *c, struct route *const *routes, size_t n)
{
	const struct identity *id = tls_peer_identity(&c->peer);

	if (c->r->cfg->mode != CONFIG_MODE_TERMINATE)
		return;
	for (size_t j = 0; j < n; j++) {
		const struct config_route *rc = routes[j]->cfg;

		if (strcmp(rc->name, c->r->cfg->name) != 0)
			continue;
		if (policy_match(rc->allow, rc->nallow, id, rc->trust_domains,
			rc->ntrust_domains) < 0)
			conn_close(c, REASON_NOT_ALLOWED_AFTER_RELOAD,
			    CONN_BY_PROXY,
			    "no longer in the allow of the route it reached");
		return;
	}
}

static void
conn_reload(struct conn *c, struct route *const *routes, size_t n, bool recheck)
{
	enum reason why;
	char detail[160];

	c->peer.cache = NULL; /* the worker's session caches go away */
	if (c->state == CONN_S_TLS_WAIT) { /* for a session of the old one */
		conn_connect_start(c);
		return;
	}
	if (!recheck || !c->handshaken || c->state == CONN_S_CLOSED)
		return;
	/*
	 * A stream (c->tl NULL): its tunnel's certificate is checked by
	 * mux_reload_all(); here the allow of the route the stream reached,
	 * which may be another than the tunnel's (its CONNECT named it).
	 */
	if (c->tl == NULL) {
		conn_reload_stream(c, routes, n);
		return;
	}
	for (size_t j = 0; j < n; j++) {
		if (strcmp(routes[j]->cfg->name, c->r->cfg->name) != 0)
			continue;
		why =
		    recheck_peer(c->tl->ssl, routes[j], detail, sizeof(detail));
		if (why != REASON_NONE)
			conn_close(c, why, CONN_BY_PROXY, detail);
		return;
	}
}

void
conn_reload_all(
    struct worker *w, struct route *const *routes, size_t n, bool recheck)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		conn_reload(c, routes, n, recheck);
	}
}

/*
 * A relay step moved MOVED bytes (in and out, both directions): a step of
 * CONN_BULK_STEP or more makes C a bulk transfer, whose events then run
 * after every other ready one (leg.h); a small step makes it interactive
 * again. A step that moved nothing (blocked on the other side) changes
 * nothing.
 */
#define CONN_BULK_STEP (32 * 1024)
#define CONN_SMALL_STEP (8 * 1024)

void
conn_classify(struct conn *c, uint64_t moved)
{
	bool bulk = c->cl.bulk;

	if (moved >= CONN_BULK_STEP)
		bulk = true;
	else if (moved > 0 && moved < CONN_SMALL_STEP)
		bulk = false;
	leg_set_bulk(&c->cl, bulk);
	leg_set_bulk(&c->up, bulk);
}
