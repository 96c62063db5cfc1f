/*
 * mux_stream: one app connection as one HTTP/2 stream (see mux.h). A
 * stream is the leg of its conn that has no socket: leg_read() takes what
 * the peer sent on the stream (and only then grants the window back, so a
 * slow reader stalls its own stream), leg_write() queues up to mux_window
 * bytes that nghttp2 frames as DATA when the windows allow, and
 * leg_shutdown() ends the stream in our direction (END_STREAM). A pump
 * uses the two buffers in place instead (leg_rview()/leg_rtake(),
 * leg_wspace()/leg_wput(): the same rules, one copy less). Readiness
 * comes from the tunnel: when bytes, END_STREAM, room or a failure arrive
 * for a leg that watches for them, its event is made active, and the conn
 * runs as it would for a socket.
 */
#include "mux_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pump.h"
#include "conn_table.h"

static const struct leg_ops mux_stream_ops;
static void
mux_stream_answer(struct mux_stream *s, const char *status, enum reason why);

struct mux_stream *
mux_stream_new(struct mux_tunnel *t)
{
	struct mux_stream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return (NULL);
	s->magic = MUX_S_MAGIC;
	s->t = t;
	s->id = -1;
	/*
	 * As much queued toward the peer as it may queue toward us: one
	 * relay step of a bulk conn fills a window, and the tunnel frames
	 * it in one run (64 KiB here cost a conn and a tunnel callback per
	 * 64 KiB: 10 % of the CPU per GB on the mux path).
	 */
	s->wcap = t->r->cfg->mux_window;
	s->window = (int32_t)t->r->cfg->mux_window; /* SETTINGS' initial */
	atomic_fetch_add_explicit(&mux_stats.streams, 1, memory_order_relaxed);
	return (s);
}

void
mux_stream_free(struct mux_stream *s)
{
	if (s == NULL)
		return;
	pump_buf_put(s->rbuf, s->rcap);
	pump_buf_put(s->wbuf, s->wcap);
	s->magic = 0;
	free(s);
}

/* What the leg of S could do now without blocking. */
static short
mux_stream_ready(const struct mux_stream *s)
{
	short ev = 0;

	if (s->err != REASON_NONE || (s->t == NULL && !s->closed))
		return (EV_READ | EV_WRITE);
	if (s->rlen > 0 || s->rx_eof)
		ev |= EV_READ;
	if (s->wlen <= s->wcap / 2) /* a full buffer: room again at half */
		ev |= EV_WRITE;
	return (ev);
}

void
mux_stream_notify(struct mux_stream *s, short ev, bool always)
{
	struct leg *l = s->leg;

	if (l == NULL || l->ev == NULL)
		return;
	if (!always)
		ev &= l->armed;
	if (ev != 0)
		event_active(l->ev, ev, 1);
}

void
mux_stream_fail(struct mux_stream *s, enum reason why, const char *detail)
{
	if (s->err != REASON_NONE)
		return;
	s->err = why;
	snprintf(s->detail, sizeof(s->detail), "%s", detail);
	mux_stream_notify(s, EV_READ | EV_WRITE, true);
}

void
mux_stream_bind(struct mux_stream *s, struct leg *l, struct event *ev,
    event_callback_fn cb, void *arg)
{
	struct event_base *base = s->t->ct->base;

	leg_init(l);
	l->ops = &mux_stream_ops;
	l->ms = s;
	l->ev = ev;
	(void)event_assign(ev, base, -1, EV_PERSIST, cb, arg);
	s->leg = l;
}

/*
 * What a read of stream leg L would find: LEG_OK with the bytes in the
 * stream's buffer (*P, *N), or why not.
 */
