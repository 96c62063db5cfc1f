/*
 * Unit tests for the tunnel's flow control between streams (issue 16,
 * proxy/relay/mux_flow.c and the framing in mux.c), over a socketpair: a
 * real originate tunnel (plaintext instead of TLS) with two streams, one
 * bulk and one interactive, and an nghttp2 server as the peer sidecar.
 *
 * Receiving: the peer sends bulk data on one stream as fast as its
 * window allows; what it has sent and cotai's session has not yet taken
 * in is the bulk stream's data in transit, ahead of anything else. Alone (or
 * beside an idle stream) it is the full mux_window; while the other stream is
 * interactive it is a quarter of it; full again when that stream closes
 * or goes idle. Sending: a 64-byte write of the interactive stream goes
 * out behind at most what was framed before it and one bulk frame, not
 * behind the bulk stream's whole buffer.
 */
#include <check.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "mux_priv.h"
#include "route.h"
#include "conn_table.h"
#include "mux_rig.h"

Suite *mux_flow_suite(void);

#define FWINDOW (256 * 1024) /* cotai's mux_window: the default */
#define FSHARED (FWINDOW / 4)
#define FBULK 0 /* the streams, in the order they are opened */
#define FINTER 1

struct fpeer {
	int fd;
	nghttp2_session *h2;
	int32_t sid[2];
	int nsid;
	size_t rx[2];         /* DATA received per stream */
	size_t rx_bulk_first; /* bulk bytes received before FINTER's first */
	bool rx_inter;
	bool bulk_rst;     /* RST_STREAM on the bulk stream */
	size_t tx_left[2]; /* DATA still to send per stream */
	size_t tx_sent[2]; /* DATA handed to the peer's session */
	uint8_t *out;      /* framed, not yet written to the socket */
	size_t outlen;
};

struct frig {
	struct mux_rig m; /* route, conn table, tunnel (mux_rig.h) */
	struct leg sl[2];
	unsigned char *sev[2];
	struct fpeer p;
};

static void
f_stream_cb(evutil_socket_t fd, short what, void *arg)
{
}

static int
f_index(const struct fpeer *p, int32_t id)
{
	for (int i = 0; i < p->nsid; i++)
		if (p->sid[i] == id)
			return (i);
	return (-1);
}

static ssize_t
f_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct fpeer *p = arg;
	int i = f_index(p, id);
	size_t n;

	if (i < 0 || p->tx_left[i] == 0)
		return (NGHTTP2_ERR_DEFERRED);
	n = len < p->tx_left[i] ? len : p->tx_left[i];
	memset(buf, 'b', n);
	p->tx_left[i] -= n;
	p->tx_sent[i] += n;
	return ((ssize_t)n);
}

/* Every CONNECT is answered 200 with a data stream (f_read). */
static int
f_frame(nghttp2_session *h2, const nghttp2_frame *f, void *arg)
{
	struct fpeer *p = arg;
	nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0};
	nghttp2_data_provider prd = {.read_callback = f_read};

	if (f->hd.type == NGHTTP2_RST_STREAM && p->nsid > FBULK &&
	    f->hd.stream_id == p->sid[FBULK])
		p->bulk_rst = true;
	if (f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return (0);
	ck_assert_int_lt(p->nsid, 2);
	p->sid[p->nsid++] = f->hd.stream_id;
	ck_assert_int_eq(
	    nghttp2_submit_response(h2, f->hd.stream_id, &nv, 1, &prd), 0);
	return (0);
}

static int
f_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
    size_t len, void *arg)
{
	struct fpeer *p = arg;
	int i = f_index(p, id);

	ck_assert_int_ge(i, 0);
	if (i == FINTER && !p->rx_inter) {
		p->rx_inter = true;
		p->rx_bulk_first = p->rx[FBULK];
	}
	p->rx[i] += len;
	(void)nghttp2_session_consume(h2, id, len);
	return (0);
}

/* Move bytes between the peer's session and the socket. */
static void
f_peer_io(struct fpeer *p)
{
	uint8_t buf[16384];
	const uint8_t *data;
	ssize_t n;

	while ((n = read(p->fd, buf, sizeof(buf))) > 0)
		ck_assert_int_ge(
		    nghttp2_session_mem_recv(p->h2, buf, (size_t)n), 0);
	for (;;) {
		if (p->outlen > 0) {
			n = write(p->fd, p->out, p->outlen);
			if (n <= 0)
				return; /* full: the tunnel reads it first */
			memmove(p->out, p->out + n, p->outlen - (size_t)n);
			p->outlen -= (size_t)n;
			continue;
		}
		if ((n = nghttp2_session_mem_send(p->h2, &data)) <= 0)
			return;
		p->out = realloc(p->out, (size_t)n);
		ck_assert_ptr_nonnull(p->out);
		memcpy(p->out, data, (size_t)n);
		p->outlen = (size_t)n;
	}
}

