/*
 * mux: app connections carried as HTTP/2 CONNECT streams (RFC 9113 §8.5)
 * over long-lived mutual-TLS connections between two cotai sidecars, the
 * tunnels. nghttp2 does the framing, HPACK and flow control; cotai maps a
 * connection to a stream: a new app connection is a new stream, FIN is
 * END_STREAM (half-close keeps working), a reset is RST_STREAM, and a
 * terminate route that cannot reach its target answers the CONNECT with a
 * non-2xx status whose cotai-reason header carries the audit reason.
 *
 * A tunnel is an ordinary cotai connection whose TLS handshake negotiated
 * ALPN "h2" (route key mux: auto or on): the connection's TLS leg is
 * handed over (conn_mux.c) and the tunnel keeps the identity checked in
 * that handshake. A stream is a leg (leg.h) without a socket: the leg
 * operations read what the peer sent on the stream and queue what the
 * conn writes, so the conn state machine and its pumps run unchanged.
 * Tunnels join two cotai sidecars on tcp routes and on postgres routes
 * (originate with upstream: sidecar, terminate), where the negotiation
 * (pgconn.h) reads and writes the stream leg as it would a TLS leg; on a
 * terminate tunnel the first bytes a conn writes on a stream answer its
 * CONNECT with 200 first (a postgres refusal before any target is
 * connected).
 *
 * Bounds: SETTINGS_MAX_CONCURRENT_STREAMS = mux_streams, each stream's
 * receive window = mux_window (bytes are granted back only as the app
 * reads them: a slow reader stalls its stream, never the tunnel; a bulk
 * stream's is a quarter of it while another stream of the same tunnel
 * is interactive, mux_flow.c), the
 * tunnel's window = MUX_TUNNEL_WINDOWS x mux_window, header lists of at
 * most MUX_MAX_HEADERS bytes, at most mux_window bytes queued per stream
 * toward the peer (the stream's write buffer, held only while not empty).
 * A tunnel PINGs every mux_ping and closes when the previous PING is
 * unanswered; it sends GOAWAY on drain and when a reload replaces its
 * route.
 *
 * Everything runs in the thread of the worker that owns the tunnel.
 */
#ifndef COTAI_MUX_H
#define COTAI_MUX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "leg.h"
#include "reason.h"
#include "route.h"
#include "tls.h"

#define MUX_TUNNEL_WINDOWS 8
#define MUX_MAX_HEADERS 4096

struct conn_table;
struct mux_tunnel;
struct mux_stream;

/* Process-wide counters for /metrics. */
struct mux_stats {
	atomic_uint_fast64_t tunnels;       /* open now */
	atomic_uint_fast64_t streams;       /* opened, ever */
	atomic_uint_fast64_t flow_stalls;   /* a stream's window ran full */
	atomic_uint_fast64_t tunnels_total; /* opened, ever */
};
extern struct mux_stats mux_stats;

/* True when the handshake on SSL negotiated "h2" (offered and selected
 * on tcp routes without mux: off, proto.h's PROTO_ALPN_MUX). */
bool mux_negotiated(SSL *ssl);

/*
 * Make a tunnel of leg L (handshake done, ALPN h2) of a connection of
 * table CT on route R: L's socket and SSL move to the tunnel (L is left
 * closed; its bytes counters stay), PEER is shared (a copy holding its own
 * identity reference; its session cache moves to the tunnel), CLIENT is
 * the peer's address for the audit line. SERVER: we accepted it. Returns
 * the tunnel, or NULL (logged; L is then untouched).
 */
struct mux_tunnel *mux_tunnel_adopt(struct conn_table *ct, struct route *r,
    struct leg *l, struct tls_peer *peer, const char *client, bool server);

/*
 * Originate: a tunnel of CT for route R that can take one more stream, or
 * NULL.
 */
struct mux_tunnel *
mux_tunnel_find(struct conn_table *ct, const struct route *r);

/*
 * Originate: open a stream on T carrying a CONNECT for AUTHORITY and make
 * L (closed, its event storage EV on T's base calling CB with ARG) that
 * stream. 0, or -1 when the stream cannot be opened (L untouched).
 */
int mux_stream_open(struct mux_tunnel *t, const char *authority, struct leg *l,
    struct event *ev, event_callback_fn cb, void *arg);

/*
 * Terminate: make L (closed) the stream S the tunnel has just accepted
 * (handed to conn_mux_accept()), with event storage EV calling CB(ARG).
 */
void mux_stream_bind(struct mux_stream *s, struct leg *l, struct event *ev,
    event_callback_fn cb, void *arg);

/* Terminate: the :authority of S's CONNECT. */
const char *mux_stream_authority(const struct mux_stream *s);

/* Terminate: S could not get a conn: reset it and free it. */
void mux_stream_reject(struct mux_stream *s);

/* The identity checked in T's handshake (borrowed from T). */
struct tls_peer *mux_tunnel_peer(struct mux_tunnel *t);

/* Originate: T keeps CACHE's tickets fresh from now on (borrowed). */
void mux_tunnel_set_cache(struct mux_tunnel *t, struct tls_cache *cache);

/* Terminate: the target is connected: answer the CONNECT with 200. */
void mux_stream_respond(struct mux_stream *s);

/*
 * The conn of stream leg L ends with WHY: answer a CONNECT not yet
 * answered with a refusal naming WHY, reset a stream that did not finish
 * cleanly, and detach and free the stream (L->ms becomes NULL).
 */
void mux_stream_close(struct leg *l, enum reason why);

/* Why stream leg L failed (REASON_NONE: it did not), and a text. */
enum reason mux_stream_error(const struct leg *l, const char **detail);

/* The TLS connection carrying stream leg L (NULL once its tunnel is
 * gone), and the stream's id. */
SSL *mux_stream_ssl(const struct leg *l);
int32_t mux_stream_id(const struct leg *l);

/* The leg operations of a stream leg (leg.c calls them through the table
 * mux_stream_bind() and mux_stream_open() give the leg). */
enum leg_res mux_stream_read(struct leg *l, void *buf, size_t len, size_t *n);
enum leg_res
mux_stream_write(struct leg *l, const void *buf, size_t len, size_t *n);
enum leg_res mux_stream_shutdown(struct leg *l);
void mux_stream_watch(struct leg *l, short want);

/*
 * After a reload, in CT's thread: close (audit reason *_after_reload) the
 * tunnels whose peer no longer passes the route of the same name among
 * ROUTES[0..N) when RECHECK; send GOAWAY on originate tunnels whose route
 * was replaced (new connections open tunnels under the new route).
 */
void mux_reload_all(
    struct conn_table *ct, struct route *const *routes, size_t n, bool recheck);

/* CT drains: GOAWAY on every tunnel (CLOSE: close them all now). */
void mux_drain_all(struct conn_table *ct, bool close);

#endif