static enum leg_res
mux_stream_rview(struct leg *l, const void **p, size_t *n)
{
	struct mux_stream *s = l->ms;

	if (s->err != REASON_NONE) {
		l->err = ECONNRESET;
		return (LEG_ERR);
	}
	if (s->rlen == 0) {
		if (s->rx_eof)
			return (LEG_EOF);
		if (s->t == NULL) {
			l->err = ECONNRESET;
			return (LEG_ERR);
		}
		l->rd_block = EV_READ;
		return (LEG_AGAIN);
	}
	*p = s->rbuf + s->roff;
	*n = s->rlen;
	return (LEG_OK);
}

/* The conn took N of the bytes mux_stream_rview() showed. */
static void
mux_stream_rtake(struct leg *l, size_t n)
{
	struct mux_stream *s = l->ms;

	s->roff += n;
	s->rlen -= n;
	if (s->rlen == 0) { /* an idle stream holds no buffer */
		pump_buf_put(s->rbuf, s->rcap);
		s->rbuf = NULL;
		s->roff = s->rcap = 0;
		s->stalled = false;
	}
	l->bytes_in += n;
	/* The peer may send as much again (WINDOW_UPDATE when due). */
	if (s->t != NULL && s->id > 0) {
		(void)nghttp2_session_consume(s->t->h2, s->id, n);
		mux_tunnel_kick(s->t);
	}
}

static enum leg_res
mux_stream_peek(struct leg *l, void *buf, size_t len, size_t *n)
{
	const void *p;
	enum leg_res res = mux_stream_rview(l, &p, n);

	if (res == LEG_OK) {
		if (*n > len)
			*n = len;
		memcpy(buf, p, *n);
	}
	return (res);
}

enum leg_res
mux_stream_read(struct leg *l, void *buf, size_t len, size_t *n)
{
	enum leg_res res = mux_stream_peek(l, buf, len, n);

	if (res == LEG_OK)
		mux_stream_rtake(l, *n);
	return (res);
}

/*
 * Where a write to stream leg L would put its bytes: LEG_OK with the free
 * tail of the stream's buffer (*P, *N > 0), LEG_AGAIN when it is full.
 */
static enum leg_res
mux_stream_wspace(struct leg *l, void **p, size_t *n)
{
	struct mux_stream *s = l->ms;

	if (s->err != REASON_NONE || s->t == NULL || s->closed || s->tx_shut) {
		l->err = ECONNRESET;
		return (LEG_ERR);
	}
	if (s->wbuf == NULL && (s->wbuf = pump_buf_get(s->wcap)) == NULL) {
		l->err = ENOMEM;
		return (LEG_ERR);
	}
	if (s->woff > 0 && s->wcap - s->woff - s->wlen < s->wcap / 4) {
		memmove(s->wbuf, s->wbuf + s->woff, s->wlen);
		s->woff = 0;
	}
	if ((*n = s->wcap - s->woff - s->wlen) == 0) {
		l->wr_block = EV_WRITE;
		return (LEG_AGAIN);
	}
	*p = s->wbuf + s->woff + s->wlen;
	return (LEG_OK);
}

/* The conn put N bytes where mux_stream_wspace() showed: queue them (0:
 * none came, and an empty buffer is not kept). */
static void
mux_stream_wput(struct leg *l, size_t n)
{
	struct mux_stream *s = l->ms;

	if (n == 0) {
		if (s->wlen == 0) { /* an idle stream holds no buffer */
			pump_buf_put(s->wbuf, s->wcap);
			s->wbuf = NULL;
			s->woff = 0;
		}
		return;
	}

	/*
	 * Terminate: bytes before the target is connected (a postgres
	 * route's ErrorResponse or 'N' to the startup read inside the
	 * stream) can only follow an answer: 200, as a TLS handshake
	 * accepted is. A tcp route writes only once it relays (answered).
	 */
	if (s->t->server && !s->responded)
		mux_stream_answer(s, "200", REASON_NONE);
	s->wlen += n;
	l->bytes_out += n;
	if (s->deferred && s->id > 0) {
		s->deferred = false;
		(void)nghttp2_session_resume_data(s->t->h2, s->id);
	}
	mux_tunnel_kick(s->t);
}

