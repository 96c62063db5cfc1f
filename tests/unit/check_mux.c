/*
 * Unit tests for the stream mapping of proxy/mux*.c over a socketpair: one
 * end is a real originate tunnel (mux_tunnel_adopt, cotai's nghttp2 client
 * session, plaintext instead of TLS), the other an nghttp2 server session
 * the test drives as the peer sidecar would. A stream leg opened with
 * mux_stream_open() is used through the leg operations, as a conn does:
 * FIN <-> END_STREAM, half-close in both directions, reset <-> RST_STREAM,
 * a refused CONNECT's reason, an abort mid-stream both ways (RST_STREAM
 * and the tunnel's loss), and flow-control stalls that resume in both
 * directions without losing a byte. A pump (pump.h) between a stream and a
 * socket moves bytes in place, through the stream's buffers.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "mux_priv.h"
#include "pump.h"
#include "route.h"
#include "conn_table.h"
#include "mux_rig.h"

Suite *mux_suite(void);

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

static void
stream_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rig *g = arg;

	g->fired |= what;
}

static int
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

static int
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

static int
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

static int
p_close(nghttp2_session *h2, int32_t id, uint32_t code, void *arg)
{
	struct peer *p = arg;

	p->closed = true;
	return (0);
}

static ssize_t
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
static void
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
static void
pump(struct rig *g, int n)
{
	while (n-- > 0) {
		(void)event_base_loop(g->m.base, EVLOOP_NONBLOCK);
		if (g->p.h2 != NULL)
			peer_io(&g->p);
	}
}

/* The peer queues LEN bytes of DATA (FIN: then END_STREAM). */
static void
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
static void
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
static void
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

static void
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

/* Read the stream leg until it blocks or ends; the last result. */
static enum leg_res
stream_drain(struct rig *g, char *buf, size_t cap, size_t *got)
{
	enum leg_res res;
	size_t n;

	*got = 0;
	for (;;) {
		if (*got == cap)
			return (LEG_OK);
		res = mux_stream_read(&g->sl, buf + *got, cap - *got, &n);
		if (res != LEG_OK)
			return (res);
		*got += n;
		ck_assert_uint_le(*got, cap);
	}
}

START_TEST(fin_is_end_stream_and_half_close_from_app)
{
	struct rig g;
	char buf[256];
	size_t n, got;

	rig_init(&g, 65535, true);
	peer_answer(&g.p, "200", NULL);
	pump(&g, 3);
	/* App -> peer: data, then FIN = END_STREAM. */
	ck_assert_int_eq(mux_stream_write(&g.sl, "ping", 4, &n), LEG_OK);
	ck_assert_int_eq(mux_stream_shutdown(&g.sl), LEG_OK);
	pump(&g, 4);
	ck_assert_uint_eq(g.p.rxlen, 4);
	ck_assert(memcmp(g.p.rx, "ping", 4) == 0);
	ck_assert(g.p.rx_eof);
	ck_assert(!g.p.got_rst);
	/* Half-closed by the app: the peer's answer still arrives. */
	mux_stream_watch(&g.sl, EV_READ);
	g.fired = 0;
	peer_send(&g.p, "pong", 4, false);
	pump(&g, 4);
	ck_assert_int_eq(stream_drain(&g, buf, sizeof(buf), &got), LEG_AGAIN);
	ck_assert_uint_eq(got, 4);
	ck_assert(memcmp(buf, "pong", 4) == 0);
	ck_assert(g.fired & EV_READ);
	/* Peer's END_STREAM = the app's EOF; the stream then closes clean. */
	peer_send(&g.p, "", 0, true);
	pump(&g, 4);
	ck_assert_int_eq(stream_drain(&g, buf, sizeof(buf), &got), LEG_EOF);
	ck_assert_uint_eq(got, 0);
	ck_assert(g.p.closed);
	event_del((struct event *)g.sev);
	mux_stream_close(&g.sl, REASON_EOF);
	pump(&g, 3);
	ck_assert(!g.p.got_rst);
	rig_free(&g);
}
END_TEST

