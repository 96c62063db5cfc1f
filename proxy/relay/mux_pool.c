/*
 * mux_pool: the life of tunnels in a worker (see mux.h): their end and
 * audit line, the originate pool's size, reloads and drain.
 */
#include "mux_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "conn.h"
#include "log.h"
#include "recheck.h"
#include "conn_table.h"

/* The tunnel's audit record: one per tunnel, when it closes. */
static void
mux_tunnel_audit(struct mux_tunnel *t, enum reason why, const char *detail)
{
	const struct identity *id = tls_peer_identity(&t->peer);
	SSL *ssl = t->tl.ssl;
	struct audit_rec a;

	audit_begin(&a, "tunnel_close");
	audit_str(&a, "route", t->r->cfg->name);
	audit_str(&a, "side", t->server ? "terminate" : "originate");
	audit_str(&a, "client", t->client);
	audit_str(&a, "peer", id->name != NULL ? id->name : "-");
	audit_str(&a, "spiffe", id->spiffe != NULL ? id->spiffe : "-");
	audit_str(&a, "serial", id->serial[0] != '\0' ? id->serial : "-");
	audit_str(&a, "tls_version", ssl != NULL ? SSL_get_version(ssl) : "-");
	audit_str(&a, "cipher", ssl != NULL ? SSL_get_cipher_name(ssl) : "-");
	audit_bool(&a, "resumed", ssl != NULL && SSL_session_reused(ssl));
	audit_u64(&a, "streams", t->nstreams_total);
	audit_u64(&a, "bytes_in", t->tl.bytes_in);
	audit_u64(&a, "bytes_out", t->tl.bytes_out);
	audit_u64(&a, "duration_ms", conn_now() - t->t_start);
	audit_str(&a, "reason", reason_name(why));
	if (detail != NULL && detail[0] != '\0')
		audit_str(&a, "detail", detail);
	audit_end(&a);
}

void
mux_tunnel_close(struct mux_tunnel *t, enum reason why, const char *detail)
{
	struct mux_stream *s;

	if (t->dead)
		return;
	t->dead = true;
	/* Best effort: tell the peer, then the streams' conns. */
	if (why != REASON_EOF && t->h2 != NULL) {
		(void)nghttp2_session_terminate_session(t->h2,
		    why == REASON_PROTOCOL ? NGHTTP2_PROTOCOL_ERROR
					   : NGHTTP2_NO_ERROR);
		(void)mux_tunnel_flush(t);
	}
	while ((s = TAILQ_FIRST(&t->streams)) != NULL) {
		TAILQ_REMOVE(&t->streams, s, link);
		if (s->orphan) {
			mux_stream_free(s);
			continue;
		}
		if (!s->closed) /* a finished one keeps its last bytes */
			mux_stream_fail(s,
			    why == REASON_EOF ? REASON_RESET : why,
			    detail != NULL ? detail : "tunnel closed");
		s->t = NULL;
	}
	while ((s = TAILQ_FIRST(&t->pending)) != NULL) {
		TAILQ_REMOVE(&t->pending, s, link);
		mux_stream_free(s);
	}
	mux_tunnel_audit(t, why, detail);
	TAILQ_REMOVE(&t->ct->tunnels, t, link);
	atomic_fetch_sub_explicit(&mux_stats.tunnels, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(
	    &t->r->stats->tunnels, 1, memory_order_relaxed);
	/* A clean end says so (close_notify), once, without waiting. */
	if ((why == REASON_EOF || why == REASON_DRAIN) && t->tl.ssl != NULL)
		(void)leg_shutdown(&t->tl);
	nghttp2_session_del(t->h2);
	event_free(t->ev_kick);
	event_free(t->ev_ping);
	leg_clear(&t->tl, why != REASON_EOF);
	tls_peer_clear(&t->peer);
	route_unref(t->r);
	free(t->obuf);
	t->magic = 0;
	free(t);
}

void
mux_tunnel_idle_check(struct mux_tunnel *t)
{
	struct mux_tunnel *o;
	uint32_t idle = 0;

	if (t->nstreams > 0 || t->dead)
		return;
	if (t->draining) {
		mux_tunnel_kick(t); /* closes once the GOAWAY is out */
		return;
	}
	if (t->server)
		return;
	/* Adopted under a route a reload replaced meanwhile: none will use it.
	 */
	if (t->r->index >= t->ct->nroutes ||
	    t->ct->routes[t->r->index] != t->r) {
		mux_tunnel_goaway(t);
		return;
	}
	for (o = TAILQ_FIRST(&t->ct->tunnels); o != NULL;
	     o = TAILQ_NEXT(o, link))
		if (o->r == t->r && o->nstreams == 0 && !o->draining &&
		    !o->dead)
			idle++;
	if (idle > t->r->cfg->mux_tunnels)
		mux_tunnel_goaway(t);
}

void
mux_tunnel_goaway(struct mux_tunnel *t)
{
	if (t->draining || t->dead)
		return;
	t->draining = true;
	(void)nghttp2_submit_goaway(t->h2, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(t->h2), NGHTTP2_NO_ERROR,
	    NULL, 0);
	mux_tunnel_kick(t);
}

void
mux_reload_all(
    struct conn_table *ct, struct route *const *routes, size_t n, bool recheck)
{
	struct mux_tunnel *t, *next;
	enum reason why;
	char detail[160];

	for (t = TAILQ_FIRST(&ct->tunnels); t != NULL; t = next) {
		const struct route *cur = NULL;

		next = TAILQ_NEXT(t, link);
		t->peer.cache = NULL; /* the table's sessions go away */
		for (size_t j = 0; j < n; j++)
			if (strcmp(routes[j]->cfg->name, t->r->cfg->name) ==
				0 &&
			    routes[j]->cfg->mode == t->r->cfg->mode)
				cur = routes[j];
		if (recheck && cur != NULL &&
		    (why = recheck_peer(t->tl.ssl, cur, detail,
			 sizeof(detail))) != REASON_NONE) {
			mux_tunnel_close(t, why, detail);
			continue;
		}
		if (cur == NULL || cur->cfg->mux == CONFIG_MUX_OFF ||
		    (!t->server && cur != t->r))
			mux_tunnel_goaway(t);
	}
}

void
mux_drain_all(struct conn_table *ct, bool close)
{
	struct mux_tunnel *t, *next;

	for (t = TAILQ_FIRST(&ct->tunnels); t != NULL; t = next) {
		next = TAILQ_NEXT(t, link);
		if (close)
			mux_tunnel_close(t, REASON_DRAIN, NULL);
		else
			mux_tunnel_goaway(t);
	}
}
