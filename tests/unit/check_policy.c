/*
 * Unit tests for lib/policy.c: pattern checks, the glob (including a
 * pathological input that would take exponential time with naive
 * backtracking) and matching identities taken from real certificates.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/testcert.h"
#include "identity.h"
#include "policy.h"

Suite *policy_suite(void);

struct glob_case {
	const char *pattern;
	const char *s;
	bool match;
};

static const struct glob_case glob_cases[] = {
    {"backend", "backend", true},
    {"backend", "Backend", false},
    {"Backend", "backend", false},
    {"backend", "backend2", false},
    {"backend", "backen", false},
    {"*", "backend", true},
    {"*", "jobs/nightly", false},
    {"**", "jobs/nightly", true},
    {"jobs/*", "jobs/nightly", true},
    {"jobs/*", "jobs/", true},
    {"jobs/*", "jobs", false},
    {"jobs/*", "jobs/a/b", false},
    {"jobs/**", "jobs/a/b", true},
    {"jobs/**", "jobsx/a", false},
    {"**/x", "a/b/x", true},
    {"**/x", "x", false},
    {"a/**/b", "a/x/y/b", true},
    {"a/**/b", "a/b", false},
    {"*-db", "pg-db", true},
    {"*-db", "pg/x-db", false},
    {"b*d", "bd", true},
    {"b*d*d", "badbad", true},
    {"svc?", "svc1", true},
    {"svc?", "svc", false},
    {"svc?", "svc12", false},
    {"a?b", "a/b", false},
    {"***", "a/b", true},
    {"spiffe://td/jobs/*", "spiffe://td/jobs/nightly", true},
    {"spiffe://td/jobs/*", "spiffe://td/jobs/a/b", false},
    {"spiffe://td/**", "spiffe://td/jobs/a/b", true},
    {"spiffe://td/**", "spiffe://other/jobs", false},
    {"", "", true},
    {"", "a", false},
    {"a", "", false},
    {"*", "", true},
    {"**", "", true},
    {"?", "", false},
};

START_TEST(glob)
{
	const struct glob_case *c = &glob_cases[_i];

	ck_assert_msg(policy_glob(c->pattern, c->s) == c->match,
	    "glob(\"%s\", \"%s\") != %d", c->pattern, c->s, c->match);
}
END_TEST

START_TEST(glob_pathological)
{
	char *s, *p;
	struct timespec t0, t1;
	double secs;
	size_t n = 20000;

	ck_assert_ptr_nonnull(s = malloc(n + 1));
	memset(s, 'a', n);
	s[n] = '\0';
	/* 40 stars of each kind, then a character the subject lacks. */
	ck_assert_ptr_nonnull(p = malloc(400));
	p[0] = '\0';
	for (int i = 0; i < 20; i++)
		strcat(p, "**a*a");
	strcat(p, "b");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert(!policy_glob(p, s));
	p[strlen(p) - 1] = '\0';
	ck_assert(policy_glob(p, s));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(secs < 2.0, "took %.2f s", secs);
	ck_assert(!policy_glob(NULL, s));
	ck_assert(!policy_glob(p, NULL));
	free(p);
	free(s);
}
END_TEST

/* Bare patterns in any trust domain; match_trust_domains narrows it. */
static char *const any[] = {"*"};

/* The identity of a fresh self-signed certificate with SANS. */
static int
ident(const char *sans, struct identity *id)
{
	EVP_PKEY *k = testcert_key();
	X509 *x = testcert_make(k, "cn-is-ignored", sans);
	int rc = identity_from_x509(x, id);

	X509_free(x);
	EVP_PKEY_free(k);
	return (rc);
}

START_TEST(match_identities)
{
	char *const list[] = {
	    "postgres", "jobs/*", "spiffe://cotai.internal/backend", "**"};
	char *const strict[] = {"backend", "spiffe://other.td/jobs/*"};
	char *const empty[] = {""};
	struct identity id;

	ck_assert_int_eq(ident("URI:spiffe://cotai.internal/backend", &id), 0);
	ck_assert_int_eq(policy_match(list, 4, &id, any, 1), 2);
	ck_assert_int_eq(policy_match(strict, 2, &id, any, 1), 0);
	ck_assert_int_eq(policy_match(list, 2, &id, any, 1), -1);
	ck_assert_int_eq(policy_match(list, 0, &id, any, 1), -1);
	ck_assert_int_eq(policy_match(NULL, 3, &id, any, 1), -1);
	ck_assert_int_eq(policy_match(empty, 1, &id, any, 1), -1);
	identity_clear(&id);

	ck_assert_int_eq(
	    ident("URI:spiffe://cotai.internal/jobs/nightly", &id), 0);
	ck_assert_int_eq(policy_match(list, 4, &id, any, 1), 1);
	/* The trust domain is part of a spiffe:// pattern, not of a name. */
	ck_assert_int_eq(policy_match(strict, 2, &id, any, 1), -1);
	identity_clear(&id);

	ck_assert_int_eq(ident("URI:spiffe://other.td/jobs/x", &id), 0);
	ck_assert_int_eq(policy_match(strict, 2, &id, any, 1), 1);
	identity_clear(&id);

	/* Case matters. */
	ck_assert_int_eq(ident("URI:spiffe://cotai.internal/Backend", &id), 0);
	ck_assert_int_eq(policy_match(strict, 1, &id, any, 1), -1);
	identity_clear(&id);

	/* A trust-domain-only ID has no name: only spiffe:// patterns. */
	ck_assert_int_eq(ident("URI:spiffe://cotai.internal", &id), 0);
	ck_assert_int_eq(policy_match(list, 4, &id, any, 1), -1);
	{
		char *const td[] = {"*", "spiffe://cotai.internal"};

		ck_assert_int_eq(policy_match(td, 2, &id, any, 1), 1);
	}
	identity_clear(&id);
}
END_TEST

