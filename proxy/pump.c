/*
 * pump: see pump.h. The buffer is linear: data is appended at off + len
 * and taken from off; when the free tail gets short the data is moved to
 * the front (rarely: a buffer that empties resets to the front). A TLS
 * sink may need the same bytes again after LEG_AGAIN; they stay in place
 * (or are moved intact, which SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows).
 */
#include "pump.h"

#include <string.h>

#define PUMP_ROUNDS 16 /* reads per call: fairness between connections */

/* Write what is buffered; 0 or -1. */
static int
pump_flush(struct pump *p)
{
	size_t n;

	while (p->len > 0 && p->dst->wr_block == 0) {
		switch (leg_write(p->dst, p->buf + p->off, p->len, &n)) {
		case LEG_OK:
			p->off += n;
			p->len -= n;
			if (p->len == 0)
				p->off = 0;
			break;
		case LEG_AGAIN:
			return (0);
		default:
			return (-1);
		}
	}
	return (0);
}

enum pump_res
pump_run(struct pump *p, struct leg **bad)
{
	enum pump_res res = PUMP_OK;
	int rounds = PUMP_ROUNDS;
	size_t n;

	for (;;) {
		if (pump_flush(p) != 0) {
			*bad = p->dst;
			return (PUMP_ERR);
		}
		if (p->paused && p->len <= p->cap / 2)
			p->paused = false;
		if (p->src->eof || p->paused || p->src->rd_block != 0)
			break;
		if (rounds-- == 0) {
			p->more = true;
			break;
		}
		if (p->off > 0 && p->cap - p->off - p->len < p->cap / 4) {
			memmove(p->buf, p->buf + p->off, p->len);
			p->off = 0;
		}
		if (p->off + p->len == p->cap) {
			p->paused = true;
			break;
		}
		switch (leg_read(p->src, p->buf + p->off + p->len,
		    p->cap - p->off - p->len, &n)) {
		case LEG_OK:
			p->len += n;
			continue;
		case LEG_AGAIN:
			break;
		case LEG_EOF:
			p->src->eof = true;
			res = PUMP_EOF;
			break;
		default:
			*bad = p->src;
			return (PUMP_ERR);
		}
		break;
	}
	if (p->src->eof && p->len == 0 && !p->dst->shut &&
	    p->dst->wr_block == 0 && leg_shutdown(p->dst) == LEG_ERR) {
		*bad = p->dst;
		return (PUMP_ERR);
	}
	return (res);
}

bool
pump_done(const struct pump *p)
{
	return (p->src->eof && p->len == 0 && p->dst->shut);
}

short
pump_wants(const struct leg *l, const struct pump *in, const struct pump *out)
{
	short want = 0;

	if (!l->eof && !in->paused)
		want |= l->rd_block;
	if (out->len > 0 || (out->src->eof && !l->shut))
		want |= l->wr_block;
	return (want);
}
