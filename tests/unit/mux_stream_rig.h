/*
 * The rig of the stream-mapping unit tests (check_mux.c, check_mux_pump.c):
 * an originate tunnel (mux_rig.h) with one stream leg opened by
 * mux_stream_open(), used through the leg operations as a conn does, and
 * the peer sidecar: an nghttp2 server session on the socketpair's other
 * end that the test drives (answers the CONNECT, sends DATA, END_STREAM,
 * gives the window back when told to).
 */
#ifndef COTAI_TEST_MUX_STREAM_RIG_H
#define COTAI_TEST_MUX_STREAM_RIG_H

#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "mux_priv.h"
#include "mux_rig.h"

#define WINDOW 16384 /* cotai's mux_window here */
#define BIG (64 * 1024)

static uint32_t rig_window = WINDOW; /* mux_window of the next rig */

/* The peer sidecar: an nghttp2 server on the socketpair's other end. */
struct peer {
	int fd;
	nghttp2_session *h2;
	int32_t sid; /* the CONNECT's stream */
	char method[16], authority[64];
	char *rx; /* DATA received */
	size_t rxlen;
	bool rx_eof, got_rst, closed;
	uint32_t rst_code;
	bool consume; /* give the window back as DATA arrives */
	char *tx;     /* DATA to send: [txoff, txlen) */
	size_t txoff, txlen;
	bool tx_fin, tx_deferred;
};

struct rig {
	struct mux_rig m; /* route, conn table, tunnel (mux_rig.h) */
	struct leg sl;    /* the stream */
	unsigned char *sev;
	short fired; /* events seen on the stream leg */
	struct peer p;
};

static inline void
stream_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rig *g = arg;

	g->fired |= what;
}

static inline int
p_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
    size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct peer *p = arg;

	if (nlen == 7 && memcmp(name, ":method", 7) == 0 &&
	    vlen < sizeof(p->method))
		memcpy(p->method, value, vlen);
	if (nlen == 10 && memcmp(name, ":authority", 10) == 0 &&
	    vlen < sizeof(p->authority))
		memcpy(p->authority, value, vlen);
	return (0);
}

static inline int
p_frame(nghttp2_session *h2, const nghttp2_frame *f, void *arg)
{
	struct peer *p = arg;

	if (f->hd.type == NGHTTP2_HEADERS &&
	    f->headers.cat == NGHTTP2_HCAT_REQUEST)
		p->sid = f->hd.stream_id;
	if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		p->rx_eof = true;
	if (f->hd.type == NGHTTP2_RST_STREAM) {
		p->got_rst = true;
		p->rst_code = f->rst_stream.error_code;
	}
	return (0);
}

static inline int
p_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
    size_t len, void *arg)
{
	struct peer *p = arg;

	p->rx = realloc(p->rx, p->rxlen + len);
	ck_assert_ptr_nonnull(p->rx);
	memcpy(p->rx + p->rxlen, data, len);
	p->rxlen += len;
	if (p->consume)
		(void)nghttp2_session_consume(h2, id, len);
	return (0);
}

static inline int
p_close(nghttp2_session *h2, int32_t id, uint32_t code, void *arg)
{
	struct peer *p = arg;

	p->closed = true;
	return (0);
}

static inline ssize_t
p_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct peer *p = arg;
	size_t n = p->txlen - p->txoff;

	if (n > len)
		n = len;
	if (n > 0) /* tx is NULL until the first peer_send */
		memcpy(buf, p->tx + p->txoff, n);
	p->txoff += n;
	if (p->txoff == p->txlen && p->tx_fin)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	else if (n == 0) {
		p->tx_deferred = true;
		return (NGHTTP2_ERR_DEFERRED);
	}
	return ((ssize_t)n);
}

