/*
 * config_keys: the key tables of the YAML schema and the parsers that store
 * each value into its field. A table lists, for one mapping, every key with
 * its type, the offset of its field in the object being filled and its
 * limits; cfg_walk() checks a mapping against a table (unknown, duplicate
 * and missing keys, wrong node types) and stores each value. Nothing here
 * fills defaults: fields the file does not set stay unset (NULL, CFG_UNSET).
 */
#include "config_priv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "duration.h"
#include "log.h"

enum cfg_type {
	CT_STR,      /* char *, non-empty */
	CT_NAME,     /* char *, [A-Za-z0-9_.-]+ */
	CT_LISTEN,   /* struct config_addr, port 0 allowed */
	CT_TARGET,   /* struct config_addr, port 0 refused */
	CT_DUR,      /* uint32_t ms, > 0 */
	CT_DUR0,     /* uint32_t ms, 0 allowed */
	CT_U32,      /* uint32_t in [min, max] */
	CT_BYTES,    /* uint32_t bytes with optional k/m suffix */
	CT_BOOL,     /* bool */
	CT_PATTERNS, /* char ** + size_t count at off2 */
	CT_MAP,      /* a nested table; object at obj + off */
	CT_MODE,     /* enum config_mode */
	CT_PROTO,    /* enum config_proto */
	CT_LEVEL,    /* int (enum log_level) */
	CT_FORMAT,   /* int (enum log_format) */
	CT_TLSVER,   /* int TLS1_x_VERSION */
	CT_WORKERS,  /* "auto" or 1..64 */
	CT_ROUTES,   /* the routes sequence */
	CT_PGUP,     /* enum config_pg_upstream */
	CT_SSLNEG,   /* enum config_pg_sslneg */
	CT_ROLES,    /* struct config_pg_role * + size_t count at off2 */
	CT_SANDBOX,  /* enum config_sandbox */
	CT_TD,       /* char *, a SPIFFE trust domain */
	CT_TDS,      /* char ** + size_t count at off2: trust domains or "*" */
	CT_MUX       /* enum config_mux */
};

#define CK_REQUIRED 0x1

struct cfg_table;

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;
	size_t off2;
	uint32_t min;
	uint32_t max;
	const struct cfg_table *sub;
	unsigned flags;
};

struct cfg_table {
	const struct cfg_key *keys;
	size_t nkeys;
};

#define CFG_MAXKEYS 32
#define NKEYS(a) (sizeof(a) / sizeof(a[0]))
#define TABLE(a)                                                               \
	{                                                                      \
		a, NKEYS(a)                                                    \
	}

static const struct cfg_key identity_keys[] = {
    {"ca", CT_STR, offsetof(struct config_identity, ca), 0, 0, 0, NULL, 0},
    {"cert", CT_STR, offsetof(struct config_identity, cert), 0, 0, 0, NULL, 0},
    {"key", CT_STR, offsetof(struct config_identity, key), 0, 0, 0, NULL, 0},
    {"crl", CT_STR, offsetof(struct config_identity, crl), 0, 0, 0, NULL, 0},
    {"trust_domain", CT_TD, offsetof(struct config_identity, trust_domain), 0,
	0, 0, NULL, 0},
};
static const struct cfg_table identity_table = TABLE(identity_keys);

static const struct cfg_key renew_keys[] = {
    {"url", CT_STR, offsetof(struct config_renew, url), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"ca", CT_STR, offsetof(struct config_renew, ca), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"state_dir", CT_STR, offsetof(struct config_renew, state_dir), 0, 0, 0,
	NULL, CK_REQUIRED},
    {"token_file", CT_STR, offsetof(struct config_renew, token_file), 0, 0, 0,
	NULL, 0},
    {"at", CT_STR, offsetof(struct config_renew, at), 0, 0, 0, NULL, 0},
    {"crl_interval", CT_DUR, offsetof(struct config_renew, crl_interval_ms), 0,
	0, 0, NULL, 0},
};
static const struct cfg_table renew_table = TABLE(renew_keys);

