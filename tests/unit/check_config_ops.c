/*
 * Unit tests for config/'s operations keys: admin (over plain HTTP and over
 * mTLS), reload, max_handshakes, connect_retry, sandbox, resolve_interval,
 * drain_delay and the mux keys: their defaults, the values they take and
 * the file:line:col errors of bad ones. Uses config_fixture.h.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "config.h"
#include "data/testcert.h"

Suite *config_ops_suite(void);

#include "data/config_fixture.h"

/* Operations keys (issue 4): admin, reload, max_handshakes, retry. */
START_TEST(ops_keys)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
	    {ID "reload: {debounce: 0}\nroutes:\n" R_O,
		"2:20: reload.debounce: "},
	    {ID "reload: {wach: true}\nroutes:\n" R_O,
		"2:10: reload.wach: unknown key (did you mean \"watch\"?)"},
	    {ID "max_handshakes: 0\nroutes:\n" R_O, "2:17: max_handshakes: "},
	    {ID "routes:\n" R_O "    connect_retry: {attempts: 101}\n",
		"8:31: routes[0].connect_retry.attempts: "},
	    {ID "admin: {ready_min_validity: 8d}\nroutes:\n" R_O,
		"2:29: admin.ready_min_validity: "},
	};
	struct cotai_config *cfg = NULL;

	ck_assert_msg(load(ID "routes:\n" R_O R_T, &cfg) == 0, "%s", err);
	ck_assert_uint_eq(cfg->ready_min_validity_ms, 600000);
	ck_assert(cfg->reload_watch && cfg->reload_close_revoked);
	ck_assert_uint_eq(cfg->reload_debounce_ms, 500);
	ck_assert_uint_eq(cfg->max_handshakes, 1024);
	ck_assert_uint_eq(cfg->routes[0].retry.attempts, 3);
	ck_assert_uint_eq(cfg->routes[0].retry.backoff_ms, 250);
	config_free(cfg);
	ck_assert_msg(
	    load(ID "admin: {ready_min_validity: 1h}\n"
		    "reload: {watch: false, debounce: 2s, close_revoked: no}\n"
		    "max_handshakes: 50\n"
		    "defaults: {connect_retry: {attempts: 5, backoff: 1s}}\n"
		    "routes:\n" R_O "    connect_retry: {attempts: 0}\n" R_T,
		&cfg) == 0,
	    "%s", err);
	ck_assert_uint_eq(cfg->ready_min_validity_ms, 3600000);
	ck_assert(!cfg->reload_watch && !cfg->reload_close_revoked);
	ck_assert_uint_eq(cfg->reload_debounce_ms, 2000);
	ck_assert_uint_eq(cfg->max_handshakes, 50);
	ck_assert_uint_eq(cfg->routes[0].retry.attempts, 0);
	ck_assert_uint_eq(cfg->routes[0].retry.backoff_ms, 1000);
	ck_assert_uint_eq(cfg->routes[1].retry.attempts, 5);
	config_free(cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(i, bad[i].yaml, bad[i].want);
}
END_TEST

/*
 * admin over mTLS: admin.tls makes admin_route a terminate route named
 * "admin" with the global identity under admin.identity's keys and
 * admin.allow; a plaintext admin beyond loopback, TLS keys without tls,
 * tls without allow, and a health listener beyond loopback are refused
 * with their line.
 */
