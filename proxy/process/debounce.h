/*
 * debounce: turn a burst of file events into one reload. Pure (the caller
 * passes the time), so it is unit-tested without a clock. A burst is over
 * when QUIET ms pass without an event, or at the latest 10 * QUIET ms
 * after its first event (a directory that never goes quiet still reloads).
 */
#ifndef COTAI_DEBOUNCE_H
#define COTAI_DEBOUNCE_H

#include <stdbool.h>
#include <stdint.h>

#define DEBOUNCE_NONE UINT64_MAX

struct debounce {
	uint32_t quiet_ms;
	bool pending;
	uint64_t first_ms, last_ms;
};

/* A new, idle debouncer. */
void debounce_init(struct debounce *d, uint32_t quiet_ms);

/* An event happened at NOW (ms, any monotonic origin). */
void debounce_event(struct debounce *d, uint64_t now);

/*
 * At NOW: 0 when the burst is over (the caller acts; D is idle again), the
 * ms left to wait when a burst is going on, DEBOUNCE_NONE when idle.
 */
uint64_t debounce_due(struct debounce *d, uint64_t now);

#endif
