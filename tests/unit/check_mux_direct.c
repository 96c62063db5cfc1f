/*
 * Unit tests of the tunnel's direct DATA frames (mux_send_data(), issue
 * 16): a big DATA frame is written from its stream's send buffer, its
 * header in the room in front of the payload, instead of being copied
 * into the tunnel's output buffer; header and payload make one TLS record
 * (MUX_DATA_MAX). What would move or free that buffer while the frame is
 * half written (the stream closed, the buffer compacted for more bytes)
 * first copies the frame's rest into the output buffer: the peer still
 * gets whole frames, in order. Over a socketpair (mux_rig.h) whose send
 * buffer is made small, so that a frame is written in pieces.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "mux_priv.h"
#include "route.h"
#include "conn_table.h"
#include "mux_rig.h"

Suite *mux_direct_suite(void);

#define DWINDOW (64 * 1024) /* mux_window and the peer's stream window */
#define DBIG (2 * DWINDOW)

/* The peer sidecar: takes the CONNECT, reads DATA, notes frame sizes. */
struct dpeer {
	int fd;
	nghttp2_session *h2;
	int32_t sid;
	char rx[DBIG];
	size_t rxlen;
	size_t frames, short_frames; /* DATA frames; those below the max */
	bool got_rst;
};

struct drig {
	struct mux_rig m;
	struct leg sl;
	unsigned char *sev;
	struct dpeer p;
};

static char pattern[DBIG];

static void
d_stream_cb(evutil_socket_t fd, short what, void *arg)
{
}

static int
d_frame(nghttp2_session *h2, const nghttp2_frame *f, void *arg)
{
	struct dpeer *p = arg;

	if (f->hd.type == NGHTTP2_HEADERS &&
	    f->headers.cat == NGHTTP2_HCAT_REQUEST)
		p->sid = f->hd.stream_id;
	if (f->hd.type == NGHTTP2_DATA && f->hd.length > 0) {
		ck_assert_uint_le(f->hd.length, MUX_DATA_MAX);
		p->frames++;
		if (f->hd.length < MUX_DATA_MAX)
			p->short_frames++;
	}
	if (f->hd.type == NGHTTP2_RST_STREAM)
		p->got_rst = true;
	return (0);
}

static int
d_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
    size_t len, void *arg)
{
	struct dpeer *p = arg;

	ck_assert_uint_le(p->rxlen + len, sizeof(p->rx));
	memcpy(p->rx + p->rxlen, data, len);
	p->rxlen += len;
	(void)nghttp2_session_consume(h2, id, len);
	return (0);
}