START_TEST(half_close_from_peer)
{
	struct rig g;
	char buf[256];
	size_t n, got;

	rig_init(&g, 65535, true);
	peer_answer(&g.p, "200", NULL);
	peer_send(&g.p, "request", 7, true);
	pump(&g, 4);
	ck_assert_int_eq(stream_drain(&g, buf, sizeof(buf), &got), LEG_EOF);
	ck_assert_uint_eq(got, 7);
	ck_assert(memcmp(buf, "request", 7) == 0);
	/* The peer finished sending; the app still answers. */
	ck_assert_int_eq(mux_stream_write(&g.sl, "reply", 5, &n), LEG_OK);
	pump(&g, 4);
	ck_assert_uint_eq(g.p.rxlen, 5);
	ck_assert(!g.p.rx_eof && !g.p.closed);
	ck_assert_int_eq(mux_stream_shutdown(&g.sl), LEG_OK);
	pump(&g, 4);
	ck_assert(g.p.rx_eof);
	ck_assert(g.p.closed);
	ck_assert(!g.p.got_rst);
	event_del((struct event *)g.sev);
	mux_stream_close(&g.sl, REASON_EOF);
	pump(&g, 3);
	ck_assert(!g.p.got_rst);
	rig_free(&g);
}
END_TEST

/*
 * leg_peek() on a stream leg (pgconn looks at first bytes through it):
 * the bytes stay for the next read, are not counted and grant no window;
 * nothing there yet is LEG_AGAIN, and after END_STREAM with nothing left,
 * LEG_EOF.
 */
START_TEST(peek_leaves_the_bytes)
{
	struct rig g;
	char buf[16];
	size_t n;

	rig_init(&g, 65535, true);
	peer_answer(&g.p, "200", NULL);
	pump(&g, 4);
	ck_assert_int_eq(leg_peek(&g.sl, buf, 1, &n), LEG_AGAIN);
	ck_assert_int_eq(g.sl.rd_block, EV_READ);
	peer_send(&g.p, "startup", 7, true);
	pump(&g, 4);
	ck_assert_int_eq(leg_peek(&g.sl, buf, 3, &n), LEG_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(buf, "sta", 3) == 0);
	ck_assert_int_eq(leg_peek(&g.sl, buf, sizeof(buf), &n), LEG_OK);
	ck_assert_uint_eq(n, 7);
	ck_assert_uint_eq(g.sl.bytes_in, 0);
	ck_assert_uint_eq(g.sl.ms->rlen, 7);
	ck_assert_int_eq(leg_read(&g.sl, buf, sizeof(buf), &n), LEG_OK);
	ck_assert_uint_eq(n, 7);
	ck_assert(memcmp(buf, "startup", 7) == 0);
	ck_assert_uint_eq(g.sl.bytes_in, 7);
	ck_assert_int_eq(leg_peek(&g.sl, buf, sizeof(buf), &n), LEG_EOF);
	ck_assert_int_eq(leg_read(&g.sl, buf, sizeof(buf), &n), LEG_EOF);
	rig_free(&g);
}
END_TEST

START_TEST(peer_reset_mid_stream_is_a_reset)
{
	struct rig g;
	char buf[256];
	size_t got;
	const char *detail = NULL;

	rig_init(&g, 65535, true);
	peer_answer(&g.p, "200", NULL);
	peer_send(&g.p, "partial", 7, false);
	pump(&g, 4);
	g.fired = 0;
	mux_stream_watch(&g.sl, EV_READ);
	ck_assert_int_eq(stream_drain(&g, buf, sizeof(buf), &got), LEG_AGAIN);
	ck_assert_uint_eq(got, 7);
	ck_assert_int_eq(nghttp2_submit_rst_stream(g.p.h2, NGHTTP2_FLAG_NONE,
			     g.p.sid, NGHTTP2_CANCEL),
	    0);
	pump(&g, 4);
	ck_assert(g.fired & EV_READ);
	ck_assert_int_eq(stream_drain(&g, buf, sizeof(buf), &got), LEG_ERR);
	ck_assert_int_eq(mux_stream_error(&g.sl, &detail), REASON_RESET);
	ck_assert_ptr_nonnull(strstr(detail, "RST_STREAM"));
	rig_free(&g);
}
END_TEST

