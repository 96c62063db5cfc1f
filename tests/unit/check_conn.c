/*
 * Unit tests for the connection state machine (proxy/relay/conn*.c) over
 * socketpairs, as check_pump.c does for a pump: a real config (loaded from
 * YAML), real routes (route_new: OpenSSL contexts from certificates made
 * in memory), a real conn_table on an event base the test drives. The
 * client end of each connection is the test, through real OpenSSL where
 * the leg speaks TLS; the upstream is a Unix socket the test listens on
 * (or does not).
 *
 *   relay:      terminate, both ways, then a half-close (close_notify from
 *               the client while the upstream goes on talking), then eof;
 *   retry:      originate, refused: BACKOFF, the upstream starts, the
 *               retry connects and the ClientHello goes out;
 *   give_up:    refused every round: BACKOFF twice, then closed with
 *               upstream_refused and the retries counted;
 *   deadline:   terminate, no ClientHello: closed at timeouts.handshake;
 *   limit:      max_connections: the unauthenticated one is shed for a
 *               newcomer; with none to shed the newcomer is refused;
 *   states:     each state's deadline, the backoff or "give up", the
 *               reason of giving up, the relay deadlines, the ticket wait.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "conn_priv.h"
#include "data/conn_rig.h"

Suite *conn_suite(void);

START_TEST(relay)
{
	struct rig g;
	SSL_CTX *cctx;
	SSL *cli;
	struct conn *c;
	char buf[8];
	size_t n;
	int u;

	rig_init(&g);
	g.ul = up_socket(&g, true);
	c = rig_accept(&g, R_TERM);
	ck_assert_int_eq(c->state, CONN_S_HANDSHAKE);
	ck_assert(c->pre_tls);
	ck_assert_uint_eq(g.ct->nhandshakes, 1);
	cli = tls_client(&g, &cctx);
	tls_connect(&g, cli);
	u = up_accept(&g);
	while (c->state != CONN_S_RELAY)
		spin(&g);
	ck_assert(c->handshaken);
	ck_assert_uint_eq(g.ct->nhandshakes, 0);
	ck_assert_ptr_null(c->ev_timer); /* RELAY: the sweep's */

	/* Both ways. */
	ck_assert_int_eq(SSL_write_ex(cli, "ping", 4, &n), 1);
	up_read(&g, u, buf, 4);
	ck_assert_mem_eq(buf, "ping", 4);
	ck_assert_int_eq(write(u, "pong", 4), 4);
	tls_read(&g, cli, buf, 4);
	ck_assert_mem_eq(buf, "pong", 4);

	/* The client is done sending: the upstream sees EOF, and still
	 * talks to the client. */
	(void)SSL_shutdown(cli);
	up_eof(&g, u);
	ck_assert_int_eq(c->state, CONN_S_RELAY);
	ck_assert(c->any_eof);
	ck_assert_int_eq(c->first_eof, CONN_BY_CLIENT);
	ck_assert_int_eq(write(u, "late", 4), 4);
	tls_read(&g, cli, buf, 4);
	ck_assert_mem_eq(buf, "late", 4);

	/* Now the upstream too: closed, reason eof, by the client. */
	ck_assert_int_eq(shutdown(u, SHUT_WR), 0);
	spin_until_nconns(&g, 0);
	ck_assert_uint_eq(closed(&g, R_TERM, REASON_EOF), 1);
	ck_assert_uint_eq(atomic_load(&g.routes[R_TERM]->stats->bytes_up), 4);
	ck_assert_uint_eq(atomic_load(&g.routes[R_TERM]->stats->bytes_down), 8);
	ck_assert_int_eq(SSL_read_ex(cli, buf, 1, &n), 0);
	ck_assert_int_eq(SSL_get_error(cli, 0), SSL_ERROR_ZERO_RETURN);
	SSL_free(cli);
	SSL_CTX_free(cctx);
	close(u);
	rig_free(&g);
}
END_TEST

