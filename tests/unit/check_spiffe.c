/*
 * Unit tests for lib/spiffe.c, the one SPIFFE grammar: IDs (as in
 * certificates), the parts spiffe_parse() returns, trust domains, pattern
 * checks with their reasons, and the agreement of cotai-ca's names with
 * the grammar (whatever cotai-ca issues, the proxy accepts).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ca_name.h"
#include "spiffe.h"

Suite *spiffe_suite(void);

START_TEST(ids)
{
	static const char *const good[] = {"spiffe://td", "spiffe://td/a",
	    "spiffe://cotai.internal/backend",
	    "spiffe://a-b_c.9/Jobs/night.ly-1_x", "spiffe://td/a/b/c/d",
	    "spiffe://.td./a"};
	static const char *const bad[] = {"", "spiffe:", "spiffe://",
	    "spiffe:///a", "spiffe://td/", "spiffe://td//a", "spiffe://td/./a",
	    "spiffe://td/a/..", "spiffe://Td/a", "Spiffe://td/a",
	    "https://td/a", "spiffe://td:1/a", "spiffe://u@td/a",
	    "spiffe://td/a#f", "spiffe://td/a?q", "spiffe://td/a%20b",
	    "spiffe://td/a b", "spiffe:td/a", "spiffe://td/\xc3\xa4",
	    "spiffe://td/a*", "spiffe://t*/a", "spiffe://td/a\n"};
	char longid[2100];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(spiffe_valid(good[i]), "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!spiffe_valid(bad[i]), "accepted %s", bad[i]);
	ck_assert(!spiffe_valid(NULL));
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	memcpy(longid, "spiffe://td/", 12);
	ck_assert(!spiffe_valid(longid));
	longid[2048] = '\0';
	ck_assert(spiffe_valid(longid));
	/* A trust domain of at most 255 bytes. */
	memset(longid, 'a', sizeof(longid));
	memcpy(longid, "spiffe://", 9);
	memcpy(longid + 9 + 256, "/x", 3);
	ck_assert(!spiffe_valid(longid));
	memcpy(longid + 9 + 255, "/x", 3);
	ck_assert(spiffe_valid(longid));
}
END_TEST

