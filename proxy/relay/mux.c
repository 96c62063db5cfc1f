/*
 * mux: tunnels (see mux.h). A tunnel owns the TLS connection of the conn
 * that negotiated "h2" and an nghttp2 session over it. Its event reads
 * what the peer sent into nghttp2 (which calls back into mux_stream.c for
 * DATA and into here for headers and control frames) and writes what
 * nghttp2 frames, through a buffer that coalesces small frames into one
 * TLS record. A DATA frame's payload goes from its stream's buffer into
 * that buffer with one copy, next to the header nghttp2 made
 * (NGHTTP2_DATA_FLAG_NO_COPY, mux_send_data()). Streams that change (bytes read
 * or written by their conn) kick the tunnel: its I/O runs again from the event
 * loop, never inside a conn's or nghttp2's callback.
 *
 * Terminate: a CONNECT whose headers are complete waits in t->pending
 * until the current nghttp2_session_mem_recv() returns, then becomes a
 * conn (conn_mux_accept) that connects to the target and answers.
 */
#include "mux_priv.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "log.h"
#include "proto.h"
#include "recheck.h"
#include "conn_table.h"

/*
 * Head-of-line bounds (issue 16): what a small frame of one stream can
 * find queued ahead of it in the tunnel. A run reads MUX_READS records
 * (64 KiB) before the other ready events get their turn; the output buffer
 * frames MUX_OBUF_MARK bytes (one TLS record) before writing them; the
 * kernel keeps at most MUX_NOTSENT_LOWAT bytes not yet sent
 * (TCP_NOTSENT_LOWAT): the rest of a bulk stream waits in its own buffer,
 * where nghttp2 interleaves the other streams' frames ahead of it.
 */
#define MUX_READS 4
#define MUX_NOTSENT_LOWAT 16384

struct mux_stats mux_stats;

static void mux_tunnel_cb(evutil_socket_t fd, short what, void *arg);

bool
mux_negotiated(SSL *ssl)
{
	return (tls_alpn_is(ssl, PROTO_ALPN_MUX));
}

void
mux_tunnel_kick(struct mux_tunnel *t)
{
	event_active(t->ev_kick, EV_TIMEOUT, 1);
}

/* Terminate: a header of a request on a stream begun by the peer. */
static int
mux_on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
    size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct mux_tunnel *t = arg;
	struct mux_stream *s =
	    nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);

	if (s == NULL || f->hd.type != NGHTTP2_HEADERS)
		return (0);
	if (t->server) {
		if (nlen == 7 && memcmp(name, ":method", 7) == 0)
			s->is_connect =
			    vlen == 7 && memcmp(value, "CONNECT", 7) == 0;
		else if (nlen == 10 && memcmp(name, ":authority", 10) == 0 &&
		    vlen < sizeof(s->authority)) {
			memcpy(s->authority, value, vlen);
			s->authority[vlen] = '\0';
		}
		return (0);
	}
	/* Originate: the answer to our CONNECT. */
	if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
		s->responded = vlen == 3 && value[0] == '2';
		if (!s->responded)
			snprintf(s->detail, sizeof(s->detail),
			    "peer sidecar answered %.*s", (int)vlen, value);
	} else if (nlen == 12 && memcmp(name, "cotai-reason", 12) == 0) {
		for (int i = 0; i < REASON__N; i++)
			if (strlen(reason_name(i)) == vlen &&
			    memcmp(reason_name(i), value, vlen) == 0)
				s->err = (enum reason)i;
	}
	return (0);
}

/* Terminate: the peer opens a stream. */
static int
mux_on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *arg)
{
	struct mux_tunnel *t = arg;
	struct mux_stream *s;

	if (!t->server || f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return (0);
	if ((s = mux_stream_new(t)) == NULL)
		return (nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE,
		    f->hd.stream_id, NGHTTP2_INTERNAL_ERROR));
	s->id = f->hd.stream_id;
	TAILQ_INSERT_TAIL(&t->pending, s, link);
	(void)nghttp2_session_set_stream_user_data(h2, s->id, s);
	return (0);
}

