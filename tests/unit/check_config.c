/*
 * Unit tests for config/: every error names the right file, line, column
 * and key; a full valid config inherits the global identity and defaults;
 * addresses, the PostgreSQL keys, the example configs, key file modes.
 * The operations keys are in check_config_ops.c, audit and renewal in
 * check_config_audit_renew.c.
 * Certificates and keys are made in memory and written to a temp dir.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "config.h"
#include "data/testcert.h"
#include "log.h"

Suite *config_suite(void);

#include "data/config_fixture.h"
#include "data/config_errors.h"

START_TEST(errors)
{
	const struct err_case *c = &err_cases[_i];
	struct cotai_config *cfg = (void *)1;

	ck_assert_int_eq(load(c->yaml, &cfg), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strncmp(err_rest(), c->want, strlen(c->want)) == 0,
	    "case %d: got \"%s\", want \"%s\"", _i, err_rest(), c->want);
	if (c->also != NULL)
		ck_assert_msg(strstr(err, c->also) != NULL,
		    "case %d: \"%s\" lacks \"%s\"", _i, err, c->also);
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

static const char full_yaml[] =
    "identity:\n"
    "  ca: @D@/ca.pem\n"
    "  cert: @D@/cert.pem\n"
    "  key: @D@/key.pem\n"
    "  crl: @D@/crl.pem\n"
    "admin: {listen: \"[::1]:9902\", enabled: false}\n"
    "log: {level: warn, format: json}\n"
    "workers: 3\n"
    "user: cotai\n"
    "sandbox: \"off\"\n"
    "drain_timeout: 10s\n"
    "max_connections: 500\n"
    "defaults:\n"
    "  timeouts: {connect: 1s, idle: 0}\n"
    "  max_connections: 100\n"
    "  tls_min_version: 1.2\n"
    "  buffer_size: 64k\n"
    "routes:\n"
    "  - name: pg\n"
    "    mode: originate\n"
    "    protocol: postgres\n"
    "    listen: 127.0.0.1:5432\n"
    "    target: postgres-sidecar:6432\n"
    "    expect: postgres\n"
    "  - name: pg-in\n"
    "    mode: terminate\n"
    "    listen: 0.0.0.0:6432\n"
    "    target: unix:/run/pg/.s.PGSQL.5432\n"
    "    allow: [backend, \"spiffe://cotai.internal/jobs/*\"]\n"
    "    identity: {cert: @D@/cert2.pem, key: @D@/key2.pem}\n"
    "    timeouts: {handshake: 2s, half_close: 500ms}\n"
    "    max_connections: 7\n"
    "    tls_min_version: \"1.3\"\n"
    "    buffer_size: 1m\n"
    "    tls_resumption: false\n"
    "    tls_session_cache: 50\n"
    "  - name: wide\n"
    "    mode: originate\n"
    "    listen: 10.0.0.1:7000\n"
    "    plaintext_bind_any: yes\n"
    "    target: \"[2001:db8::1]:7001\"\n"
    "    expect: [\"**\"]\n"
    "    timeouts: &tmo {connect: 3s}\n"
    "  - name: alias\n"
    "    mode: originate\n"
    "    listen: unix:/run/cotai/x.sock\n"
    "    target: peer:1\n"
    "    expect: peer\n"
    "    timeouts: *tmo\n";

START_TEST(full_config)
{
	struct cotai_config *cfg = NULL;
	const struct config_route *r;

	ck_assert_msg(load(full_yaml, &cfg) == 0, "%s", err);
	ck_assert_str_eq(cfg->path, yaml_path);
	ck_assert(!cfg->admin_enabled);
	ck_assert_str_eq(cfg->admin_listen.host, "::1");
	ck_assert_str_eq(cfg->admin_listen.port, "9902");
	ck_assert_int_eq(cfg->log_level, LOG_L_WARN);
	ck_assert_int_eq(cfg->log_format, LOG_F_JSON);
	ck_assert_uint_eq(cfg->workers, 3);
	ck_assert(!cfg->workers_auto);
	ck_assert_str_eq(cfg->user, "cotai");
	ck_assert_int_eq(cfg->sandbox, CONFIG_SANDBOX_OFF);
	ck_assert_uint_eq(cfg->drain_timeout_ms, 10000);
	ck_assert_uint_eq(cfg->max_connections, 500);
	ck_assert_uint_eq(cfg->nroutes, 4);

	/* Route 0 inherits everything. */
	r = &cfg->routes[0];
	ck_assert_str_eq(r->name, "pg");
	ck_assert_int_eq(r->mode, CONFIG_MODE_ORIGINATE);
	ck_assert_int_eq(r->protocol, CONFIG_PROTO_POSTGRES);
	ck_assert_int_eq(r->line, 19);
	ck_assert_str_eq(r->listen.host, "127.0.0.1");
	ck_assert_str_eq(r->target.host, "postgres-sidecar");
	ck_assert_str_eq(r->target.port, "6432");
	ck_assert_uint_eq(r->nexpect, 1);
	ck_assert_str_eq(r->expect[0], "postgres");
	ck_assert_uint_eq(r->nallow, 0);
	assert_file(r->identity.ca, "ca.pem");
	assert_file(r->identity.cert, "cert.pem");
	assert_file(r->identity.key, "key.pem");
	assert_file(r->identity.crl, "crl.pem");
	ck_assert_uint_eq(r->timeouts.connect_ms, 1000);
	ck_assert_uint_eq(r->timeouts.handshake_ms, 10000);
	ck_assert_uint_eq(r->timeouts.idle_ms, 0);
	ck_assert_uint_eq(r->timeouts.halfclose_ms, 60000);
	ck_assert_uint_eq(r->max_connections, 100);
	ck_assert_int_eq(r->tls_min_version, TLS1_2_VERSION);
	ck_assert_uint_eq(r->buffer_bytes, 65536);
	ck_assert(!r->plaintext_bind_any);
	ck_assert(r->tls_resumption);

	/* Route 1 overrides some fields; the rest still comes from above. */
	r = &cfg->routes[1];
	ck_assert_int_eq(r->mode, CONFIG_MODE_TERMINATE);
	ck_assert_int_eq(r->protocol, CONFIG_PROTO_TCP);
	ck_assert_int_eq(r->target.kind, CONFIG_ADDR_UNIX);
	ck_assert_str_eq(r->target.path, "/run/pg/.s.PGSQL.5432");
	ck_assert_uint_eq(r->nallow, 2);
	ck_assert_str_eq(r->allow[1], "spiffe://cotai.internal/jobs/*");
	assert_file(r->identity.ca, "ca.pem");
	assert_file(r->identity.cert, "cert2.pem");
	assert_file(r->identity.key, "key2.pem");
	assert_file(r->identity.crl, "crl.pem");
	ck_assert_uint_eq(r->timeouts.connect_ms, 1000);
	ck_assert_uint_eq(r->timeouts.handshake_ms, 2000);
	ck_assert_uint_eq(r->timeouts.idle_ms, 0);
	ck_assert_uint_eq(r->timeouts.halfclose_ms, 500);
	ck_assert_uint_eq(r->max_connections, 7);
	ck_assert_int_eq(r->tls_min_version, TLS1_3_VERSION);
	ck_assert_uint_eq(r->buffer_bytes, 1024 * 1024);
	ck_assert(!r->tls_resumption);
	ck_assert_uint_eq(r->tls_session_cache, 50);

	r = &cfg->routes[2];
	ck_assert(r->plaintext_bind_any);
	ck_assert_str_eq(r->target.host, "2001:db8::1");
	ck_assert_str_eq(r->expect[0], "**");
	ck_assert_uint_eq(r->timeouts.connect_ms, 3000);
	r = &cfg->routes[3];
	ck_assert_uint_eq(r->timeouts.connect_ms, 3000);
	ck_assert_uint_eq(r->timeouts.handshake_ms, 10000);
	ck_assert_int_eq(r->listen.kind, CONFIG_ADDR_UNIX);
	config_free(cfg);
}
END_TEST