START_TEST(app_abort_mid_stream_is_rst_stream)
{
	struct rig g;
	size_t n;

	rig_init(&g, 65535, true);
	peer_answer(&g.p, "200", NULL);
	ck_assert_int_eq(mux_stream_write(&g.sl, "half of it", 10, &n), LEG_OK);
	pump(&g, 4);
	ck_assert_uint_eq(g.p.rxlen, 10);
	event_del((struct event *)g.sev);
	mux_stream_close(&g.sl, REASON_RESET);
	pump(&g, 4);
	ck_assert(g.p.got_rst);
	ck_assert_uint_eq(g.p.rst_code, NGHTTP2_CANCEL);
	ck_assert(!g.p.rx_eof);
	/* The tunnel outlives its stream. */
	ck_assert(!TAILQ_EMPTY(&g.m.ct.tunnels));
	ck_assert_uint_eq(g.m.t->nstreams, 0);
	rig_free(&g);
}
END_TEST

START_TEST(refused_connect_carries_reason)
{
	struct rig g;
	char buf[16];
	size_t got;
	const char *detail = NULL;

	rig_init(&g, 65535, true);
	peer_answer(&g.p, "502", "upstream_unreachable");
	pump(&g, 4);
	ck_assert_int_eq(stream_drain(&g, buf, sizeof(buf), &got), LEG_ERR);
	ck_assert_int_eq(
	    mux_stream_error(&g.sl, &detail), REASON_UPSTREAM_UNREACHABLE);
	ck_assert_ptr_nonnull(strstr(detail, "502"));
	rig_free(&g);
}
END_TEST

START_TEST(tunnel_loss_mid_stream_fails_the_stream)
{
	struct rig g;
	char buf[64];
	size_t got, n;
	const char *detail = NULL;

	rig_init(&g, 65535, true);
	peer_answer(&g.p, "200", NULL);
	peer_send(&g.p, "some", 4, false);
	pump(&g, 4);
	ck_assert_int_eq(stream_drain(&g, buf, sizeof(buf), &got), LEG_AGAIN);
	ck_assert_uint_eq(got, 4);
	/* The peer sidecar goes away (crash: no GOAWAY). */
	nghttp2_session_del(g.p.h2);
	g.p.h2 = NULL;
	ck_assert_int_eq(shutdown(g.p.fd, SHUT_RDWR), 0);
	g.fired = 0;
	pump(&g, 4);
	ck_assert(TAILQ_EMPTY(&g.m.ct.tunnels));
	ck_assert(g.fired & (EV_READ | EV_WRITE));
	ck_assert_int_eq(stream_drain(&g, buf, sizeof(buf), &got), LEG_ERR);
	ck_assert_int_eq(mux_stream_write(&g.sl, "x", 1, &n), LEG_ERR);
	ck_assert_int_eq(mux_stream_error(&g.sl, &detail), REASON_RESET);
	event_del((struct event *)g.sev);
	mux_stream_close(&g.sl, REASON_RESET);
	close(g.p.fd);
	free(g.p.rx);
	free(g.p.tx);
	free(g.m.tev);
	free(g.sev);
	event_base_free(g.m.base);
}
END_TEST

