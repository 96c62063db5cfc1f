/*
 * Unit tests for proxy/control/httpreq.c, the admin endpoint's request parser.
 */
#include <check.h>
#include <string.h>

#include "httpreq.h"

Suite *httpreq_suite(void);

static enum httpreq_result
parse(const char *s, struct httpreq *r)
{
	return (httpreq_parse(s, strlen(s), r));
}

START_TEST(accepts_probe_requests)
{
	struct httpreq r;

	ck_assert_int_eq(
	    parse("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r), HTTPREQ_OK);
	ck_assert_str_eq(r.path, "/healthz");
	ck_assert(!r.head);
	ck_assert_uint_eq(r.head_len, 34);
	ck_assert_int_eq(
	    parse("HEAD /metrics?x=1 HTTP/1.0\n\n", &r), HTTPREQ_OK);
	ck_assert_str_eq(r.path, "/metrics");
	ck_assert(r.head);
}
END_TEST

START_TEST(needs_more_at_every_split)
{
	const char *req = "GET /readyz HTTP/1.1\r\nUser-Agent: t\r\n\r\n";
	struct httpreq r;
	size_t n = strlen(req);

	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(httpreq_parse(req, i, &r), HTTPREQ_NEED_MORE);
	ck_assert_int_eq(httpreq_parse(req, n, &r), HTTPREQ_OK);
	ck_assert_str_eq(r.path, "/readyz");
}
END_TEST

START_TEST(refuses_bad_heads)
{
	static const char *bad[] = {"GET\r\n\r\n", "GET /x\r\n\r\n",
	    "GET x HTTP/1.1\r\n\r\n", "GET /x HTTP/2.0\r\n\r\n",
	    " /x HTTP/1.1\r\n\r\n", "GET /x HTTP/1.1 \r\n\r\n",
	    "GET /\x01 HTTP/1.1\r\n\r\n", "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
	    "GET /a\rb HTTP/1.1\r\n\r\n", "GET /a\tb HTTP/1.1\r\n\r\n"};
	struct httpreq r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(
		    parse(bad[i], &r) == HTTPREQ_BAD, "accepted %zu", i);
	/* Bytes after a complete head do not change the verdict. */
	ck_assert_int_eq(
	    parse("GET /healthz HTTP/1.1\r\n\r\n\x01", &r), HTTPREQ_OK);
	ck_assert_int_eq(parse("POST /x HTTP/1.1\r\n\r\n", &r), HTTPREQ_METHOD);
}
END_TEST

START_TEST(bounds_head_and_path)
{
	static char big[HTTPREQ_MAX + 64];
	struct httpreq r;
	size_t n;

	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	ck_assert_int_eq(
	    httpreq_parse(big, sizeof(big), &r), HTTPREQ_TOO_LARGE);
	ck_assert_int_eq(
	    httpreq_parse(big, HTTPREQ_MAX - 1, &r), HTTPREQ_NEED_MORE);
	/* A path one byte over the limit. */
	n = 5 + HTTPREQ_PATH_MAX;
	memcpy(big + n, " HTTP/1.1\r\n\r\n", 13);
	ck_assert_int_eq(httpreq_parse(big, n + 13, &r), HTTPREQ_BAD);
	/* At the limit. */
	memcpy(big + n - 1, " HTTP/1.1\r\n\r\n", 13);
	ck_assert_int_eq(httpreq_parse(big, n + 12, &r), HTTPREQ_OK);
	ck_assert_uint_eq(strlen(r.path), HTTPREQ_PATH_MAX);
}
END_TEST

Suite *
httpreq_suite(void)
{
	Suite *s = suite_create("httpreq");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, accepts_probe_requests);
	tcase_add_test(tc, needs_more_at_every_split);
	tcase_add_test(tc, refuses_bad_heads);
	tcase_add_test(tc, bounds_head_and_path);
	suite_add_tcase(s, tc);
	return (s);
}