START_TEST(builtin_defaults)
{
	struct cotai_config *cfg = NULL;
	const struct config_route *r;

	ck_assert_msg(
	    load(ID "routes:\n" R_O R_T "x-extra: &x {a: [1]}\n", &cfg) == 0,
	    "%s", err);
	ck_assert(cfg->admin_enabled);
	ck_assert_str_eq(cfg->admin_listen.text, "127.0.0.1:9901");
	ck_assert_int_eq(cfg->log_level, LOG_L_INFO);
	ck_assert_int_eq(cfg->log_format, LOG_F_TEXT);
	ck_assert(cfg->workers_auto);
	ck_assert_uint_ge(cfg->workers, 1);
	ck_assert_uint_le(cfg->workers, 64);
	ck_assert_ptr_null(cfg->user);
	ck_assert_int_eq(cfg->sandbox, CONFIG_SANDBOX_AUTO);
	ck_assert_uint_eq(cfg->drain_timeout_ms, 30000);
	ck_assert_uint_eq(cfg->drain_delay_ms, 0);
	ck_assert_uint_eq(cfg->max_connections, 10000);
	ck_assert_ptr_null(cfg->identity.crl);
	for (size_t i = 0; i < cfg->nroutes; i++) {
		r = &cfg->routes[i];
		ck_assert_uint_eq(r->timeouts.connect_ms, 5000);
		ck_assert_uint_eq(r->timeouts.handshake_ms, 10000);
		ck_assert_uint_eq(r->timeouts.idle_ms, 3600000);
		ck_assert_uint_eq(r->timeouts.halfclose_ms, 60000);
		ck_assert_uint_eq(r->max_connections, 1024);
		ck_assert_int_eq(r->tls_min_version, TLS1_3_VERSION);
		ck_assert_uint_eq(r->buffer_bytes, 256 * 1024);
		ck_assert_ptr_null(r->identity.crl);
		ck_assert_int_eq(r->protocol, CONFIG_PROTO_TCP);
		ck_assert_uint_eq(r->tls_session_cache, 1024);
	}
	ck_assert_int_eq(cfg->routes[1].line, 8);
	config_free(cfg);
	config_free(NULL);
}
END_TEST