START_TEST(receive_window_stalls_and_resumes)
{
	struct rig g;
	static char big[BIG], got_all[BIG];
	char buf[4096];
	size_t got, total = 0;
	uint64_t stalls = atomic_load(&mux_stats.flow_stalls);
	enum leg_res res;

	for (size_t i = 0; i < BIG; i++)
		big[i] = (char)(i * 7 + i / 251);
	rig_init(&g, 65535, true);
	peer_answer(&g.p, "200", NULL);
	peer_send(&g.p, big, BIG, true);
	pump(&g, 8);
	/* The app has not read: cotai grants no more than its window. */
	ck_assert_uint_eq(g.p.txoff, WINDOW);
	ck_assert_uint_eq(atomic_load(&mux_stats.flow_stalls), stalls + 1);
	/* Reading gives the window back; all of it arrives, in order. */
	for (int round = 0; round < 200 && total < BIG; round++) {
		res = stream_drain(&g, buf, sizeof(buf), &got);
		memcpy(got_all + total, buf, got);
		total += got;
		ck_assert_int_ne(res, LEG_ERR);
		pump(&g, 2);
	}
	ck_assert_uint_eq(total, BIG);
	ck_assert(memcmp(got_all, big, BIG) == 0);
	ck_assert_int_eq(stream_drain(&g, buf, sizeof(buf), &got), LEG_EOF);
	rig_free(&g);
}
END_TEST

START_TEST(send_window_stalls_and_resumes)
{
	struct rig g;
	static char big[2 * BIG];
	size_t n, off = 0;
	enum leg_res res;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 13 + i / 509);
	/* The peer grants 1 KiB per stream and gives nothing back yet. */
	rig_init(&g, 1024, false);
	peer_answer(&g.p, "200", NULL);
	pump(&g, 3);
	while ((res = mux_stream_write(
		    &g.sl, big + off, sizeof(big) - off, &n)) == LEG_OK)
		off += n;
	ck_assert_int_eq(res, LEG_AGAIN);
	ck_assert_uint_eq(off, WINDOW); /* bounded: mux_window queued */
	pump(&g, 6);
	ck_assert_uint_eq(g.p.rxlen, 1024); /* the peer's window, no more */
	/* What went out made room for as much, and no more. */
	while ((res = mux_stream_write(
		    &g.sl, big + off, sizeof(big) - off, &n)) == LEG_OK)
		off += n;
	ck_assert_int_eq(res, LEG_AGAIN);
	ck_assert_uint_eq(off, WINDOW + 1024);
	pump(&g, 3);
	ck_assert_uint_eq(g.p.rxlen, 1024); /* still stalled */
	/* The peer consumes: WINDOW_UPDATEs let the rest through. */
	g.p.consume = true;
	(void)nghttp2_session_consume(g.p.h2, g.p.sid, g.p.rxlen);
	for (int round = 0; round < 400 && g.p.rxlen < sizeof(big); round++) {
		pump(&g, 1);
		if (off < sizeof(big) &&
		    mux_stream_write(&g.sl, big + off, sizeof(big) - off, &n) ==
			LEG_OK)
			off += n;
		if (off == sizeof(big) && !g.sl.shut)
			ck_assert_int_eq(mux_stream_shutdown(&g.sl), LEG_OK);
	}
	ck_assert_uint_eq(g.p.rxlen, sizeof(big));
	ck_assert(memcmp(g.p.rx, big, sizeof(big)) == 0);
	ck_assert(g.p.rx_eof);
	rig_free(&g);
}
END_TEST

START_TEST(framing_pauses_at_one_record)
{
	struct rig g;
	static char big[BIG];
	size_t n, off = 0;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 31 + i / 257);
	rig_window = BIG; /* a stream queues BIG toward the peer */
	rig_init(&g, BIG, true);
	peer_answer(&g.p, "200", NULL);
	pump(&g, 3);
	while (off < sizeof(big) &&
	    mux_stream_write(&g.sl, big + off, sizeof(big) - off, &n) == LEG_OK)
		off += n;
	ck_assert_uint_eq(off, BIG); /* the stream holds a window's worth */
	/*
	 * The socket takes nothing now: framing stops once a TLS record's
	 * worth is framed (one DATA frame), not after the whole window.
	 */
	g.m.t->tl.wr_block = EV_WRITE;
	ck_assert_int_eq(mux_tunnel_flush(g.m.t), 0);
	ck_assert_uint_ge(g.m.t->olen, MUX_OBUF_MARK);
	ck_assert_uint_le(g.m.t->olen, MUX_OBUF_MARK + MUX_OBUF_FRAME);
	ck_assert_uint_lt(g.m.t->olen, BIG);
	/* Writable again: every byte arrives, in order. */
	g.m.t->tl.wr_block = 0;
	ck_assert_int_eq(mux_stream_shutdown(&g.sl), LEG_OK);
	for (int round = 0; round < 200 && !g.p.rx_eof; round++)
		pump(&g, 1);
	ck_assert_uint_eq(g.p.rxlen, BIG);
	ck_assert(memcmp(g.p.rx, big, BIG) == 0);
	ck_assert(g.p.rx_eof);
	rig_free(&g);
}
END_TEST