/* Move bytes between the peer's session and the socket. */
static inline void
peer_io(struct peer *p)
{
	uint8_t buf[16384];
	const uint8_t *out;
	ssize_t n, w;

	while ((n = read(p->fd, buf, sizeof(buf))) > 0)
		ck_assert_int_ge(
		    nghttp2_session_mem_recv(p->h2, buf, (size_t)n), 0);
	while ((n = nghttp2_session_mem_send(p->h2, &out)) > 0) {
		/* The tunnel drains the socket between rounds; a socketpair
		 * holds far more than these tests send at once. */
		w = write(p->fd, out, (size_t)n);
		ck_assert_int_eq(w, n);
	}
}

/* Run both sides N rounds. */
static inline void
pump(struct rig *g, int n)
{
	while (n-- > 0) {
		(void)event_base_loop(g->m.base, EVLOOP_NONBLOCK);
		if (g->p.h2 != NULL)
			peer_io(&g->p);
	}
}

/* The peer queues LEN bytes of DATA (FIN: then END_STREAM). */
static inline void
peer_send(struct peer *p, const void *buf, size_t len, bool fin)
{
	p->tx = realloc(p->tx, p->txlen + len + 1);
	ck_assert_ptr_nonnull(p->tx);
	memcpy(p->tx + p->txlen, buf, len);
	p->txlen += len;
	p->tx_fin = fin;
	if (p->tx_deferred) {
		p->tx_deferred = false;
		(void)nghttp2_session_resume_data(p->h2, p->sid);
	}
}

/* The peer answers the CONNECT with STATUS (a data stream when 200). */
static inline void
peer_answer(struct peer *p, const char *status, const char *reason)
{
	nghttp2_nv nv[2] = {
	    {(uint8_t *)":status", (uint8_t *)status, 7, strlen(status), 0},
	    {(uint8_t *)"cotai-reason", (uint8_t *)reason, 12,
		reason != NULL ? strlen(reason) : 0, 0},
	};
	nghttp2_data_provider prd = {.read_callback = p_read};

	ck_assert_int_gt(p->sid, 0);
	ck_assert_int_eq(
	    nghttp2_submit_response(p->h2, p->sid, nv, reason != NULL ? 2 : 1,
		strcmp(status, "200") == 0 ? &prd : NULL),
	    0);
}

/* A tunnel and a peer whose stream window is PEER_WINDOW; one stream. */
static inline void
rig_init(struct rig *g, uint32_t peer_window, bool consume)
{
	nghttp2_session_callbacks *cb;

	memset(g, 0, sizeof(*g));
	g->p.fd = mux_rig_init(&g->m, rig_window);
	g->sev = calloc(1, event_get_struct_event_size());
	g->p.consume = consume;
	ck_assert_int_eq(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, p_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, p_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, p_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, p_close);
	g->p.h2 = mux_rig_peer_new(cb, &g->p, peer_window);

	leg_init(&g->sl);
	ck_assert_int_eq(mux_stream_open(g->m.t, "target.example:443", &g->sl,
			     (struct event *)g->sev, stream_cb, g),
	    0);
	pump(g, 4);
	ck_assert_int_gt(g->p.sid, 0);
	ck_assert_str_eq(g->p.method, "CONNECT");
	ck_assert_str_eq(g->p.authority, "target.example:443");
}

static inline void
rig_free(struct rig *g)
{
	if (g->sl.ms != NULL) {
		event_del((struct event *)g->sev);
		mux_stream_close(&g->sl, REASON_RESET);
	}
	if (!TAILQ_EMPTY(&g->m.ct.tunnels))
		mux_tunnel_close(g->m.t, REASON_EOF, NULL);
	pump(g, 2);
	ck_assert(TAILQ_EMPTY(&g->m.ct.tunnels));
	nghttp2_session_del(g->p.h2);
	close(g->p.fd);
	free(g->p.rx);
	free(g->p.tx);
	free(g->m.tev);
	free(g->sev);
	event_base_free(g->m.base);
}

#endif
