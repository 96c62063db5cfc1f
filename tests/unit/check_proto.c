/*
 * Unit tests for proxy/proto/proto.c, the protocol table: what each
 * protocol asks of its routes' TLS contexts (ALPN, the EOF rule, by mode
 * and settings), which protocols negotiate before the relay, and a
 * postgres negotiation driven through the table over a socketpair as the
 * relay drives it (the verdicts, the bytes handed over, the reason of
 * a refusal). The calls marked NULL-safe are safe
 * for a connection without negotiation.
 */
#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

Suite *proto_suite(void);

static struct config_route
route(enum config_proto p, enum config_mode mode)
{
	struct config_route rc = {.name = "t", .mode = mode, .protocol = p};

	return (rc);
}

static void
opts(const struct config_route *rc, struct tls_ctx_opts *o,
    struct tls_ctx_opts *lo)
{
	/* Filled from garbage: proto_tls_opts() zeroes both first. */
	memset(o, 0xff, sizeof(*o));
	memset(lo, 0xff, sizeof(*lo));
	proto_tls_opts(rc, o, lo);
}

START_TEST(tcp_asks_h2_unless_mux_off)
{
	struct config_route rc = route(CONFIG_PROTO_TCP, CONFIG_MODE_ORIGINATE);
	struct tls_ctx_opts o, lo;

	ck_assert_ptr_eq(proto_of(CONFIG_PROTO_TCP), &proto_tcp);
	ck_assert_str_eq(proto_tcp.name, "tcp");
	for (int m = 0; m < 2; m++) {
		rc.mode =
		    m == 0 ? CONFIG_MODE_ORIGINATE : CONFIG_MODE_TERMINATE;
		rc.mux = CONFIG_MUX_AUTO;
		opts(&rc, &o, &lo);
		ck_assert_str_eq(o.alpn, PROTO_ALPN_MUX);
		ck_assert(!o.eof_ok);
		ck_assert_ptr_null(lo.alpn);
		rc.mux = CONFIG_MUX_ON;
		opts(&rc, &o, &lo);
		ck_assert_str_eq(o.alpn, "h2");
		rc.mux = CONFIG_MUX_OFF;
		opts(&rc, &o, &lo);
		ck_assert_ptr_null(o.alpn);
		ck_assert(!o.eof_ok);
	}
	ck_assert(!proto_negotiates(&rc));
}
END_TEST

/* redis and mongo: TLS from the first byte; an EOF without close_notify
 * from their servers (originate) is an EOF. No ALPN, no negotiation. */
START_TEST(redis_mongo_eof_rule)
{
	const enum config_proto ps[] = {CONFIG_PROTO_REDIS, CONFIG_PROTO_MONGO};
	struct tls_ctx_opts o, lo;

	ck_assert_ptr_eq(proto_of(CONFIG_PROTO_REDIS), &proto_redis);
	ck_assert_ptr_eq(proto_of(CONFIG_PROTO_MONGO), &proto_mongo);
	for (size_t i = 0; i < 2; i++) {
		struct config_route rc = route(ps[i], CONFIG_MODE_ORIGINATE);

		opts(&rc, &o, &lo);
		ck_assert(o.eof_ok);
		ck_assert_ptr_null(o.alpn);
		ck_assert(!lo.eof_ok && lo.alpn == NULL);
		ck_assert(!proto_negotiates(&rc));
		rc.mode = CONFIG_MODE_TERMINATE;
		opts(&rc, &o, &lo);
		ck_assert(!o.eof_ok);
		ck_assert_ptr_null(o.alpn);
	}
	ck_assert_str_eq(proto_redis.name, "redis");
	ck_assert_str_eq(proto_mongo.name, "mongo");
}
END_TEST

/*
 * postgres: a terminate route selects "postgresql" when offered, and with
 * mux "h2" first (a cotai sidecar's tunnel); an originate route offers
 * "postgresql" only to a PostgreSQL server reached with sslnegotiation:
 * direct, "h2" to a sidecar unless mux is off; the local_tls context
 * selects "postgresql" and takes an EOF as an EOF.
 */