START_TEST(print_policy)
{
	struct cotai_config *cfg = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	ck_assert_msg(load(full_yaml, &cfg) == 0, "%s", err);
	ck_assert_ptr_nonnull(fp = open_memstream(&buf, &len));
	config_print(cfg, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(buf, "route pg-in (line 25)"));
	ck_assert_ptr_nonnull(strstr(buf, "mode: terminate, protocol: tcp"));
	ck_assert_ptr_nonnull(strstr(
	    buf, "mtls 0.0.0.0:6432 -> plaintext unix:/run/pg/.s.PGSQL.5432"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "allow (client identities): backend, "
	    "spiffe://cotai.internal/jobs/*\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "expect (server identity): "
	    "postgres\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "timeouts: connect 1s, handshake "
	    "2s, idle none, half_close 500ms"));
	ck_assert_ptr_nonnull(strstr(buf, "tls_min_version: 1.2"));
	ck_assert_ptr_nonnull(strstr(buf, "admin: disabled"));
	ck_assert_ptr_nonnull(strstr(buf, "\nsandbox: off\n"));
	free(buf);
	config_free(cfg);
}
END_TEST

START_TEST(addresses)
{
	static const char *bad[] = {"", "host", ":1", "h:", "h:x", "h:-1",
	    "h:65536", "h:123456", "[::1]", "[::1]1", "[zz]:1", "a b:1",
	    "::1:80", "unix:", "unix:rel", "h:+1"};
	struct config_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_addr_parse(bad[i], &a) == -1,
		    "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(config_addr_parse("db.internal:05432", &a), 0);
	ck_assert_int_eq(a.kind, CONFIG_ADDR_INET);
	ck_assert_str_eq(a.text, "db.internal:05432");
	ck_assert_str_eq(a.host, "db.internal");
	ck_assert_str_eq(a.port, "5432");
	ck_assert(!config_addr_is_local(&a));
	config_addr_clear(&a);
	ck_assert_int_eq(config_addr_parse("[::1]:0", &a), 0);
	ck_assert_str_eq(a.host, "::1");
	ck_assert_str_eq(a.port, "0");
	ck_assert(config_addr_is_local(&a));
	config_addr_clear(&a);
	ck_assert_int_eq(config_addr_parse("unix:/run/x.sock", &a), 0);
	ck_assert_int_eq(a.kind, CONFIG_ADDR_UNIX);
	ck_assert_str_eq(a.path, "/run/x.sock");
	ck_assert(config_addr_is_local(&a));
	config_addr_clear(&a);
	ck_assert_int_eq(config_addr_parse("127.9.9.9:1", &a), 0);
	ck_assert(config_addr_is_local(&a));
	config_addr_clear(&a);
	ck_assert_int_eq(config_addr_parse("LocalHost:1", &a), 0);
	ck_assert(config_addr_is_local(&a));
	config_addr_clear(&a);
	ck_assert_int_eq(config_addr_parse("128.0.0.1:1", &a), 0);
	ck_assert(!config_addr_is_local(&a));
	config_addr_clear(&a);
	config_addr_clear(&a);
	ck_assert_str_eq(config_mode_name(CONFIG_MODE_TERMINATE), "terminate");
	ck_assert_str_eq(config_proto_name(CONFIG_PROTO_MONGO), "mongo");
}
END_TEST