START_TEST(admin_tls_keys)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
	    {ID "admin: {listen: \"0.0.0.0:9901\"}\nroutes:\n" R_O,
		"2:17: admin.listen: a plaintext admin endpoint must be "
		"loopback"},
	    {ID "admin:\n  listen: \"10.1.2.3:9901\"\n  tls: false\n"
		"routes:\n" R_O,
		"3:11: admin.listen: a plaintext admin endpoint"},
	    {ID "admin: {allow: [prometheus]}\nroutes:\n" R_O,
		"2:16: admin.allow: only with admin.tls: true"},
	    {ID "admin: {identity: {cert: @D@/cert2.pem}}\nroutes:\n" R_O,
		"2:26: admin.identity.cert: only with admin.tls: true"},
	    {ID "admin: {tls_min_version: 1.2}\nroutes:\n" R_O,
		"2:26: admin.tls_min_version: only with admin.tls: true"},
	    {ID "admin:\n  listen: \"0.0.0.0:9901\"\n  tls: true\n"
		"routes:\n" R_O,
		"4:8: admin.allow: required with admin.tls: true"},
	    {ID "admin: {tls: true, allow: [prometheus], "
		"plaintext_bind_any: true}\nroutes:\n" R_O,
		"2:61: admin.plaintext_bind_any: only without admin.tls"},
	    {ID "admin: {tls: true, allow: [\"spiffe://x/a/../b\"]}\n"
		"routes:\n" R_O,
		"2:28: admin.allow[0]: bad pattern"},
	    {ID "admin: {tls: true, allow: [p], health_listen: "
		"\"0.0.0.0:9902\"}\nroutes:\n" R_O,
		"2:47: admin.health_listen: must be loopback"},
	    {ID "admin: {listen: \"127.0.0.1:9901\", health_listen: "
		"\"127.0.0.1:9901\"}\nroutes:\n" R_O,
		"2:50: admin.health_listen: same address as admin.listen"},
	    {ID "admin: {health_listen: \"127.0.0.1:1000\"}\nroutes:\n" R_O,
		"6:13: routes[0].listen: same address as "
		"admin.health_listen"},
	    {"identity: {ca: @D@/ca.pem}\n"
	     "admin: {tls: true, allow: [p]}\nroutes:\n" R_O
	     "    identity: {cert: @D@/cert.pem, key: @D@/key.pem}\n",
		"2:14: admin.tls: needs identity.cert"},
	    {ID "admin: {tls: true, allow: [p], identity: {key: "
		"@D@/key2.pem}}\nroutes:\n" R_O,
		"2:48: admin.identity.key: /"},
	};
	struct cotai_config *cfg = NULL;
	const struct config_route *a;

	/* Defaults: plain loopback; a wide plain one with the opt-in. */
	ck_assert_msg(load(ID "routes:\n" R_O, &cfg) == 0, "%s", err);
	ck_assert(!cfg->admin_tls && cfg->admin_route.name == NULL);
	ck_assert_ptr_null(cfg->admin_health_listen.text);
	config_free(cfg);
	ck_assert_msg(load(ID "admin: {listen: \"0.0.0.0:9901\", "
			      "plaintext_bind_any: true}\nroutes:\n" R_O,
			  &cfg) == 0,
	    "%s", err);
	ck_assert(cfg->admin_plaintext_bind_any);
	config_free(cfg);
	ck_assert_msg(
	    load(ID "admin:\n  listen: \"0.0.0.0:9901\"\n  tls: true\n"
		    "  identity: {cert: @D@/cert2.pem, key: @D@/key2.pem, "
		    "crl: @D@/crl.pem}\n"
		    "  allow: [prometheus, \"spiffe://cotai.test/ops/*\"]\n"
		    "  health_listen: \"127.0.0.1:9902\"\n"
		    "routes:\n" R_O,
		&cfg) == 0,
	    "%s", err);
	a = &cfg->admin_route;
	ck_assert(cfg->admin_tls);
	ck_assert_str_eq(a->name, "admin");
	ck_assert_int_eq(a->mode, CONFIG_MODE_TERMINATE);
	ck_assert(!a->tls_resumption);
	ck_assert_int_eq(a->tls_min_version, TLS1_3_VERSION);
	ck_assert_uint_eq(a->nallow, 2);
	ck_assert_str_eq(a->allow[0], "prometheus");
	assert_file(a->identity.ca, "ca.pem"); /* inherited */
	assert_file(a->identity.cert, "cert2.pem");
	assert_file(a->identity.key, "key2.pem");
	assert_file(a->identity.crl, "crl.pem");
	ck_assert_str_eq(cfg->admin_health_listen.text, "127.0.0.1:9902");
	config_free(cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(i, bad[i].yaml, bad[i].want);
}
END_TEST

/* sandbox: each value; the file note of config_load_with(). */
static const char *
note_enoent(const char *path, int e)
{
	return (e == ENOENT && strstr(path, "gone") != NULL ? "a note" : NULL);
}