START_TEST(postgres_alpn)
{
	struct config_route rc =
	    route(CONFIG_PROTO_POSTGRES, CONFIG_MODE_TERMINATE);
	struct tls_ctx_opts o, lo;

	ck_assert_ptr_eq(proto_of(CONFIG_PROTO_POSTGRES), &proto_postgres);
	rc.mux = CONFIG_MUX_OFF;
	opts(&rc, &o, &lo);
	ck_assert_str_eq(o.alpn, "postgresql");
	ck_assert_ptr_null(o.alpn_also);
	ck_assert(!o.eof_ok);
	ck_assert(proto_negotiates(&rc));
	rc.mux = CONFIG_MUX_AUTO;
	opts(&rc, &o, &lo);
	ck_assert_str_eq(o.alpn, PROTO_ALPN_MUX);
	ck_assert_str_eq(o.alpn_also, "postgresql");
	rc.mode = CONFIG_MODE_ORIGINATE;
	rc.mux =
	    CONFIG_MUX_OFF; /* the configuration's for upstream: postgres */
	rc.pg_upstream = CONFIG_PG_UP_POSTGRES;
	rc.pg_sslnegotiation = CONFIG_PG_SSLNEG_POSTGRES;
	opts(&rc, &o, &lo);
	ck_assert_ptr_null(o.alpn);
	ck_assert(o.eof_ok);
	ck_assert_str_eq(lo.alpn, "postgresql");
	ck_assert(lo.eof_ok);
	rc.pg_sslnegotiation = CONFIG_PG_SSLNEG_DIRECT;
	opts(&rc, &o, &lo);
	ck_assert_str_eq(o.alpn, "postgresql");
	rc.pg_upstream = CONFIG_PG_UP_SIDECAR;
	rc.pg_sslnegotiation = CONFIG_PG_SSLNEG_POSTGRES;
	opts(&rc, &o, &lo);
	ck_assert_ptr_null(o.alpn);
	ck_assert(proto_negotiates(&rc));
	rc.mux = CONFIG_MUX_AUTO;
	opts(&rc, &o, &lo);
	ck_assert_str_eq(o.alpn, PROTO_ALPN_MUX);
	ck_assert_ptr_null(o.alpn_also);
	rc.mux = CONFIG_MUX_ON;
	opts(&rc, &o, &lo);
	ck_assert_str_eq(o.alpn, PROTO_ALPN_MUX);
}
END_TEST

/* Without negotiation there is no connection object: the NULL-safe
 * calls do nothing. */
START_TEST(null_safe_calls)
{
	struct config_route rc = route(CONFIG_PROTO_TCP, CONFIG_MODE_ORIGINATE);
	struct pump p = {0};
	bool tls, refused;

	proto_conn_free(NULL);
	proto_conn_rebind(NULL, &rc, NULL);
	ck_assert(!proto_conn_upstream_begin(NULL));
	ck_assert_uint_eq(proto_conn_pending(NULL), 0);
	proto_conn_prefill(NULL, &p);
	ck_assert_uint_eq(p.len, 0);
	proto_conn_audit(NULL, NULL);
	ck_assert(!proto_conn_cancel_info(NULL, &tls, &refused));
}
END_TEST