START_TEST(parts)
{
	struct spiffe_id p;
	const char *why = "unset";

	ck_assert_int_eq(
	    spiffe_parse("spiffe://cotai.test/ns/App_1", 0, &p, &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(p.tdlen, 10);
	ck_assert(strncmp(p.td, "cotai.test", p.tdlen) == 0);
	ck_assert_str_eq(p.path, "ns/App_1");
	ck_assert_int_eq(spiffe_parse("spiffe://td", 0, &p, NULL), 0);
	ck_assert_str_eq(p.path, "");
	ck_assert_uint_eq(p.tdlen, 2);
	ck_assert_int_eq(
	    spiffe_parse("spiffe://td", SPIFFE_NEED_PATH, &p, &why), -1);
	ck_assert_str_eq(why, "no path after the trust domain");
	ck_assert_int_eq(spiffe_parse("spiffe://td/a*", 0, NULL, &why), -1);
	ck_assert_int_eq(
	    spiffe_parse("spiffe://td/a*", SPIFFE_GLOB, NULL, &why), 0);
	ck_assert_int_eq(spiffe_parse("http://td/a", 0, NULL, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "lower-case spiffe"));
	ck_assert_int_eq(spiffe_parse(NULL, 0, NULL, &why), -1);
	ck_assert_int_eq(spiffe_parse("spiffe://td/a/", 0, NULL, &why), -1);
	ck_assert_str_eq(why, "empty path segment");
}
END_TEST

START_TEST(domains)
{
	const char *why;

	ck_assert(spiffe_in_domain("spiffe://a.example/x", "a.example"));
	ck_assert(spiffe_in_domain("spiffe://a.example", "a.example"));
	ck_assert(!spiffe_in_domain("spiffe://a.example/x", "a.exampl"));
	ck_assert(!spiffe_in_domain("spiffe://a.example/x", "a.example.x"));
	ck_assert(!spiffe_in_domain("spiffe://a.example.evil/x", "a.example"));
	ck_assert(!spiffe_in_domain("spiffe://b.example/x", "a.example"));
	ck_assert(!spiffe_in_domain(NULL, "a.example"));
	ck_assert(!spiffe_in_domain("spiffe://a.example/x", NULL));
	ck_assert(!spiffe_in_domain("garbage", "garbage"));
	ck_assert_int_eq(spiffe_td_check("a.example", 9, &why), 0);
	ck_assert_int_eq(spiffe_td_check("A.example", 9, &why), -1);
	ck_assert_str_eq(why, "invalid trust domain (allowed: a-z 0-9 . - _)");
	ck_assert_int_eq(spiffe_td_check("a*", 2, &why), -1);
	ck_assert_str_eq(why, "globs are not allowed in the trust domain");
	ck_assert_int_eq(spiffe_td_check("", 0, &why), -1);
	ck_assert_str_eq(why, "empty trust domain");
}
END_TEST

START_TEST(patterns)
{
	static const char *const good[] = {"backend", "jobs/*", "jobs/**", "*",
	    "**", "svc?", "a-b_c.d/E9", "spiffe://cotai.internal",
	    "spiffe://cotai.internal/backend", "spiffe://cotai.internal/jobs/*",
	    "spiffe://td/**", "spiffe://td/*/x?"};
	static const char *const bad[] = {"", "/backend", "backend/", "a//b",
	    "a/./b", "..", "a/../b", "SPIFFE://td/x", "spiffe:td", "spiffe://",
	    "spiffe:///x", "spiffe://*/x", "spiffe://t?/x", "spiffe://TD/x",
	    "spiffe://td/x/", "spiffe://td:80/x", "spiffe://u@td/x", "http://x",
	    "a b", "a%20b", "a#b", "spiffe://td/a?b=c", "b\xc3\xa4"};
	const char *why;
	char *longp;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why = "unset";
		ck_assert_msg(spiffe_pattern_check(good[i], &why) == 0,
		    "refused %s: %s", good[i], why);
		ck_assert_ptr_null(why);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(spiffe_pattern_check(bad[i], &why) == -1,
		    "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(why);
	}
	ck_assert_int_eq(spiffe_pattern_check(NULL, &why), -1);
	ck_assert_str_eq(why, "empty pattern");
	ck_assert_int_eq(spiffe_pattern_check("spiffe://*/x", &why), -1);
	ck_assert_str_eq(why, "globs are not allowed in the trust domain");
	ck_assert_int_eq(spiffe_pattern_check("/x", &why), -1);
	ck_assert_str_eq(
	    why, "a name has no leading '/' (or use spiffe://...)");
	ck_assert_int_eq(spiffe_pattern_check("a/../b", NULL), -1);
	ck_assert_int_eq(spiffe_pattern_check("ok", NULL), 0);
	ck_assert_ptr_nonnull(longp = malloc(3000));
	memset(longp, 'a', 2999);
	longp[2999] = '\0';
	ck_assert_int_eq(spiffe_pattern_check(longp, &why), -1);
	ck_assert_str_eq(why, "pattern longer than 2048 bytes");
	free(longp);
}
END_TEST

/* cotai-ca's names are a subset of the grammar, never a different one. */
START_TEST(ca_names_agree)
{
	static const char *const tds[] = {"cotai.test", "prod_1.example", "a"};
	static const char *const names[] = {"backend", "db-1", "a.b.c"};
	char buf[CA_NAME_SPIFFE_MAX];
	struct spiffe_id p;

	for (size_t i = 0; i < sizeof(tds) / sizeof(tds[0]); i++) {
		ck_assert_int_eq(ca_name_trust_domain(tds[i]), 0);
		ck_assert_int_eq(
		    spiffe_td_check(tds[i], strlen(tds[i]), NULL), 0);
		for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
			ck_assert_int_eq(ca_name_spiffe_id(tds[i], names[j],
					     buf, sizeof(buf)),
			    0);
			ck_assert_int_eq(
			    spiffe_parse(buf, SPIFFE_NEED_PATH, &p, NULL), 0);
			ck_assert_str_eq(p.path, names[j]);
			ck_assert_int_eq(spiffe_pattern_check(buf, NULL), 0);
			ck_assert_int_eq(
			    spiffe_pattern_check(names[j], NULL), 0);
		}
	}
	/* Stricter at the CA (DNS-style labels), refused by both. */
	ck_assert_int_eq(ca_name_trust_domain(".td"), -1);
	ck_assert(spiffe_valid("spiffe://.td/x"));
	ck_assert_int_eq(ca_name_trust_domain("TD"), -1);
	ck_assert(!spiffe_valid("spiffe://TD/x"));
}
END_TEST

Suite *
spiffe_suite(void)
{
	Suite *s = suite_create("spiffe");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, ids);
	tcase_add_test(tc, parts);
	tcase_add_test(tc, domains);
	tcase_add_test(tc, patterns);
	tcase_add_test(tc, ca_names_agree);
	suite_add_tcase(s, tc);
	return (s);
}
