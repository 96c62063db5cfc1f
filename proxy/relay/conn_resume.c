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
 *     it finished (at least GRACE_MIN_MS; a connection that comes after
 *     that does not wait at all).
 * In the last two cases, once the leader's handshake has finished, the
 * server is taken to issue no tickets: the worker stops making
 * connections wait on that route until a ticket does come
 * (tls_cache.no_tickets), so that waiting never serialises the
 * connections to such a server behind one another.
 *   - at a reload (the worker's sessions go away) or at the handshake
 *     deadline, as any connection before its handshake.
 * A connection that waits has not connected upstream yet, so the server
 * sees no idle connection that has not sent its ClientHello.
 *
 * The same when the server did not resume the session offered (it has
 * dropped it: expired, evicted, or a fatal alert on another connection
 * resuming it removed it from its cache): tls.c takes it out of the
 * store, and the connection that found out, whose full handshake brings a
 * new ticket, becomes the leader, so the connections that come next wait
 * for that ticket instead of all offering the dead one.
 */
#include "conn_priv.h"

#include <sys/time.h>

#define GRACE_MIN_MS 10

/* Have C's timer fire at DUE (monotonic ms), or at once if that is past. */
static void
conn_resume_arm(struct conn *c, uint64_t due)
{
	uint64_t now = conn_now(), ms = due > now ? due - now : 1;
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(c->ev_timer, &tv);
}

bool
conn_resume_wait(struct conn *c)
{
	struct tls_cache *sc = c->peer.cache; /* NULL: resumption off */

	if (sc == NULL || sc->s != NULL || sc->no_tickets)
		return (false);
	if (sc->fetching == 0) {
		sc->fetching = 1;
		c->ticket_leader = true;
		return (false);
	}
	if (sc->fetching == 2 && conn_now() >= sc->due) {
		sc->no_tickets = true; /* the ticket is late: none is coming */
		return (false);
	}
	conn_set_state(c, CONN_S_TLS_WAIT);
	leg_watch(&c->cl, 0); /* its bytes wait in the socket meanwhile */
	if (sc->fetching == 2)
		conn_resume_arm(c, sc->due);
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
	struct tls_cache *sc = c->peer.cache;
	uint64_t ms = 2 * (conn_now() - c->t_state);
	struct conn *o;

	if (sc == NULL)
		return;
	if (!c->ticket_leader) {
		/* Refused: its ticket is the one to wait for, if no other. */
		if (!c->peer.refused || sc->fetching != 0)
			return;
		c->ticket_leader = true;
	}
	sc->fetching = 2;
	sc->due = conn_now() + (ms < GRACE_MIN_MS ? GRACE_MIN_MS : ms);
	TAILQ_FOREACH(o, &c->w->conns, link)
	if (o->state == CONN_S_TLS_WAIT && o->r == c->r)
		conn_resume_arm(o, sc->due);
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
