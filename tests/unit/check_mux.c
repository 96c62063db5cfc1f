/*
 * Unit tests for the stream mapping of proxy/mux*.c over a socketpair: one
 * end is a real originate tunnel (mux_tunnel_adopt, cotai's nghttp2 client
 * session, plaintext instead of TLS), the other an nghttp2 server session
 * the test drives as the peer sidecar would. A stream leg opened with
 * mux_stream_open() is used through the leg operations, as a conn does:
 * FIN <-> END_STREAM, half-close in both directions, reset <-> RST_STREAM,
 * a refused CONNECT's reason, an abort mid-stream both ways (RST_STREAM
 * and the tunnel's loss), and flow-control stalls that resume in both
 * directions without losing a byte. The rig: mux_stream_rig.h; the pump
 * through a stream's buffers: check_mux_pump.c.
 */
#include <check.h>
#include <string.h>

#include "mux_priv.h"
#include "mux_stream_rig.h"

Suite *mux_suite(void);

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
	suite_add_tcase(s, tc);
	return (s);
}
