/*
 * Unit tests for config/config_scope.c: the trust domains in which a
 * route's bare patterns match (home from the certificate's SPIFFE ID or
 * identity.trust_domain, widened only by the route's trust_domains), and
 * the file:line errors of those keys. Uses check_config.c's fixture.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "data/testcert.h"

Suite *config_scope_suite(void);

#include "data/config_fixture.h"

/* The routes key at line 2, a terminate route at lines 3-7 (col 5). */
#define ROUTE(extra)                                                           \
	"routes:\n  - name: t\n    mode: terminate\n    listen: "              \
	"0.0.0.0:2000\n"                                                       \
	"    target: 127.0.0.1:3000\n" extra

/* Load YAML, which must succeed, and return route 0's trust domains. */
static struct cotai_config *
scope_of(const char *yaml)
{
	struct cotai_config *cfg = NULL;

	ck_assert_msg(load(yaml, &cfg) == 0, "refused: %s", err);
	ck_assert_uint_ge(cfg->nroutes, 1);
	return (cfg);
}

START_TEST(home_from_certificate)
{
	struct cotai_config *cfg = scope_of(ID ROUTE("    allow: backend\n"));
	const struct config_route *r = &cfg->routes[0];

	ck_assert_uint_eq(r->ntrust_domains, 1);
	ck_assert_str_eq(r->trust_domains[0], "cotai.internal");
	ck_assert(!r->trust_domains_set);
	ck_assert_ptr_null(r->identity.trust_domain);
	config_free(cfg);
}
END_TEST

START_TEST(home_from_key_and_inherited)
{
	struct cotai_config *cfg = scope_of(
	    "identity: {ca: @D@/ca.pem, cert: @D@/cert.pem, key: @D@/key.pem, "
	    "trust_domain: other.td}\n" ROUTE("    allow: backend\n"
					      "  - name: u\n"
					      "    mode: terminate\n"
					      "    listen: 0.0.0.0:2001\n"
					      "    target: 127.0.0.1:3000\n"
					      "    allow: backend\n"
					      "    identity: {trust_domain: "
					      "z.td}\n"));

	ck_assert_str_eq(cfg->identity.trust_domain, "other.td");
	ck_assert_str_eq(cfg->routes[0].identity.trust_domain, "other.td");
	ck_assert_uint_eq(cfg->routes[0].ntrust_domains, 1);
	ck_assert_str_eq(cfg->routes[0].trust_domains[0], "other.td");
	ck_assert_str_eq(cfg->routes[1].trust_domains[0], "z.td");
	config_free(cfg);
}
END_TEST

START_TEST(route_widens)
{
	struct cotai_config *cfg =
	    scope_of(ID ROUTE("    allow: backend\n"
			      "    trust_domains: [a.td, cotai.internal]\n"));
	const struct config_route *r = &cfg->routes[0];

	ck_assert(r->trust_domains_set);
	ck_assert_uint_eq(r->ntrust_domains, 2);
	ck_assert_str_eq(r->trust_domains[0], "a.td");
	ck_assert_str_eq(r->trust_domains[1], "cotai.internal");
	config_free(cfg);

	cfg = scope_of(ID ROUTE("    allow: backend\n"
				"    trust_domains: \"*\"\n"));
	ck_assert_uint_eq(cfg->routes[0].ntrust_domains, 1);
	ck_assert_str_eq(cfg->routes[0].trust_domains[0], "*");
	config_free(cfg);
}
END_TEST

/* A certificate without a SPIFFE ID: no home trust domain. */
static void
write_legacy(void)
{
	EVP_PKEY *k = testcert_key();
	X509 *x = testcert_make(k, "legacy", "DNS:legacy");
	char p[128];

	dir_file(p, sizeof(p), "legacy.pem");
	testcert_write_cert(p, x);
	dir_file(p, sizeof(p), "legacy.key");
	testcert_write_key(p, k, 0600);
	X509_free(x);
	EVP_PKEY_free(k);
}

#define LEGACY                                                                 \
	"identity: {ca: @D@/ca.pem, cert: @D@/legacy.pem, key: "               \
	"@D@/legacy.key}\n"