/* protocol postgres: upstream, sslnegotiation, roles, plaintext_cancel and
 * local_tls as loaded. */
START_TEST(pg_keys)
{
	static const char yaml[] =
	    "identity: {ca: @D@/ca.pem, cert: @D@/cert.pem, key: @D@/key.pem}\n"
	    "admin: {enabled: false}\n"
	    "routes:\n"
	    "  - {name: a, mode: originate, protocol: postgres, listen: "
	    "127.0.0.1:1, target: x:1, expect: x, upstream: sidecar}\n"
	    "  - {name: b, mode: originate, protocol: postgres, listen: "
	    "127.0.0.1:2, target: x:1, expect: x, sslnegotiation: direct}\n"
	    "  - name: c\n    mode: terminate\n    protocol: postgres\n"
	    "    listen: 0.0.0.0:3\n    target: x:1\n    allow: backend\n"
	    "    roles:\n      backend: [app, app_ro]\n"
	    "      \"jobs/*\": {users: batch, databases: [jobs, reports]}\n"
	    "    plaintext_cancel: true\n"
	    "  - {name: d, mode: originate, protocol: postgres, listen: "
	    "127.0.0.1:4, target: x:1, expect: x, local_tls: {cert: "
	    "@D@/cert.pem, key: @D@/key.pem}}\n"
	    "  - {name: e, mode: originate, protocol: postgres, listen: "
	    "127.0.0.1:5, target: x:1, expect: x, local_tls: {cert: "
	    "@D@/cert2.pem, key: @D@/key2.pem, min_version: \"1.2\"}}\n";
	const struct config_route *r;
	struct cotai_config *cfg = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	ck_assert_msg(load(yaml, &cfg) == 0, "%s", err);
	r = cfg->routes;
	ck_assert_int_eq(r[0].pg_upstream, CONFIG_PG_UP_SIDECAR);
	ck_assert_int_eq(r[1].pg_upstream, CONFIG_PG_UP_POSTGRES);
	ck_assert_int_eq(r[1].pg_sslnegotiation, CONFIG_PG_SSLNEG_DIRECT);
	ck_assert_int_eq(r[0].nroles, 0);
	ck_assert_int_eq(r[2].nroles, 2);
	ck_assert_str_eq(r[2].roles[0].identity, "backend");
	ck_assert_int_eq(r[2].roles[0].nusers, 2);
	ck_assert_str_eq(r[2].roles[0].users[1], "app_ro");
	ck_assert_int_eq(r[2].roles[0].ndatabases, 0);
	ck_assert_str_eq(r[2].roles[1].identity, "jobs/*");
	ck_assert_str_eq(r[2].roles[1].users[0], "batch");
	ck_assert_int_eq(r[2].roles[1].ndatabases, 2);
	ck_assert_str_eq(r[2].roles[1].databases[1], "reports");
	ck_assert(r[2].pg_plaintext_cancel);
	ck_assert_ptr_null(r[0].pg_local_tls.cert);
	ck_assert_ptr_nonnull(strstr(r[3].pg_local_tls.cert, "/cert.pem"));
	ck_assert_ptr_nonnull(strstr(r[3].pg_local_tls.key, "/key.pem"));
	ck_assert_int_eq(r[3].pg_local_tls.min_version, TLS1_3_VERSION);
	ck_assert_int_eq(r[4].pg_local_tls.min_version, TLS1_2_VERSION);
	ck_assert_ptr_nonnull(fp = open_memstream(&buf, &len));
	config_print(cfg, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(buf, "upstream: sidecar\n"));
	ck_assert_ptr_nonnull(
	    strstr(buf, "upstream: postgres, sslnegotiation: direct\n"));
	ck_assert_ptr_nonnull(strstr(buf, "roles[backend] users: app, app_ro"));
	ck_assert_ptr_nonnull(
	    strstr(buf, "roles[jobs/*] databases: jobs, reports"));
	ck_assert_ptr_nonnull(strstr(buf, "plaintext_cancel: relayed\n"));
	ck_assert_ptr_nonnull(
	    strstr(buf, "local_tls: none (SSLRequest gets N)\n"));
	ck_assert_ptr_nonnull(strstr(buf, "/key2.pem, min_version 1.2"));
	free(buf);
	config_free(cfg);
}
END_TEST