/* The global identity: the route keys and the renewal block. */
static const struct cfg_key top_identity_keys[] = {
    {"ca", CT_STR, offsetof(struct config_identity, ca), 0, 0, 0, NULL, 0},
    {"cert", CT_STR, offsetof(struct config_identity, cert), 0, 0, 0, NULL, 0},
    {"key", CT_STR, offsetof(struct config_identity, key), 0, 0, 0, NULL, 0},
    {"crl", CT_STR, offsetof(struct config_identity, crl), 0, 0, 0, NULL, 0},
    {"trust_domain", CT_TD, offsetof(struct config_identity, trust_domain), 0,
	0, 0, NULL, 0},
    {"renew", CT_MAP, offsetof(struct config_identity, renew), 0, 0, 0,
	&renew_table, 0},
};
static const struct cfg_table top_identity_table = TABLE(top_identity_keys);

static const struct cfg_key timeouts_keys[] = {
    {"connect", CT_DUR, offsetof(struct config_timeouts, connect_ms), 0, 0, 0,
	NULL, 0},
    {"handshake", CT_DUR, offsetof(struct config_timeouts, handshake_ms), 0, 0,
	0, NULL, 0},
    {"idle", CT_DUR0, offsetof(struct config_timeouts, idle_ms), 0, 0, 0, NULL,
	0},
    {"half_close", CT_DUR, offsetof(struct config_timeouts, halfclose_ms), 0, 0,
	0, NULL, 0},
};
static const struct cfg_table timeouts_table = TABLE(timeouts_keys);

static const struct cfg_key retry_keys[] = {
    {"attempts", CT_U32, offsetof(struct config_retry, attempts), 0, 0, 100,
	NULL, 0},
    {"backoff", CT_DUR, offsetof(struct config_retry, backoff_ms), 0, 0, 0,
	NULL, 0},
};
static const struct cfg_table retry_table = TABLE(retry_keys);

static const struct cfg_key local_tls_keys[] = {
    {"cert", CT_STR, offsetof(struct config_local_tls, cert), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"key", CT_STR, offsetof(struct config_local_tls, key), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"min_version", CT_TLSVER, offsetof(struct config_local_tls, min_version),
	0, 0, 0, NULL, 0},
};
static const struct cfg_table local_tls_table = TABLE(local_tls_keys);

static const struct cfg_key route_keys[] = {
    {"name", CT_NAME, offsetof(struct config_route, name), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"mode", CT_MODE, offsetof(struct config_route, mode), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"protocol", CT_PROTO, offsetof(struct config_route, protocol), 0, 0, 0,
	NULL, 0},
    {"listen", CT_LISTEN, offsetof(struct config_route, listen), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"target", CT_TARGET, offsetof(struct config_route, target), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"expect", CT_PATTERNS, offsetof(struct config_route, expect),
	offsetof(struct config_route, nexpect), 0, 0, NULL, 0},
    {"allow", CT_PATTERNS, offsetof(struct config_route, allow),
	offsetof(struct config_route, nallow), 0, 0, NULL, 0},
    {"trust_domains", CT_TDS, offsetof(struct config_route, trust_domains),
	offsetof(struct config_route, ntrust_domains), 0, 0, NULL, 0},
    {"identity", CT_MAP, offsetof(struct config_route, identity), 0, 0, 0,
	&identity_table, 0},
    {"timeouts", CT_MAP, offsetof(struct config_route, timeouts), 0, 0, 0,
	&timeouts_table, 0},
    {"max_connections", CT_U32, offsetof(struct config_route, max_connections),
	0, 1, 1000000, NULL, 0},
    {"tls_min_version", CT_TLSVER,
	offsetof(struct config_route, tls_min_version), 0, 0, 0, NULL, 0},
    {"buffer_size", CT_BYTES, offsetof(struct config_route, buffer_bytes), 0,
	4096, 64 << 20, NULL, 0},
    {"plaintext_bind_any", CT_BOOL,
	offsetof(struct config_route, plaintext_bind_any), 0, 0, 0, NULL, 0},
    {"tls_resumption", CT_BOOL, offsetof(struct config_route, tls_resumption),
	0, 0, 0, NULL, 0},
    {"tls_session_cache", CT_U32,
	offsetof(struct config_route, tls_session_cache), 0, 1, 1000000, NULL,
	0},
    {"upstream", CT_PGUP, offsetof(struct config_route, pg_upstream), 0, 0, 0,
	NULL, 0},
    {"sslnegotiation", CT_SSLNEG,
	offsetof(struct config_route, pg_sslnegotiation), 0, 0, 0, NULL, 0},
    {"roles", CT_ROLES, offsetof(struct config_route, roles),
	offsetof(struct config_route, nroles), 0, 0, NULL, 0},
    {"connect_retry", CT_MAP, offsetof(struct config_route, retry), 0, 0, 0,
	&retry_table, 0},
    {"local_tls", CT_MAP, offsetof(struct config_route, pg_local_tls), 0, 0, 0,
	&local_tls_table, 0},
    {"plaintext_cancel", CT_BOOL,
	offsetof(struct config_route, pg_plaintext_cancel), 0, 0, 0, NULL, 0},
    {"resolve_interval", CT_DUR0,
	offsetof(struct config_route, resolve_interval_ms), 0,
	CFG_MIN_RESOLVE_MS, 0, NULL, 0},
    {"mux", CT_MUX, offsetof(struct config_route, mux), 0, 0, 0, NULL, 0},
    {"mux_streams", CT_U32, offsetof(struct config_route, mux_streams), 0, 1,
	10000, NULL, 0},
    {"mux_tunnels", CT_U32, offsetof(struct config_route, mux_tunnels), 0, 1,
	64, NULL, 0},
    {"mux_window", CT_BYTES, offsetof(struct config_route, mux_window), 0,
	16384, 16 << 20, NULL, 0},
    {"mux_ping", CT_DUR, offsetof(struct config_route, mux_ping_ms), 0, 100, 0,
	NULL, 0},
};
static const struct cfg_table route_table = TABLE(route_keys);
_Static_assert(NKEYS(route_keys) <= CFG_MAXKEYS, "raise CFG_MAXKEYS");

