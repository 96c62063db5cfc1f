/*
 * resolver: see resolver.h.
 *
 * The registry is an array of entries under mu, each with its schedule:
 * when the upstream's last lookup began (last_ms, for the one-second gap
 * between prompt lookups) and when the next periodic one is due (next_ms,
 * counted from the end of the last one, so a lookup slower than the
 * interval does not run back to back). The thread sleeps on cv until the
 * earliest due time, or until resolver_add/resolver_wake/resolver_stop
 * signal it. Times are CLOCK_MONOTONIC milliseconds.
 */
#include "resolver.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "duration.h"
#include "log.h"
#include "upstream.h"

#define RESOLVER_NEVER UINT64_MAX
/* At most one prompt (failure-driven) lookup a second per upstream. */
/*
 * How long stopping waits for a lookup in progress: glibc may take 30 s
 * against a dead name server, longer than a container's stop grace.
 */
#define RESOLVER_STOP_WAIT_S 1
#define RESOLVER_GAP_MS 1000

struct resolver_entry {
	struct upstream *u; /* a reference */
	unsigned nreg;      /* resolver_add() calls not yet undone */
	uint64_t last_ms;   /* its last lookup began */
	uint64_t next_ms;   /* next periodic lookup, or RESOLVER_NEVER */
};

struct resolver {
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;  /* on CLOCK_MONOTONIC */
	struct resolver_entry *e;
	size_t n, cap;
	bool stop;
	bool started;   /* thread is joinable (main thread only) */
	bool abandoned; /* stopped mid-lookup: left to the thread and exit */
	pthread_t thread;
};

/* When a periodic lookup that ended at NOW is next due. */
static uint64_t
resolver_next(const struct upstream *u, uint64_t now)
{
	uint32_t ms = upstream_interval(u);

	return (ms == 0 ? RESOLVER_NEVER : now + ms);
}

static struct resolver_entry *
resolver_find(struct resolver *rs, const struct upstream *u)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->e[i].u == u)
			return (&rs->e[i]);
	return (NULL);
}