enum leg_res
mux_stream_write(struct leg *l, const void *buf, size_t len, size_t *n)
{
	void *p;
	enum leg_res res = mux_stream_wspace(l, &p, n);

	if (res == LEG_OK) {
		if (*n > len)
			*n = len;
		memcpy(p, buf, *n);
		mux_stream_wput(l, *n);
	}
	return (res);
}

enum leg_res
mux_stream_shutdown(struct leg *l)
{
	struct mux_stream *s = l->ms;

	if (s->err != REASON_NONE || s->t == NULL) {
		l->err = ECONNRESET;
		return (LEG_ERR);
	}
	if (s->t->server && !s->responded) /* as in mux_stream_write() */
		mux_stream_answer(s, "200", REASON_NONE);
	s->tx_shut = true;
	l->shut = true;
	if (s->deferred && s->id > 0) {
		s->deferred = false;
		(void)nghttp2_session_resume_data(s->t->h2, s->id);
	}
	mux_tunnel_kick(s->t);
	return (LEG_OK);
}

void
mux_stream_watch(struct leg *l, short want)
{
	short ready;

	if (l->ev == NULL)
		return;
	l->armed = want;
	if (want != 0 && (ready = mux_stream_ready(l->ms) & want) != 0)
		event_active(l->ev, ready, 1);
}

enum reason
mux_stream_error(const struct leg *l, const char **detail)
{
	const struct mux_stream *s = l->ms;

	if (s == NULL)
		return (REASON_NONE);
	if (s->err == REASON_NONE && s->t == NULL && !s->closed) {
		*detail = "tunnel closed";
		return (REASON_RESET);
	}
	*detail = s->detail;
	return (s->err);
}

SSL *
mux_stream_ssl(const struct leg *l)
{
	return (l->ms != NULL && l->ms->t != NULL ? l->ms->t->tl.ssl : NULL);
}

int32_t
mux_stream_id(const struct leg *l)
{
	return (l->ms != NULL ? l->ms->id : -1);
}

/* Terminate: answer S's CONNECT with STATUS (and WHY unless NONE). */
static void
mux_stream_answer(struct mux_stream *s, const char *status, enum reason why)
{
	const char *rn = reason_name(why);
	nghttp2_nv nv[2] = {
	    {(uint8_t *)":status", (uint8_t *)status, 7, strlen(status),
		NGHTTP2_NV_FLAG_NONE},
	    {(uint8_t *)"cotai-reason", (uint8_t *)rn, 12, strlen(rn),
		NGHTTP2_NV_FLAG_NONE},
	};
	nghttp2_data_provider prd = {.read_callback = mux_data_read};

	s->responded = true;
	if (why == REASON_NONE)
		(void)nghttp2_submit_response(s->t->h2, s->id, nv, 1, &prd);
	else
		(void)nghttp2_submit_response(s->t->h2, s->id, nv, 2, NULL);
	mux_tunnel_kick(s->t);
}

const char *
mux_stream_authority(const struct mux_stream *s)
{
	return (s->authority);
}

void
mux_stream_reject(struct mux_stream *s)
{
	struct mux_tunnel *t = s->t;

	(void)nghttp2_submit_rst_stream(
	    t->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_REFUSED_STREAM);
	(void)nghttp2_session_set_stream_user_data(t->h2, s->id, NULL);
	TAILQ_REMOVE(&t->streams, s, link);
	t->nstreams--;
	mux_tunnel_kick(t);
	mux_stream_free(s);
}

void
mux_stream_respond(struct mux_stream *s)
{
	if (s->t != NULL && !s->responded && s->err == REASON_NONE)
		mux_stream_answer(s, "200", REASON_NONE);
}

