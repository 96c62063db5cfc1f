/*
 * Unit tests for config/: every error names the right file, line, column
 * and key; a full valid config inherits the global identity and defaults.
 * Certificates and keys are made in memory and written to a temp dir.
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
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

static void
assert_file(const char *got, const char *name)
{
	char p[128];

	dir_file(p, sizeof(p), name);
	ck_assert_str_eq(got, p);
}

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
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = NULL;
		ck_assert_int_eq(load(bad[i].yaml, &cfg), -1);
		ck_assert_msg(
		    strncmp(err_rest(), bad[i].want, strlen(bad[i].want)) == 0,
		    "case %zu: got \"%s\", want \"%s\"", i, err_rest(),
		    bad[i].want);
	}
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
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = NULL;
		ck_assert_int_eq(load(bad[i].yaml, &cfg), -1);
		ck_assert_msg(
		    strncmp(err_rest(), bad[i].want, strlen(bad[i].want)) == 0,
		    "case %zu: got \"%s\", want \"%s\"", i, err_rest(),
		    bad[i].want);
	}
}
END_TEST

/*
 * resolve_interval: 10s unless defaults: or the route says otherwise; 0
 * (only after failures) or at least 100ms; --check shows it for host
 * names only.
 */
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
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = (void *)1;
		ck_assert_int_eq(load(bad[i].yaml, &cfg), -1);
		ck_assert_ptr_null(cfg);
		ck_assert_msg(
		    strncmp(err_rest(), bad[i].want, strlen(bad[i].want)) == 0,
		    "case %zu: got \"%s\", want \"%s\"", i, err_rest(),
		    bad[i].want);
	}
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
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = NULL;
		ck_assert_int_eq(load(bad[i].yaml, &cfg), -1);
		ck_assert_ptr_null(cfg);
		ck_assert_msg(
		    strncmp(err_rest(), bad[i].want, strlen(bad[i].want)) == 0,
		    "case %zu: got \"%s\", want \"%s\"", i, err_rest(),
		    bad[i].want);
	}
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
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = NULL;
		ck_assert_int_eq(load(bad[i].yaml, &cfg), -1);
		ck_assert_ptr_null(cfg);
		ck_assert_msg(
		    strncmp(err_rest(), bad[i].want, strlen(bad[i].want)) == 0,
		    "case %zu: got \"%s\", want \"%s\"", i, err_rest(),
		    bad[i].want);
	}
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
		"9:10: routes[0].mux: only for protocol: tcp"},
	    {ID "routes:\n" R_O "    protocol: redis\n    mux_window: 64k\n",
		"9:17: routes[0].mux_window: only for protocol: tcp"},
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
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = NULL;
		ck_assert_int_eq(load(bad[i].yaml, &cfg), -1);
		ck_assert_ptr_null(cfg);
		ck_assert_msg(
		    strncmp(err_rest(), bad[i].want, strlen(bad[i].want)) == 0,
		    "case %zu: got \"%s\", want \"%s\"", i, err_rest(),
		    bad[i].want);
	}
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
	tcase_add_test(tc, ops_keys);
	tcase_add_test(tc, admin_tls_keys);
	tcase_add_test(tc, sandbox_key);
	tcase_add_test(tc, resolve_interval);
	tcase_add_test(tc, audit_keys);
	tcase_add_test(tc, drain_delay);
	tcase_add_test(tc, mux_keys);
	tcase_add_test(tc, renew_keys);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, key_group_read);
	tcase_add_loop_test(tc, many_routes, 0, 2);
	tcase_add_loop_test(tc, example_configs, 0,
	    (int)(sizeof(examples) / sizeof(examples[0])));
	suite_add_tcase(s, tc);
	return (s);
}
