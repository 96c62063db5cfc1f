/*
 * Unit tests for config/'s audit block (stderr, file, the syslog collector
 * and its identity) and identity.renew (the EST renewal): defaults, full
 * blocks, and the file:line:col errors of bad ones. Uses config_fixture.h.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "data/testcert.h"

Suite *config_audit_renew_suite(void);

#include "data/config_fixture.h"

/* audit: defaults, a full block, refusals with file:line:col and key. */
START_TEST(audit_keys)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
	    {ID "audit:\n  syslog: {target: 127.0.0.1:6514, spool: @D@/s}\n"
		"routes:\n" R_O,
		"3:11: audit.syslog.expect: missing required key"},
	    {ID "audit:\n  syslog: {target: 127.0.0.1:0, expect: c, "
		"spool: @D@/s}\nroutes:\n" R_O,
		"3:20: audit.syslog.target:"},
	    {ID "audit:\n  syslog: {target: h:1, expect: c, spool_size: 1k, "
		"spool: @D@/s}\nroutes:\n" R_O,
		"3:48: audit.syslog.spool_size: invalid size \"1k\""},
	    {ID "audit:\n  sylog: {}\nroutes:\n" R_O,
		"3:3: audit.sylog: unknown key (did you mean \"syslog\"?)"},
	    {ID "audit: {stderr: maybe}\nroutes:\n" R_O,
		"2:17: audit.stderr: invalid value \"maybe\""},
	    {"audit:\n  syslog: {target: h:1, expect: c, spool: @D@/s}\n"
	     "routes:\n" R_O "    identity: {ca: @D@/ca.pem, cert: "
	     "@D@/cert.pem, key: @D@/key.pem}\n",
		"2:20: audit.syslog.identity: ca missing"},
	    {ID "audit:\n  syslog: {target: h:1, expect: c, identity: "
		"{cert: @D@/nope.pem}, spool: @D@/s}\nroutes:\n" R_O,
		"3:53: audit.syslog.identity.cert:"},
	    {ID "audit:\n  syslog: {target: h:1, expect: c, identity: "
		"{crl: @D@/nope.pem}, spool: @D@/s}\nroutes:\n" R_O,
		"3:52: audit.syslog.identity.crl:"},
	};
	struct cotai_config *cfg = NULL;

	ck_assert_msg(load(ID "routes:\n" R_O, &cfg) == 0, "%s", err);
	ck_assert(cfg->audit.to_stderr);
	ck_assert_ptr_null(cfg->audit.file);
	ck_assert_ptr_null(cfg->audit.target.text);
	config_free(cfg);
	ck_assert_msg(load(ID "audit:\n  stderr: false\n  file: @D@/a.log\n"
			      "  syslog:\n    target: collector:6514\n"
			      "    expect: collector\n    spool: @D@/s\n"
			      "routes:\n" R_O,
			  &cfg) == 0,
	    "%s", err);
	ck_assert(!cfg->audit.to_stderr);
	ck_assert_ptr_nonnull(strstr(cfg->audit.file, "/a.log"));
	ck_assert_str_eq(cfg->audit.target.host, "collector");
	ck_assert_str_eq(cfg->audit.target.port, "6514");
	ck_assert_str_eq(cfg->audit.expect, "collector");
	ck_assert_uint_eq(cfg->audit.spool_bytes, 64u << 20);
	ck_assert_uint_eq(cfg->audit.queue, 4096);
	/* The global identity is the collector connection's. */
	ck_assert_ptr_nonnull(strstr(cfg->audit.identity.cert, "/cert.pem"));
	ck_assert_ptr_nonnull(strstr(cfg->audit.identity.ca, "/ca.pem"));
	config_free(cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(i, bad[i].yaml, bad[i].want);
}
END_TEST

/* identity.renew: "URL" and "AT" (NULL: not set) in the renewal block. */
static int
load_renew(const char *url, const char *at, struct cotai_config **cfg)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
	    "identity:\n  renew:\n    url: \"%s\"\n    ca: @D@/ca.pem\n"
	    "    state_dir: @D@/st\n%s%s%s\nroutes:\n" R_O,
	    url, at != NULL ? "    at: \"" : "", at != NULL ? at : "",
	    at != NULL ? "\"" : "");
	return (load(yaml, cfg));
}