START_TEST(retry)
{
	struct rig g;
	struct conn *c;
	char hello;
	int u;

	rig_init(&g);
	g.ul = up_socket(&g, false); /* bound, not listening: refused */
	c = rig_accept(&g, R_ORIG);
	ck_assert_int_eq(c->state, CONN_S_BACKOFF);
	ck_assert_uint_eq(c->retries, 1);
	ck_assert_int_eq(c->up_err, ECONNREFUSED);
	ck_assert(c->ticket_leader); /* the first one fetches the session */
	ck_assert_uint_eq(atomic_load(&g.routes[R_ORIG]->stats->retries), 1);
	/* The upstream starts during the backoff: the retry connects and
	 * the handshake begins. */
	ck_assert_int_eq(listen(g.ul, 8), 0);
	u = up_accept(&g);
	up_read(&g, u, &hello, 1);
	ck_assert_int_eq(hello, 0x16); /* a TLS handshake record */
	ck_assert_int_eq(c->state, CONN_S_HANDSHAKE);
	ck_assert_uint_eq(c->retries, 1);
	close(u); /* the handshake fails: closed, by the upstream */
	spin_until_nconns(&g, 0);
	ck_assert_uint_eq(closed(&g, R_ORIG, REASON_UPSTREAM_REFUSED), 0);
	rig_free(&g);
}
END_TEST

START_TEST(give_up)
{
	struct rig g;
	struct conn *c;
	uint64_t t0 = now_ms(), seen = 0;
	char b;

	rig_init(&g);
	g.ul = up_socket(&g, false);
	c = rig_accept(&g, R_ORIG);
	/* Refused, backoff 20 ms, refused, backoff 40 ms, refused: give up. */
	while (g.ct->nconns > 0 && now_ms() < t0 + 3000) {
		ck_assert(c->state == CONN_S_BACKOFF);
		seen |= 1u << c->retries;
		spin(&g);
	}
	ck_assert_uint_eq(g.ct->nconns, 0);
	ck_assert_uint_eq(seen, (1u << 1) | (1u << 2));
	ck_assert_uint_ge(now_ms() - t0, 60);
	ck_assert_uint_eq(closed(&g, R_ORIG, REASON_UPSTREAM_REFUSED), 1);
	ck_assert_uint_eq(atomic_load(&g.routes[R_ORIG]->stats->retries), 2);
	/* The client's socket is closed too. */
	errno = 0;
	ck_assert_int_le(read(g.sv[1], &b, 1), 0);
	ck_assert_int_ne(errno, EAGAIN);
	rig_free(&g);
}
END_TEST

START_TEST(deadline)
{
	struct rig g;
	struct conn *c;
	uint64_t t0 = now_ms();

	rig_init(&g);
	c = rig_accept(&g, R_HS); /* the client never says hello */
	ck_assert_int_eq(c->state, CONN_S_HANDSHAKE);
	ck_assert_uint_eq(conn_deadline(c), c->t_state + 150);
	spin_until_nconns(&g, 0);
	ck_assert_uint_ge(now_ms() - t0, 140);
	ck_assert_uint_eq(closed(&g, R_HS, REASON_HANDSHAKE_TIMEOUT), 1);
	ck_assert_uint_eq(
	    atomic_load(
		&g.routes[R_HS]->stats->hs_failed[REASON_HANDSHAKE_TIMEOUT]),
	    1);
	ck_assert_uint_eq(g.ct->nhandshakes, 0);
	rig_free(&g);
}
END_TEST

START_TEST(limit)
{
	struct rig g;
	struct conn *a, *b, *n, *v = NULL;

	rig_init(&g);
	a = rig_accept(&g, R_LIM);
	ck_assert_int_eq(a->state, CONN_S_HANDSHAKE);
	/* Over max_connections (1): the stranger A makes room for B. */
	b = rig_accept(&g, R_LIM);
	ck_assert_uint_eq(g.ct->nconns, 1);
	ck_assert_ptr_eq(TAILQ_FIRST(&g.ct->conns), b);
	ck_assert_uint_eq(closed(&g, R_LIM, REASON_HANDSHAKE_SHED), 1);
	/* The decision itself: B is the one to shed for a newcomer N... */
	ck_assert_ptr_nonnull(n = conn_new(g.ct, g.routes[R_LIM]));
	ck_assert_int_eq(conn_room(n, 2, 2, &v), CONN_ROOM_SHED);
	ck_assert_ptr_eq(v, b);
	/* ... but never an authenticated one: then N is refused. */
	b->handshaken = true;
	ck_assert_int_eq(conn_room(n, 2, 2, &v), CONN_ROOM_REFUSE);
	ck_assert_int_eq(conn_room(n, 1, 2, &v), CONN_ROOM_OK);
	b->handshaken = false;
	conn_close(n, REASON_LIMIT, CONN_BY_PROXY, NULL);
	ck_assert_uint_eq(closed(&g, R_LIM, REASON_LIMIT), 1);
	rig_free(&g);
}
END_TEST

