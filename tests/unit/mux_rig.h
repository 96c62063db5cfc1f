/*
 * The part of a mux unit test's rig that mux_stream_rig.h and check_mux_flow.c
 * share: an originate route "unit" (tcp, mux on, 8 streams, 2 tunnels,
 * pings every minute), a conn table with that route, and a tunnel adopted
 * on one end of a socketpair, whose other end is the test's HTTP/2 peer.
 */
#ifndef COTAI_TEST_MUX_RIG_H
#define COTAI_TEST_MUX_RIG_H

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "conn.h"
#include "mux_priv.h"
#include "route.h"
#include "conn_table.h"

struct mux_rig {
	struct event_base *base;
	struct conn_table ct; /* the worker's side */
	struct route r, *routes[1];
	struct route_stats stats;
	struct config_route rc;
	struct leg tl; /* the tunnel's socket leg (handed over) */
	unsigned char *tev;
	struct mux_tunnel *t;
};

/* Set up M with streams of WINDOW bytes; the peer's end of the socket. */
static inline int
mux_rig_init(struct mux_rig *m, uint32_t window)
{
	struct tls_peer tp = {.server = false};
	int sv[2];

	memset(m, 0, sizeof(*m));
	signal(SIGPIPE, SIG_IGN);
	ck_assert_ptr_nonnull(m->base = event_base_new());
	m->ct.base = m->base;
	TAILQ_INIT(&m->ct.tunnels);
	TAILQ_INIT(&m->ct.conns);
	m->rc.name = "unit";
	m->rc.mode = CONFIG_MODE_ORIGINATE;
	m->rc.protocol = CONFIG_PROTO_TCP;
	m->rc.mux = CONFIG_MUX_ON;
	m->rc.mux_streams = 8;
	m->rc.mux_tunnels = 2;
	m->rc.mux_window = window;
	m->rc.mux_ping_ms = 60000;
	m->r.cfg = &m->rc;
	m->r.stats = &m->stats;
	atomic_init(&m->r.refs, 1); /* ours, never dropped */
	m->routes[0] = &m->r;
	m->ct.routes = m->routes;
	m->ct.nroutes = 1;
	ck_assert_int_eq(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	m->tev = calloc(1, event_get_struct_event_size());
	leg_init(&m->tl);
	leg_open(&m->tl, (struct event *)m->tev, m->base, sv[0], NULL, NULL);
	m->t = mux_tunnel_adopt(&m->ct, &m->r, &m->tl, &tp, "unit", false);
	ck_assert_ptr_nonnull(m->t);
	return (sv[1]);
}

/*
 * The test's HTTP/2 peer: a server session with the callbacks CB (freed
 * here), USER as their argument, WINDOW_UPDATEs only when the test
 * consumes, and SETTINGS announcing a stream window of PEER_WINDOW queued.
 */
static inline nghttp2_session *
mux_rig_peer_new(
    nghttp2_session_callbacks *cb, void *user, uint32_t peer_window)
{
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, peer_window},
	};
	nghttp2_session *h2 = NULL;
	nghttp2_option *opt;

	ck_assert_int_eq(nghttp2_option_new(&opt), 0);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	ck_assert_int_eq(nghttp2_session_server_new2(&h2, cb, user, opt), 0);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	ck_assert_int_eq(
	    nghttp2_submit_settings(h2, NGHTTP2_FLAG_NONE, iv, 1), 0);
	return (h2);
}

#endif
