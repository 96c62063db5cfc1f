/*
 * mux_priv: what mux.c (tunnels: the TLS socket, the nghttp2 session, the
 * pool), mux_stream.c (streams: their buffers and the leg operations) and
 * mux_flow.c (stream windows) share. Nothing outside proxy/mux*.c (and
 * the unit tests) includes it.
 */
#ifndef COTAI_MUX_PRIV_H
#define COTAI_MUX_PRIV_H

#include <stdalign.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/queue.h>

#include <nghttp2/nghttp2.h>

#include "mux.h"

#define MUX_T_MAGIC 0x4d555854U /* "MUXT" */
#define MUX_S_MAGIC 0x4d555853U /* "MUXS" */
#define MUX_AUTH_MAX 256

/*
 * The tunnel's output buffer frames MUX_OBUF_MARK bytes (one TLS record)
 * before writing them (mux.c); a DATA frame is MUX_OBUF_FRAME bytes at
 * most (header and nghttp2's default maximum payload), so the buffer
 * holds less than the sum of the two.
 */
#define MUX_OBUF_MARK 16384
#define MUX_FRAME_HDLEN 9 /* RFC 9113, 4.1 */
#define MUX_OBUF_FRAME (MUX_FRAME_HDLEN + 16384)

/* A stream's receive buffer starts at one DATA frame's payload. */
#define MUX_RBUF_FIRST 16384
/* The smallest window a bulk stream is cut to beside an interactive
 * stream (mux_flow.c): one DATA frame. */
#define MUX_FLOW_MIN 16384
/* How recently a stream must have moved bytes to be interactive, ms. */
#define MUX_FLOW_RECENT_MS 100

struct mux_stream {
	uint32_t magic;
	struct mux_tunnel *t; /* NULL once the tunnel is gone */
	struct leg *leg;      /* the leg it is, NULL before mux_stream_bind */
	int32_t id;
	TAILQ_ENTRY(mux_stream) link; /* in t->streams or t->pending */
	char *rbuf; /* received, not yet read: [roff, roff+rlen) of rcap */
	size_t roff, rlen, rcap;
	char *wbuf; /* written by the leg, not yet framed: [woff, +wlen) */
	size_t woff, wlen, wcap; /* wcap: mux_window bytes */
	int32_t window;          /* its receive window now (mux_flow.c) */
	uint64_t flow_bytes;     /* its leg's bytes at the last look */
	uint64_t flow_small;     /* when it last moved bytes not as bulk */
	uint64_t flow_bulk;      /* when it was last seen bulk */
	bool rx_eof;             /* END_STREAM received */
	bool tx_shut;    /* the leg finished: END_STREAM once wbuf is empty */
	bool tx_eof;     /* END_STREAM handed to nghttp2 */
	bool deferred;   /* the data source said DEFERRED: resume on write */
	bool responded;  /* terminate: answered; originate: 2xx received */
	bool stalled;    /* the window ran full (counted once per episode) */
	bool closed;     /* nghttp2 closed the stream */
	bool orphan;     /* its conn ended cleanly; the tunnel sends the rest */
	bool is_connect; /* terminate: the request was a valid CONNECT */
	bool headers_done; /* terminate: the request's headers are all in */
	enum reason err;   /* REASON_NONE, or why the stream failed */
	char detail[96];
	char authority[MUX_AUTH_MAX];
};

TAILQ_HEAD(mux_stream_list, mux_stream);

struct mux_tunnel {
	uint32_t magic;
	struct conn_table *ct; /* its worker's */
	struct route *r;       /* a reference */
	bool server;
	struct leg tl; /* the TLS connection */
	struct event *ev_kick, *ev_ping;
	nghttp2_session *h2;
	struct tls_peer peer;
	struct mux_stream_list streams; /* bound to legs (or closing) */
	struct mux_stream_list pending; /* terminate: CONNECTs to accept */
	size_t nstreams;                /* in streams */
	TAILQ_ENTRY(mux_tunnel) link;   /* in ct->tunnels */
	char *obuf; /* framed, not yet written: [ooff, ooff+olen) of ocap */
	size_t ooff, olen, ocap;
	bool draining; /* GOAWAY sent: no new streams */
	bool ping_out; /* a PING waits for its ACK */
	bool dead;     /* mux_tunnel_close ran */
	uint64_t t_start, nstreams_total;
	bool flow_shared; /* a stream is interactive: bulk windows cut */
	char client[INET6_ADDRSTRLEN + 8];
	/* the tunnel's own event, in its allocation */
	alignas(max_align_t) unsigned char evmem[];
};

/* Frame what nghttp2 has and write it while the socket takes it. 0/-1. */
int mux_tunnel_flush(struct mux_tunnel *t);

/* Send GOAWAY: T takes no new stream and closes after its last one. */
void mux_tunnel_goaway(struct mux_tunnel *t);

/* Run T's I/O soon (from outside nghttp2's callbacks). */
void mux_tunnel_kick(struct mux_tunnel *t);

/* Close T: fail its streams with WHY, write its audit line, free it. */
void
mux_tunnel_close(struct mux_tunnel *t, enum reason why, const char *detail);

/* An originate tunnel lost a stream: close it if idle beyond the pool. */
void mux_tunnel_idle_check(struct mux_tunnel *t);

/* Tell the leg of S that EV (EV_READ|EV_WRITE) may proceed; ALWAYS:
 * also when it does not watch it (a failure it must see). */
void mux_stream_notify(struct mux_stream *s, short ev, bool always);

/* Fail S with WHY and DETAIL (the first failure stays). */
void mux_stream_fail(struct mux_stream *s, enum reason why, const char *detail);

/* New stream state for T (not yet linked); NULL when out of memory. */
struct mux_stream *mux_stream_new(struct mux_tunnel *t);

/* Free S (unlinked by the caller). */
void mux_stream_free(struct mux_stream *s);

/* nghttp2 callbacks about streams (mux_stream.c). */
int mux_on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg);
int
mux_on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *arg);
ssize_t mux_data_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg);
int mux_send_data(nghttp2_session *h2, nghttp2_frame *f, const uint8_t *hd,
    size_t len, nghttp2_data_source *src, void *arg);

/*
 * mux_flow.c: a bulk stream's receive window beside an interactive
 * stream of the same tunnel (a quarter of WINDOW, at least MUX_FLOW_MIN,
 * at most WINDOW); and set every stream's window of T for what its
 * streams do now (called from each run of the tunnel).
 */
int32_t mux_flow_shared(uint32_t window);
void mux_flow_update(struct mux_tunnel *t);

/* Append LEN bytes of framed output to T's output buffer. 0/-1. */
int mux_tunnel_out(struct mux_tunnel *t, const void *data, size_t len);

#endif