/* Read what the tunnel wrote (every byte must parse) and answer. */
static void
d_peer_io(struct dpeer *p)
{
	uint8_t buf[4096];
	const uint8_t *out;
	ssize_t n, w;

	while ((n = read(p->fd, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(
		    nghttp2_session_mem_recv(p->h2, buf, (size_t)n), n);
	while ((n = nghttp2_session_mem_send(p->h2, &out)) > 0) {
		if ((w = write(p->fd, out, (size_t)n)) < 0 &&
		    (errno == EPIPE || errno == ECONNRESET))
			break; /* the tunnel is gone */
		ck_assert_int_eq(w, n);
	}
}

static void
d_pump(struct drig *g, int n)
{
	while (n-- > 0) {
		(void)event_base_loop(g->m.base, EVLOOP_NONBLOCK);
		d_peer_io(&g->p);
	}
}

/* A tunnel whose socket takes a few KiB at a time, one answered stream. */
static void
d_rig_init(struct drig *g)
{
	nghttp2_session_callbacks *cb;
	nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0};
	int small = 4096;

	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (char)(i * 7 + i / 251);
	memset(g, 0, sizeof(*g));
	g->p.fd = mux_rig_init(&g->m, DWINDOW);
	g->sev = calloc(1, event_get_struct_event_size());
	ck_assert_int_eq(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, d_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, d_data);
	g->p.h2 = mux_rig_peer_new(cb, &g->p, DWINDOW);
	/* The connection's window too: the test sends more than 64 KiB. */
	ck_assert_int_eq(nghttp2_session_set_local_window_size(
			     g->p.h2, NGHTTP2_FLAG_NONE, 0, 4 * DWINDOW),
	    0);
	leg_init(&g->sl);
	ck_assert_int_eq(mux_stream_open(g->m.t, "target.example:443", &g->sl,
			     (struct event *)g->sev, d_stream_cb, g),
	    0);
	d_pump(g, 4);
	ck_assert_int_gt(g->p.sid, 0);
	ck_assert_int_eq(
	    nghttp2_submit_response(g->p.h2, g->p.sid, &nv, 1, NULL), 0);
	d_pump(g, 4);
	ck_assert(g->sl.ms->responded);
	ck_assert_int_eq(setsockopt(g->m.t->tl.fd, SOL_SOCKET, SO_SNDBUF,
			     &small, sizeof(small)),
	    0);
}

static void
d_rig_free(struct drig *g)
{
	if (g->sl.ms != NULL) {
		event_del((struct event *)g->sev);
		mux_stream_close(&g->sl, REASON_RESET);
	}
	if (!TAILQ_EMPTY(&g->m.ct.tunnels))
		mux_tunnel_close(g->m.t, REASON_EOF, NULL);
	d_pump(g, 2);
	ck_assert(TAILQ_EMPTY(&g->m.ct.tunnels));
	nghttp2_session_del(g->p.h2);
	close(g->p.fd);
	free(g->m.tev);
	free(g->sev);
	event_base_free(g->m.base);
}

/* Queue LEN bytes of the pattern from OFF on the stream; all must fit. */
static void
d_write(struct drig *g, size_t off, size_t len)
{
	size_t n;

	while (len > 0) {
		ck_assert_int_eq(
		    mux_stream_write(&g->sl, pattern + off, len, &n), LEG_OK);
		off += n;
		len -= n;
	}
}

/*
 * The first frame is written from the stream's buffer and the socket
 * took part of it: the output buffer holds none of it (it would, copied,
 * without direct frames), and nothing is framed behind it.
 */
static void
d_first_frame_half_out(struct drig *g)
{
	struct mux_tunnel *t = g->m.t;

	ck_assert_int_eq(mux_tunnel_flush(t), 0);
	ck_assert_int_ne(t->tl.wr_block, 0); /* the socket is full */
	ck_assert_uint_eq(t->olen, 0);
	ck_assert_ptr_eq(t->dsrc, g->sl.ms);
	ck_assert_uint_gt(t->dlen, 0);
	ck_assert_uint_lt(t->dlen, MUX_OBUF_FRAME);
}

/* Every byte arrives, in order, in frames of one record each. */
START_TEST(big_frames_leave_from_the_stream_buffer)
{
	struct drig g;

	d_rig_init(&g);
	d_write(&g, 0, DWINDOW);
	d_first_frame_half_out(&g);
	for (int i = 0; i < 400 && g.p.rxlen < DWINDOW; i++)
		d_pump(&g, 1);
	ck_assert_uint_eq(g.p.rxlen, DWINDOW);
	ck_assert(memcmp(g.p.rx, pattern, DWINDOW) == 0);
	/* 64 KiB: four whole frames and the rest. */
	ck_assert_uint_eq(g.p.frames, DWINDOW / MUX_DATA_MAX + 1);
	ck_assert_uint_eq(g.p.short_frames, 1);
	ck_assert_ptr_null(g.m.t->dsrc);
	ck_assert_ptr_null(g.sl.ms->wbuf); /* all out: no buffer held */
	d_rig_free(&g);
}
END_TEST

/*
 * The stream is reset while its frame is half written: the frame's rest
 * still goes out (from the output buffer), then RST_STREAM; the peer
 * parses every byte.
 */
START_TEST(stream_closed_while_its_frame_is_half_out)
{
	struct drig g;
	size_t left;

	d_rig_init(&g);
	d_write(&g, 0, DWINDOW);
	d_first_frame_half_out(&g);
	left = g.m.t->dlen;
	event_del((struct event *)g.sev);
	mux_stream_close(&g.sl, REASON_RESET);
	ck_assert_ptr_null(g.m.t->dsrc);
	ck_assert_uint_eq(g.m.t->olen, left);
	for (int i = 0; i < 100 && !g.p.got_rst; i++)
		d_pump(&g, 1);
	ck_assert(g.p.got_rst);
	ck_assert_uint_eq(g.p.rxlen, MUX_DATA_MAX);
	ck_assert(memcmp(g.p.rx, pattern, MUX_DATA_MAX) == 0);
	d_rig_free(&g);
}
END_TEST

/*
 * The stream's buffer is full behind a half-written frame and the conn
 * writes more: the bytes move to the buffer's front, so the frame's rest
 * is copied out first. All of it arrives in order.
 */
START_TEST(buffer_compacted_while_a_frame_is_half_out)
{
	struct drig g;

	d_rig_init(&g);
	d_write(&g, 0, DWINDOW);
	d_first_frame_half_out(&g);
	d_write(&g, DWINDOW, MUX_DATA_MAX); /* room only after the move */
	ck_assert_ptr_null(g.m.t->dsrc);
	ck_assert_uint_gt(g.m.t->olen, 0);
	ck_assert_uint_eq(g.sl.ms->woff, MUX_FRAME_HDLEN);
	for (int i = 0; i < 400 && g.p.rxlen < DWINDOW + MUX_DATA_MAX; i++)
		d_pump(&g, 1);
	ck_assert_uint_eq(g.p.rxlen, DWINDOW + MUX_DATA_MAX);
	ck_assert(memcmp(g.p.rx, pattern, DWINDOW + MUX_DATA_MAX) == 0);
	d_rig_free(&g);
}
END_TEST

/*
 * The last bytes of the buffer leave in a direct frame, which is half out
 * when the conn writes again: the buffer is empty but still the frame's,
 * and its bytes are far back (the room at its end is short). The frame's
 * rest is copied out, and the conn gets room in a buffer of its own.
 */
START_TEST(empty_buffer_written_while_its_last_frame_is_half_out)
{
	struct drig g;
	struct mux_tunnel *t;
	size_t first = 3 * MUX_DATA_MAX + MUX_DIRECT_MIN + 2048;
	bool seen = false;

	d_rig_init(&g);
	t = g.m.t;
	d_write(&g, 0, first);
	for (int i = 0; i < 400 && !seen; i++) {
		(void)event_base_loop(g.m.base, EVLOOP_NONBLOCK);
		seen = t->dsrc == g.sl.ms && g.sl.ms->wlen == 0;
		if (!seen)
			d_peer_io(&g.p);
	}
	ck_assert(seen);
	ck_assert_ptr_nonnull(g.sl.ms->wbuf); /* kept for the frame */
	d_write(&g, first, DWINDOW);
	ck_assert_ptr_null(t->dsrc);
	for (int i = 0; i < 400 && g.p.rxlen < first + DWINDOW; i++)
		d_pump(&g, 1);
	ck_assert_uint_eq(g.p.rxlen, first + DWINDOW);
	ck_assert(memcmp(g.p.rx, pattern, first + DWINDOW) == 0);
	d_rig_free(&g);
}
END_TEST

/*
 * While the socket would block, frames are copied into the output buffer
 * as before; one frame is one TLS record's worth (header and payload).
 */
START_TEST(blocked_socket_frames_by_copy)
{
	struct drig g;

	d_rig_init(&g);
	d_write(&g, 0, DWINDOW);
	g.m.t->tl.wr_block = EV_WRITE;
	ck_assert_int_eq(mux_tunnel_flush(g.m.t), 0);
	ck_assert_ptr_null(g.m.t->dsrc);
	ck_assert_uint_eq(g.m.t->olen, MUX_OBUF_MARK);
	g.m.t->tl.wr_block = 0;
	for (int i = 0; i < 400 && g.p.rxlen < DWINDOW; i++)
		d_pump(&g, 1);
	ck_assert_uint_eq(g.p.rxlen, DWINDOW);
	ck_assert(memcmp(g.p.rx, pattern, DWINDOW) == 0);
	d_rig_free(&g);
}
END_TEST

/* The tunnel closes while a frame is half written: nothing is left
 * pointing into the stream's buffer, which the stream frees later. */
START_TEST(tunnel_closed_while_a_frame_is_half_out)
{
	struct drig g;

	d_rig_init(&g);
	d_write(&g, 0, DWINDOW);
	d_first_frame_half_out(&g);
	mux_tunnel_close(g.m.t, REASON_RESET, "test");
	ck_assert(TAILQ_EMPTY(&g.m.ct.tunnels));
	ck_assert_ptr_null(g.sl.ms->t);
	d_rig_free(&g);
}
END_TEST

Suite *
mux_direct_suite(void)
{
	Suite *s = suite_create("mux_direct");
	TCase *tc = tcase_create("direct");

	tcase_add_test(tc, big_frames_leave_from_the_stream_buffer);
	tcase_add_test(tc, stream_closed_while_its_frame_is_half_out);
	tcase_add_test(tc, buffer_compacted_while_a_frame_is_half_out);
	tcase_add_test(
	    tc, empty_buffer_written_while_its_last_frame_is_half_out);
	tcase_add_test(tc, blocked_socket_frames_by_copy);
	tcase_add_test(tc, tunnel_closed_while_a_frame_is_half_out);
	suite_add_tcase(s, tc);
	return (s);
}
