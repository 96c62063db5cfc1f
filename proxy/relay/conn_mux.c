/*
 * conn_mux: where a connection meets the multiplexed transport (mux.h).
 *
 *   originate: CONNECT ──▶ a stream on a tunnel of the worker ──▶ RELAY
 *              (none with room: connect and handshake as ever; when the
 *               handshake negotiates h2 the TLS leg becomes a new tunnel
 *               and the connection its first stream)
 *   terminate: HANDSHAKE (h2) ──▶ the TLS leg becomes a tunnel; the
 *              connection ends without an audit line (the tunnel writes
 *              one when it closes). Each CONNECT on the tunnel is a new
 *              connection: CONNECT (upstream) ──▶ 200 ──▶ RELAY.
 *
 * The stream is the connection's leg on the tunnel's side (c->up or
 * c->cl), c->tl is NULL, and the peer's identity is the tunnel's (shared).
 */
#include "conn_priv.h"

#include <stdio.h>
#include <string.h>

#include "mux.h"
#include "policy.h"

bool
conn_mux_attach(struct conn *c)
{
	const struct config_route *rc = c->r->cfg;
	struct mux_tunnel *t;

	if (rc->mode != CONFIG_MODE_ORIGINATE || rc->mux == CONFIG_MUX_OFF ||
	    c->proto != NULL || c->up.fd >= 0 || c->up.ms != NULL ||
	    (t = mux_tunnel_find(c->w, c->r)) == NULL)
		return (false);
	if (mux_stream_open(t, rc->target.text, &c->up,
		conn_event(c, CONN_EV_UP), conn_up_cb, c) != 0)
		return (false);
	tls_peer_clear(&c->peer);
	tls_peer_share(&c->peer, mux_tunnel_peer(t), NULL);
	c->handshaken = true;
	c->tl = NULL;
	conn_relay_start(c);
	return (true);
}

bool
conn_mux_handshaken(struct conn *c)
{
	const struct config_route *rc = c->r->cfg;
	bool server = rc->mode == CONFIG_MODE_TERMINATE;
	struct leg *l = c->tl;
	struct mux_tunnel *t;
	struct tls_cache *cache = c->peer.cache;

	if (rc->protocol != CONFIG_PROTO_TCP || c->proto != NULL)
		return (false);
	if (!mux_negotiated(l->ssl)) {
		if (rc->mux != CONFIG_MUX_ON)
			return (false); /* a peer without h2: as ever */
		conn_close(c, REASON_PROTOCOL, CONN_BY_PROXY,
		    "mux: on, and the peer did not negotiate h2");
		return (true);
	}
	if ((t = mux_tunnel_adopt(c->w, c->r, l, &c->peer,
		 server ? c->client : rc->target.text, server)) == NULL) {
		conn_close(c, REASON_INTERNAL, CONN_BY_PROXY,
		    "cannot set up a tunnel");
		return (true);
	}
	c->tl = NULL;
	if (server) {
		c->adopted = true;
		conn_close(c, REASON_EOF, CONN_BY_PROXY, NULL);
		return (true);
	}
	if (mux_stream_open(t, rc->target.text, &c->up,
		conn_event(c, CONN_EV_UP), conn_up_cb, c) != 0) {
		conn_close(
		    c, REASON_INTERNAL, CONN_BY_PROXY, "cannot open a stream");
		return (true);
	}
	/* Connections waiting for this one's session take streams now. */
	conn_resume_close(c);
	c->peer.cache = NULL;
	mux_tunnel_set_cache(t, cache);
	conn_relay_start(c);
	return (true);
}

bool
conn_mux_failed(struct conn *c, struct leg *l)
{
	const char *detail = NULL;
	enum reason why = mux_stream_error(l, &detail);

	if (why == REASON_NONE)
		return (false);
	conn_close(
	    c, why, l == &c->cl ? CONN_BY_CLIENT : CONN_BY_UPSTREAM, detail);
	return (true);
}

/*
 * The terminate route of W a CONNECT for AUTHORITY reaches on a tunnel
 * accepted on route R: the route of that name when it is a multiplexed
 * tcp terminate route trusting the same CA and CRL files, else R's
 * current version; NULL when a reload removed it.
 */
static struct route *
conn_mux_route(struct worker *w, const struct route *r, const char *auth)
{
	const struct config_identity *a = &r->cfg->identity, *b;
	struct route *own = NULL;

	for (size_t j = 0; j < w->nroutes; j++) {
		const struct config_route *rc = w->routes[j]->cfg;

		if (rc->mode != CONFIG_MODE_TERMINATE)
			continue;
		b = &rc->identity;
		if (strcmp(rc->name, auth) == 0 &&
		    rc->protocol == CONFIG_PROTO_TCP &&
		    rc->mux != CONFIG_MUX_OFF && strcmp(a->ca, b->ca) == 0 &&
		    (a->crl == NULL) == (b->crl == NULL) &&
		    (a->crl == NULL || strcmp(a->crl, b->crl) == 0))
			return (w->routes[j]);
		if (strcmp(rc->name, r->cfg->name) == 0)
			own = w->routes[j];
	}
	return (own);
}

void
conn_mux_accept(struct worker *w, struct route *r, struct mux_stream *s,
    struct tls_peer *tpeer, const char *client, bool valid)
{
	struct route *use = conn_mux_route(w, r, mux_stream_authority(s));
	const struct identity *id = tls_peer_identity(tpeer);
	struct conn *c;

	if (use == NULL || (c = conn_new(w, use)) == NULL) {
		mux_stream_reject(s);
		return;
	}
	snprintf(c->client, sizeof(c->client), "%s", client);
	mux_stream_bind(s, &c->cl, conn_event(c, CONN_EV_CL), conn_cl_cb, c);
	tls_peer_clear(&c->peer);
	tls_peer_share(&c->peer, tpeer, NULL);
	c->peer.patterns = use->cfg->allow;
	c->peer.npatterns = use->cfg->nallow;
	c->peer.domains = use->cfg->trust_domains;
	c->peer.ndomains = use->cfg->ntrust_domains;
	c->handshaken = true;
	if ((c->ev_timer = evtimer_new(w->base, conn_timer_cb, c)) == NULL) {
		conn_close(c, REASON_INTERNAL, CONN_BY_PROXY, "out of memory");
		return;
	}
	if (!conn_make_room(c, atomic_load(&use->stats->active),
		atomic_load(&w->pool->active))) {
		conn_close(c, REASON_LIMIT, CONN_BY_PROXY, NULL);
		return;
	}
	if (!valid) {
		conn_close(c, REASON_PROTOCOL, CONN_BY_CLIENT,
		    "stream is not a CONNECT with an :authority");
		return;
	}
	if (policy_match(use->cfg->allow, use->cfg->nallow, id,
		use->cfg->trust_domains, use->cfg->ntrust_domains) < 0) {
		conn_close(c, REASON_IDENTITY_NOT_ALLOWED, CONN_BY_PROXY,
		    id->spiffe != NULL ? id->spiffe : "no SPIFFE ID");
		return;
	}
	conn_connect_start(c);
}