static const struct cfg_key defaults_keys[] = {
    {"timeouts", CT_MAP, offsetof(struct cfg_defaults, timeouts), 0, 0, 0,
	&timeouts_table, 0},
    {"max_connections", CT_U32, offsetof(struct cfg_defaults, max_connections),
	0, 1, 1000000, NULL, 0},
    {"tls_min_version", CT_TLSVER,
	offsetof(struct cfg_defaults, tls_min_version), 0, 0, 0, NULL, 0},
    {"buffer_size", CT_BYTES, offsetof(struct cfg_defaults, buffer_bytes), 0,
	4096, 64 << 20, NULL, 0},
    {"connect_retry", CT_MAP, offsetof(struct cfg_defaults, retry), 0, 0, 0,
	&retry_table, 0},
    {"resolve_interval", CT_DUR0,
	offsetof(struct cfg_defaults, resolve_interval_ms), 0,
	CFG_MIN_RESOLVE_MS, 0, NULL, 0},
    {"mux", CT_MUX, offsetof(struct cfg_defaults, mux), 0, 0, 0, NULL, 0},
};
static const struct cfg_table defaults_table = TABLE(defaults_keys);

/* admin and log write into struct cfg_top directly (their off is 0). */
static const struct cfg_key admin_keys[] = {
    {"listen", CT_LISTEN, offsetof(struct cfg_top, cfg.admin_listen), 0, 0, 0,
	NULL, 0},
    {"enabled", CT_BOOL, offsetof(struct cfg_top, cfg.admin_enabled), 0, 0, 0,
	NULL, 0},
    {"ready_min_validity", CT_DUR0,
	offsetof(struct cfg_top, cfg.ready_min_validity_ms), 0, 0, 0, NULL, 0},
    {"tls", CT_BOOL, offsetof(struct cfg_top, cfg.admin_tls), 0, 0, 0, NULL, 0},
    {"identity", CT_MAP, offsetof(struct cfg_top, cfg.admin_route.identity), 0,
	0, 0, &identity_table, 0},
    {"allow", CT_PATTERNS, offsetof(struct cfg_top, cfg.admin_route.allow),
	offsetof(struct cfg_top, cfg.admin_route.nallow), 0, 0, NULL, 0},
    {"tls_min_version", CT_TLSVER,
	offsetof(struct cfg_top, cfg.admin_route.tls_min_version), 0, 0, 0,
	NULL, 0},
    {"plaintext_bind_any", CT_BOOL,
	offsetof(struct cfg_top, cfg.admin_plaintext_bind_any), 0, 0, 0, NULL,
	0},
    {"health_listen", CT_LISTEN,
	offsetof(struct cfg_top, cfg.admin_health_listen), 0, 0, 0, NULL, 0},
};
static const struct cfg_table admin_table = TABLE(admin_keys);

