/*
 * Unit tests for lib/duration.c.
 */
#include <check.h>
#include <stdint.h>

#include "duration.h"

Suite *duration_suite(void);

START_TEST(parses_units)
{
	uint64_t ms;

	ck_assert_int_eq(duration_parse_ms("500ms", UINT64_MAX, &ms), 0);
	ck_assert_uint_eq(ms, 500);
	ck_assert_int_eq(duration_parse_ms("30s", UINT64_MAX, &ms), 0);
	ck_assert_uint_eq(ms, 30000);
	ck_assert_int_eq(duration_parse_ms("1h30m", UINT64_MAX, &ms), 0);
	ck_assert_uint_eq(ms, 5400000);
	ck_assert_int_eq(duration_parse_ms("7d", UINT64_MAX, &ms), 0);
	ck_assert_uint_eq(ms, 7ULL * 86400000);
	ck_assert_int_eq(duration_parse_ms("1m500ms", UINT64_MAX, &ms), 0);
	ck_assert_uint_eq(ms, 60500);
}
END_TEST

START_TEST(refuses_malformed)
{
	static const char *bad[] = {"", "s", "10", "10x", "-1s", "1s1h", "1h1h",
	    "1.5h", " 1s", "1s ", "99999999999999999999d"};
	uint64_t ms = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(duration_parse_ms(bad[i], UINT64_MAX, &ms) == -1,
		    "accepted \"%s\"", bad[i]);
	}
	ck_assert_uint_eq(ms, 42);
	ck_assert_int_eq(duration_parse_ms("2s", 1999, &ms), -1);
	ck_assert_int_eq(duration_parse_ms("2s", 2000, &ms), 0);
}
END_TEST

START_TEST(formats_round_trip)
{
	char buf[64];
	uint64_t ms;

	ck_assert_str_eq(duration_format(0, buf, sizeof(buf)), "0s");
	ck_assert_str_eq(duration_format(90000, buf, sizeof(buf)), "1m30s");
	ck_assert_str_eq(
	    duration_format(86400500, buf, sizeof(buf)), "1d500ms");
	ck_assert_int_eq(duration_parse_ms(buf, UINT64_MAX, &ms), 0);
	ck_assert_uint_eq(ms, 86400500);
}
END_TEST

Suite *
duration_suite(void)
{
	Suite *s = suite_create("duration");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parses_units);
	tcase_add_test(tc, refuses_malformed);
	tcase_add_test(tc, formats_round_trip);
	suite_add_tcase(s, tc);
	return (s);
}
