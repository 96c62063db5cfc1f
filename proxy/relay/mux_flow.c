/*
 * mux_flow: adaptive stream windows (issue 16). What a small frame of one
 * stream finds ahead of it in a tunnel, once cotai's own queues are
 * bounded (mux.c), is the data of the other streams in transit: at most
 * their receive windows, which the receiving side grants. A bulk stream
 * alone on its tunnel keeps its full window (mux_window: fewer round trips
 * of WINDOW_UPDATE, the throughput of one stream); while another stream of
 * the same tunnel is interactive, the receiving side shrinks each bulk
 * stream's window to MUX_FLOW_SHARED(mux_window), so a round trip of the
 * interactive stream waits behind that much of it in each direction.
 *
 * The classes come from the relay (conn_classify, conn_relay.c): a
 * stream whose conn's last relay step moved 32 KiB or more is bulk (its
 * leg is bulk, until a step moves less than 8 KiB); one that is not bulk
 * and moved bytes (either way) within the last MUX_FLOW_RECENT_MS (100
 * ms), and was not bulk in that time either, is interactive. A stream
 * neither (idle, or not yet bound) changes nothing. The period is short on
 * purpose: a control connection that exchanges a few messages and then idles
 * beside its own transfer (iperf3's, FTP's) cuts that transfer's window for no
 * longer than that (with 1 s, iperf3 -t 3 through a tunnel lost a third of its
 * rate).
 *
 * nghttp2 does the accounting: nghttp2_session_set_local_window_size()
 * lowers a stream's window without telling the peer (the credit it was
 * granted stands; WINDOW_UPDATEs are held back until it is used), and
 * raising it again sends the difference at once. What a stream may
 * buffer from the peer stays mux_window either way.
 */
#include "mux_priv.h"

#include "conn.h"
#include "log.h"

int32_t
mux_flow_shared(uint32_t window)
{
	uint32_t w = window / 4;

	if (w < MUX_FLOW_MIN)
		w = MUX_FLOW_MIN;
	return ((int32_t)(w < window ? w : window));
}

/*
 * S is interactive at NOW: not bulk, moved bytes recently, and not bulk
 * recently either (bulk streams sharing a tunnel make a small step now
 * and then, when the windows or the tunnel hold them back: such a step
 * must not cut the others' windows, which would make their steps smaller
 * still; seen with iperf3 -P 4).
 */
static bool
mux_flow_interactive(const struct mux_stream *s, uint64_t now)
{
	return (!s->leg->bulk && s->flow_small != 0 &&
	    now - s->flow_small < MUX_FLOW_RECENT_MS &&
	    (s->flow_bulk == 0 || now - s->flow_bulk >= MUX_FLOW_RECENT_MS));
}

/* The window S should have now, with or without an interactive stream. */
static int32_t
mux_flow_want(const struct mux_stream *s, bool shared, int32_t full)
{
	if (shared && s->leg != NULL && s->leg->bulk)
		return (mux_flow_shared((uint32_t)full));
	return (full);
}

void
mux_flow_update(struct mux_tunnel *t)
{
	int32_t full = (int32_t)t->r->cfg->mux_window, want;
	uint64_t now = conn_now(), moved;
	struct mux_stream *s;
	bool shared = false;

	for (s = TAILQ_FIRST(&t->streams); s != NULL; s = TAILQ_NEXT(s, link)) {
		if (s->leg == NULL)
			continue;
		moved = s->leg->bytes_in + s->leg->bytes_out;
		if (s->leg->bulk)
			s->flow_bulk = now;
		else if (moved != s->flow_bytes)
			s->flow_small = now;
		s->flow_bytes = moved;
		if (mux_flow_interactive(s, now))
			shared = true;
	}
	if (!shared && !t->flow_shared)
		return; /* nothing capped, nothing to cap */
	t->flow_shared = shared;
	for (s = TAILQ_FIRST(&t->streams); s != NULL; s = TAILQ_NEXT(s, link)) {
		if (s->id <= 0 || s->closed)
			continue;
		want = mux_flow_want(s, shared, full);
		if (want == s->window)
			continue;
		if (nghttp2_session_set_local_window_size(
			t->h2, NGHTTP2_FLAG_NONE, s->id, want) != 0) {
			log_debug("route %s: stream %d: window %d refused",
			    t->r->cfg->name, s->id, want);
			continue;
		}
		/*
		 * Raised: what the app read while the window was low may be
		 * owed to the peer; a consume of nothing sends it now rather
		 * than at the next read.
		 */
		if (want > s->window)
			(void)nghttp2_session_consume_stream(t->h2, s->id, 0);
		s->window = want;
	}
}
