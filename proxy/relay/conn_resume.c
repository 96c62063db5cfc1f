/*
 * conn_resume: one full handshake per burst on an originate route.
 *
 * While an originating worker holds no session for a route, the first
 * connection that needs one (the leader, ticket_leader) connects and does
 * a full handshake; the connections that come while it is out wait in
 * TICKET_WAIT, before connecting upstream, for the ticket it brings
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
 * (conn_session.no_tickets), so that waiting never serialises the
 * connections to such a server behind one another.
 *   - at a reload (the table.s sessions go away) or at the handshake
 *     deadline, as any connection before its handshake.
 * A connection that waits has not connected upstream yet, so the server
 * sees no idle connection that has not sent its ClientHello.
 *
 * The functions here decide and keep the burst's state (struct
 * conn_session, conn_table.h); conn.c makes the transitions they call for
 * (into TICKET_WAIT, and out of it with CONN_E_WAKE).
 *
 * The same when the server did not resume the session offered (it has
 * dropped it: expired, evicted, or a fatal alert on another connection
 * resuming it removed it from its cache): tls.c takes it out of the
 * store, and the connection that found out, whose full handshake brings a
 * new ticket, becomes the leader, so the connections that come next wait
 * for that ticket instead of all offering the dead one.
 */
#include "conn_priv.h"

#include <stddef.h>

#define GRACE_MIN_MS 10

/* The burst of C's route in its table; NULL when resumption is off or a
 * reload took the table's sessions away. */
static struct conn_session *
conn_burst(const struct conn *c)
{
	struct tls_cache *tc = c->peer.cache;

	return (tc == NULL ? NULL
			   : (struct conn_session *)((char *)tc -
				 offsetof(struct conn_session, tc)));
}

bool
conn_resume_wait(struct conn *c)
{
	struct conn_session *sc = conn_burst(c);

	if (sc == NULL || sc->tc.s != NULL || sc->no_tickets)
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
	return (true);
}

uint64_t
conn_resume_due(const struct conn *c)
{
	const struct conn_session *sc = conn_burst(c);

	return (sc != NULL && sc->fetching == 2 ? sc->due : 0);
}

bool
conn_resume_release(struct conn *c, bool closing)
{
	struct conn_session *sc = conn_burst(c);

	if (!c->ticket_leader || (!closing && (sc == NULL || sc->tc.s == NULL)))
		return (false);
	c->ticket_leader = false;
	if (sc != NULL) {
		if (sc->tc.s == NULL && sc->fetching == 2)
			sc->no_tickets = true;
		sc->fetching = 0;
	}
	return (true);
}

bool
conn_resume_handshaken(struct conn *c)
{
	struct conn_session *sc = conn_burst(c);
	uint64_t now = conn_now(), ms = 2 * (now - c->t_state);

	if (sc == NULL)
		return (false);
	if (!c->ticket_leader) {
		/* Refused: its ticket is the one to wait for, if no other. */
		if (!c->peer.refused || sc->fetching != 0)
			return (false);
		c->ticket_leader = true;
	}
	sc->fetching = 2;
	sc->due = now + (ms < GRACE_MIN_MS ? GRACE_MIN_MS : ms);
	return (true);
}

void
conn_resume_timeout(struct conn *c)
{
	struct conn_session *sc = conn_burst(c);

	/* The leader's handshake is done and no ticket came in time. */
	if (sc != NULL && sc->tc.s == NULL && sc->fetching == 2 &&
	    conn_now() >= sc->due)
		sc->no_tickets = true;
}

void
conn_ticket_poll(SSL *ssl, struct tls_peer *p)
{
	struct tls_cache *tc = p->cache;
	const SSL_SESSION *before = tc != NULL ? tc->s : NULL;

	tls_peer_poll(ssl, p);
	if (tc != NULL && tc->s != before) /* a ticket came: wait again */
		((struct conn_session *)((char *)tc -
		     offsetof(struct conn_session, tc)))
		    ->no_tickets = false;
}
