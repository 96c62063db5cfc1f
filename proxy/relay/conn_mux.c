/*
 * conn_mux: where a connection meets the multiplexed transport (mux.h).
 *
 *   originate: (connect) ──▶ a stream on a tunnel of the worker ──▶ RELAY
 *              (postgres, upstream: sidecar: after PG, the startup packet
 *               or cancel read; the relay sends those bytes first)
 *              (none with room: CONNECTING and HANDSHAKE as ever; when
 *               the handshake negotiates h2 the TLS leg becomes a new
 *               tunnel and the connection its first stream)
 *   terminate: HANDSHAKE (h2) ──▶ the TLS leg becomes a tunnel; the
 *              connection ends without an audit line (the tunnel writes
 *              one when it closes). Each CONNECT on the tunnel is a new
 *              connection: NEW ──▶ CONNECTING ──▶ 200 ──▶ RELAY; on a
 *              postgres route NEW ──▶ PG (the startup packet read inside
 *              the stream, roles checked with the tunnel's peer) ──▶
 *              CONNECTING ──▶ 200 ──▶ RELAY (a refusal's ErrorResponse
 *              is the first write: it answers 200 first, mux_stream.c).
 *
 * The stream is the connection's leg on the tunnel's side (c->up or
 * c->cl), c->tl is NULL, and the peer's identity is the tunnel's (shared).
 * These functions set up streams and tunnels and say what conn.c is to do;
 * the transitions are conn.c's.
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
	    c->up.fd >= 0 || c->up.ms != NULL ||
	    (t = mux_tunnel_find(c->t, c->r)) == NULL)
		return (false);
	if (mux_stream_open(t, rc->target.text, &c->up,
		conn_event(c, CONN_EV_UP), conn_up_cb, c) != 0)
		return (false);
	tls_peer_clear(&c->peer);
	tls_peer_share(&c->peer, mux_tunnel_peer(t), NULL);
	c->handshaken = true;
	c->tl = NULL;
	return (true);
}

enum conn_mux
conn_mux_after(const struct conn *c)
{
	const struct config_route *rc = c->r->cfg;

	if (rc->mux == CONFIG_MUX_OFF) /* also every native TLS upstream */
		return (CONN_MUX_NONE);
	if (!mux_negotiated(c->tl->ssl)) /* a peer without h2: as ever */
		return (
		    rc->mux == CONFIG_MUX_ON ? CONN_MUX_REFUSE : CONN_MUX_NONE);
	return (CONN_MUX_TUNNEL);
}

int
conn_mux_adopt(struct conn *c, const char **detail)
{
	const struct config_route *rc = c->r->cfg;
	bool server = rc->mode == CONFIG_MODE_TERMINATE;
	struct mux_tunnel *t;

	if ((t = mux_tunnel_adopt(c->t, c->r, c->tl, &c->peer,
		 server ? c->client : rc->target.text, server)) == NULL) {
		*detail = "cannot set up a tunnel";
		return (-1);
	}
	c->tl = NULL;
	if (server) {
		c->adopted = true;
		return (0);
	}
	if (mux_stream_open(t, rc->target.text, &c->up,
		conn_event(c, CONN_EV_UP), conn_up_cb, c) != 0) {
		*detail = "cannot open a stream";
		return (-1);
	}
	mux_tunnel_set_cache(t, c->peer.cache); /* conn.c lets go of it */
	return (0);
}

enum reason
conn_mux_error(
    const struct conn *c, struct leg *l, enum conn_by *by, const char **detail)
{
	*detail = NULL;
	*by = l == &c->cl ? CONN_BY_CLIENT : CONN_BY_UPSTREAM;
	return (mux_stream_error(l, detail));
}

/*
 * A stream never reaches a route of another protocol than its tunnel's: a
 * tcp tunnel would skip a postgres route's startup checks (roles), and a
 * postgres tunnel's streams would reach a tcp route without them.
 */
struct route *
conn_mux_route(struct conn_table *t, const struct route *r, const char *auth)
{
	const struct config_identity *a = &r->cfg->identity, *b;
	enum config_proto proto = r->cfg->protocol;
	struct route *own = NULL;

	for (size_t j = 0; j < t->nroutes; j++) {
		const struct config_route *rc = t->routes[j]->cfg;

		if (rc->mode != CONFIG_MODE_TERMINATE || rc->protocol != proto)
			continue;
		b = &rc->identity;
		if (strcmp(rc->name, auth) == 0 && rc->mux != CONFIG_MUX_OFF &&
		    strcmp(a->ca, b->ca) == 0 &&
		    (a->crl == NULL) == (b->crl == NULL) &&
		    (a->crl == NULL || strcmp(a->crl, b->crl) == 0))
			return (t->routes[j]);
		if (strcmp(rc->name, r->cfg->name) == 0)
			own = t->routes[j];
	}
	return (own);
}

void
conn_mux_accept(struct conn_table *t, struct route *r, struct mux_stream *s,
    struct tls_peer *tpeer, const char *client, bool valid)
{
	struct route *use = conn_mux_route(t, r, mux_stream_authority(s));
	const struct identity *id = tls_peer_identity(tpeer);
	struct conn *c;

	if (use == NULL || (c = conn_new(t, use)) == NULL) {
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
	if (!valid)
		conn_start(c, REASON_PROTOCOL, CONN_BY_CLIENT,
		    "stream is not a CONNECT with an :authority");
	else if (policy_match(use->cfg->allow, use->cfg->nallow, id,
		     use->cfg->trust_domains, use->cfg->ntrust_domains) < 0)
		conn_start(c, REASON_IDENTITY_NOT_ALLOWED, CONN_BY_PROXY,
		    id->spiffe != NULL ? id->spiffe : "no SPIFFE ID");
	else
		conn_start(c, REASON_NONE, CONN_BY_PROXY, NULL);
}
