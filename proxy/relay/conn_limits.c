/*
 * conn_limits: the limits on a connection, as decisions for conn.c: the
 * deadline of each state (one timer per connection, see the top of
 * conn.c), the backoff of connect retries and the reason of giving up,
 * the connection limits and the handshake cap, and the recheck of live
 * connections after a reload. Nothing here makes a transition.
 *
 * Terminate connections before their handshake count in t->nhandshakes;
 * over max_handshakes a new one sheds the oldest (conn_shed_victim), and
 * so it does over max_connections (conn_room): a peer that has not
 * authenticated never keeps out one that will.
 */
#include "conn_priv.h"
#include "mux.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "policy.h"
#include "recheck.h"

void
conn_count(struct conn *c)
{
	bool pre = !c->handshaken && c->r->cfg->mode == CONFIG_MODE_TERMINATE &&
	    (c->state == CONN_S_HANDSHAKE || c->state == CONN_S_PG);

	if (pre == c->pre_tls)
		return;
	c->pre_tls = pre;
	if (pre)
		c->t->nhandshakes++;
	else
		c->t->nhandshakes--;
}

struct timeval
conn_tv_until(uint64_t due, uint64_t now)
{
	uint64_t ms = due > now ? due - now : 1;
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return (tv);
}

bool
conn_backoff(const struct config_retry *rt, uint32_t retries, uint64_t *ms)
{
	/* The backoff doubles from retry.backoff_ms, at most 8 times. */
	if (ms != NULL)
		*ms = (uint64_t)rt->backoff_ms << (retries < 8 ? retries : 8);
	return (retries < rt->attempts);
}

uint64_t
conn_deadline(const struct conn *c)
{
	const struct config_timeouts *tm = &c->r->cfg->timeouts;
	uint64_t hs = tm->handshake_ms != 0 ? c->t_state + tm->handshake_ms : 0;
	uint64_t ms = 0, due;

	switch (c->state) {
	case CONN_S_CONNECTING:
		return (tm->connect_ms != 0 ? c->t_state + tm->connect_ms : 0);
	case CONN_S_BACKOFF: /* entered with retries counting this one */
		(void)conn_backoff(&c->r->cfg->retry,
		    c->retries > 0 ? c->retries - 1 : 0, &ms);
		return (c->t_state + ms);
	case CONN_S_TICKET_WAIT: /* the ticket's due time, if sooner */
		due = conn_resume_due(c);
		return (due != 0 && (hs == 0 || due < hs) ? due : hs);
	case CONN_S_HANDSHAKE:
	case CONN_S_PG:
		return (hs);
	default: /* NEW and CLOSED: none; RELAY: the sweep's */
		return (0);
	}
}

void
conn_arm_timer(struct conn *c)
{
	uint64_t due;
	struct timeval tv;

	if (c->ev_timer == NULL) /* RELAY: the sweep */
		return;
	if ((due = conn_deadline(c)) == 0) {
		evtimer_del(c->ev_timer);
		return;
	}
	tv = conn_tv_until(due, conn_now());
	evtimer_add(c->ev_timer, &tv);
}

bool
conn_due(struct conn *c)
{
	uint64_t due = conn_deadline(c);

	if (due != 0 && conn_now() >= due)
		return (true);
	conn_arm_timer(c);
	return (false);
}

