/*
 * Unit tests for proxy/relay/upstream.c and proxy/relay/resolver.c: which
 * targets are looked up again, when a reload may keep an upstream, connecting
 * by index, and the resolver thread racing registrations and the last
 * references (run under ASan by make asan). Only "localhost" is looked
 * up, which /etc/hosts answers: no query leaves the machine.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "resolver.h"
#include "route.h"
#include "upstream.h"

#include "data/upstream_fixture.h"

Suite *upstream_suite(void);

START_TEST(kinds)
{
	struct route_stats *st = stats_new();
	struct upstream *un = mk("unix:/nonexistent/s.sock", 1000, st, NULL);
	struct upstream *lit = mk("127.0.0.1:1", 1000, st, NULL);
	struct upstream *name = mk("localhost:1", 1000, st, NULL);
	int fd;

	ck_assert(!upstream_dynamic(un));
	ck_assert_ptr_null(upstream_host(un));
	errno = 0;
	ck_assert_int_eq(upstream_connect(un, 1), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert(!upstream_dynamic(lit));
	ck_assert_int_eq(upstream_refresh(lit), 0);
	ck_assert_str_eq(upstream_host(lit), "127.0.0.1");
	ck_assert(upstream_dynamic(name));
	ck_assert_str_eq(upstream_host(name), "localhost");
	ck_assert_int_eq(upstream_refresh(name), 0);
	/* localhost has an address: index 0 connects (or is refused). */
	errno = 0;
	fd = upstream_connect(name, 0);
	ck_assert(fd >= 0 || errno != ENOENT);
	if (fd >= 0)
		close(fd);
	errno = 0;
	ck_assert_int_eq(upstream_connect(lit, 1), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* Nothing failed; no resolver to tell: a no-op. */
	upstream_failed(name);
	ck_assert_uint_eq(atomic_load(&st->resolve_failures), 0);
	ck_assert_uint_eq(atomic_load(&st->refs), 4);
	upstream_unref(un);
	upstream_unref(lit);
	upstream_unref(name);
	upstream_unref(NULL);
	ck_assert_uint_eq(atomic_load(&st->refs), 1);
	route_stats_unref(st);
}
END_TEST

/* A reload keeps an upstream only for the same target and interval. */
START_TEST(same)
{
	struct route_stats *st = stats_new();
	struct upstream *u = mk("localhost:5432", 10000, st, NULL);
	struct config_addr a, b, c;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(config_addr_parse("localhost:5432", &a), 0);
	ck_assert_int_eq(config_addr_parse("localhost:5433", &b), 0);
	ck_assert_int_eq(config_addr_parse("unix:/x/localhost:5432", &c), 0);
	ck_assert(upstream_same(u, &a, 10000));
	ck_assert(!upstream_same(u, &a, 300));
	ck_assert(!upstream_same(u, &b, 10000));
	ck_assert(!upstream_same(u, &c, 10000));
	ck_assert_uint_eq(upstream_interval(u), 10000);
	config_addr_clear(&a);
	config_addr_clear(&b);
	config_addr_clear(&c);
	upstream_unref(u);
	route_stats_unref(st);
}
END_TEST

/*
 * The resolver looks up every millisecond while upstreams are made,
 * registered twice, asked for prompt lookups, unregistered and dropped:
 * whichever side drops the last reference frees, and every upstream
 * gives its stats reference back.
 */
START_TEST(race)
{
	struct route_stats *st = stats_new();
	struct resolver *rs = resolver_new();
	struct upstream *last;

	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(resolver_start(rs), 0);
	for (int i = 0; i < 300; i++) {
		struct upstream *u = mk("localhost:1", 1, st, rs);
		struct upstream *lit = mk("127.0.0.1:1", 1, st, rs);

		resolver_add(rs, u);
		resolver_add(rs, u);
		resolver_add(rs, lit); /* ignored: a literal */
		upstream_failed(u);
		if (i % 2 == 0)
			upstream_unref(u); /* the registry's reference stays */
		usleep(i % 7 == 0 ? 2000 : 50);
		resolver_remove(rs, u);
		resolver_remove(rs, u);
		resolver_remove(rs, u); /* no longer registered: no-op */
		resolver_remove(rs, lit);
		if (i % 2 == 1)
			upstream_unref(u);
		upstream_unref(lit);
	}
	/* One left registered for resolver_free() to drop. */
	last = mk("localhost:2", 1, st, rs);
	resolver_add(rs, last);
	upstream_unref(last);
	usleep(5000);
	resolver_free(rs);
	resolver_free(NULL);
	ck_assert_uint_eq(atomic_load(&st->refs), 1);
	ck_assert_uint_eq(atomic_load(&st->resolve_failures), 0);
	route_stats_unref(st);
}
END_TEST

Suite *
upstream_suite(void)
{
	Suite *s = suite_create("upstream");
	TCase *tc = tcase_create("upstream");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, kinds);
	tcase_add_test(tc, same);
	tcase_add_test(tc, race);
	suite_add_tcase(s, tc);
	return (s);
}