START_TEST(no_home)
{
	struct cotai_config *cfg = NULL;

	write_legacy();
	/* spiffe:// patterns alone need no home. */
	cfg = scope_of(
	    LEGACY ROUTE("    allow: [\"spiffe://cotai.internal/backend\"]\n"));
	ck_assert_uint_eq(cfg->routes[0].ntrust_domains, 0);
	config_free(cfg);
	/* A bare pattern does: the error points at the allow key. */
	ck_assert_int_eq(load(LEGACY ROUTE("    allow: [\"spiffe://x/y\", "
					   "jobs/*]\n"),
			     &cfg),
	    -1);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strncmp(err_rest(),
			  "7:12: routes[0].allow: bare pattern \"jobs/*\" "
			  "matches only in the home trust domain, and there "
			  "is none",
			  80) == 0,
	    "got %s", err);
	/* Also in roles. */
	ck_assert_int_eq(load(LEGACY ROUTE("    protocol: postgres\n"
					   "    allow: [\"spiffe://x/y\"]\n"
					   "    roles: {backend: [app]}\n"),
			     &cfg),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "bare pattern \"backend\""));
	/* Or set a home. */
	cfg = scope_of(LEGACY ROUTE("    allow: jobs/*\n"
				    "    trust_domains: cotai.internal\n"));
	config_free(cfg);
}
END_TEST

struct scope_err {
	const char *yaml;
	const char *want;
};

static const struct scope_err scope_errs[] = {
    {ID ROUTE("    allow: backend\n    trust_domains: [Upper.td]\n"),
	"8:21: routes[0].trust_domains[0]: bad trust domain \"Upper.td\": "
	"invalid trust domain (allowed: a-z 0-9 . - _) (or \"*\" for any)"},
    {ID ROUTE("    allow: backend\n    trust_domains: [\"*\", a.td]\n"),
	"8:20: routes[0].trust_domains: \"*\" (any trust domain) must be the "
	"only entry"},
    {ID ROUTE("    allow: backend\n    trust_domains: [a.td, a.td]\n"),
	"8:20: routes[0].trust_domains: trust domain \"a.td\" listed twice"},
    {ID ROUTE("    allow: backend\n    trust_domains: [\"t*\"]\n"),
	"8:21: routes[0].trust_domains[0]: bad trust domain \"t*\": globs are "
	"not allowed in the trust domain"},
    {ID ROUTE("    allow: backend\n    trust_domains: {a: b}\n"),
	"8:20: routes[0].trust_domains: expected a scalar or a sequence"},
    {ID ROUTE("    allow: backend\n    trust_domains: []\n"),
	"8:20: routes[0].trust_domains: empty list"},
    {"identity: {trust_domain: \"td:80\", ca: @D@/ca.pem, cert: "
     "@D@/cert.pem, key: @D@/key.pem}\n" ROUTE("    allow: backend\n"),
	"1:26: identity.trust_domain: bad trust domain \"td:80\""},
    {ID ROUTE("    allow: backend\n    identity: {trust_domain: \"*\"}\n"),
	"8:30: routes[0].identity.trust_domain: bad trust domain \"*\""},
};

START_TEST(errors)
{
	const struct scope_err *c = &scope_errs[_i];
	struct cotai_config *cfg = (void *)1;

	ck_assert_int_eq(load(c->yaml, &cfg), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strncmp(err_rest(), c->want, strlen(c->want)) == 0,
	    "case %d: got \"%s\", want \"%s\"", _i, err_rest(), c->want);
}
END_TEST

START_TEST(printed)
{
	struct cotai_config *cfg =
	    scope_of(ID ROUTE("    allow: backend\n"
			      "    trust_domains: [a.td, b.td]\n"));
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(fp);
	config_print(cfg, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(
	    buf, "trust_domains (bare patterns; route key): a.td, b.td"));
	free(buf);
	config_free(cfg);
}
END_TEST

Suite *
config_scope_suite(void)
{
	Suite *s = suite_create("config_scope");
	TCase *tc = tcase_create("scope");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, home_from_certificate);
	tcase_add_test(tc, home_from_key_and_inherited);
	tcase_add_test(tc, route_widens);
	tcase_add_test(tc, no_home);
	tcase_add_loop_test(
	    tc, errors, 0, (int)(sizeof(scope_errs) / sizeof(scope_errs[0])));
	tcase_add_test(tc, printed);
	suite_add_tcase(s, tc);
	return (s);
}