START_TEST(renew_keys)
{
	static const struct {
		const char *url, *at, *want;
	} bad[] = {
	    {"http://ca:1", NULL, "3:10: identity.renew.url: invalid URL"},
	    {"https://", NULL, "3:10: identity.renew.url: invalid URL"},
	    {"https://ca:0", NULL, "3:10: identity.renew.url: invalid URL"},
	    {"https://ca:65536", NULL, "3:10: identity.renew.url: invalid URL"},
	    {"https://ca/est", NULL, "3:10: identity.renew.url: invalid URL"},
	    {"https://[::1", NULL, "3:10: identity.renew.url: invalid URL"},
	    {"https://ca", "1", "6:9: identity.renew.at: invalid value \"1\""},
	    {"https://ca", "0", "6:9: identity.renew.at: invalid value"},
	    {"https://ca", "2/0", "6:9: identity.renew.at: invalid value"},
	    {"https://ca", "1/3x", "6:9: identity.renew.at: invalid value"},
	    {"https://ca", "-1/3", "6:9: identity.renew.at: invalid value"},
	    {"https://ca", "nan", "6:9: identity.renew.at: invalid value"},
	};
	struct cotai_config *cfg = NULL;
	const char *c;

	ck_assert_msg(
	    load_renew("https://ca.test:8443", "2/3", &cfg) == 0, "%s", err);
	ck_assert_str_eq(cfg->identity.renew.host, "ca.test");
	ck_assert_str_eq(cfg->identity.renew.port, "8443");
	ck_assert(cfg->identity.renew.at_frac > 0.666 &&
	    cfg->identity.renew.at_frac < 0.667);
	ck_assert_uint_eq(cfg->identity.renew.crl_interval_ms, 60000);
	/* The state directory does not exist yet: the paths are derived,
	 * the files not opened, and every route inherits them. */
	c = cfg->routes[0].identity.cert;
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(
	    c + strlen(c) - strlen("/st/cert.pem"), "/st/cert.pem");
	ck_assert_ptr_nonnull(
	    strstr(cfg->routes[0].identity.key, "/st/key.pem"));
	ck_assert_ptr_nonnull(
	    strstr(cfg->routes[0].identity.ca, "/st/bundle.pem"));
	ck_assert_ptr_nonnull(
	    strstr(cfg->routes[0].identity.crl, "/st/crl.pem"));
	ck_assert(config_renew_pending(&cfg->identity.renew));
	config_free(cfg);
	ck_assert_msg(
	    load_renew("https://[::1]:9443/", "0.5", &cfg) == 0, "%s", err);
	ck_assert_str_eq(cfg->identity.renew.host, "::1");
	ck_assert_str_eq(cfg->identity.renew.port, "9443");
	ck_assert(cfg->identity.renew.at_frac == 0.5);
	config_free(cfg);
	ck_assert_msg(load_renew("https://ca", NULL, &cfg) == 0, "%s", err);
	ck_assert_str_eq(cfg->identity.renew.port, "443");
	ck_assert(cfg->identity.renew.at_frac == 0.667);
	config_free(cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = NULL;
		ck_assert_int_eq(load_renew(bad[i].url, bad[i].at, &cfg), -1);
		ck_assert_ptr_null(cfg);
		ck_assert_msg(
		    strncmp(err_rest(), bad[i].want, strlen(bad[i].want)) == 0,
		    "case %zu: got %s", i, err);
	}
	/* The global files may not be set beside the renewal. */
	ck_assert_int_eq(load("identity:\n  key: @D@/key.pem\n  renew:\n"
			      "    url: https://ca\n    ca: @D@/ca.pem\n"
			      "    state_dir: @D@/st\nroutes:\n" R_O,
			     &cfg),
	    -1);
	ck_assert_msg(
	    strncmp(err_rest(), "2:8: identity.key: not with identity.renew",
		strlen("2:8: identity.key: not with identity.renew")) == 0,
	    "%s", err);
}
END_TEST

Suite *
config_audit_renew_suite(void)
{
	Suite *s = suite_create("config_audit_renew");
	TCase *tc = tcase_create("config_audit_renew");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, audit_keys);
	tcase_add_test(tc, renew_keys);
	suite_add_tcase(s, tc);
	return (s);
}