START_TEST(sandbox_key)
{
	static const struct config_load_opts opts = {note_enoent};
	static const struct {
		const char *value;
		enum config_sandbox want;
	} ok[] = {{"auto", CONFIG_SANDBOX_AUTO},
	    {"landlock", CONFIG_SANDBOX_LANDLOCK}, {"off", CONFIG_SANDBOX_OFF}};
	struct cotai_config *cfg = NULL;
	char yaml[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(yaml, sizeof(yaml), ID "sandbox: %s\nroutes:\n" R_O,
		    ok[i].value);
		ck_assert_msg(load(yaml, &cfg) == 0, "%s", err);
		ck_assert_int_eq(cfg->sandbox, ok[i].want);
		ck_assert_str_eq(
		    config_sandbox_name(cfg->sandbox), ok[i].value);
		config_free(cfg);
	}
	ck_assert_int_eq(
	    load(
		ID "routes:\n" R_O "    identity: {crl: @D@/gone.pem}\n", &cfg),
	    -1);
	ck_assert_ptr_null(strstr(err, "a note"));
	ck_assert_int_eq(
	    config_load_with(yaml_path, &opts, &cfg, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err,
			  "gone.pem: No such file or directory (a "
			  "note)") != NULL,
	    "%s", err);
	ck_assert_int_eq(config_load_with("/nonexistent/gone.yaml", &opts, &cfg,
			     err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err,
	    "/nonexistent/gone.yaml:1:1: (file): No such "
	    "file or directory (a note)");
}
END_TEST

/*
 * resolve_interval: 10s unless defaults: or the route says otherwise; 0
 * (only after failures) or at least 100ms; --check shows it for host
 * names only.
 */
START_TEST(resolve_interval)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
	    {ID "routes:\n" R_O "    resolve_interval: 50ms\n",
		"8:23: routes[0].resolve_interval: must be 0 or at least "
		"100ms"},
	    {ID "routes:\n" R_O "    resolve_interval: 10\n",
		"8:23: routes[0].resolve_interval: invalid duration \"10\""},
	    {ID "routes:\n" R_O "    resolve_interval: 8d\n",
		"8:23: routes[0].resolve_interval: invalid duration \"8d\" "
		"(e.g. 500ms, 30s, 1h30m; at most 7d)"},
	    {ID "routes:\n" R_O "    resolve_interval: -1s\n",
		"8:23: routes[0].resolve_interval: invalid duration \"-1s\""},
	    {ID "routes:\n" R_O "    resolve_interval: 1s30m\n",
		"8:23: routes[0].resolve_interval: invalid duration"},
	    {ID "routes:\n" R_O "    resolve_interval: [1s]\n",
		"8:23: routes[0].resolve_interval: expected a scalar, got a "
		"sequence"},
	    {ID "routes:\n" R_O "    resolve_interval:\n",
		"8:22: routes[0].resolve_interval: empty value"},
	    {ID "routes:\n" R_O "    resolve_intreval: 1s\n",
		"8:5: routes[0].resolve_intreval: unknown key (did you mean "
		"\"resolve_interval\"?)"},
	    {ID "routes:\n" R_O "    resolve_interval: 1s\n"
		"    resolve_interval: 2s\n",
		"9:5: routes[0].resolve_interval: duplicate key (first at "
		"line 8)"},
	    {ID "defaults: {resolve_interval: 99ms}\nroutes:\n" R_O,
		"2:30: defaults.resolve_interval: must be 0 or at least "
		"100ms"},
	    {ID "defaults: {resolve_interval: soon}\nroutes:\n" R_O,
		"2:30: defaults.resolve_interval: invalid duration "
		"\"soon\""},
	};
	struct cotai_config *cfg = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	ck_assert_msg(load(ID "routes:\n" R_O R_T, &cfg) == 0, "%s", err);
	ck_assert_uint_eq(cfg->routes[0].resolve_interval_ms, 10000);
	ck_assert_uint_eq(cfg->routes[1].resolve_interval_ms, 10000);
	config_free(cfg);
	ck_assert_msg(load(ID "defaults: {resolve_interval: 100ms}\n"
			      "routes:\n" R_O "    resolve_interval: 0\n" R_T,
			  &cfg) == 0,
	    "%s", err);
	ck_assert_uint_eq(cfg->routes[0].resolve_interval_ms, 0);
	ck_assert_uint_eq(cfg->routes[1].resolve_interval_ms, 100);
	ck_assert_ptr_nonnull(fp = open_memstream(&buf, &len));
	config_print(cfg, fp);
	fclose(fp);
	/* peer:2000 is looked up; 127.0.0.1:3000 never is. */
	ck_assert_ptr_nonnull(
	    strstr(buf, "resolve_interval: 0 (only after a failed connect)\n"));
	ck_assert_ptr_null(strstr(buf, "resolve_interval: 100ms"));
	free(buf);
	config_free(cfg);
	ck_assert_msg(
	    load(ID "routes:\n" R_O "    resolve_interval: 1m30s\n", &cfg) == 0,
	    "%s", err);
	ck_assert_uint_eq(cfg->routes[0].resolve_interval_ms, 90000);
	config_free(cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(i, bad[i].yaml, bad[i].want);
}
END_TEST