static const struct cfg_key reload_keys[] = {
    {"watch", CT_BOOL, offsetof(struct cfg_top, cfg.reload_watch), 0, 0, 0,
	NULL, 0},
    {"debounce", CT_DUR, offsetof(struct cfg_top, cfg.reload_debounce_ms), 0, 0,
	0, NULL, 0},
    {"close_revoked", CT_BOOL,
	offsetof(struct cfg_top, cfg.reload_close_revoked), 0, 0, 0, NULL, 0},
};
static const struct cfg_table reload_table = TABLE(reload_keys);

static const struct cfg_key log_keys[] = {
    {"level", CT_LEVEL, offsetof(struct cfg_top, cfg.log_level), 0, 0, 0, NULL,
	0},
    {"format", CT_FORMAT, offsetof(struct cfg_top, cfg.log_format), 0, 0, 0,
	NULL, 0},
};
static const struct cfg_table log_table = TABLE(log_keys);

static const struct cfg_key syslog_keys[] = {
    {"target", CT_TARGET, offsetof(struct config_audit, target), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"expect", CT_STR, offsetof(struct config_audit, expect), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"spool", CT_STR, offsetof(struct config_audit, spool), 0, 0, 0, NULL,
	CK_REQUIRED},
    {"spool_size", CT_BYTES, offsetof(struct config_audit, spool_bytes), 0,
	4096, 1u << 30, NULL, 0},
    {"queue", CT_U32, offsetof(struct config_audit, queue), 0, 1, 1000000, NULL,
	0},
    {"identity", CT_MAP, offsetof(struct config_audit, identity), 0, 0, 0,
	&identity_table, 0},
};
static const struct cfg_table syslog_table = TABLE(syslog_keys);

static const struct cfg_key audit_keys[] = {
    {"stderr", CT_BOOL, offsetof(struct config_audit, to_stderr), 0, 0, 0, NULL,
	0},
    {"file", CT_STR, offsetof(struct config_audit, file), 0, 0, 0, NULL, 0},
    {"syslog", CT_MAP, 0, 0, 0, 0, &syslog_table, 0},
};
static const struct cfg_table audit_table = TABLE(audit_keys);

static const struct cfg_key top_keys[] = {
    {"identity", CT_MAP, offsetof(struct cfg_top, cfg.identity), 0, 0, 0,
	&top_identity_table, 0},
    {"admin", CT_MAP, 0, 0, 0, 0, &admin_table, 0},
    {"log", CT_MAP, 0, 0, 0, 0, &log_table, 0},
    {"reload", CT_MAP, 0, 0, 0, 0, &reload_table, 0},
    {"max_handshakes", CT_U32, offsetof(struct cfg_top, cfg.max_handshakes), 0,
	1, 1000000, NULL, 0},
    {"workers", CT_WORKERS, offsetof(struct cfg_top, cfg.workers), 0, 1,
	CONFIG_MAX_WORKERS, NULL, 0},
    {"user", CT_NAME, offsetof(struct cfg_top, cfg.user), 0, 0, 0, NULL, 0},
    {"sandbox", CT_SANDBOX, offsetof(struct cfg_top, cfg.sandbox), 0, 0, 0,
	NULL, 0},
    {"drain_timeout", CT_DUR0, offsetof(struct cfg_top, cfg.drain_timeout_ms),
	0, 0, 0, NULL, 0},
    {"drain_delay", CT_DUR0, offsetof(struct cfg_top, cfg.drain_delay_ms), 0, 0,
	CFG_MAX_DRAIN_DELAY_MS, NULL, 0},
    {"max_connections", CT_U32, offsetof(struct cfg_top, cfg.max_connections),
	0, 1, 10000000, NULL, 0},
    {"defaults", CT_MAP, offsetof(struct cfg_top, defs), 0, 0, 0,
	&defaults_table, 0},
    {"routes", CT_ROUTES, 0, 0, 0, 0, NULL, CK_REQUIRED},
    {"audit", CT_MAP, offsetof(struct cfg_top, cfg.audit), 0, 0, 0,
	&audit_table, 0},
};
static const struct cfg_table top_table = TABLE(top_keys);

static int cfg_walk(struct cfg_ctx *c, yaml_node_t *map, const char *path,
    const struct cfg_table *t, void *obj);