START_TEST(states)
{
	struct rig g;
	struct conn *c;
	struct conn_session *s;
	const struct config_retry *rt;
	enum conn_by by;
	const char *detail;
	uint64_t ms = 0;

	rig_init(&g);
	ck_assert_ptr_nonnull(c = conn_new(g.ct, g.routes[R_ORIG]));
	c->t_state = c->t_io = 100000;
	c->state = CONN_S_NEW;
	ck_assert_uint_eq(conn_deadline(c), 0);
	c->state = CONN_S_CONNECTING;
	ck_assert_uint_eq(conn_deadline(c), 101000);
	c->state = CONN_S_HANDSHAKE;
	ck_assert_uint_eq(conn_deadline(c), 105000);
	c->state = CONN_S_PG;
	ck_assert_uint_eq(conn_deadline(c), 105000);
	c->state = CONN_S_RELAY;
	ck_assert_uint_eq(conn_deadline(c), 0);
	c->state = CONN_S_BACKOFF; /* the 1st retry: 20 ms; the 2nd: 40 */
	c->retries = 1;
	ck_assert_uint_eq(conn_deadline(c), 100020);
	c->retries = 2;
	ck_assert_uint_eq(conn_deadline(c), 100040);

	/* The backoff doubles, at most 8 times, while attempts allow. */
	rt = &g.routes[R_ORIG]->cfg->retry;
	ck_assert(conn_backoff(rt, 0, &ms));
	ck_assert_uint_eq(ms, 20);
	ck_assert(conn_backoff(rt, 1, &ms));
	ck_assert_uint_eq(ms, 40);
	ck_assert(!conn_backoff(rt, 2, &ms));
	ck_assert(!conn_backoff(rt, 30, &ms));
	ck_assert_uint_eq(ms, 20u << 8);

	/* Giving up: the reason, who, and why. */
	ck_assert_int_eq(conn_connect_failure(ECONNREFUSED, &by, &detail),
	    REASON_UPSTREAM_REFUSED);
	ck_assert_int_eq(by, CONN_BY_UPSTREAM);
	ck_assert_int_eq(conn_connect_failure(EHOSTUNREACH, &by, &detail),
	    REASON_UPSTREAM_UNREACHABLE);
	ck_assert_int_eq(
	    conn_connect_failure(0, &by, &detail), REASON_UPSTREAM_UNREACHABLE);
	ck_assert_str_eq(detail, "no address");
	ck_assert_int_eq(conn_connect_failure(ETIMEDOUT, &by, &detail),
	    REASON_CONNECT_TIMEOUT);
	ck_assert_int_eq(by, CONN_BY_PROXY);
	ck_assert(conn_stale_address(ECONNREFUSED));
	ck_assert(!conn_stale_address(EMFILE));

	/* The ticket wait: the first one fetches, the next one waits. */
	ck_assert_ptr_nonnull(c->peer.cache);
	s = &g.ct->sessions[R_ORIG];
	ck_assert_ptr_eq(c->peer.cache, &s->tc);
	c->state = CONN_S_NEW;
	ck_assert(!conn_resume_wait(c));
	ck_assert(c->ticket_leader);
	ck_assert_int_eq(s->fetching, 1);
	{
		struct conn *w = conn_new(g.ct, g.routes[R_ORIG]);

		ck_assert_ptr_nonnull(w);
		ck_assert(conn_resume_wait(w));
		w->state = CONN_S_TICKET_WAIT;
		w->t_state = 100000;
		/* Waiting: handshake_ms, or the ticket's due time if sooner. */
		ck_assert_uint_eq(conn_deadline(w), 105000);
		s->fetching = 2;
		s->due = 100010;
		ck_assert_uint_eq(conn_deadline(w), 100010);
		s->due = 200000;
		ck_assert_uint_eq(conn_deadline(w), 105000);
		/* The leader closes without a ticket: they go, and no longer
		 * wait on this route until a ticket comes. */
		ck_assert(!conn_resume_release(c, false)); /* no ticket yet */
		ck_assert(conn_resume_release(c, true));
		ck_assert(!c->ticket_leader);
		ck_assert(s->no_tickets);
		ck_assert_int_eq(s->fetching, 0);
		w->state = CONN_S_NEW;
		ck_assert(!conn_resume_wait(w));
		ck_assert(!w->ticket_leader);
		conn_close(w, REASON_EOF, CONN_BY_PROXY, NULL);
	}

	/* The relay deadlines, from the last byte moved. */
	c->state = CONN_S_RELAY;
	ck_assert_int_eq(conn_relay_deadline(c, 100000 + 10), REASON_NONE);
	c->any_eof = true; /* half_close: default 1 min */
	ck_assert_int_eq(
	    conn_relay_deadline(c, 100000 + 60000), REASON_HALFCLOSE_TIMEOUT);
	conn_close(c, REASON_EOF, CONN_BY_PROXY, NULL);
	rig_free(&g);
}
END_TEST