static const uint8_t ssl_req[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
static const uint8_t startup[] = {0, 0, 0, 22, 0, 3, 0, 0, 'u', 's', 'e', 'r',
    0, 'a', 'p', 'p', 0, 'x', 0, 'y', 0, 0};

/*
 * postgres through the table, originate: an SSLRequest gets 'N', the
 * StartupMessage means connect; with the upstream a PostgreSQL server,
 * the SSLRequest goes there and 'S' means start TLS. The startup packet
 * is what the relay sends on.
 */
START_TEST(postgres_through_the_table)
{
	struct config_route rc =
	    route(CONFIG_PROTO_POSTGRES, CONFIG_MODE_ORIGINATE);
	int cl[2], up[2];
	struct leg lc, lu;
	struct proto_conn *pc;
	uint8_t buf[64];
	char relay[64];
	struct pump p = {.buf = relay, .cap = sizeof(relay)};

	rc.pg_upstream = CONFIG_PG_UP_POSTGRES;
	rc.pg_sslnegotiation = CONFIG_PG_SSLNEG_POSTGRES;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, cl), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, up), 0);
	ck_assert_int_eq(fcntl(cl[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(fcntl(up[0], F_SETFL, O_NONBLOCK), 0);
	leg_init(&lc);
	leg_init(&lu);
	lc.fd = cl[0];
	lu.fd = up[0];
	ck_assert_ptr_nonnull(pc = proto_conn_new(&rc, NULL, NULL));
	ck_assert_ptr_eq(pc->type, &proto_postgres);
	ck_assert_int_eq(proto_conn_io(pc, &lc, &lu, NULL), PROTO_WAIT);
	ck_assert_int_eq(write(cl[1], ssl_req, sizeof(ssl_req)), 8);
	ck_assert_int_eq(proto_conn_io(pc, &lc, &lu, NULL), PROTO_WAIT);
	ck_assert_int_eq(read(cl[1], buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'N');
	ck_assert_int_eq(
	    write(cl[1], startup, sizeof(startup)), (ssize_t)sizeof(startup));
	ck_assert_int_eq(proto_conn_io(pc, &lc, &lu, NULL), PROTO_CONNECT);
	ck_assert_uint_eq(proto_conn_pending(pc), sizeof(startup));
	/* Connected: the SSLRequest to the server, whose 'S' starts TLS. */
	ck_assert(proto_conn_upstream_begin(pc));
	ck_assert_int_eq(proto_conn_io(pc, &lc, &lu, NULL), PROTO_WAIT);
	ck_assert_int_eq(read(up[1], buf, sizeof(buf)), 8);
	ck_assert_mem_eq(buf, ssl_req, 8);
	ck_assert_int_eq(write(up[1], "S", 1), 1);
	ck_assert_int_eq(proto_conn_io(pc, &lc, &lu, NULL), PROTO_TLS);
	proto_conn_prefill(pc, &p);
	ck_assert_uint_eq(p.len, sizeof(startup));
	ck_assert_mem_eq(p.buf, startup, sizeof(startup));
	ck_assert_uint_eq(proto_conn_pending(pc), 0);
	proto_conn_free(pc);
	leg_clear(&lc, false);
	leg_clear(&lu, false);
	close(cl[1]);
	close(up[1]);
}
END_TEST

/* A refusal through the table: the reason and who ended it. */
START_TEST(postgres_refusal_result)
{
	static const uint8_t bad[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x31};
	struct config_route rc =
	    route(CONFIG_PROTO_POSTGRES, CONFIG_MODE_ORIGINATE);
	int cl[2];
	struct leg lc, lu;
	struct proto_conn *pc;
	const char *detail = NULL;
	bool by_up = true;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, cl), 0);
	ck_assert_int_eq(fcntl(cl[0], F_SETFL, O_NONBLOCK), 0);
	leg_init(&lc);
	leg_init(&lu);
	lc.fd = cl[0];
	ck_assert_ptr_nonnull(pc = proto_conn_new(&rc, NULL, NULL));
	/* An 8-byte request with a code PostgreSQL does not know. */
	ck_assert_int_eq(write(cl[1], bad, sizeof(bad)), (ssize_t)sizeof(bad));
	ck_assert_int_eq(proto_conn_io(pc, &lc, &lu, NULL), PROTO_CLOSE);
	ck_assert_int_eq(
	    proto_conn_result(pc, &detail, &by_up), REASON_PROTOCOL);
	ck_assert(!by_up);
	ck_assert_ptr_nonnull(detail);
	ck_assert_str_ne(detail, "");
	proto_conn_free(pc);
	leg_clear(&lc, false);
	close(cl[1]);
}
END_TEST

Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("proto");

	tcase_add_test(tc, tcp_asks_h2_unless_mux_off);
	tcase_add_test(tc, redis_mongo_eof_rule);
	tcase_add_test(tc, postgres_alpn);
	tcase_add_test(tc, null_safe_calls);
	tcase_add_test(tc, postgres_through_the_table);
	tcase_add_test(tc, postgres_refusal_result);
	suite_add_tcase(s, tc);
	return (s);
}