static int
mux_on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *arg)
{
	struct mux_tunnel *t = arg;
	struct mux_stream *s = f->hd.stream_id != 0
	    ? nghttp2_session_get_stream_user_data(h2, f->hd.stream_id)
	    : NULL;

	if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK))
		t->ping_out = false;
	if (s == NULL)
		return (0);
	if (f->hd.type == NGHTTP2_HEADERS && t->server)
		s->headers_done = true;
	if (f->hd.type == NGHTTP2_HEADERS && !t->server &&
	    f->headers.cat == NGHTTP2_HCAT_RESPONSE && !s->responded) {
		if (s->err == REASON_NONE)
			s->err = REASON_UPSTREAM_UNREACHABLE;
		mux_stream_notify(s, EV_READ | EV_WRITE, true);
	}
	if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		s->rx_eof = true;
		mux_stream_notify(s, EV_READ, false);
	}
	return (0);
}

/* A stream the peer begun and we never bound (refused or pending). */
static int
mux_on_close(nghttp2_session *h2, int32_t id, uint32_t code, void *arg)
{
	struct mux_tunnel *t = arg;
	struct mux_stream *s = nghttp2_session_get_stream_user_data(h2, id);

	if (s != NULL && s->orphan) { /* its last bytes went out */
		TAILQ_REMOVE(&t->streams, s, link);
		t->nstreams--;
		mux_stream_free(s);
		mux_tunnel_idle_check(t);
		return (0);
	}
	if (s != NULL && s->leg == NULL) { /* still in t->pending */
		TAILQ_REMOVE(&t->pending, s, link);
		mux_stream_free(s);
		return (0);
	}
	return (mux_on_stream_close(h2, id, code, arg));
}

/* A new nghttp2 session for T with cotai's bounds. 0/-1. */
static int
mux_session_new(struct mux_tunnel *t)
{
	const struct config_route *rc = t->r->cfg;
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, rc->mux_streams},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, rc->mux_window},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MUX_MAX_HEADERS},
	    {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	};
	int ret = -1;

	if (nghttp2_session_callbacks_new(&cb) != 0 ||
	    nghttp2_option_new(&opt) != 0)
		goto out;
	nghttp2_session_callbacks_set_on_header_callback(cb, mux_on_header);
	nghttp2_session_callbacks_set_on_begin_headers_callback(
	    cb, mux_on_begin_headers);
	nghttp2_session_callbacks_set_on_frame_recv_callback(
	    cb, mux_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
	    cb, mux_on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(
	    cb, mux_on_close);
	nghttp2_session_callbacks_set_send_data_callback(cb, mux_send_data);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_peer_max_concurrent_streams(opt, rc->mux_streams);
	nghttp2_option_set_max_send_header_block_length(opt, MUX_MAX_HEADERS);
	if ((t->server ? nghttp2_session_server_new2(&t->h2, cb, t, opt)
		       : nghttp2_session_client_new2(&t->h2, cb, t, opt)) != 0)
		goto out;
	if (nghttp2_submit_settings(
		t->h2, NGHTTP2_FLAG_NONE, iv, t->server ? 3 : 4) != 0 ||
	    nghttp2_session_set_local_window_size(t->h2, NGHTTP2_FLAG_NONE, 0,
		(int32_t)(rc->mux_window * MUX_TUNNEL_WINDOWS)) != 0)
		goto out;
	ret = 0;
out:
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (ret != 0)
		log_error(
		    "route %s: cannot set up an HTTP/2 session", rc->name);
	return (ret);
}

static void
mux_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	mux_tunnel_cb(-1, 0, arg);
}

/*
 * Originate: a tunnel takes no new stream (GOAWAY) from two PING periods
 * before the peer certificate its handshake checked expires. The peer has
 * renewed long before (identity.renew), so the next connection's handshake
 * opens a tunnel that sees the new certificate, and no stream starts on a
 * tunnel that the first reload after the expiry closes with all its streams
 * (expired_after_reload). Streams already on it go on, as a connection
 * does past its peer's notAfter.
 */
