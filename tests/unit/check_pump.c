/*
 * Unit tests for proxy/transport/pump.c over plaintext socketpair() legs: bytes
 * arrive intact, EOF becomes a write shutdown on the other side
 * (half-close), and a sink that does not read stops the source from being
 * read (backpressure) until it has drained to half; the per-thread free
 * list of buffers (pump_buf_get, also used by mux streams).
 */
#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "leg.h"
#include "pump.h"

Suite *pump_suite(void);

/* app[0] <-> src leg, dst leg <-> app[1] */
struct rig {
	int app[2];
	struct leg src, dst;
	struct pump p;
	char buf[65536];
};

static void
rig_init(struct rig *r)
{
	int a[2], b[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	fcntl(a[1], F_SETFL, O_NONBLOCK);
	fcntl(b[0], F_SETFL, O_NONBLOCK);
	r->app[0] = a[0];
	r->app[1] = b[1];
	leg_init(&r->src);
	leg_init(&r->dst);
	r->src.fd = a[1];
	r->dst.fd = b[0];
	memset(&r->p, 0, sizeof(r->p));
	r->p.src = &r->src;
	r->p.dst = &r->dst;
	r->p.buf = r->buf;
	r->p.cap = sizeof(r->buf);
}

static void
rig_clear(struct rig *r)
{
	leg_clear(&r->src, false);
	leg_clear(&r->dst, false);
	close(r->app[0]);
	close(r->app[1]);
}

START_TEST(moves_bytes_and_half_closes)
{
	struct rig r;
	struct leg *bad = NULL;
	char got[16];

	rig_init(&r);
	ck_assert_int_eq(write(r.app[0], "hello", 5), 5);
	ck_assert_int_eq(pump_run(&r.p, &bad), PUMP_OK);
	ck_assert_int_eq(read(r.app[1], got, sizeof(got)), 5);
	ck_assert_int_eq(memcmp(got, "hello", 5), 0);
	ck_assert(!pump_done(&r.p));
	shutdown(r.app[0], SHUT_WR);
	r.src.rd_block = 0; /* the event loop would say: readable */
	ck_assert_int_eq(pump_run(&r.p, &bad), PUMP_EOF);
	ck_assert(r.dst.shut);
	ck_assert(pump_done(&r.p));
	ck_assert_int_eq(read(r.app[1], got, sizeof(got)), 0); /* FIN */
	/* The other direction still works after the half-close. */
	ck_assert_int_eq(write(r.app[1], "back", 4), 4);
	ck_assert_int_eq(read(r.dst.fd, got, sizeof(got)), 4);
	rig_clear(&r);
}
END_TEST

START_TEST(backpressure_stops_reading)
{
	struct rig r;
	struct leg *bad = NULL;
	static char chunk[4096];
	size_t queued = 0;
	ssize_t n;

	rig_init(&r);
	fcntl(r.app[0], F_SETFL, O_NONBLOCK);
	/* Fill everything: our buffer, both socket buffers. */
	for (int i = 0; i < 64; i++) {
		while ((n = write(r.app[0], chunk, sizeof(chunk))) > 0)
			queued += (size_t)n;
		r.src.rd_block = 0;
		r.dst.wr_block = 0;
		ck_assert_int_eq(pump_run(&r.p, &bad), PUMP_OK);
	}
	ck_assert(r.p.paused);
	ck_assert_uint_eq(r.p.len, r.p.cap);
	ck_assert_int_eq(r.dst.wr_block, EV_WRITE);
	/* Paused: the source is not among the legs that want EV_READ. */
	ck_assert_int_eq(pump_wants(&r.src, &r.p, &r.p) & EV_READ, 0);
	/* Drain the sink: reading resumes and everything arrives. */
	size_t got = 0;
	shutdown(r.app[0], SHUT_WR);
	while (!pump_done(&r.p)) {
		static char sink[65536];
		n = recv(r.app[1], sink, sizeof(sink), MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		r.src.rd_block = 0;
		r.dst.wr_block = 0;
		ck_assert_int_ne(pump_run(&r.p, &bad), PUMP_ERR);
	}
	while ((n = recv(r.app[1], chunk, sizeof(chunk), 0)) > 0)
		got += (size_t)n;
	ck_assert_uint_eq(got, queued);
	rig_clear(&r);
}
END_TEST

START_TEST(pooled_buffer_only_in_flight)
{
	struct rig r;
	struct leg *bad = NULL;
	char got[16];

	rig_init(&r);
	r.p.buf = NULL; /* take buffers from the free list */
	ck_assert_int_eq(pump_run(&r.p, &bad), PUMP_OK);
	ck_assert_ptr_null(r.p.buf); /* nothing read: nothing held */
	for (int i = 0; i < 3; i++) {
		r.src.rd_block = 0;
		ck_assert_int_eq(write(r.app[0], "hello", 5), 5);
		ck_assert_int_eq(pump_run(&r.p, &bad), PUMP_OK);
		/* A short read marks the source blocked, no EAGAIN read. */
		ck_assert_int_eq(r.src.rd_block, EV_READ);
		ck_assert_int_eq(read(r.app[1], got, sizeof(got)), 5);
		ck_assert_ptr_null(r.p.buf); /* empty and idle: given back */
	}
	/* A sink that blocks keeps the buffer until it has drained. */
	r.src.rd_block = 0;
	r.dst.wr_block = EV_WRITE;
	ck_assert_int_eq(write(r.app[0], "hello", 5), 5);
	ck_assert_int_eq(pump_run(&r.p, &bad), PUMP_OK);
	ck_assert_ptr_nonnull(r.p.buf);
	ck_assert_uint_eq(r.p.len, 5);
	r.dst.wr_block = 0;
	ck_assert_int_eq(pump_run(&r.p, &bad), PUMP_OK);
	ck_assert_ptr_null(r.p.buf);
	ck_assert_int_eq(read(r.app[1], got, sizeof(got)), 5);
	pump_release(&r.p); /* idempotent */
	rig_clear(&r);
}
END_TEST

START_TEST(free_list_serves_other_buffers)
{
	void *a, *b, *c, *held[12];

	/* A buffer given back serves the next request of its size. */
	ck_assert_ptr_nonnull(a = pump_buf_get(65536));
	pump_buf_put(a, 65536);
	ck_assert_ptr_eq(pump_buf_get(65536), a);
	/* Another size is another buffer; sizes are never mixed up. */
	ck_assert_ptr_nonnull(b = pump_buf_get(16384));
	ck_assert_ptr_ne(b, a);
	pump_buf_put(b, 16384);
	ck_assert_ptr_nonnull(c = pump_buf_get(65536));
	ck_assert_ptr_ne(c, b);
	ck_assert_ptr_eq(pump_buf_get(16384), b);
	pump_buf_put(a, 65536);
	pump_buf_put(b, 16384);
	pump_buf_put(c, 65536);
	pump_buf_put(NULL, 65536); /* nothing */
	/* The list keeps a few; the rest is freed (no leak under ASan). */
	for (int i = 0; i < 12; i++)
		ck_assert_ptr_nonnull(held[i] = pump_buf_get(4096));
	for (int i = 0; i < 12; i++)
		pump_buf_put(held[i], 4096);
	ck_assert_ptr_null(pump_buf_get(8)); /* smaller than its header */
}
END_TEST

Suite *
pump_suite(void)
{
	Suite *s = suite_create("pump");
	TCase *tc = tcase_create("pump");

	tcase_add_test(tc, moves_bytes_and_half_closes);
	tcase_add_test(tc, backpressure_stops_reading);
	tcase_add_test(tc, pooled_buffer_only_in_flight);
	tcase_add_test(tc, free_list_serves_other_buffers);
	suite_add_tcase(s, tc);
	return (s);
}