START_TEST(match_refuses_without_spiffe)
{
	char *const all[] = {
	    "**", "*", "cn-is-ignored", "spiffe://cotai.internal/**"};
	struct identity id;

	/* No SPIFFE ID: not malformed, but nothing matches, not even "**". */
	ck_assert_int_eq(ident("DNS:backend", &id), 0);
	ck_assert_ptr_null(id.spiffe);
	ck_assert_int_eq(policy_match(all, 4, &id, any, 1), -1);
	identity_clear(&id);
	ck_assert_int_eq(ident(NULL, &id), 0);
	ck_assert_int_eq(policy_match(all, 4, &id, any, 1), -1);
	identity_clear(&id);

	/* Several SPIFFE IDs: malformed, and a cleared identity matches none.
	 */
	ck_assert_int_eq(ident("URI:spiffe://cotai.internal/a,"
			       "URI:spiffe://cotai.internal/b",
			     &id),
	    -1);
	ck_assert_int_eq(policy_match(all, 4, &id, any, 1), -1);
	identity_clear(&id);
	ck_assert_int_eq(policy_match(all, 4, NULL, any, 1), -1);
}
END_TEST

START_TEST(match_trust_domains)
{
	char *const bare[] = {"backend"};
	char *const full[] = {"spiffe://b.example/backend"};
	char *const a[] = {"a.example"}, *const b[] = {"b.example"};
	char *const ab[] = {"b.example", "a.example"};
	struct identity id;

	ck_assert_int_eq(ident("URI:spiffe://a.example/backend", &id), 0);
	ck_assert_int_eq(policy_match(bare, 1, &id, a, 1), 0);
	ck_assert_int_eq(policy_match(bare, 1, &id, b, 1), -1);
	ck_assert_int_eq(policy_match(bare, 1, &id, ab, 2), 0);
	ck_assert_int_eq(policy_match(bare, 1, &id, any, 1), 0);
	/* No home trust domain: no bare pattern matches (fail closed). */
	ck_assert_int_eq(policy_match(bare, 1, &id, NULL, 0), -1);
	ck_assert_int_eq(policy_match(bare, 1, &id, ab, 0), -1);
	ck_assert_int_eq(policy_match(full, 1, &id, a, 1), -1);
	identity_clear(&id);

	/* The same name in a neighbour's domain. */
	ck_assert_int_eq(ident("URI:spiffe://b.example/backend", &id), 0);
	ck_assert_int_eq(policy_match(bare, 1, &id, a, 1), -1);
	ck_assert_int_eq(policy_match(bare, 1, &id, ab, 2), 0);
	/* A spiffe:// pattern names its domain: no scope needed. */
	ck_assert_int_eq(policy_match(full, 1, &id, a, 1), 0);
	ck_assert_int_eq(policy_match(full, 1, &id, NULL, 0), 0);
	identity_clear(&id);

	/* Whole-label comparison: a.example is not a.example.evil. */
	ck_assert_int_eq(ident("URI:spiffe://a.example.evil/backend", &id), 0);
	ck_assert_int_eq(policy_match(bare, 1, &id, a, 1), -1);
	identity_clear(&id);
	ck_assert_int_eq(ident("URI:spiffe://a.exampl/backend", &id), 0);
	ck_assert_int_eq(policy_match(bare, 1, &id, a, 1), -1);
	identity_clear(&id);
}
END_TEST

Suite *
policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_add_loop_test(
	    tc, glob, 0, (int)(sizeof(glob_cases) / sizeof(glob_cases[0])));
	tcase_add_test(tc, glob_pathological);
	tcase_add_test(tc, match_identities);
	tcase_add_test(tc, match_refuses_without_spiffe);
	tcase_add_test(tc, match_trust_domains);
	suite_add_tcase(s, tc);
	return (s);
}