struct resolver *
resolver_new(void)
{
	struct resolver *rs;
	pthread_condattr_t ca;

	if ((rs = calloc(1, sizeof(*rs))) == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	pthread_mutex_init(&rs->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rs->cv, &ca);
	pthread_condattr_destroy(&ca);
	return (rs);
}

void
resolver_add(struct resolver *rs, struct upstream *u)
{
	struct resolver_entry *e, *ne;
	uint64_t now = duration_now_ms();

	if (rs == NULL || !upstream_dynamic(u))
		return;
	pthread_mutex_lock(&rs->mu);
	if ((e = resolver_find(rs, u)) != NULL) {
		e->nreg++;
		pthread_mutex_unlock(&rs->mu);
		return;
	}
	if (rs->n == rs->cap) {
		size_t cap = rs->cap == 0 ? 8 : rs->cap * 2;

		if ((ne = realloc(rs->e, cap * sizeof(*ne))) == NULL) {
			pthread_mutex_unlock(&rs->mu);
			log_errno("resolver: out of memory, a target will "
				  "not be looked up again");
			return;
		}
		rs->e = ne;
		rs->cap = cap;
	}
	/* Its builder has just looked it up. */
	rs->e[rs->n++] = (struct resolver_entry){
	    upstream_ref(u), 1, now, resolver_next(u, now)};
	pthread_cond_signal(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
}

void
resolver_remove(struct resolver *rs, struct upstream *u)
{
	struct resolver_entry *e;

	if (rs == NULL)
		return;
	pthread_mutex_lock(&rs->mu);
	if ((e = resolver_find(rs, u)) == NULL || --e->nreg > 0) {
		pthread_mutex_unlock(&rs->mu);
		return;
	}
	*e = rs->e[--rs->n];
	pthread_mutex_unlock(&rs->mu);
	/* The thread may still hold its own reference for a lookup. */
	upstream_unref(u);
}

void
resolver_wake(struct resolver *rs)
{
	pthread_mutex_lock(&rs->mu);
	pthread_cond_signal(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
}

/*
 * Under mu: the upstream whose lookup is due first if that is now (a new
 * reference; its schedule says "in progress"), else NULL with *WAKE set
 * to when the next one is due.
 */
static struct upstream *
resolver_pick(struct resolver *rs, uint64_t now, uint64_t *wake)
{
	struct resolver_entry *best = NULL;
	uint64_t best_due = RESOLVER_NEVER, due;

	for (size_t i = 0; i < rs->n; i++) {
		struct resolver_entry *e = &rs->e[i];

		due = e->next_ms;
		if (upstream_urgent(e->u) && e->last_ms + RESOLVER_GAP_MS < due)
			due = e->last_ms + RESOLVER_GAP_MS;
		if (due < best_due) {
			best_due = due;
			best = e;
		}
	}
	if (best == NULL || best_due > now) {
		*wake = best_due;
		return (NULL);
	}
	(void)upstream_take_urgent(best->u);
	best->last_ms = now;
	best->next_ms = RESOLVER_NEVER;
	return (upstream_ref(best->u));
}

/* Under mu: wait until WAKE (ms), a signal, or a spurious wake-up. */
static void
resolver_sleep(struct resolver *rs, uint64_t wake)
{
	struct timespec ts;

	if (wake == RESOLVER_NEVER) {
		pthread_cond_wait(&rs->cv, &rs->mu);
		return;
	}
	ts.tv_sec = (time_t)(wake / 1000);
	ts.tv_nsec = (long)(wake % 1000) * 1000000;
	(void)pthread_cond_timedwait(&rs->cv, &rs->mu, &ts);
}

static void *
resolver_main(void *arg)
{
	struct resolver *rs = arg;
	struct resolver_entry *e;
	struct upstream *u;
	uint64_t wake = RESOLVER_NEVER;

	pthread_mutex_lock(&rs->mu);
	while (!rs->stop) {
		if ((u = resolver_pick(rs, duration_now_ms(), &wake)) == NULL) {
			resolver_sleep(rs, wake);
			continue;
		}
		pthread_mutex_unlock(&rs->mu);
		(void)upstream_refresh(u); /* blocking, logged */
		pthread_mutex_lock(&rs->mu);
		/* Unless a reload removed it meanwhile. */
		if ((e = resolver_find(rs, u)) != NULL)
			e->next_ms = resolver_next(u, duration_now_ms());
		pthread_mutex_unlock(&rs->mu);
		upstream_unref(u); /* may be the last reference */
		pthread_mutex_lock(&rs->mu);
	}
	pthread_mutex_unlock(&rs->mu);
	return (NULL);
}

int
resolver_start(struct resolver *rs)
{
	int err;

	if ((err = pthread_create(&rs->thread, NULL, resolver_main, rs)) != 0) {
		errno = err;
		log_errno("resolver: pthread_create");
		return (-1);
	}
	rs->started = true;
	return (0);
}

void
resolver_stop(struct resolver *rs)
{
	if (rs == NULL)
		return;
	pthread_mutex_lock(&rs->mu);
	rs->stop = true;
	pthread_cond_signal(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
	if (rs->started) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += RESOLVER_STOP_WAIT_S;
		if (pthread_timedjoin_np(rs->thread, NULL, &ts) != 0) {
			log_warn("resolver: a name lookup is still running; "
				 "exiting without waiting for it");
			pthread_detach(rs->thread);
			rs->abandoned = true;
		}
	}
	rs->started = false;
}

void
resolver_free(struct resolver *rs)
{
	if (rs == NULL)
		return;
	resolver_stop(rs);
	if (rs->abandoned)
		return; /* the thread still uses it; the process is exiting */
	for (size_t i = 0; i < rs->n; i++)
		upstream_unref(rs->e[i].u);
	free(rs->e);
	pthread_cond_destroy(&rs->cv);
	pthread_mutex_destroy(&rs->mu);
	free(rs);
}