static int
cfg_workers(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    const struct cfg_key *k, uint32_t *out)
{
	const char *s;

	if ((s = cfg_scalar(c, n, key)) == NULL)
		return (-1);
	if (strcmp(s, "auto") == 0) {
		*out = 0;
		return (0);
	}
	if (cfg_u32(s, k->min, k->max, out) == -1)
		return (cfg_err(c, n->start_mark, key,
		    "invalid value \"%s\" (expected auto or %u..%u)", s, k->min,
		    k->max));
	return (0);
}

/* The routes sequence: one struct config_route per item. */
static int
cfg_routes(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    struct cotai_config *cfg)
{
	yaml_node_item_t *it;
	size_t max;
	char k[CFG_KEYLEN];

	if (n->type != YAML_SEQUENCE_NODE)
		return (cfg_err(c, n->start_mark, key,
		    "expected a sequence, got %s", cfg_node_kind(n)));
	max =
	    (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (max == 0)
		return (cfg_err(
		    c, n->start_mark, key, "at least one route is required"));
	if ((cfg->routes = calloc(max, sizeof(*cfg->routes))) == NULL)
		return (cfg_err(c, n->start_mark, key, "out of memory"));
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		struct config_route *r = &cfg->routes[cfg->nroutes++];
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);

		r->protocol = CONFIG_PROTO_TCP;
		r->timeouts.connect_ms = r->timeouts.handshake_ms = CFG_UNSET;
		r->timeouts.idle_ms = r->timeouts.halfclose_ms = CFG_UNSET;
		r->max_connections = r->buffer_bytes = CFG_UNSET;
		r->tls_session_cache = CFG_UNSET;
		r->mux_streams = r->mux_tunnels = r->mux_window = CFG_UNSET;
		r->mux_ping_ms = CFG_UNSET;
		r->retry.attempts = r->retry.backoff_ms = CFG_UNSET;
		r->resolve_interval_ms = CFG_UNSET;
		r->tls_min_version = CFG_UNSET_INT;
		r->pg_local_tls.min_version = CFG_UNSET_INT;
		r->tls_resumption = true;
		r->line = (int)e->start_mark.line + 1;
		cfg_key_index(k, sizeof(k), key, cfg->nroutes - 1);
		if (cfg_where_add(c, &r->line, e->start_mark, k) == -1 ||
		    cfg_walk(c, e, k, &route_table, r) == -1)
			return (-1);
	}
	return (0);
}

static const char *const cfg_modes[] = {"originate", "terminate"};
static const char *const cfg_protos[] = {"tcp", "postgres", "redis", "mongo"};
static const char *const cfg_levels[] = {"debug", "info", "warn", "error"};
static const char *const cfg_formats[] = {"text", "json"};
static const char *const cfg_tlsvers[] = {"1.2", "1.3"};
static const char *const cfg_pgups[] = {"postgres", "sidecar"};
static const char *const cfg_sslnegs[] = {"postgres", "direct"};
/* In the order of enum config_sandbox. */
static const char *const cfg_sandboxes[] = {"auto", "landlock", "off"};
/* In the order of enum config_mux. */
static const char *const cfg_muxes[] = {"auto", "on", "off"};

/* A value of an enumerated type: mode, protocol, log level and format. */
static int
cfg_value_enum(struct cfg_ctx *c, const struct cfg_key *k, yaml_node_t *n,
    const char *key, void *p)
{
	int i;

	switch (k->type) {
	case CT_MODE:
		if ((i = cfg_enum(c, n, key, cfg_modes, NKEYS(cfg_modes))) < 0)
			return (-1);
		*(enum config_mode *)p = (enum config_mode)i;
		return (0);
	case CT_PROTO:
		if ((i = cfg_enum(c, n, key, cfg_protos, NKEYS(cfg_protos))) <
		    0)
			return (-1);
		*(enum config_proto *)p = (enum config_proto)i;
		return (0);
	case CT_TLSVER:
		if ((i = cfg_enum(c, n, key, cfg_tlsvers, NKEYS(cfg_tlsvers))) <
		    0)
			return (-1);
		*(int *)p = i == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
		return (0);
	case CT_PGUP:
		if ((i = cfg_enum(c, n, key, cfg_pgups, NKEYS(cfg_pgups))) < 0)
			return (-1);
		*(enum config_pg_upstream *)p = (enum config_pg_upstream)i;
		return (0);
	case CT_SSLNEG:
		if ((i = cfg_enum(c, n, key, cfg_sslnegs, NKEYS(cfg_sslnegs))) <
		    0)
			return (-1);
		*(enum config_pg_sslneg *)p = (enum config_pg_sslneg)i;
		return (0);
	case CT_SANDBOX:
		if ((i = cfg_enum(
			 c, n, key, cfg_sandboxes, NKEYS(cfg_sandboxes))) < 0)
			return (-1);
		*(enum config_sandbox *)p = (enum config_sandbox)i;
		return (0);
	case CT_MUX:
		if ((i = cfg_enum(c, n, key, cfg_muxes, NKEYS(cfg_muxes))) < 0)
			return (-1);
		*(enum config_mux *)p = (enum config_mux)i;
		return (0);
	default:
		i = k->type == CT_LEVEL
		    ? cfg_enum(c, n, key, cfg_levels, NKEYS(cfg_levels))
		    : cfg_enum(c, n, key, cfg_formats, NKEYS(cfg_formats));
		if (i < 0)
			return (-1);
		*(int *)p = i;
		return (0);
	}
}

