/*
 * upstream_fixture: route stats and upstreams made as a route makes them,
 * for check_upstream.c and check_resolver.c (included by each; the
 * Makefile only compiles check_*.c). Failures abort the test through
 * ck_assert.
 */
#ifndef COTAI_TEST_UPSTREAM_FIXTURE_H
#define COTAI_TEST_UPSTREAM_FIXTURE_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "resolver.h"
#include "route.h"
#include "upstream.h"

/* Counters with one reference, ours. */
static struct route_stats *
stats_new(void)
{
	struct route_stats *st = calloc(1, sizeof(*st));

	ck_assert_ptr_nonnull(st);
	atomic_init(&st->refs, 1);
	return (st);
}

/* An upstream for ADDR (the target is copied, so A is cleared here). */
static struct upstream *
mk(const char *addr, uint32_t interval_ms, struct route_stats *st,
    struct resolver *rs)
{
	struct config_addr a;
	struct upstream_opts o;
	struct upstream *u;

	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(config_addr_parse(addr, &a), 0);
	o = (struct upstream_opts){"r", &a, interval_ms, st, rs};
	u = upstream_new(&o);
	config_addr_clear(&a);
	ck_assert_ptr_nonnull(u);
	return (u);
}

#endif