static void
f_pump(struct frig *g, int n)
{
	while (n-- > 0) {
		(void)event_base_loop(g->m.base, EVLOOP_NONBLOCK);
		f_peer_io(&g->p);
	}
}

/* The peer sends N bytes on stream I. */
static void
f_send(struct frig *g, int i, size_t n)
{
	g->p.tx_left[i] += n;
	(void)nghttp2_session_resume_data(g->p.h2, g->p.sid[i]);
}

/*
 * Stream I's bytes in transit: sent by the peer, not yet in the stream's
 * buffer (in the peer's output, the socket, the tunnel's session). The
 * peer sends all its window allows, so after f_pump() this is the window.
 */
static int32_t
f_in_flight(struct frig *g, int i)
{
	return ((int32_t)(g->p.tx_sent[i] -
	    (g->sl[i].bytes_in + g->sl[i].ms->rlen)));
}

/* Read everything stream I's leg holds; the bytes read. */
static size_t
f_drain(struct frig *g, int i)
{
	char buf[65536];
	size_t n, got = 0;

	while (mux_stream_read(&g->sl[i], buf, sizeof(buf), &n) == LEG_OK)
		got += n;
	return (got);
}

/* A tunnel to a peer granting PEER_WINDOW per stream, with two streams. */
static void
f_rig_init(struct frig *g, int32_t peer_window)
{
	nghttp2_session_callbacks *cb;

	memset(g, 0, sizeof(*g));
	g->p.fd = mux_rig_init(&g->m, FWINDOW);
	ck_assert_int_eq(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, f_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, f_data);
	g->p.h2 = mux_rig_peer_new(cb, &g->p, (uint32_t)peer_window);
	ck_assert_int_eq(nghttp2_session_set_local_window_size(
			     g->p.h2, NGHTTP2_FLAG_NONE, 0, 64 * 1024 * 1024),
	    0);

	for (int i = 0; i < 2; i++) {
		g->sev[i] = calloc(1, event_get_struct_event_size());
		leg_init(&g->sl[i]);
		ck_assert_int_eq(
		    mux_stream_open(g->m.t, "target.example:443", &g->sl[i],
			(struct event *)g->sev[i], f_stream_cb, g),
		    0);
	}
	f_pump(g, 6);
	ck_assert_int_eq(g->p.nsid, 2);
	ck_assert(g->sl[FBULK].ms->responded && g->sl[FINTER].ms->responded);
	/* The bulk stream's conn moves big steps (conn_classify). */
	leg_set_bulk(&g->sl[FBULK], true);
}

static void
f_rig_free(struct frig *g)
{
	for (int i = 0; i < 2; i++) {
		if (g->sl[i].ms != NULL) {
			event_del((struct event *)g->sev[i]);
			mux_stream_close(&g->sl[i], REASON_RESET);
		}
		free(g->sev[i]);
	}
	if (!TAILQ_EMPTY(&g->m.ct.tunnels))
		mux_tunnel_close(g->m.t, REASON_EOF, NULL);
	(void)event_base_loop(g->m.base, EVLOOP_NONBLOCK);
	ck_assert(TAILQ_EMPTY(&g->m.ct.tunnels));
	nghttp2_session_del(g->p.h2);
	close(g->p.fd);
	free(g->p.out);
	free(g->m.tev);
	event_base_free(g->m.base);
}

/* The interactive stream moves a small message (its app writes). */
static void
f_small(struct frig *g)
{
	size_t n;

	ck_assert_int_eq(
	    mux_stream_write(&g->sl[FINTER], "ping", 4, &n), LEG_OK);
}

/*
 * ROUNDS of: the tunnel and the peer run, the bulk stream's app reads all
 * it has (SMALL: first the interactive one writes a small message, so it
 * stays interactive however slow the rounds are). The most the bulk stream had
 * in transit after *GOT reached SKIP (the credit granted earlier is the peer's
 * to use); the bytes read are added to *GOT.
 */
