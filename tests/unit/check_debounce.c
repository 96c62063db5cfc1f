/*
 * Unit tests for proxy/process/debounce.c (bursts of file events become one
 * reload) and watch_name_matches() (which events count).
 */
#include <check.h>
#include <stdint.h>

#include "debounce.h"
#include "watch.h"

Suite *debounce_suite(void);

START_TEST(idle_until_an_event)
{
	struct debounce d;

	debounce_init(&d, 500);
	ck_assert_uint_eq(debounce_due(&d, 1000), DEBOUNCE_NONE);
	debounce_event(&d, 1000);
	ck_assert_uint_eq(debounce_due(&d, 1000), 500);
	ck_assert_uint_eq(debounce_due(&d, 1499), 1);
	ck_assert_uint_eq(debounce_due(&d, 1500), 0);
	/* Fired once: idle again. */
	ck_assert_uint_eq(debounce_due(&d, 1600), DEBOUNCE_NONE);
}
END_TEST

START_TEST(burst_is_one_reload)
{
	struct debounce d;
	int fired = 0;

	debounce_init(&d, 500);
	/* cert, key, crl renamed 10 ms apart: one reload 500 ms after the
	 * last. */
	for (uint64_t t = 0; t <= 20; t += 10)
		debounce_event(&d, t);
	for (uint64_t t = 20; t < 2000; t += 5)
		if (debounce_due(&d, t) == 0) {
			fired++;
			ck_assert_uint_eq(t, 520);
		}
	ck_assert_int_eq(fired, 1);
}
END_TEST

START_TEST(never_quiet_still_fires)
{
	struct debounce d;
	uint64_t t;

	debounce_init(&d, 100);
	/* An event every 50 ms forever: fire at first + 10 * quiet. */
	for (t = 0;; t += 50) {
		debounce_event(&d, t);
		if (debounce_due(&d, t) == 0)
			break;
	}
	ck_assert_uint_eq(t, 1000);
}
END_TEST

START_TEST(event_names)
{
	char *files[] = {
	    "backend.crt", "backend.key", "ca.crt", "crl.pem", "cotai.yaml"};

	ck_assert(watch_name_matches(files, 5, "backend.key"));
	ck_assert(watch_name_matches(files, 5, "cotai.yaml"));
	/* Kubernetes' atomic writer swaps "..data". */
	ck_assert(watch_name_matches(files, 5, "..data"));
	ck_assert(watch_name_matches(files, 5, "..2026_11_28_07_00"));
	/* Temp files, the ports file and editors' backups do not count. */
	ck_assert(!watch_name_matches(files, 5, "backend.crt.tmp.123"));
	ck_assert(!watch_name_matches(files, 5, "cotai.ports"));
	ck_assert(!watch_name_matches(files, 5, ".cotai.yaml.swp"));
	ck_assert(!watch_name_matches(files, 0, "backend.crt"));
}
END_TEST

Suite *
debounce_suite(void)
{
	Suite *s = suite_create("debounce");
	TCase *tc = tcase_create("debounce");

	tcase_add_test(tc, idle_until_an_event);
	tcase_add_test(tc, burst_is_one_reload);
	tcase_add_test(tc, never_quiet_still_fires);
	tcase_add_test(tc, event_names);
	suite_add_tcase(s, tc);
	return (s);
}
