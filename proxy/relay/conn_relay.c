/*
 * conn_relay: a connection in RELAY, for conn.c: its pumps set up, and
 * one step of moving bytes, which returns what conn.c is to do (go on or
 * close, and why). No transition is made here.
 *
 * A connection has two legs (leg.h): cl, the accepted socket, and up, the
 * socket to the target; exactly one of them speaks mutual TLS (c->tl; with
 * local_tls, pgconn also puts a TLS server on cl, which the legs and pumps
 * handle alike). In RELAY two pumps (pump.h) move bytes, each through a
 * buffer of route->buffer_bytes that it holds only while bytes are in
 * flight (an idle connection holds none; a pump with a mux stream at one
 * end uses the stream's buffer in place and takes none): dup (cl -> up)
 * and ddown (up -> cl). A direction stops reading its source when its buffer is
 * full and starts again when it is down to half (backpressure: a slow reader
 * never grows memory). When a source reaches EOF (FIN or close_notify) and its
 * buffer is empty, the destination is shut down for writing (FIN or
 * close_notify) while the other direction keeps flowing. When both
 * directions are done the connection closes with reason eof.
 *
 * When a pump stops early for fairness the connection goes on its table's
 * list of pumps to resume (more_due) and the table's ev_more fires once
 * the other connections had their turn. A connection whose steps move
 * bulk data runs its legs' events at a lower priority (conn_classify).
 */
#include "conn_priv.h"

int
conn_relay_setup(struct conn *c)
{
	size_t cap =
	    c->r->cfg->buffer_bytes != 0 ? c->r->cfg->buffer_bytes : 256 * 1024;

	c->dup = (struct pump){.src = &c->cl, .dst = &c->up, .cap = cap};
	c->ddown = (struct pump){.src = &c->up, .dst = &c->cl, .cap = cap};
	if (c->proto != NULL) { /* proto_conn_prefill() needs the buffer */
		if (proto_conn_pending(c->proto) > cap)
			c->dup.cap = proto_conn_pending(c->proto);
		if (pump_reserve(&c->dup) != 0)
			return (-1);
	}
	proto_conn_prefill(c->proto, &c->dup); /* the startup packet, if any */
	c->cl.rd_block = c->cl.wr_block = 0;
	/*
	 * The upstream leg was set up last: its peer has sent nothing yet,
	 * unless TLS read it along with the handshake. Wait for its first
	 * bytes instead of reading only to get EAGAIN (one read(2), and on
	 * a TLS leg one SSL_read, per connection and proxy).
	 */
	c->up.rd_block = leg_pending(&c->up) ? 0 : EV_READ;
	c->up.wr_block = 0;
	return (0);
}

static enum conn_by
conn_relay_side(const struct conn *c, const struct leg *l)
{
	return (l == &c->cl ? CONN_BY_CLIENT : CONN_BY_UPSTREAM);
}

/* A pump failed on leg BAD: why C is to close, or a stall (a stream). */
static enum conn_relay
conn_relay_failed(struct conn *c, struct leg *bad, enum reason *why,
    enum conn_by *by, char *buf, size_t len, const char **detail)
{
	if (bad->ms != NULL) {
		*why = conn_mux_error(c, bad, by, detail);
		return (
		    *why != REASON_NONE ? CONN_RELAY_CLOSE : CONN_RELAY_STALL);
	}
	*why = bad->ssl != NULL ? REASON_TLS_ERROR : REASON_RESET;
	*by = conn_relay_side(c, bad);
	*detail = leg_detail(bad, buf, len);
	return (CONN_RELAY_CLOSE);
}

/* Bytes C's legs have read and written so far, both directions. */
static uint64_t
conn_relay_bytes(const struct conn *c)
{
	return (c->cl.bytes_in + c->up.bytes_in + c->cl.bytes_out +
	    c->up.bytes_out);
}

/*
 * A relay step moved MOVED bytes (in and out, both directions): a step of
 * CONN_BULK_STEP or more makes C a bulk transfer, whose events then run
 * after every other ready one (leg.h); a small step makes it interactive
 * again. A step that moved nothing (blocked on the other side) changes
 * nothing.
 */
#define CONN_BULK_STEP (32 * 1024)
#define CONN_SMALL_STEP (8 * 1024)

static void
conn_classify(struct conn *c, uint64_t moved)
{
	bool bulk = c->cl.bulk;

	if (moved >= CONN_BULK_STEP)
		bulk = true;
	else if (moved > 0 && moved < CONN_SMALL_STEP)
		bulk = false;
	leg_set_bulk(&c->cl, bulk);
	leg_set_bulk(&c->up, bulk);
}

enum conn_relay
conn_relay_step(struct conn *c, enum reason *why, enum conn_by *by, char *buf,
    size_t len, const char **detail)
{
	uint64_t before = conn_relay_bytes(c), moved;
	struct pump *p[2] = {&c->dup, &c->ddown};
	struct leg *bad = NULL;

	for (int i = 0; i < 2; i++) {
		switch (pump_run(p[i], &bad)) {
		case PUMP_ERR:
			return (conn_relay_failed(
			    c, bad, why, by, buf, len, detail));
		case PUMP_EOF:
			if (!c->any_eof) { /* who closed first */
				c->any_eof = true;
				c->first_eof = conn_relay_side(c, p[i]->src);
			}
			break;
		default:
			break;
		}
	}
	if (c->peer.cache != NULL) /* originate: a new ticket? */
		conn_ticket_poll(c->tl->ssl, &c->peer);
	if (pump_done(&c->dup) && pump_done(&c->ddown)) {
		*why = REASON_EOF;
		*by = c->first_eof;
		*detail = NULL;
		return (CONN_RELAY_CLOSE);
	}
	if ((moved = conn_relay_bytes(c) - before) != 0)
		c->t_io = conn_now();
	conn_classify(c, moved);
	leg_watch(&c->cl, pump_wants(&c->cl, &c->dup, &c->ddown));
	leg_watch(&c->up, pump_wants(&c->up, &c->ddown, &c->dup));
	/*
	 * Come back for the rest after other connections had their turn, on
	 * the table's event (not on a leg's: an I/O event that is active
	 * but not added is never added to epoll by event_add(), libevent
	 * 2.1).
	 */
	if ((c->dup.more || c->ddown.more) && !c->more_due) {
		c->more_due = true;
		c->more_next = c->t->more;
		c->t->more = c;
		event_active(c->t->ev_more, EV_TIMEOUT, 1);
	}
	c->dup.more = c->ddown.more = false;
	return (CONN_RELAY_ON);
}
