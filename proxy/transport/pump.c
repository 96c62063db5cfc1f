/*
 * pump: see pump.h. The buffer is linear: data is appended at off + len
 * and taken from off; when the free tail gets short the data is moved to
 * the front (rarely: a buffer that empties resets to the front). A TLS
 * sink may need the same bytes again after LEG_AGAIN; they stay in place
 * (or are moved intact, which SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows).
 *
 * Buffers come from a free list per thread (one per worker) when a read is
 * about to happen and go back to it when the direction is empty and its
 * source would block, so an idle connection holds no relay buffer and a
 * busy one does not call malloc per burst.
 */
#include "pump.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUMP_ROUNDS 8          /* fills per call: fairness */
#define PUMP_BATCH (64 * 1024) /* read this much before writing it */
#define PUMP_POOL_MAX 8        /* free buffers kept per thread */

/* A free buffer; the header lives in the buffer itself. */
struct pump_chunk {
	struct pump_chunk *next;
	size_t size;
};

struct pump_pool {
	struct pump_chunk *head;
	unsigned n;
};

static _Thread_local struct pump_pool pump_pool;
static pthread_key_t pump_key;
static pthread_once_t pump_once = PTHREAD_ONCE_INIT;

/* Thread exit: free the thread's free list. */
static void
pump_pool_free(void *arg)
{
	struct pump_pool *pl = arg;
	struct pump_chunk *ch;

	while ((ch = pl->head) != NULL) {
		pl->head = ch->next;
		free(ch);
	}
	pl->n = 0;
}

static void
pump_key_init(void)
{
	(void)pthread_key_create(&pump_key, pump_pool_free);
}

/* The first buffer this thread keeps: free its list when it exits. */
static void
pump_pool_register(struct pump_pool *pl)
{
	if (pl->n == 0) {
		(void)pthread_once(&pump_once, pump_key_init);
		(void)pthread_setspecific(pump_key, pl);
	}
}

void *
pump_buf_get(size_t size)
{
	struct pump_pool *pl = &pump_pool;
	struct pump_chunk **pp, *ch;

	for (pp = &pl->head; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->size == size) {
			ch = *pp;
			*pp = ch->next;
			pl->n--;
			return (ch);
		}
	}
	if (size < sizeof(*ch))
		return (NULL);
	return (malloc(size));
}

void
pump_buf_put(void *buf, size_t size)
{
	struct pump_pool *pl = &pump_pool;
	struct pump_chunk *ch = buf;

	if (buf == NULL)
		return;
	if (pl->n >= PUMP_POOL_MAX) {
		free(buf);
		return;
	}
	pump_pool_register(pl);
	ch->size = size;
	ch->next = pl->head;
	pl->head = ch;
	pl->n++;
}

/* Give P a buffer of p->cap bytes; 0 or -1. */
static int
pump_take(struct pump *p)
{
	if ((p->buf = pump_buf_get(p->cap)) == NULL)
		return (-1);
	p->pooled = true;
	p->off = p->len = 0;
	return (0);
}

int
pump_reserve(struct pump *p)
{
	return (p->buf != NULL ? 0 : pump_take(p));
}

void
pump_release(struct pump *p)
{
	if (!p->pooled)
		return;
	pump_buf_put(p->buf, p->cap);
	p->buf = NULL;
	p->pooled = false;
	p->off = p->len = 0;
}

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

/*
 * Read until the buffer holds PUMP_BATCH bytes (one write for several TLS
 * records), it is full (then paused), or the source has nothing more. A
 * read that returns less than asked, with nothing left inside OpenSSL,
 * means the socket is drained: the source is marked blocked instead of
 * being read once more only to get EAGAIN (level-triggered epoll reports
 * it again if more arrives).
 */