/* A plain scalar value: strings, names, integers, sizes, booleans. */
static int
cfg_value_scalar(struct cfg_ctx *c, const struct cfg_key *k, yaml_node_t *n,
    const char *key, void *p)
{
	const char *s;

	if ((s = cfg_scalar(c, n, key)) == NULL)
		return (-1);
	switch (k->type) {
	case CT_NAME:
		if (!cfg_name_ok(s))
			return (cfg_err(c, n->start_mark, key,
			    "invalid name \"%s\" (1-64 of A-Z a-z 0-9 _ . -)",
			    s));
		/* FALLTHROUGH */
	case CT_STR:
		if ((*(char **)p = strdup(s)) == NULL)
			return (
			    cfg_err(c, n->start_mark, key, "out of memory"));
		return (0);
	case CT_U32:
		if (cfg_u32(s, k->min, k->max, p) == -1)
			return (cfg_err(c, n->start_mark, key,
			    "invalid value \"%s\" (expected an integer "
			    "%u..%u)",
			    s, k->min, k->max));
		return (0);
	case CT_BYTES:
		if (cfg_bytes(s, k->min, k->max, p) == -1)
			return (cfg_err(c, n->start_mark, key,
			    "invalid size \"%s\" (expected bytes %u..%u, "
			    "or with a k or m suffix)",
			    s, k->min, k->max));
		return (0);
	default:
		if (cfg_bool(s, p) == -1)
			return (cfg_err(c, n->start_mark, key,
			    "invalid value \"%s\" (expected true or false)",
			    s));
		return (0);
	}
}

/* A duration key with a floor (min): 0 when allowed, else at least min. */
static int
cfg_dur_min(struct cfg_ctx *c, const struct cfg_key *k, yaml_node_t *n,
    const char *key, uint32_t ms)
{
	char b[32];

	if (k->max != 0 && ms > k->max)
		return (cfg_err(c, n->start_mark, key, "must be at most %s",
		    duration_format(k->max, b, sizeof(b))));
	if (k->min == 0 || ms == 0 || ms >= k->min)
		return (0);
	return (cfg_err(c, n->start_mark, key, "must be %sat least %s",
	    k->type == CT_DUR0 ? "0 or " : "",
	    duration_format(k->min, b, sizeof(b))));
}

