/*
 * conn_resume: one full handshake per burst on an originate route.
 *
 * While an originating worker holds no session for a route, the first
 * connection that needs one (the leader, ticket_leader) connects and does
 * a full handshake; the connections that come while it is out wait in
 * CONN_S_TLS_WAIT, before connecting upstream, for the ticket it brings
 * back, instead of each doing a full handshake of its own (~2.7 times the
 * CPU of a resumed one, and on each side ~10 KiB more for as long as the
 * connection lives: its own decoded copy of the peer's chain). They go
 * ahead:
 *   - when the leader holds the ticket (checked after each of its relay
 *     steps: OpenSSL hands it over inside SSL_read);
 *   - when the leader closes first (a failed handshake too): without one;
 *   - when no ticket came within twice the leader's handshake time after
 *     it finished (at least GRACE_MIN_MS).
 * In the last two cases, once the leader's handshake has finished, the
 * server is taken to issue no tickets: the worker stops making
 * connections wait on that route until a ticket does come
 * (tls_cache.no_tickets), so that waiting never serialises the
 * connections to such a server behind one another.
 *   - at a reload (the worker's sessions go away) or at the handshake
 *     deadline, as any connection before its handshake.
 * A connection that waits has not connected upstream yet, so the server
 * sees no idle connection that has not sent its ClientHello.
 */
#include "conn_priv.h"

#include <sys/time.h>

#define GRACE_MIN_MS 10

bool
conn_resume_wait(struct conn *c)
{
	struct tls_cache *sc = c->peer.cache;

	if (sc == NULL || !c->r->cfg->tls_resumption || sc->s != NULL ||
	    sc->no_tickets)
		return (false);
	if (sc->fetching == 0) {
		sc->fetching = 1;
		c->ticket_leader = true;
		return (false);
	}
	conn_set_state(c, CONN_S_TLS_WAIT);
	leg_watch(&c->cl, 0); /* its bytes wait in the socket meanwhile */
	return (true);
}

/* Let the connections of W waiting on route R go ahead. */
static void
conn_resume_wake(struct worker *w, const struct route *r)
{
	struct conn *c, *next;

	/* Each can only close itself, so NEXT stays valid. */
	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CONN_S_TLS_WAIT && c->r == r)
			conn_connect_start(c);
	}
}

/* Leader C holds the ticket, or closes: the others go ahead. */
static void
conn_resume_release(struct conn *c)
{
	struct tls_cache *sc = c->peer.cache; /* NULL: a reload took it */

	c->ticket_leader = false;
	if (sc != NULL) {
		if (sc->s == NULL && sc->fetching == 2)
			sc->no_tickets = true;
		sc->fetching = 0;
	}
	conn_resume_wake(c->w, c->r);
}

void
conn_resume_handshaken(struct conn *c)
{
	uint64_t ms = 2 * (conn_now() - c->t_state);
	struct timeval tv;
	struct conn *o;

	if (!c->ticket_leader || c->peer.cache == NULL)
		return;
	c->peer.cache->fetching = 2;
	if (ms < GRACE_MIN_MS)
		ms = GRACE_MIN_MS;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	TAILQ_FOREACH(o, &c->w->conns, link)
	if (o->state == CONN_S_TLS_WAIT && o->r == c->r)
		evtimer_add(o->ev_timer, &tv);
}

void
conn_resume_check(struct conn *c)
{
	if (c->peer.cache != NULL && c->peer.cache->s != NULL)
		conn_resume_release(c);
}

void
conn_resume_close(struct conn *c)
{
	if (c->ticket_leader)
		conn_resume_release(c);
}

void
conn_resume_timeout(struct conn *c)
{
	struct tls_cache *sc = c->peer.cache;

	/* The leader's handshake is done and no ticket came in time. */
	if (sc != NULL && sc->s == NULL && sc->fetching == 2)
		sc->no_tickets = true;
	conn_connect_start(c);
}
