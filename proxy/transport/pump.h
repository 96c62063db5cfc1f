/*
 * pump: one direction of a relay, from a source leg to a sink leg through
 * one buffer of cap bytes. Backpressure: the source is not read while the
 * buffer is full, and reading resumes when it has drained to half. The
 * buffer is either borrowed (set buf before the first pump_run()) or, when
 * buf is NULL, taken from a per-thread free list while bytes are in flight
 * and given back when the direction is empty and its source would block.
 * When the source reaches EOF and the buffer is empty, the sink is shut
 * down for writing (FIN or TLS close_notify); the other direction is
 * unaffected.
 *
 * In place: while its buffer is empty, a pump whose source can be read in
 * place (leg_can_rview(): a mux stream's receive buffer) writes the sink
 * straight from there, and one whose sink can be written in place
 * (leg_can_wspace(): a mux stream's send buffer) reads the source straight
 * into it; no pump buffer is taken and no bytes are copied through it.
 * Backpressure is then the other leg's buffer: bytes left in the source's
 * wait for the sink to become writable, and a sink without room stops the
 * reads until it has some.
 */
#ifndef COTAI_PUMP_H
#define COTAI_PUMP_H

#include <stdbool.h>
#include <stddef.h>

#include "leg.h"

struct pump {
	struct leg *src, *dst; /* borrowed */
	char *buf;             /* cap bytes, data at [off, off+len), or NULL */
	size_t cap, off, len;
	bool pooled; /* buf is from the free list (pump_release returns it) */
	bool paused; /* the buffer was full; resume at half */
	bool more;   /* stopped early for fairness: run again soon */
	bool held;   /* in place: waiting for the sink (bytes left in the
			source's buffer, or no room in the sink's) */
};

enum pump_res { PUMP_OK, PUMP_EOF, PUMP_ERR };

/*
 * Move bytes until both ends would block, the buffer is full or the
 * per-call budget is used (then P->more is set). PUMP_EOF: the source has
 * just reached EOF in this call. PUMP_ERR: *BAD is the failing leg.
 */
enum pump_res pump_run(struct pump *p, struct leg **bad);

/* Make sure P has a buffer (for bytes put in before the first run); 0 or
 * -1 when out of memory. */
int pump_reserve(struct pump *p);

/* Give a pooled buffer back (also with bytes in it, at close); a borrowed
 * one stays. Idempotent. */
void pump_release(struct pump *p);

/*
 * A buffer of SIZE bytes (at least 16) from this thread's free list, the
 * one pumps take theirs from, or from malloc; NULL when out of memory.
 * pump_buf_put() gives it back (NULL: nothing), to the free list of the
 * thread that calls it, or to free() when that list is full. For buffers
 * that come and go with the bytes in flight (a mux stream's), so that a
 * busy connection does not call malloc per burst.
 */
void *pump_buf_get(size_t size);
void pump_buf_put(void *buf, size_t size);

/* Everything moved and the sink shut down. */
bool pump_done(const struct pump *p);

/* The events leg L waits for, as the source of IN and the sink of OUT. */
short
pump_wants(const struct leg *l, const struct pump *in, const struct pump *out);

#endif