/* A plain socket leg on one end of a new socketpair, the app on *APP;
 * SNDBUF > 0: the leg's send buffer (a sink that takes little). */
static void
app_leg(struct leg *l, int *app, int sndbuf)
{
	int sv[2];

	ck_assert_int_eq(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	if (sndbuf > 0)
		ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF,
				     &sndbuf, sizeof(sndbuf)),
		    0);
	leg_init(l);
	l->fd = sv[0];
	*app = sv[1];
}

START_TEST(pump_writes_the_sink_from_the_stream)
{
	struct rig g;
	static char big[WINDOW], got_all[WINDOW];
	struct leg sock, *bad = NULL;
	struct pump p, q;
	size_t total = 0;
	ssize_t n;
	int app;

	for (size_t i = 0; i < WINDOW; i++)
		big[i] = (char)(i * 11 + i / 241);
	rig_init(&g, 65535, true);
	peer_answer(&g.p, "200", NULL);
	peer_send(&g.p, big, WINDOW, true);
	pump(&g, 8);
	ck_assert_uint_eq(g.sl.ms->rlen, WINDOW); /* arrived, not read */
	app_leg(&sock, &app, 2048);
	p = (struct pump){.src = &g.sl, .dst = &sock, .cap = BIG};
	q = (struct pump){.src = &sock, .dst = &g.sl, .cap = BIG};
	sock.rd_block = EV_READ;
	ck_assert_int_eq(pump_run(&p, &bad), PUMP_OK);
	/*
	 * The socket took part of it (a partial write): the rest waits in
	 * the stream's buffer, no pump buffer was taken, only what left is
	 * taken from the stream (and its window given back: bytes_in), and
	 * the sink is watched.
	 */
	ck_assert_ptr_null(p.buf);
	ck_assert(p.held);
	ck_assert_int_eq(sock.wr_block, EV_WRITE);
	ck_assert_uint_gt(sock.bytes_out, 0);
	ck_assert_uint_gt(g.sl.ms->rlen, 0);
	ck_assert_uint_eq(sock.bytes_out + g.sl.ms->rlen, WINDOW);
	ck_assert_uint_eq(g.sl.bytes_in, sock.bytes_out);
	ck_assert_int_eq(pump_wants(&sock, &q, &p) & EV_WRITE, EV_WRITE);
	/* The app reads: every byte arrives in order, then the FIN. */
	for (int round = 0; round < 400 && !pump_done(&p); round++) {
		while ((n = read(app, got_all + total, WINDOW - total)) > 0)
			total += (size_t)n;
		sock.wr_block = 0; /* the event loop would say: writable */
		ck_assert_int_ne(pump_run(&p, &bad), PUMP_ERR);
		pump(&g, 1);
	}
	while ((n = read(app, got_all + total, WINDOW - total)) > 0)
		total += (size_t)n;
	ck_assert(pump_done(&p));
	ck_assert_uint_eq(total, WINDOW);
	ck_assert(memcmp(got_all, big, WINDOW) == 0);
	ck_assert_int_eq(read(app, got_all, 1), 0); /* FIN */
	ck_assert_ptr_null(p.buf);
	leg_clear(&sock, false);
	close(app);
	rig_free(&g);
}
END_TEST