/* Many routes inheriting the global identity (the position table grows). */
START_TEST(many_routes)
{
	struct cotai_config *cfg = NULL;
	char *buf = NULL, *yaml;
	size_t len = 0;
	FILE *fp;

	ck_assert_ptr_nonnull(fp = open_memstream(&buf, &len));
	fprintf(fp,
	    "identity:\n  ca: @D@/ca.pem\n  cert: @D@/cert.pem\n"
	    "  key: @D@/%s\nroutes:\n",
	    _i == 0 ? "key.pem" : "other.key");
	for (int i = 0; i < 100; i++)
		fprintf(fp,
		    "  - {name: r%d, mode: terminate, listen: \"0.0.0.0:%d\", "
		    "target: \"t:1\", allow: [a, b, c]}\n",
		    i, 1000 + i);
	fclose(fp);
	yaml = buf;
	if (_i == 0) {
		ck_assert_msg(load(yaml, &cfg) == 0, "%s", err);
		ck_assert_uint_eq(cfg->nroutes, 100);
		assert_file(cfg->routes[99].identity.key, "key.pem");
		config_free(cfg);
	} else {
		ck_assert_int_eq(load(yaml, &cfg), -1);
		ck_assert_msg(
		    strncmp(err_rest(), "4:8: identity.key: ", 19) == 0, "%s",
		    err);
		ck_assert_ptr_nonnull(strstr(err, "does not match"));
	}
	free(buf);
}
END_TEST

/* config/NAME.yaml with /run/secrets pointing into the temp dir. */
START_TEST(example_configs)
{
	struct cotai_config *cfg = NULL;
	char path[64], *text = NULL, *at;
	size_t len = 0;
	FILE *fp;
	char *buf, *out;

	snprintf(path, sizeof(path), "config/%s.yaml", examples[_i]);
	ck_assert_msg((fp = fopen(path, "r")) != NULL,
	    "%s (run from the top of the tree)", path);
	ck_assert_int_eq(getdelim(&text, &len, '\0', fp) > 0, 1);
	fclose(fp);
	ck_assert_ptr_nonnull(buf = calloc(1, strlen(text) + 1));
	for (out = buf, at = text; *at != '\0';) {
		if (strncmp(at, "/run/secrets", 12) == 0) {
			out = stpcpy(out, "@D@");
			at += 12;
		} else
			*out++ = *at++;
	}
	ck_assert_msg(load(buf, &cfg) == 0, "%s: %s", path, err);
	ck_assert_uint_ge(cfg->nroutes, 1);
	config_free(cfg);
	free(buf);
	free(text);
}
END_TEST

START_TEST(missing_file)
{
	struct cotai_config *cfg = (void *)1;

	ck_assert_int_eq(
	    config_load("/nonexistent/cotai.yaml", &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err,
	    "/nonexistent/cotai.yaml:1:1: (file): No such file or directory");
}
END_TEST

/*
 * A key readable by its group is accepted only when root owns it (0640 at
 * most, PostgreSQL's rule; Kubernetes secrets with an fsGroup look so).
 */
START_TEST(key_group_read)
{
	static const char yaml[] =
	    "identity: {ca: @D@/ca.pem, cert: @D@/cert.pem, "
	    "key: @D@/group.key}\nroutes:\n" R_O;
	struct cotai_config *cfg = NULL;
	char p[160];

	snprintf(p, sizeof(p), "%s/group.key", dir);
	if (geteuid() == 0) {
		ck_assert_msg(load(yaml, &cfg) == 0, "%s", err);
		config_free(cfg);
		cfg = NULL;
		ck_assert_int_eq(chown(p, 65534, (gid_t)-1), 0);
	}
	ck_assert_int_eq(load(yaml, &cfg), -1);
	ck_assert_ptr_nonnull(strstr(err, "identity.key: "));
	ck_assert_ptr_nonnull(strstr(err, "(mode 0640)"));
	ck_assert_int_eq(chmod(p, 0660), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(p, 0, (gid_t)-1), 0);
	ck_assert_int_eq(load(yaml, &cfg), -1);
	ck_assert_ptr_nonnull(strstr(err, "(mode 0660)"));
}
END_TEST

Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_loop_test(
	    tc, errors, 0, (int)(sizeof(err_cases) / sizeof(err_cases[0])));
	tcase_add_test(tc, full_config);
	tcase_add_test(tc, builtin_defaults);
	tcase_add_test(tc, print_policy);
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, pg_keys);
	tcase_add_loop_test(tc, many_routes, 0, 2);
	tcase_add_loop_test(tc, example_configs, 0,
	    (int)(sizeof(examples) / sizeof(examples[0])));
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, key_group_read);
	suite_add_tcase(s, tc);
	return (s);
}