static int32_t
f_run(struct frig *g, int rounds, bool small, size_t skip, size_t *got)
{
	int32_t w, most = 0;

	for (int i = 0; i < rounds; i++) {
		if (small)
			f_small(g);
		f_pump(g, 1);
		*got += f_drain(g, FBULK);
		w = f_in_flight(g, FBULK);
		if (*got >= skip && w > most)
			most = w;
	}
	return (most);
}

START_TEST(bulk_window_cut_beside_interactive_full_after_close)
{
	struct frig g;
	size_t got = 0, before;
	int32_t most;

	f_rig_init(&g, FWINDOW);
	f_send(&g, FBULK, 64 * 1024 * 1024);
	/* Alone (the other stream has moved nothing): the full window. */
	most = f_run(&g, 64, false, 0, &got);
	ck_assert_int_gt(most, FWINDOW / 2);
	ck_assert_int_eq(g.sl[FBULK].ms->window, FWINDOW);
	ck_assert_uint_gt(got, 2 * FWINDOW);
	/*
	 * The other stream turns interactive: cotai shrinks the bulk
	 * stream's window; once the credit granted before is used, the
	 * peer never has more than a quarter of mux_window to send.
	 */
	before = got;
	most = f_run(&g, 400, true, got + FWINDOW, &got);
	ck_assert_int_gt(most, 0);
	ck_assert_int_le(most, FSHARED);
	ck_assert_int_eq(g.sl[FBULK].ms->window, FSHARED);
	ck_assert_int_eq(nghttp2_session_get_stream_effective_local_window_size(
			     g.m.t->h2, g.sl[FBULK].ms->id),
	    FSHARED);
	ck_assert_uint_gt(got - before, 4 * FWINDOW); /* it still flows */
	/* The interactive stream's own window stays whole. */
	ck_assert_int_eq(g.sl[FINTER].ms->window, FWINDOW);
	/* Its app stops reading: what it buffers is still one mux_window
	 * at most, and nothing is reset. */
	for (int i = 0; i < 40; i++) {
		f_small(&g);
		f_pump(&g, 1);
	}
	ck_assert_uint_le(g.sl[FBULK].ms->rlen, FWINDOW);
	ck_assert(!g.p.bulk_rst);
	/* The interactive stream closes: full window again. */
	event_del((struct event *)g.sev[FINTER]);
	mux_stream_close(&g.sl[FINTER], REASON_RESET);
	before = got;
	most = f_run(&g, 64, false, 0, &got);
	ck_assert_int_eq(g.sl[FBULK].ms->window, FWINDOW);
	ck_assert_int_gt(most, FSHARED);
	ck_assert_uint_gt(got - before, 2 * FWINDOW);
	ck_assert(!g.p.bulk_rst);
	f_rig_free(&g);
}
END_TEST

START_TEST(bulk_window_full_again_when_the_other_goes_idle)
{
	struct frig g;
	size_t got = 0;
	int32_t most;

	f_rig_init(&g, FWINDOW);
	f_send(&g, FBULK, 64 * 1024 * 1024);
	most = f_run(&g, 400, true, FWINDOW, &got);
	ck_assert_int_le(most, FSHARED);
	ck_assert_int_eq(g.sl[FBULK].ms->window, FSHARED);
	/* Long enough without a byte: it is no longer interactive. */
	g.sl[FINTER].ms->flow_small = conn_now() - MUX_FLOW_RECENT_MS;
	most = f_run(&g, 64, false, 0, &got);
	ck_assert_int_eq(g.sl[FBULK].ms->window, FWINDOW);
	ck_assert_int_gt(most, FSHARED);
	/* Two bulk streams: neither is cut. */
	leg_set_bulk(&g.sl[FINTER], true);
	f_small(&g);
	most = f_run(&g, 64, false, 0, &got);
	ck_assert_int_eq(g.sl[FBULK].ms->window, FWINDOW);
	ck_assert_int_eq(g.sl[FINTER].ms->window, FWINDOW);
	ck_assert_int_gt(most, FSHARED);
	f_rig_free(&g);
}
END_TEST

/*
 * Two bulk streams: one makes small steps for a while (held back by the
 * tunnel, say): the other's window stays whole until the first has not
 * been bulk for MUX_FLOW_RECENT_MS; then it is interactive.
 */