bool
conn_stale_address(int err)
{
	/* Not when the process is out of descriptors or buffers, or the
	 * sandbox refused the port. */
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

enum reason
conn_connect_failure(int err, enum conn_by *by, const char **detail)
{
	if (err == ETIMEDOUT) {
		*by = CONN_BY_PROXY;
		*detail = NULL;
		return (REASON_CONNECT_TIMEOUT);
	}
	*by = CONN_BY_UPSTREAM;
	*detail = err != 0 ? strerror(err) : "no address";
	return (err == ECONNREFUSED ? REASON_UPSTREAM_REFUSED
				    : REASON_UPSTREAM_UNREACHABLE);
}

enum reason
conn_relay_deadline(const struct conn *c, uint64_t now)
{
	const struct config_timeouts *tm = &c->r->cfg->timeouts;

	if (c->any_eof && tm->halfclose_ms != 0 &&
	    now >= c->t_io + tm->halfclose_ms)
		return (REASON_HALFCLOSE_TIMEOUT);
	if (tm->idle_ms != 0 && now >= c->t_io + tm->idle_ms)
		return (REASON_IDLE_TIMEOUT);
	return (REASON_NONE);
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
 * Within max_connections (route and process) C may stay. Over a limit,
 * the oldest connection of this table whose peer has not authenticated
 * and that counts against that limit (the same route for the route's
 * limit, any route for the process's) is to be shed: strangers cannot
 * hold the places of clients that authenticate.
 */
enum conn_room
conn_room(const struct conn *c, uint64_t route_active, unsigned all,
    struct conn **victim)
{
	uint32_t max = c->t->cfg->max_connections;
	uint32_t rmax = c->r->cfg->max_connections;
	/* A tunnel holds a place too (so a peer cannot open them unbounded). */
	uint64_t rt = atomic_load_explicit(
		     &c->r->stats->tunnels, memory_order_relaxed),
		 at = atomic_load_explicit(
		     &mux_stats.tunnels, memory_order_relaxed);
	bool route_over = rmax != 0 && route_active + rt > rmax;
	struct conn *o;

	if (!route_over && (max == 0 || all + at <= max))
		return (CONN_ROOM_OK);
	/* The list is in accept order: the first match is the oldest. */
	for (o = TAILQ_FIRST(&c->t->conns); o != NULL;
	     o = TAILQ_NEXT(o, link)) {
		if (o == c || !conn_unauthenticated(o) ||
		    (route_over && o->r->stats != c->r->stats))
			continue;
		*victim = o;
		return (CONN_ROOM_SHED);
	}
	return (CONN_ROOM_REFUSE);
}

struct conn *
conn_shed_victim(const struct conn_table *t)
{
	size_t cap = (t->cfg->max_handshakes + t->nworkers - 1) / t->nworkers;
	struct conn *c;

	if (t->nhandshakes < cap)
		return (NULL);
	/* The list is in accept order: the first one counted is the oldest. */
	for (c = TAILQ_FIRST(&t->conns); c != NULL; c = TAILQ_NEXT(c, link))
		if (c->pre_tls)
			return (c);
	return (NULL);
}

/*
 * The route C would be accepted on now: C's own while no reload replaced
 * it, else the current one of the same name and mode in C's table, or
 * NULL when the reload removed it (or changed its mode).
 */
static struct route *
conn_route_now(const struct conn *c)
{
	const struct conn_table *t = c->t;
	const struct route *r = c->r;

	if (r->index < t->nroutes && t->routes[r->index] == r)
		return (c->r);
	for (size_t j = 0; j < t->nroutes; j++)
		if (strcmp(t->routes[j]->cfg->name, r->cfg->name) == 0 &&
		    t->routes[j]->cfg->mode == r->cfg->mode)
			return (t->routes[j]);
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
		tls_peer_init(
		    &c->peer, cur->cfg, &c->t->sessions[cur->index].tc);
	} else {
		c->peer.patterns = cur->cfg->allow;
		c->peer.npatterns = cur->cfg->nallow;
	}
	proto_conn_rebind(c->proto, cur->cfg, cur->local_ctx);
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

enum reason
conn_recheck_current(struct conn *c, char *detail, size_t len)
{
	struct route *cur = conn_route_now(c);
	enum reason why;
	char what[160];

	if (cur == c->r)
		return (REASON_NONE);
	if (cur == NULL) {
		snprintf(detail, len,
		    "route removed (or its mode changed) by a reload during "
		    "the handshake");
		return (c->tl == &c->cl ? REASON_IDENTITY_NOT_ALLOWED
					: REASON_IDENTITY_NOT_EXPECTED);
	}
	why = recheck_handshake(c->tl->ssl, cur, what, sizeof(what));
	snprintf(detail, len,
	    "judged by the policy reloaded since the accept: %s", what);
	if (why != REASON_NONE)
		return (why);
	/*
	 * A terminate connection goes on under the current route (its
	 * target, timeouts and PostgreSQL roles): it sends its startup
	 * packet only now. Not on originate routes, whose upstream leg is
	 * already open.
	 */
	if (c->tl == &c->cl)
		(void)conn_rebind(c, cur);
	return (REASON_NONE);
}

enum reason
conn_reload_verdict(const struct conn *c, char *detail, size_t len)
{
	const struct conn_table *t = c->t;
	const struct identity *id = tls_peer_identity(&c->peer);

	for (size_t j = 0; j < t->nroutes; j++) {
		const struct config_route *rc = t->routes[j]->cfg;

		if (strcmp(rc->name, c->r->cfg->name) != 0)
			continue;
		if (c->tl != NULL)
			return (recheck_peer(
			    c->tl->ssl, t->routes[j], detail, len));
		/*
		 * A stream: its tunnel's certificate is checked by
		 * mux_reload_all(); here the allow of the terminate route
		 * the stream reached, which may be another than the
		 * tunnel's (its CONNECT named it).
		 */
		if (c->r->cfg->mode != CONFIG_MODE_TERMINATE ||
		    policy_match(rc->allow, rc->nallow, id, rc->trust_domains,
			rc->ntrust_domains) >= 0)
			return (REASON_NONE);
		snprintf(detail, len,
		    "no longer in the allow of the route it reached");
		return (REASON_NOT_ALLOWED_AFTER_RELOAD);
	}
	return (REASON_NONE);
}