/* drain_delay: 0 by default, 0 to 10m, printed by --check. */
START_TEST(drain_delay)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
	    {ID "drain_delay: 11m\nroutes:\n" R_O,
		"2:14: drain_delay: must be at most 10m"},
	    {ID "drain_delay: -1s\nroutes:\n" R_O,
		"2:14: drain_delay: invalid duration \"-1s\""},
	    {ID "drain_delay: soon\nroutes:\n" R_O,
		"2:14: drain_delay: invalid duration \"soon\""},
	};
	struct cotai_config *cfg = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	ck_assert_msg(load(ID "routes:\n" R_O, &cfg) == 0, "%s", err);
	ck_assert_uint_eq(cfg->drain_delay_ms, 0);
	config_free(cfg);
	ck_assert_msg(
	    load(ID "drain_delay: 10m\nroutes:\n" R_O, &cfg) == 0, "%s", err);
	ck_assert_uint_eq(cfg->drain_delay_ms, 600000);
	config_free(cfg);
	ck_assert_msg(load(ID "drain_delay: 2500ms\nroutes:\n" R_O, &cfg) == 0,
	    "%s", err);
	ck_assert_uint_eq(cfg->drain_delay_ms, 2500);
	ck_assert_ptr_nonnull(fp = open_memstream(&buf, &len));
	config_print(cfg, fp);
	fclose(fp);
	ck_assert_msg(strstr(buf, "drain_delay: 2s500ms\n") != NULL, "%s", buf);
	free(buf);
	config_free(cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(i, bad[i].yaml, bad[i].want);
}
END_TEST