static void
mux_expiry_check(struct mux_tunnel *t)
{
	time_t end = tls_peer_identity(&t->peer)->not_after;
	time_t margin = (time_t)(2 * (t->r->cfg->mux_ping_ms / 1000 + 1));

	if (t->server || t->draining || end == 0 || time(NULL) + margin < end)
		return;
	log_info("route %s: tunnel to %s: its peer certificate expires in "
		 "%llds: no new streams on it (GOAWAY)",
	    t->r->cfg->name, t->client, (long long)(end - time(NULL)));
	mux_tunnel_goaway(t);
}

static void
mux_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mux_tunnel *t = arg;

	if (t->tl.shut && t->ping_out) { /* no close_notify came back */
		mux_tunnel_close(t, REASON_EOF, "drained");
		return;
	}
	if (t->tl.shut) {
		t->ping_out = true;
		return;
	}
	if (t->ping_out) {
		mux_tunnel_close(t, REASON_IDLE_TIMEOUT, "PING unanswered");
		return;
	}
	mux_expiry_check(t);
	t->ping_out = true;
	(void)nghttp2_submit_ping(t->h2, NGHTTP2_FLAG_NONE, NULL);
	mux_tunnel_kick(t);
}

struct mux_tunnel *
mux_tunnel_adopt(struct conn_table *ct, struct route *r, struct leg *l,
    struct tls_peer *peer, const char *client, bool server)
{
	size_t evsz = event_get_struct_event_size();
	uint32_t ping = r->cfg->mux_ping_ms;
	struct timeval tv = {
	    (time_t)(ping / 1000), (suseconds_t)(ping % 1000) * 1000};
	struct mux_tunnel *t = calloc(1, sizeof(*t) + evsz);