void
mux_stream_close(struct leg *l, enum reason why)
{
	struct mux_stream *s = l->ms;
	struct mux_tunnel *t;
	bool fin;

	if (s == NULL)
		return;
	l->ms = NULL;
	l->ops = NULL; /* a closed leg */
	s->leg = NULL;
	t = s->t;
	/* A refusal answered in the stream (a postgres ErrorResponse) ends
	 * with END_STREAM, as it ends with a FIN on a socket. */
	fin = why == REASON_EOF ||
	    (s->tx_shut && s->responded &&
		(why == REASON_ROLE_NOT_ALLOWED || why == REASON_PROTOCOL));
	if (t != NULL && fin && !s->closed && s->err == REASON_NONE &&
	    !s->tx_eof) {
		/*
		 * The conn is done, the stream not yet: the last bytes and
		 * END_STREAM are still queued. The tunnel keeps the stream
		 * until nghttp2 closes it (mux_on_close).
		 */
		s->orphan = true;
		mux_tunnel_kick(t);
		return;
	}
	if (t != NULL) {
		if (t->server && !s->responded && !s->closed)
			mux_stream_answer(s,
			    why == REASON_IDENTITY_NOT_ALLOWED ? "403" : "502",
			    why == REASON_NONE || why == REASON_EOF
				? REASON_RESET
				: why);
		else if (!s->closed && !(s->tx_eof && s->rx_eof))
			(void)nghttp2_submit_rst_stream(t->h2,
			    NGHTTP2_FLAG_NONE, s->id,
			    why == REASON_INTERNAL ? NGHTTP2_INTERNAL_ERROR
						   : NGHTTP2_CANCEL);
		/* Unread bytes are the tunnel's again. */
		if (s->rlen > 0 && s->id > 0)
			(void)nghttp2_session_consume_connection(
			    t->h2, s->rlen);
		if (s->id > 0)
			(void)nghttp2_session_set_stream_user_data(
			    t->h2, s->id, NULL);
		TAILQ_REMOVE(&t->streams, s, link);
		t->nstreams--;
		mux_tunnel_kick(t);
		mux_tunnel_idle_check(t);
	}
	mux_stream_free(s);
}

int
mux_on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
	struct mux_stream *s = nghttp2_session_get_stream_user_data(h2, id);
	struct mux_tunnel *t = arg;
	size_t cap = t->r->cfg->mux_window, want;
	char *nb;

	if (s == NULL || s->err != REASON_NONE) { /* nobody reads it */
		(void)nghttp2_session_consume(h2, id, len);
		return (0);
	}
	if (len == 0)
		return (0);
	if (s->roff > 0 && s->roff + s->rlen + len > s->rcap) {
		memmove(s->rbuf, s->rbuf + s->roff, s->rlen);
		s->roff = 0;
	}
	if (s->rlen + len > cap) /* beyond the window nghttp2 enforces */
		return (nghttp2_submit_rst_stream(
		    h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_FLOW_CONTROL_ERROR));
	/*
	 * A first chunk gets 16 KiB (a DATA frame's worth: what a small
	 * message needs); more goes straight to the window, so a bulk
	 * stream's bytes are copied into a bigger buffer once, not at each
	 * doubling. Both come from the thread's free list (pump.h): a bulk
	 * stream's buffer empties and fills again at every tunnel run.
	 */
	if (s->roff + s->rlen + len > s->rcap) {
		want = s->rcap == 0 && s->rlen + len <= MUX_RBUF_FIRST
		    ? MUX_RBUF_FIRST
		    : cap;
		if ((nb = pump_buf_get(want)) == NULL)
			return (nghttp2_submit_rst_stream(
			    h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR));
		if (s->rlen > 0)
			memcpy(nb, s->rbuf + s->roff, s->rlen);
		pump_buf_put(s->rbuf, s->rcap);
		s->rbuf = nb;
		s->roff = 0;
		s->rcap = want;
	}
	memcpy(s->rbuf + s->roff + s->rlen, data, len);
	s->rlen += len;
	if (s->rlen == cap && !s->stalled) {
		s->stalled = true;
		atomic_fetch_add_explicit(
		    &mux_stats.flow_stalls, 1, memory_order_relaxed);
	}
	mux_stream_notify(s, EV_READ, false);
	return (0);
}

