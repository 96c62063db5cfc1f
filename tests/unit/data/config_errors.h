/*
 * config_errors: the error cases of check_config.c, one YAML file each
 * ("@D@" stands for the test's temp dir, which holds ca.pem, cert.pem,
 * key.pem and the other files setup() writes) with the exact
 * "LINE:COL: KEY: message" it must produce.
 */
#ifndef COTAI_CONFIG_ERRORS_H
#define COTAI_CONFIG_ERRORS_H

#include "config_fixture.h" /* ID, R_O, R_T */

struct err_case {
	const char *yaml;
	const char *want; /* "LINE:COL: KEY: " and the start of the message */
	const char *also; /* NULL, or a string the message also holds */
};

static const struct err_case err_cases[] = {
    /* 0: YAML syntax */
    {ID "routes: [\n  {name: a\n",
	"4:1: yaml: did not find expected ',' or '}' (while parsing a flow "
	"mapping at line 3)",
	NULL},
    /* unknown keys */
    {ID "rootes: []\n", "2:1: rootes: unknown key (did you mean \"routes\"?)",
	NULL},
    {ID "routes:\n" R_O "    lsiten: 127.0.0.1:1\n",
	"8:5: routes[0].lsiten: unknown key (did you mean \"listen\"?)", NULL},
    {ID "log: {level: info, colour: true}\nroutes:\n" R_O,
	"2:20: log.colour: unknown key", NULL},
    /* wrong types */
    {ID "routes:\n  - name: {x: 1}\n",
	"3:11: routes[0].name: expected a "
	"scalar, got a mapping",
	NULL},
    {"identity: /x.pem\nroutes:\n" R_O,
	"1:11: identity: expected a mapping, got a scalar", NULL},
    {ID "routes: {name: a}\n",
	"2:9: routes: expected a sequence, got a mapping", NULL},
    {ID "routes:\n" R_O "    allow:\n      a: b\n",
	"9:7: routes[0].allow: expected a scalar or a sequence", NULL},
    {"- a\n- b\n", "1:1: (root): expected a mapping, got a sequence", NULL},
    /* duplicate keys */
    {ID "identity: {}\nroutes:\n" R_O,
	"2:1: identity: duplicate key (first at line 1)", NULL},
    {ID "routes:\n" R_O "    mode: terminate\n",
	"8:5: routes[0].mode: duplicate key (first at line 4)", NULL},
    /* missing required keys */
    {ID "log: {level: info}\n", "1:1: routes: missing required key", NULL},
    {ID "routes:\n  - name: a\n    listen: 127.0.0.1:1\n    target: "
	"b:1\n    expect: b\n",
	"3:5: routes[0].mode: missing required key", NULL},
    {ID "routes: []\n", "2:9: routes: at least one route is required", NULL},
    {ID "routes:\n" R_O "  - name: c\n    mode: terminate\n    listen: "
	":1\n",
	"10:13: routes[1].listen: invalid address", NULL},
    /* bad values */
    {ID "routes:\n  - name: a\n    mode: forward\n",
	"4:11: routes[0].mode: invalid value \"forward\" (expected "
	"originate or terminate)",
	NULL},
    {ID "routes:\n  - name: a b\n",
	"3:11: routes[0].name: invalid name \"a b\"", NULL},
    {ID "routes:\n" R_O "    protocol: http\n",
	"8:15: routes[0].protocol: invalid value \"http\"", NULL},
    {ID "routes:\n" R_T "    protocol: redis\n",
	"8:15: routes[0].protocol: redis and mongo are only supported", NULL},
    {ID "routes:\n  - name: a\n    mode: originate\n    listen: "
	"localhost\n",
	"5:13: routes[0].listen: invalid address \"localhost\"", NULL},
    {ID "routes:\n  - name: a\n    mode: originate\n    listen: "
	"\"[::1:1\"\n",
	"5:13: routes[0].listen: invalid address", NULL},
    {ID "routes:\n  - name: a\n    mode: originate\n    listen: "
	"127.0.0.1:65536\n",
	"5:13: routes[0].listen: invalid address", NULL},
    {ID "routes:\n  - name: a\n    mode: originate\n    listen: "
	"127.0.0.1:0\n    target: peer:0\n",
	"6:13: routes[0].target: port 0 is only allowed for listen", NULL},
    {ID "routes:\n  - name: a\n    mode: originate\n    listen: "
	"unix:relative\n",
	"5:13: routes[0].listen: invalid address", NULL},
    {ID "routes:\n" R_O "    timeouts: {connect: 5 s}\n",
	"8:25: routes[0].timeouts.connect: invalid duration \"5 s\"", NULL},
    {ID "routes:\n" R_O "    timeouts: {handshake: 0}\n",
	"8:27: routes[0].timeouts.handshake: must not be 0", NULL},
    {ID "defaults: {timeouts: {idle: 8d}}\nroutes:\n" R_O,
	"2:29: defaults.timeouts.idle: invalid duration", NULL},
    {ID "routes:\n" R_O "    plaintext_bind_any: maybe\n",
	"8:25: routes[0].plaintext_bind_any: invalid value \"maybe\"", NULL},
    {ID "routes:\n" R_O "    tls_resumption: never\n",
	"8:21: routes[0].tls_resumption: invalid value \"never\"",
	"expected true or false"},
    {ID "routes:\n" R_O "    max_connections: 0\n",
	"8:22: routes[0].max_connections: invalid value \"0\" (expected "
	"an integer 1..1000000)",
	NULL},
    {ID "max_connections: -5\nroutes:\n" R_O,
	"2:18: max_connections: invalid value \"-5\"", NULL},
    {ID "workers: 65\nroutes:\n" R_O,
	"2:10: workers: invalid value \"65\" (expected auto or 1..64)", NULL},
    {ID "sandbox: maybe\nroutes:\n" R_O,
	"2:10: sandbox: invalid value \"maybe\" (expected auto, landlock or "
	"off)",
	NULL},
    {ID "sandbox: [landlock]\nroutes:\n" R_O,
	"2:10: sandbox: expected a scalar", NULL},
    {ID "routes:\n" R_O "    tls_min_version: 1.1\n",
	"8:22: routes[0].tls_min_version: invalid value \"1.1\"", NULL},
    {ID "defaults: {buffer_size: 1g}\nroutes:\n" R_O,
	"2:25: defaults.buffer_size: invalid size \"1g\"", NULL},
    {ID "log: {level: loud}\nroutes:\n" R_O,
	"2:14: log.level: invalid value \"loud\"", NULL},
    {ID "routes:\n" R_O "    identity: {crl: ~}\n",
	"8:21: routes[0].identity.crl: empty value", NULL},
    {ID "user: \"\"\nroutes:\n" R_O, "2:7: user: empty value", NULL},
    /* cross-key checks */
    {ID "routes:\n" R_O "  - name: a\n    mode: terminate\n    listen: "
	"0.0.0.0:1\n    target: x:1\n    allow: x\n",
	"8:11: routes[1].name: duplicate route name \"a\" (first at line "
	"3)",
	NULL},
    {ID "routes:\n" R_O "  - name: c\n    mode: originate\n    listen: "
	"127.0.0.1:1000\n    target: x:1\n    expect: x\n",
	"10:13: routes[1].listen: address 127.0.0.1:1000 already used by "
	"route \"a\"",
	NULL},
    {ID "routes:\n" R_T "  - name: c\n    mode: terminate\n    listen: "
	"\"[::]:2000\"\n    target: x:1\n    allow: x\n",
	"10:13: routes[1].listen: address [::]:2000 already used by route "
	"\"b\"",
	NULL},
    {ID "routes:\n" R_O "  - name: c\n    mode: originate\n    listen: "
	"LOCALHOST:9\n    target: x:1\n    expect: x\n  - name: d\n    "
	"mode: originate\n    listen: localhost:9\n    target: x:1\n    "
	"expect: x\n",
	"15:13: routes[2].listen: address localhost:9 already used by route "
	"\"c\"",
	NULL},
    {ID "routes:\n" R_T "    expect: x\n",
	"8:13: routes[0].expect: not allowed on a terminate route", NULL},
    {ID "routes:\n  - name: a\n    mode: originate\n    listen: "
	"127.0.0.1:1\n    target: x:1\n",
	"3:5: routes[0].expect: required for an originate route", NULL},
    {ID "routes:\n" R_O "    allow: []\n", "8:12: routes[0].allow: empty list",
	NULL},
    {ID "routes:\n" R_O "    allow: [x]\n",
	"8:12: routes[0].allow: not allowed on an originate route", NULL},
    {ID "routes:\n" R_O "    tls_session_cache: 10\n",
	"8:24: routes[0].tls_session_cache: only on a terminate route", NULL},
    {ID "routes:\n" R_T "    tls_session_cache: 0\n",
	"8:24: routes[0].tls_session_cache: invalid value \"0\" (expected "
	"an integer 1..1000000)",
	NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n  - name: c\n    mode: "
	"terminate\n    listen: 0.0.0.0:1\n    target: x:1\n    allow: "
	"[ok, \"spiffe://Cotai/x\"]\n",
	"13:17: routes[1].allow[1]: bad pattern \"spiffe://Cotai/x\": "
	"invalid trust domain",
	NULL},
    {ID "routes:\n  - name: a\n    mode: originate\n    listen: "
	"0.0.0.0:1\n    target: x:1\n    expect: x\n",
	"5:13: routes[0].listen: plaintext listener must be loopback", NULL},
    {ID "admin: {listen: \"127.0.0.1:1000\"}\nroutes:\n" R_O,
	"6:13: routes[0].listen: same address as admin.listen", NULL},
    /* identity files */
    {"identity: {ca: @D@/ca.pem, cert: @D@/cert.pem}\nroutes:\n" R_O,
	"3:5: routes[0].identity.key: missing", NULL},
    {"identity:\n  ca: @D@/ca.pem\n  cert: @D@/nope.pem\n  key: "
     "@D@/key.pem\nroutes:\n" R_O,
	"3:9: identity.cert: cannot read ", NULL},
    {ID "routes:\n" R_O "    identity: {ca: @D@/garbage.pem}\n",
	"8:20: routes[0].identity.ca: no PEM certificate in ", NULL},
    {ID "routes:\n" R_O "    identity:\n      key: @D@/other.key\n",
	"9:12: routes[0].identity.key: ", "does not match the certificate"},
    {ID "routes:\n" R_O "    identity: {key: @D@/open.key}\n",
	"8:21: routes[0].identity.key: ", "group or others (mode 0644)"},
    {ID "routes:\n" R_O "    identity: {crl: @D@/cert.pem}\n",
	"8:21: routes[0].identity.crl: no PEM CRL in ", NULL},
    /* protocol postgres keys */
    {ID "routes:\n" R_O "    upstream: sidecar\n",
	"8:15: routes[0].upstream: only on originate routes with protocol: "
	"postgres",
	NULL},
    {ID "routes:\n" R_O "    protocol: postgres\n    upstream: pg\n",
	"9:15: routes[0].upstream: invalid value \"pg\" (expected postgres "
	"or sidecar)",
	NULL},
    {ID "routes:\n" R_O "    protocol: postgres\n    upstream: sidecar\n"
	"    sslnegotiation: direct\n",
	"10:21: routes[0].sslnegotiation: direct only with upstream: postgres",
	NULL},
    {ID "routes:\n" R_T "    roles: {backend: app}\n",
	"8:12: routes[0].roles: only for protocol: postgres", NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n    upstream: sidecar\n",
	"9:15: routes[0].upstream: only on originate routes", NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n    sslnegotiation: "
	"direct\n",
	"9:21: routes[0].sslnegotiation: only on originate routes", NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n    roles: "
	"{\"spiffe://Bad/x\": app}\n",
	"9:13: routes[0].roles.spiffe://Bad/x: bad pattern", NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n    roles: {backend: []}\n",
	"9:22: routes[0].roles.backend: empty list", NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n    roles:\n"
	"      backend: {users: a, dbs: b}\n",
	"10:27: routes[0].roles.backend.dbs: unknown or duplicate key", NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n    roles: {backend: "
	"{databases: x}}\n",
	"9:22: routes[0].roles.backend.users: missing required key", NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n    roles: {backend: "
	"[ok, "
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]}"
	"\n",
	"9:27: routes[0].roles.backend[1]: name longer than 63 bytes", NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n    roles: {a: x, a: y}\n",
	"9:19: routes[0].roles.a: duplicate key", NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n    roles: [a]\n",
	"9:12: routes[0].roles: expected a mapping of identity: users", NULL},
    /* local_tls and plaintext_cancel */
    {ID "routes:\n" R_T "    protocol: postgres\n    local_tls: {cert: "
	"@D@/cert.pem, key: @D@/key.pem}\n",
	"9:23: routes[0].local_tls: only on originate routes with protocol: "
	"postgres",
	NULL},
    {ID "routes:\n" R_O "    local_tls: {cert: @D@/cert.pem, key: "
	"@D@/key.pem}\n",
	"8:23: routes[0].local_tls: only on originate routes with protocol: "
	"postgres",
	NULL},
    {ID "routes:\n" R_O "    protocol: postgres\n    local_tls: {cert: "
	"@D@/cert.pem}\n",
	"9:16: routes[0].local_tls.key: missing required key", NULL},
    {ID "routes:\n" R_O "    protocol: postgres\n    local_tls: {crt: x, "
	"key: y}\n",
	"9:17: routes[0].local_tls.crt: unknown key (did you mean \"cert\"?)",
	NULL},
    {ID "routes:\n" R_O "    protocol: postgres\n    local_tls:\n      cert: "
	"@D@/cert.pem\n      key: @D@/key.pem\n      min_version: \"1.1\"\n",
	"12:20: routes[0].local_tls.min_version: invalid value \"1.1\"", NULL},
    {ID "routes:\n" R_O "    protocol: postgres\n    local_tls:\n      cert: "
	"@D@/cert.pem\n      key: @D@/open.key\n",
	"11:12: routes[0].local_tls.key: ", "group or others (mode 0644)"},
    {ID "routes:\n" R_O "    protocol: postgres\n    local_tls:\n      cert: "
	"@D@/cert.pem\n      key: @D@/other.key\n",
	"11:12: routes[0].local_tls.key: ", "does not match the certificate"},
    {ID "routes:\n" R_O "    protocol: postgres\n    local_tls:\n      cert: "
	"@D@/garbage.pem\n      key: @D@/key.pem\n",
	"10:13: routes[0].local_tls.cert: no PEM certificate in ", NULL},
    {ID "routes:\n" R_O "    protocol: postgres\n    local_tls:\n      cert: "
	"@D@/missing.pem\n      key: @D@/key.pem\n",
	"10:13: routes[0].local_tls.cert: cannot read ",
	"No such file or directory"},
    {ID "routes:\n" R_O "    protocol: postgres\n    plaintext_cancel: "
	"true\n",
	"9:23: routes[0].plaintext_cancel: only on terminate routes with "
	"protocol: postgres",
	NULL},
    {ID "routes:\n" R_T "    plaintext_cancel: true\n",
	"8:23: routes[0].plaintext_cancel: only on terminate routes with "
	"protocol: postgres",
	NULL},
    {ID "routes:\n" R_T "    protocol: postgres\n    plaintext_cancel: "
	"maybe\n",
	"9:23: routes[0].plaintext_cancel: invalid value \"maybe\" (expected "
	"true or false)",
	NULL},
    {"", "1:1: (root): empty configuration", NULL},
    {ID "routes:\n" R_O "---\nlog: {}\n",
	"9:1: (root): more than one YAML document", NULL},
};

#endif
