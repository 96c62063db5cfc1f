/*
 * Unit tests of a pump (pump.h) between a mux stream and a socket: the
 * pump moves bytes in place, through the stream's own buffers (the leg
 * ops rview/rtake and wspace/wput): the sink is written straight from the
 * stream's receive buffer, the source read straight into its send buffer,
 * no pump buffer taken, and a full send buffer wakes its conn at half.
 * The rig (a tunnel, one stream, the peer sidecar): mux_stream_rig.h.
 */
#include <check.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mux_priv.h"
#include "pump.h"
#include "mux_stream_rig.h"

Suite *mux_pump_suite(void);

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
mux_pump_suite(void)
{
	Suite *s = suite_create("mux_pump");
	TCase *tc = tcase_create("in_place");

	tcase_add_test(tc, pump_writes_the_sink_from_the_stream);
	tcase_add_test(tc, pump_reads_the_source_into_the_stream);
	suite_add_tcase(s, tc);
	return (s);
}