START_TEST(pump_reads_the_source_into_the_stream)
{
	struct rig g;
	static char big[BIG];
	struct leg sock, *bad = NULL;
	struct pump p, q;
	int app;

	for (size_t i = 0; i < BIG; i++)
		big[i] = (char)(i * 17 + i / 263);
	/* The peer grants 4 KiB and gives nothing back yet. */
	rig_init(&g, 4096, false);
	peer_answer(&g.p, "200", NULL);
	pump(&g, 3);
	app_leg(&sock, &app, 0);
	p = (struct pump){.src = &sock, .dst = &g.sl, .cap = BIG};
	q = (struct pump){.src = &g.sl, .dst = &sock, .cap = BIG};
	g.sl.rd_block = EV_READ;
	/* Nothing to read: the stream keeps no send buffer. */
	ck_assert_int_eq(pump_run(&p, &bad), PUMP_OK);
	ck_assert_int_eq(sock.rd_block, EV_READ);
	ck_assert_ptr_null(g.sl.ms->wbuf);
	ck_assert_int_eq(write(app, big, BIG), BIG);
	ck_assert_int_eq(shutdown(app, SHUT_WR), 0);
	sock.rd_block = 0;
	ck_assert_int_eq(pump_run(&p, &bad), PUMP_OK);
	/*
	 * Read straight into the stream's buffer until it was full: no pump
	 * buffer, the rest left in the socket, which is not read again
	 * until the stream has room.
	 */
	ck_assert_ptr_null(p.buf);
	ck_assert_uint_eq(g.sl.ms->wlen, WINDOW);
	ck_assert_uint_eq(sock.bytes_in, WINDOW);
	ck_assert(p.held);
	ck_assert_int_eq(g.sl.wr_block, EV_WRITE);
	ck_assert_int_eq(pump_wants(&g.sl, &q, &p) & EV_WRITE, EV_WRITE);
	ck_assert_int_eq(pump_wants(&sock, &p, &q) & EV_READ, 0);
	/* A full buffer wakes its conn at half, not at every frame. */
	leg_watch(&g.sl, EV_WRITE);
	pump(&g, 4);
	ck_assert_uint_eq(g.p.rxlen, 4096);
	ck_assert_int_eq(g.fired & EV_WRITE, 0);
	g.p.consume = true;
	(void)nghttp2_session_consume(g.p.h2, g.p.sid, g.p.rxlen);
	pump(&g, 4);
	ck_assert_uint_le(g.sl.ms->wlen, WINDOW / 2);
	ck_assert_int_eq(g.fired & EV_WRITE, EV_WRITE);
	/* The rest flows, then END_STREAM for the FIN; all in order. */
	for (int round = 0; round < 400 && !g.p.rx_eof; round++) {
		g.sl.wr_block = 0; /* as leg_ready() on the event */
		ck_assert_int_ne(pump_run(&p, &bad), PUMP_ERR);
		pump(&g, 1);
	}
	ck_assert(g.p.rx_eof);
	ck_assert_uint_eq(g.p.rxlen, BIG);
	ck_assert(memcmp(g.p.rx, big, BIG) == 0);
	ck_assert_ptr_null(p.buf);
	leg_clear(&sock, false);
	close(app);
	rig_free(&g);
}
END_TEST

Suite *
mux_suite(void)
{
	Suite *s = suite_create("mux");
	TCase *tc = tcase_create("stream");

	tcase_add_test(tc, fin_is_end_stream_and_half_close_from_app);
	tcase_add_test(tc, half_close_from_peer);
	tcase_add_test(tc, peek_leaves_the_bytes);
	tcase_add_test(tc, peer_reset_mid_stream_is_a_reset);
	tcase_add_test(tc, app_abort_mid_stream_is_rst_stream);
	tcase_add_test(tc, refused_connect_carries_reason);
	tcase_add_test(tc, tunnel_loss_mid_stream_fails_the_stream);
	tcase_add_test(tc, receive_window_stalls_and_resumes);
	tcase_add_test(tc, send_window_stalls_and_resumes);
	tcase_add_test(tc, framing_pauses_at_one_record);
	tcase_add_test(tc, pump_writes_the_sink_from_the_stream);
	tcase_add_test(tc, pump_reads_the_source_into_the_stream);
	suite_add_tcase(s, tc);
	return (s);
}
