/*
 * debounce: see debounce.h.
 */
#include "debounce.h"

void
debounce_init(struct debounce *d, uint32_t quiet_ms)
{
	d->quiet_ms = quiet_ms;
	d->pending = false;
	d->first_ms = d->last_ms = 0;
}

void
debounce_event(struct debounce *d, uint64_t now)
{
	if (!d->pending) {
		d->pending = true;
		d->first_ms = now;
	}
	d->last_ms = now;
}

uint64_t
debounce_due(struct debounce *d, uint64_t now)
{
	uint64_t quiet_at, cap_at, at;

	if (!d->pending)
		return (DEBOUNCE_NONE);
	quiet_at = d->last_ms + d->quiet_ms;
	cap_at = d->first_ms + 10 * (uint64_t)d->quiet_ms;
	at = quiet_at < cap_at ? quiet_at : cap_at;
	if (now >= at) {
		d->pending = false;
		return (0);
	}
	return (at - now);
}