START_TEST(bulk_stream_small_steps_cut_nothing_at_first)
{
	struct frig g;
	size_t got = 0;
	int32_t most;

	f_rig_init(&g, FWINDOW);
	f_send(&g, FBULK, 64 * 1024 * 1024);
	leg_set_bulk(&g.sl[FINTER], true);
	f_small(&g);
	most = f_run(&g, 32, false, 0, &got);
	ck_assert_int_gt(most, FSHARED);
	/* Small steps, each within MUX_FLOW_RECENT_MS of its last bulk one
	 * (set here: the rounds' pace must not decide it). */
	leg_set_bulk(&g.sl[FINTER], false);
	most = 0;
	for (int i = 0; i < 64; i++) {
		g.sl[FINTER].ms->flow_bulk = conn_now();
		f_small(&g);
		f_pump(&g, 1);
		got += f_drain(&g, FBULK);
		if (f_in_flight(&g, FBULK) > most)
			most = f_in_flight(&g, FBULK);
		ck_assert_int_eq(g.sl[FBULK].ms->window, FWINDOW);
	}
	ck_assert_int_gt(most, FSHARED);
	/* Small steps only, for long enough: now it is interactive. */
	g.sl[FINTER].ms->flow_bulk = conn_now() - MUX_FLOW_RECENT_MS;
	most = f_run(&g, 400, true, got + FWINDOW, &got);
	ck_assert_int_gt(most, 0);
	ck_assert_int_le(most, FSHARED);
	ck_assert_int_eq(g.sl[FBULK].ms->window, FSHARED);
	f_rig_free(&g);
}
END_TEST

/* The cut is a quarter of mux_window, one frame at least, whole at most. */
START_TEST(shared_window_size)
{
	ck_assert_int_eq(mux_flow_shared(256 * 1024), 64 * 1024);
	ck_assert_int_eq(mux_flow_shared(16 * 1024 * 1024), 4 * 1024 * 1024);
	ck_assert_int_eq(mux_flow_shared(32 * 1024), MUX_FLOW_MIN);
	ck_assert_int_eq(mux_flow_shared(16 * 1024), 16 * 1024);
}
END_TEST

/*
 * Sending: the bulk stream's app has queued a whole mux_window and the
 * socket takes nothing; then the interactive stream writes 64 bytes. They
 * go out behind what was framed already (one TLS record's worth) and at
 * most one more bulk frame, not behind the rest of the window.
 */
START_TEST(small_write_waits_behind_one_record)
{
	static char big[FWINDOW];
	struct frig g;
	size_t n, off = 0, framed;

	memset(big, 'B', sizeof(big));
	f_rig_init(&g, 1024 * 1024);
	while (off < sizeof(big) &&
	    mux_stream_write(&g.sl[FBULK], big + off, sizeof(big) - off, &n) ==
		LEG_OK)
		off += n;
	ck_assert_uint_eq(off, FWINDOW);
	g.m.t->tl.wr_block = EV_WRITE;
	ck_assert_int_eq(mux_tunnel_flush(g.m.t), 0);
	framed = g.m.t->olen;
	ck_assert_uint_le(framed, MUX_OBUF_MARK + MUX_OBUF_FRAME);
	ck_assert_int_eq(mux_stream_write(&g.sl[FINTER], big, 64, &n), LEG_OK);
	g.m.t->tl.wr_block = 0;
	for (int i = 0; i < 100 && !g.p.rx_inter; i++)
		f_pump(&g, 1);
	ck_assert(g.p.rx_inter);
	ck_assert_uint_le(g.p.rx_bulk_first, framed + 16384);
	/* And the bulk stream's bytes all follow. */
	for (int i = 0; i < 200 && g.p.rx[FBULK] < FWINDOW; i++)
		f_pump(&g, 1);
	ck_assert_uint_eq(g.p.rx[FBULK], FWINDOW);
	ck_assert_uint_eq(g.p.rx[FINTER], 64);
	f_rig_free(&g);
}
END_TEST

Suite *
mux_flow_suite(void)
{
	Suite *s = suite_create("mux_flow");
	TCase *tc = tcase_create("windows");

	tcase_add_test(tc, bulk_window_cut_beside_interactive_full_after_close);
	tcase_add_test(tc, bulk_window_full_again_when_the_other_goes_idle);
	tcase_add_test(tc, bulk_stream_small_steps_cut_nothing_at_first);
	tcase_add_test(tc, shared_window_size);
	tcase_add_test(tc, small_write_waits_behind_one_record);
	suite_add_tcase(s, tc);
	return (s);
}