/*
 * The CONNECT's :authority picks a terminate route of the tunnel's own
 * protocol only (issue 16): a postgres tunnel's streams never reach a
 * tcp route (no startup checks), a tcp tunnel's never a postgres route;
 * the named route must have mux on and the same CA and CRL files, else
 * the tunnel's own route; none when a reload changed its protocol.
 */
START_TEST(mux_route_same_protocol)
{
	static struct { /* config_route's strings are not const */
		char *name;
		enum config_mode mode;
		enum config_proto proto;
		enum config_mux mux;
		char *ca;
	} def[] = {
	    {"tcpa", CONFIG_MODE_TERMINATE, CONFIG_PROTO_TCP, CONFIG_MUX_AUTO,
		"/ca"},
	    {"pga", CONFIG_MODE_TERMINATE, CONFIG_PROTO_POSTGRES,
		CONFIG_MUX_AUTO, "/ca"},
	    {"pgb", CONFIG_MODE_TERMINATE, CONFIG_PROTO_POSTGRES, CONFIG_MUX_ON,
		"/ca"},
	    {"pgoff", CONFIG_MODE_TERMINATE, CONFIG_PROTO_POSTGRES,
		CONFIG_MUX_OFF, "/ca"},
	    {"pgca2", CONFIG_MODE_TERMINATE, CONFIG_PROTO_POSTGRES,
		CONFIG_MUX_AUTO, "/other-ca"},
	    {"orig", CONFIG_MODE_ORIGINATE, CONFIG_PROTO_POSTGRES,
		CONFIG_MUX_AUTO, "/ca"},
	    {"tcpb", CONFIG_MODE_TERMINATE, CONFIG_PROTO_TCP, CONFIG_MUX_AUTO,
		"/ca"},
	};
	enum { N = sizeof(def) / sizeof(def[0]) };
	static const struct {
		int tunnel;
		const char *auth;
		int want;
	} cases[] = {
	    {1, "pgb", 2},
	    {1, "tcpa", 1},
	    {1, "tcpb", 1},
	    {1, "pgoff", 1},
	    {1, "pgca2", 1},
	    {1, "orig", 1},
	    {1, "127.0.0.1:5432", 1},
	    {0, "tcpb", 6},
	    {0, "pga", 0},
	    {0, "pgb", 0},
	    {6, "127.0.0.1:1", 6},
	};
	struct config_route rc[N + 1];
	struct route r[N + 1], *list[N];
	struct conn_table t;

	memset(rc, 0, sizeof(rc));
	memset(r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	for (size_t i = 0; i < N; i++) {
		rc[i].name = def[i].name;
		rc[i].mode = def[i].mode;
		rc[i].protocol = def[i].proto;
		rc[i].mux = def[i].mux;
		rc[i].identity.ca = def[i].ca;
		r[i].cfg = &rc[i];
		list[i] = &r[i];
	}
	t.routes = list;
	t.nroutes = N;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(conn_mux_route(&t, &r[cases[i].tunnel],
				  cases[i].auth) == &r[cases[i].want],
		    "case %zu: %s on a tunnel of %s", i, cases[i].auth,
		    def[cases[i].tunnel].name);
	/* The same CRL file or none on both. */
	rc[2].identity.crl = "/crl.pem";
	ck_assert_ptr_eq(conn_mux_route(&t, &r[1], "pgb"), &r[1]);
	rc[1].identity.crl = "/crl.pem";
	ck_assert_ptr_eq(conn_mux_route(&t, &r[1], "pgb"), &r[2]);
	/* A tunnel accepted on "tcpa" when it was postgres: gone. */
	rc[N] = rc[0];
	rc[N].protocol = CONFIG_PROTO_POSTGRES;
	rc[N].identity.crl = "/crl.pem"; /* pgb's */
	r[N].cfg = &rc[N];
	ck_assert_ptr_null(conn_mux_route(&t, &r[N], "tcpa"));
	ck_assert_ptr_null(conn_mux_route(&t, &r[N], "anything"));
	ck_assert_ptr_eq(conn_mux_route(&t, &r[N], "pgb"), &r[2]);
}
END_TEST

Suite *
conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, relay);
	tcase_add_test(tc, retry);
	tcase_add_test(tc, give_up);
	tcase_add_test(tc, deadline);
	tcase_add_test(tc, limit);
	tcase_add_test(tc, states);
	tcase_add_test(tc, mux_route_same_protocol);
	suite_add_tcase(s, tc);
	return (s);
}