int
mux_on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *arg)
{
	struct mux_stream *s = nghttp2_session_get_stream_user_data(h2, id);
	char buf[64];

	if (s == NULL)
		return (0);
	s->closed = true;
	if (code != NGHTTP2_NO_ERROR) {
		snprintf(buf, sizeof(buf), "RST_STREAM %s",
		    nghttp2_http2_strerror(code));
		mux_stream_fail(s, REASON_RESET, buf);
	} else if (!s->rx_eof) {
		mux_stream_fail(s, REASON_RESET, "stream closed");
	} else {
		mux_stream_notify(s, EV_READ | EV_WRITE, true);
	}
	return (0);
}

/*
 * nghttp2 asks for up to LEN bytes of stream ID's next DATA frame. The
 * bytes stay in the stream's buffer (NGHTTP2_DATA_FLAG_NO_COPY):
 * mux_send_data() puts the frame header and the payload into the
 * tunnel's output buffer with one copy, at once (the frame is never
 * split: see there).
 */
ssize_t
mux_data_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct mux_stream *s = nghttp2_session_get_stream_user_data(h2, id);
	size_t n;

	if (s == NULL || s->err != REASON_NONE)
		return (NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE);
	n = len < s->wlen ? len : s->wlen;
	if (n == s->wlen && s->tx_shut) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		s->tx_eof = true;
	} else if (n == 0) {
		s->deferred = true;
		return (NGHTTP2_ERR_DEFERRED);
	}
	if (n > 0)
		*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	return ((ssize_t)n);
}

int
mux_send_data(nghttp2_session *h2, nghttp2_frame *f, const uint8_t *hd,
    size_t len, nghttp2_data_source *src, void *arg)
{
	struct mux_stream *s =
	    nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	struct mux_tunnel *t = arg;
	uint8_t pad = f->data.padlen > 0 ? (uint8_t)(f->data.padlen - 1) : 0;

	/* mux_data_read() ran just before, in the same call: S is there. */
	if (s == NULL || len > s->wlen || pad != 0)
		return (NGHTTP2_ERR_CALLBACK_FAILURE); /* we never pad */
	if (mux_tunnel_out(t, hd, MUX_FRAME_HDLEN) != 0 ||
	    mux_tunnel_out(t, s->wbuf + s->woff, len) != 0)
		return (NGHTTP2_ERR_CALLBACK_FAILURE);
	s->woff += len;
	s->wlen -= len;
	if (s->wlen == 0) { /* an idle stream holds no buffer */
		pump_buf_put(s->wbuf, s->wcap);
		s->wbuf = NULL;
		s->woff = 0;
	}
	/*
	 * A conn that found the buffer full is woken once it has drained to
	 * half (mux_stream_ready()), not at every frame: one relay step, and
	 * one read of its source, per half window instead of per 16 KiB.
	 */
	if (s->wlen <= s->wcap / 2)
		mux_stream_notify(s, EV_WRITE, false);
	/* Enough for a TLS record: write it before framing more. */
	return (t->olen >= MUX_OBUF_MARK ? NGHTTP2_ERR_PAUSE : 0);
}

/* leg_clear() of a stream leg: its conn ends it without a reason. */
static void
mux_stream_clear(struct leg *l, bool abort)
{
	mux_stream_close(l, REASON_RESET);
}

/* The stream kind of leg (leg.h). */
static const struct leg_ops mux_stream_ops = {
    .read = mux_stream_read,
    .peek = mux_stream_peek,
    .write = mux_stream_write,
    .shutdown = mux_stream_shutdown,
    .watch = mux_stream_watch,
    .clear = mux_stream_clear,
    .rview = mux_stream_rview,
    .rtake = mux_stream_rtake,
    .wspace = mux_stream_wspace,
    .wput = mux_stream_wput,
};