	if (t == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	t->magic = MUX_T_MAGIC;
	t->ct = ct;
	t->r = route_ref(r);
	t->server = server;
	TAILQ_INIT(&t->streams);
	TAILQ_INIT(&t->pending);
	leg_init(&t->tl);
	t->ev_kick = event_new(ct->base, -1, 0, mux_kick_cb, t);
	t->ev_ping = event_new(ct->base, -1, EV_PERSIST, mux_ping_cb, t);
	if (t->ev_kick == NULL || t->ev_ping == NULL ||
	    mux_session_new(t) != 0) {
		if (t->h2 != NULL)
			nghttp2_session_del(t->h2);
		if (t->ev_kick != NULL)
			event_free(t->ev_kick);
		if (t->ev_ping != NULL)
			event_free(t->ev_ping);
		route_unref(t->r);
		free(t);
		return (NULL);
	}
	/* The socket and its SSL move over; so does the identity. */
	if (setsockopt(l->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT,
		&(int){MUX_NOTSENT_LOWAT}, sizeof(int)) != 0)
		log_debug("route %s: TCP_NOTSENT_LOWAT: %s", r->cfg->name,
		    strerror(errno));
	event_del(l->ev);
	leg_open(&t->tl, (struct event *)t->evmem, ct->base, l->fd,
	    mux_tunnel_cb, t);
	t->tl.ssl = l->ssl;
	l->fd = -1;
	l->ssl = NULL;
	l->ev = NULL;
	l->armed = 0;
	tls_peer_share(&t->peer, peer, t->tl.ssl);
	snprintf(t->client, sizeof(t->client), "%s", client);
	t->t_start = conn_now();
	TAILQ_INSERT_TAIL(&ct->tunnels, t, link);
	atomic_fetch_add_explicit(&mux_stats.tunnels, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->stats->tunnels, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &mux_stats.tunnels_total, 1, memory_order_relaxed);
	evtimer_add(t->ev_ping, &tv);
	mux_tunnel_kick(t);
	return (t);
}

struct tls_peer *
mux_tunnel_peer(struct mux_tunnel *t)
{
	return (&t->peer);
}

void
mux_tunnel_set_cache(struct mux_tunnel *t, struct tls_cache *cache)
{
	t->peer.cache = cache;
}

struct mux_tunnel *
mux_tunnel_find(struct conn_table *ct, const struct route *r)
{
	struct mux_tunnel *t;
	uint32_t max;

	for (t = TAILQ_FIRST(&ct->tunnels); t != NULL;
	     t = TAILQ_NEXT(t, link)) {
		if (t->r != r || t->draining || t->server || t->dead ||
		    !nghttp2_session_want_read(t->h2) ||
		    !nghttp2_session_check_request_allowed(t->h2))
			continue;
		max = nghttp2_session_get_remote_settings(
		    t->h2, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
		if (max > r->cfg->mux_streams)
			max = r->cfg->mux_streams;
		if (t->nstreams < max)
			return (t);
	}
	return (NULL);
}

int
mux_stream_open(struct mux_tunnel *t, const char *authority, struct leg *l,
    struct event *ev, event_callback_fn cb, void *arg)
{
	nghttp2_nv nv[2] = {
	    {(uint8_t *)":method", (uint8_t *)"CONNECT", 7, 7,
		NGHTTP2_NV_FLAG_NONE},
	    {(uint8_t *)":authority", (uint8_t *)authority, 10,
		strlen(authority), NGHTTP2_NV_FLAG_NONE},
	};
	nghttp2_data_provider prd = {.read_callback = mux_data_read};
	struct mux_stream *s = mux_stream_new(t);
	int32_t id;

	if (s == NULL)
		return (-1);
	if ((id = nghttp2_submit_request(t->h2, NULL, nv, 2, &prd, s)) < 0) {
		log_warn("route %s: cannot open a stream: %s", t->r->cfg->name,
		    nghttp2_strerror(id));
		mux_stream_free(s);
		return (-1);
	}
	s->id = id;
	TAILQ_INSERT_TAIL(&t->streams, s, link);
	t->nstreams++;
	t->nstreams_total++;
	mux_stream_bind(s, l, ev, cb, arg);
	mux_tunnel_kick(t);
	return (0);
}

int
mux_tunnel_out(struct mux_tunnel *t, const void *data, size_t len)
{
	size_t want;
	char *nb;

	if (t->ooff + t->olen + len > t->ocap) {
		if (t->ooff > 0) {
			memmove(t->obuf, t->obuf + t->ooff, t->olen);
			t->ooff = 0;
		}
		if (t->olen + len > t->ocap) {
			want = t->olen + len;
			if (want < MUX_OBUF_MARK + MUX_OBUF_FRAME)
				want = MUX_OBUF_MARK + MUX_OBUF_FRAME;
			if ((nb = realloc(t->obuf, want)) == NULL)
				return (-1);
			t->obuf = nb;
			t->ocap = want;
		}
	}
	memcpy(t->obuf + t->ooff + t->olen, data, len);
	t->olen += len;
	return (0);
}

/*
 * Frame until the output buffer holds MUX_OBUF_MARK bytes (DATA frames
 * pause nghttp2 there, mux_send_data()), write it, and again, while the
 * socket takes it and nghttp2 has something to send.
 */
int
mux_tunnel_flush(struct mux_tunnel *t)
{
	const uint8_t *data;
	ssize_t n;
	size_t w;

	for (;;) {
		while (t->olen < MUX_OBUF_MARK &&
		    (n = nghttp2_session_mem_send(t->h2, &data)) != 0) {
			if (n < 0 || mux_tunnel_out(t, data, (size_t)n) != 0)
				return (-1);
		}
		if (t->olen == 0)
			return (0);
		if (t->tl.wr_block != 0)
			return (0);
		switch (leg_write(&t->tl, t->obuf + t->ooff, t->olen, &w)) {
		case LEG_OK:
			t->ooff += w;
			t->olen -= w;
			if (t->olen == 0)
				t->ooff = 0;
			break;
		case LEG_AGAIN:
			return (0);
		default:
			return (-1);
		}
	}
}

/* Terminate: turn complete CONNECTs into conns. */
static void
mux_tunnel_accept(struct mux_tunnel *t)
{
	struct mux_stream *s, *next;

	for (s = TAILQ_FIRST(&t->pending); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		if (!s->headers_done)
			continue;
		TAILQ_REMOVE(&t->pending, s, link);
		TAILQ_INSERT_TAIL(&t->streams, s, link);
		t->nstreams++;
		t->nstreams_total++;
		conn_mux_accept(t->ct, t->r, s, &t->peer, t->client,
		    s->is_connect && s->authority[0] != '\0');
	}
}

/*
 * T has nothing more to carry: GOAWAY sent and its last stream gone, or
 * nghttp2 is done both ways (GOAWAY received), and all is written. It then
 * sends close_notify and waits for the peer's (mux_ping_cb's next two
 * ticks at most): closing at once while the peer's last frames are still
 * unread would reset the connection, and with it what we wrote last.
 */
static bool
mux_tunnel_done(struct mux_tunnel *t)
{
	if (t->olen > 0)
		return (false);
	if (t->draining && t->nstreams == 0 && TAILQ_EMPTY(&t->pending))
		return (true);
	return (!nghttp2_session_want_read(t->h2) &&
	    !nghttp2_session_want_write(t->h2));
}

static void
mux_tunnel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mux_tunnel *t = arg;
	char buf[16384];
	size_t n;
	ssize_t rv;
	int reads = MUX_READS;
	short want = 0;

	if (t->magic != MUX_T_MAGIC) {
		log_error("event on a dead tunnel %p", (void *)t);
		return;
	}
	leg_ready(&t->tl, what);
	while (t->tl.rd_block == 0 && !t->tl.eof && reads-- > 0) {
		switch (leg_read(&t->tl, buf, sizeof(buf), &n)) {
		case LEG_OK:
			rv = nghttp2_session_mem_recv(
			    t->h2, (const uint8_t *)buf, n);
			if (rv < 0) {
				mux_tunnel_close(t, REASON_PROTOCOL,
				    nghttp2_strerror((int)rv));
				return;
			}
			break;
		case LEG_AGAIN:
			break;
		case LEG_EOF:
			t->tl.eof = true;
			break;
		default:
			if (t->tl.shut) { /* it went after our close_notify */
				t->tl.eof = true;
				break;
			}
			mux_tunnel_close(t,
			    t->tl.tls_err != 0 ? REASON_TLS_ERROR
					       : REASON_RESET,
			    "tunnel read failed");
			return;
		}
	}
	mux_tunnel_accept(t);
	mux_flow_update(t);
	if (!t->tl.shut && mux_tunnel_flush(t) != 0) {
		mux_tunnel_close(t, REASON_RESET, "tunnel write failed");
		return;
	}
	if (t->tl.eof) {
		mux_tunnel_close(t, REASON_EOF,
		    t->draining && t->tl.shut ? "drained" : NULL);
		return;
	}
	if (mux_tunnel_done(t) && leg_shutdown(&t->tl) == LEG_ERR) {
		mux_tunnel_close(t, REASON_RESET, "tunnel write failed");
		return;
	}
	/*
	 * The read budget ran out: the rest comes after the other ready
	 * events. What is still in the socket, epoll (level-triggered)
	 * reports again with the read watch left on (turning it off and on
	 * cost two epoll_ctl per run); what OpenSSL read ahead, it cannot.
	 */
	if (t->tl.rd_block == 0 && leg_pending(&t->tl))
		mux_tunnel_kick(t);
	want |= t->tl.rd_block != 0 ? t->tl.rd_block : EV_READ;
	if (t->olen > 0 || (mux_tunnel_done(t) && !t->tl.shut))
		want |= t->tl.wr_block;
	leg_watch(&t->tl, want);
	conn_ticket_poll(t->tl.ssl, &t->peer);
}