static enum leg_res
pump_fill(struct pump *p)
{
	enum leg_res r;
	size_t n, room;

	do {
		if (p->off > 0 && p->cap - p->off - p->len < p->cap / 4) {
			memmove(p->buf, p->buf + p->off, p->len);
			p->off = 0;
		}
		room = p->cap - p->off - p->len;
		if (room == 0) {
			p->paused = true;
			return (LEG_OK);
		}
		r = leg_read(p->src, p->buf + p->off + p->len, room, &n);
		if (r != LEG_OK)
			return (r);
		p->len += n;
		if (n < room && !leg_pending(p->src)) {
			p->src->rd_block = EV_READ;
			return (LEG_OK);
		}
	} while (p->len < PUMP_BATCH);
	return (LEG_OK);
}

/* The pump's buffer is empty and one of its legs has its own (pump.h). */
static bool
pump_in_place(const struct pump *p)
{
	return (
	    p->len == 0 && (leg_can_rview(p->src) || leg_can_wspace(p->dst)));
}

/*
 * One move in place: from the source's buffer to the sink (until either
 * blocks), or one read of the source into the sink's free room. LEG_OK
 * (moved, or the sink blocked: p->held), LEG_AGAIN (the source is
 * blocked), LEG_EOF, LEG_ERR (*BAD says which leg).
 */
static enum leg_res
pump_move(struct pump *p, struct leg **bad)
{
	const void *rp;
	void *wp;
	size_t n, w;
	enum leg_res r;

	if (leg_can_rview(p->src)) {
		while ((r = leg_rview(p->src, &rp, &n)) == LEG_OK) {
			switch (leg_write(p->dst, rp, n, &w)) {
			case LEG_OK:
				leg_rtake(p->src, w);
				break;
			case LEG_AGAIN:
				p->held = true;
				return (LEG_OK);
			default:
				*bad = p->dst;
				return (LEG_ERR);
			}
		}
		*bad = p->src;
		return (r);
	}
	switch (leg_wspace(p->dst, &wp, &n)) {
	case LEG_OK:
		break;
	case LEG_AGAIN:
		p->held = true;
		return (LEG_OK);
	default:
		*bad = p->dst;
		return (LEG_ERR);
	}
	*bad = p->src;
	if ((r = leg_read(p->src, wp, n, &w)) != LEG_OK) {
		leg_wput(p->dst, 0);
		return (r);
	}
	leg_wput(p->dst, w);
	if (w < n && !leg_pending(p->src)) /* drained: as pump_fill() */
		p->src->rd_block = EV_READ;
	return (LEG_OK);
}

enum pump_res
pump_run(struct pump *p, struct leg **bad)
{
	enum pump_res res = PUMP_OK;
	int rounds = PUMP_ROUNDS;
	bool moved = false; /* read in place: the source may go idle */
	enum leg_res r;

	p->held = false;
	for (;;) {
		if (pump_flush(p) != 0) {
			*bad = p->dst;
			return (PUMP_ERR);
		}
		if (p->paused && p->len <= p->cap / 2)
			p->paused = false;
		if (p->src->eof || p->paused || p->src->rd_block != 0 ||
		    p->held)
			break;
		if (rounds-- == 0) {
			p->more = true;
			break;
		}
		if (pump_in_place(p)) {
			if (p->dst->wr_block != 0) {
				p->held = true;
				break;
			}
			moved = true;
			r = pump_move(p, bad);
		} else {
			*bad = p->src;
			if (pump_reserve(p) != 0) {
				p->src->err = ENOMEM;
				return (PUMP_ERR);
			}
			r = pump_fill(p);
		}
		switch (r) {
		case LEG_OK:
		case LEG_AGAIN:
			break;
		case LEG_EOF:
			p->src->eof = true;
			res = PUMP_EOF;
			break;
		default:
			return (PUMP_ERR); /* *bad says which leg */
		}
	}
	if ((p->pooled || moved) && p->len == 0 &&
	    (p->src->eof || p->src->rd_block != 0)) {
		pump_release(p);
		leg_idle(p->src);
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
	if (out->len > 0 || out->held || (out->src->eof && !l->shut))
		want |= l->wr_block;
	return (want);
}