/* Store N, the value of key K, into its field in OBJ. */
static int
cfg_value(struct cfg_ctx *c, const struct cfg_key *k, yaml_node_t *n,
    const char *key, void *obj)
{
	void *p = (char *)obj + k->off;

	if (k->type != CT_MAP && cfg_where_add(c, p, n->start_mark, key) == -1)
		return (cfg_err(c, n->start_mark, key, "out of memory"));
	switch (k->type) {
	case CT_MAP:
		return (cfg_walk(c, n, key, k->sub, p));
	case CT_ROUTES:
		return (cfg_routes(c, n, key, p));
	case CT_PATTERNS:
		return (cfg_patterns(
		    c, n, key, p, (size_t *)(void *)((char *)obj + k->off2)));
	case CT_ROLES:
		return (cfg_roles(
		    c, n, key, p, (size_t *)(void *)((char *)obj + k->off2)));
	case CT_TD:
		return (cfg_trust_domain(c, n, key, p));
	case CT_TDS:
		return (cfg_trust_domains(
		    c, n, key, p, (size_t *)(void *)((char *)obj + k->off2)));
	case CT_LISTEN:
	case CT_TARGET:
		return (cfg_addr(c, n, key, k->type == CT_LISTEN, p));
	case CT_DUR:
	case CT_DUR0:
		if (cfg_duration(c, n, key, k->type == CT_DUR0, p) == -1)
			return (-1);
		return (cfg_dur_min(c, k, n, key, *(uint32_t *)p));
	case CT_WORKERS:
		return (cfg_workers(c, n, key, k, p));
	case CT_MODE:
	case CT_PROTO:
	case CT_LEVEL:
	case CT_FORMAT:
	case CT_TLSVER:
	case CT_PGUP:
	case CT_SSLNEG:
	case CT_SANDBOX:
	case CT_MUX:
		return (cfg_value_enum(c, k, n, key, p));
	default:
		return (cfg_value_scalar(c, k, n, key, p));
	}
}

static int
cfg_find_key(const struct cfg_table *t, const char *name)
{
	for (size_t i = 0; i < t->nkeys; i++) {
		if (strcmp(t->keys[i].name, name) == 0)
			return ((int)i);
	}
	return (-1);
}

/* Edit distance of two short strings; large when either is long. */
static size_t
cfg_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33], prev, tmp;

	if (la > 32 || lb > 32)
		return (SIZE_MAX);
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return (row[lb]);
}

/* "unknown key", with the closest known key when one is close. */
static int
cfg_unknown(struct cfg_ctx *c, yaml_node_t *k, const char *key,
    const struct cfg_table *t, const char *name)
{
	size_t best = 3, d;
	const char *near = NULL;

	for (size_t i = 0; i < t->nkeys; i++) {
		if ((d = cfg_distance(name, t->keys[i].name)) < best) {
			best = d;
			near = t->keys[i].name;
		}
	}
	if (near != NULL)
		return (cfg_err(c, k->start_mark, key,
		    "unknown key (did you mean \"%s\"?)", near));
	return (cfg_err(c, k->start_mark, key, "unknown key"));
}

/* Check MAP against table T and store every value into OBJ. */
static int
cfg_walk(struct cfg_ctx *c, yaml_node_t *map, const char *path,
    const struct cfg_table *t, void *obj)
{
	yaml_node_t *seen[CFG_MAXKEYS] = {NULL};
	yaml_node_pair_t *pair;
	char key[CFG_KEYLEN];
	int i;

	if (map->type != YAML_MAPPING_NODE)
		return (cfg_err(c, map->start_mark, *path ? path : "(root)",
		    "expected a mapping, got %s", cfg_node_kind(map)));
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, pair->value);
		const char *name;

		if (k->type != YAML_SCALAR_NODE)
			return (
			    cfg_err(c, k->start_mark, *path ? path : "(root)",
				"a key must be a scalar, got %s",
				cfg_node_kind(k)));
		name = (const char *)k->data.scalar.value;
		snprintf(
		    key, sizeof(key), "%s%s%s", path, *path ? "." : "", name);
		/* Top-level "x-..." keys are free, e.g. to hold YAML anchors.
		 */
		if (*path == '\0' && strncmp(name, "x-", 2) == 0)
			continue;
		if ((i = cfg_find_key(t, name)) < 0)
			return (cfg_unknown(c, k, key, t, name));
		if (seen[i] != NULL)
			return (cfg_err(c, k->start_mark, key,
			    "duplicate key (first at line %zu)",
			    seen[i]->start_mark.line + 1));
		seen[i] = k;
		if (cfg_value(c, &t->keys[i], v, key, obj) == -1)
			return (-1);
	}
	for (i = 0; i < (int)t->nkeys; i++) {
		if ((t->keys[i].flags & CK_REQUIRED) && seen[i] == NULL) {
			snprintf(key, sizeof(key), "%s%s%s", path,
			    *path ? "." : "", t->keys[i].name);
			return (cfg_err(
			    c, map->start_mark, key, "missing required key"));
		}
	}
	return (0);
}

int
cfg_parse_root(struct cfg_ctx *c, yaml_node_t *root, struct cfg_top *top)
{
	return (cfg_walk(c, root, "", &top_table, top));
}