START_TEST(mux_keys)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
	    {ID "routes:\n" R_O "    mux: maybe\n",
		"8:10: routes[0].mux: invalid value \"maybe\""},
	    {ID "routes:\n" R_O "    protocol: redis\n    mux: on\n",
		"9:10: routes[0].mux: only for protocol: tcp or postgres"},
	    {ID "routes:\n" R_O "    protocol: redis\n    mux_window: 64k\n",
		"9:17: routes[0].mux_window: only for protocol: tcp or "
		"postgres"},
	    {ID "routes:\n" R_T "    mux_tunnels: 3\n",
		"8:18: routes[0].mux_tunnels: only on an originate route"},
	    {ID "routes:\n" R_O "    mux_streams: 0\n",
		"8:18: routes[0].mux_streams: invalid value \"0\" (expected "
		"an integer 1..10000)"},
	    {ID "routes:\n" R_O "    mux_window: 1k\n",
		"8:17: routes[0].mux_window: invalid size \"1k\""},
	    {ID "routes:\n" R_O "    mux_ping: 10ms\n",
		"8:15: routes[0].mux_ping: must be at least 100ms"},
	    {ID "defaults: {mux: sometimes}\nroutes:\n" R_O,
		"2:17: defaults.mux: invalid value \"sometimes\""},
	    /* postgres: its server's own TLS is not multiplexed (issue 16) */
	    {ID "routes:\n" R_O "    protocol: postgres\n    mux: on\n",
		"9:10: routes[0].mux: only with upstream: sidecar"},
	    {ID "routes:\n" R_O "    protocol: postgres\n"
		"    upstream: postgres\n    mux: auto\n",
		"10:10: routes[0].mux: only with upstream: sidecar"},
	    {ID "routes:\n" R_O "    protocol: postgres\n    mux_streams: 5\n",
		"9:18: routes[0].mux_streams: only with upstream: sidecar"},
	    {ID "routes:\n" R_O "    protocol: mongo\n    mux: \"off\"\n",
		"9:10: routes[0].mux: only for protocol: tcp or postgres"},
	    {ID "routes:\n" R_T "    protocol: postgres\n    mux_tunnels: 3\n",
		"9:18: routes[0].mux_tunnels: only on an originate route"},
	};
	struct cotai_config *cfg = NULL;

	/* Default auto on tcp, off elsewhere; defaults.mux for the rest. */
	ck_assert_msg(load(ID "routes:\n" R_O R_T, &cfg) == 0, "%s", err);
	ck_assert_int_eq(cfg->routes[0].mux, CONFIG_MUX_AUTO);
	ck_assert_int_eq(cfg->routes[1].mux, CONFIG_MUX_AUTO);
	ck_assert_uint_eq(cfg->routes[0].mux_streams, 100);
	ck_assert_uint_eq(cfg->routes[0].mux_tunnels, 2);
	ck_assert_uint_eq(cfg->routes[0].mux_window, 256 * 1024);
	ck_assert_uint_eq(cfg->routes[0].mux_ping_ms, 10000);
	config_free(cfg);
	ck_assert_msg(load(ID "defaults: {mux: \"off\"}\nroutes:\n" R_O
			      "    mux: on\n    mux_streams: 7\n"
			      "    mux_window: 64k\n" R_T,
			  &cfg) == 0,
	    "%s", err);
	ck_assert_int_eq(cfg->routes[0].mux, CONFIG_MUX_ON);
	ck_assert_uint_eq(cfg->routes[0].mux_streams, 7);
	ck_assert_uint_eq(cfg->routes[0].mux_window, 64 * 1024);
	ck_assert_int_eq(cfg->routes[1].mux, CONFIG_MUX_OFF);
	config_free(cfg);
	ck_assert_msg(
	    load(ID "routes:\n" R_O "    protocol: redis\n", &cfg) == 0, "%s",
	    err);
	ck_assert_int_eq(cfg->routes[0].mux, CONFIG_MUX_OFF);
	config_free(cfg);
	/*
	 * postgres between two sidecars (upstream: sidecar, terminate):
	 * auto by default and from defaults.mux, like tcp; upstream:
	 * postgres stays off, also with defaults.mux on, and may say off.
	 */
	ck_assert_msg(
	    load(ID "routes:\n" R_O "    protocol: postgres\n"
		    "    upstream: sidecar\n" R_T "    protocol: postgres\n",
		&cfg) == 0,
	    "%s", err);
	ck_assert_int_eq(cfg->routes[0].mux, CONFIG_MUX_AUTO);
	ck_assert_int_eq(cfg->routes[1].mux, CONFIG_MUX_AUTO);
	config_free(cfg);
	ck_assert_msg(load(ID "defaults: {mux: on}\nroutes:\n" R_O
			      "    protocol: postgres\n"
			      "    upstream: sidecar\n    mux_streams: 9\n" R_T
			      "    protocol: postgres\n    mux: \"off\"\n"
			      "  - name: c\n    mode: originate\n"
			      "    listen: 127.0.0.1:1001\n"
			      "    target: db:5432\n    expect: db\n"
			      "    protocol: postgres\n",
			  &cfg) == 0,
	    "%s", err);
	ck_assert_int_eq(cfg->routes[0].mux, CONFIG_MUX_ON);
	ck_assert_uint_eq(cfg->routes[0].mux_streams, 9);
	ck_assert_int_eq(cfg->routes[1].mux, CONFIG_MUX_OFF);
	ck_assert_int_eq(cfg->routes[2].mux, CONFIG_MUX_OFF);
	config_free(cfg);
	ck_assert_msg(load(ID "routes:\n" R_O "    protocol: postgres\n"
			      "    mux: \"off\"\n",
			  &cfg) == 0,
	    "%s", err);
	ck_assert_int_eq(cfg->routes[0].mux, CONFIG_MUX_OFF);
	config_free(cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(i, bad[i].yaml, bad[i].want);
}
END_TEST

Suite *
config_ops_suite(void)
{
	Suite *s = suite_create("config_ops");
	TCase *tc = tcase_create("config_ops");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ops_keys);
	tcase_add_test(tc, admin_tls_keys);
	tcase_add_test(tc, sandbox_key);
	tcase_add_test(tc, resolve_interval);
	tcase_add_test(tc, drain_delay);
	tcase_add_test(tc, mux_keys);
	suite_add_tcase(s, tc);
	return (s);
}
