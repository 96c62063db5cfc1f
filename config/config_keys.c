/*
 * config_keys: the key tables of the YAML schema, one per mapping: every
 * key with its type (config_keys.h), the offset of its field in the object
 * being filled, a second offset for a list's count, its limits and, for a
 * nested mapping, the table of that mapping. cfg_walk() (config_walk.c)
 * checks a mapping against a table and stores each value. A new key is a
 * row here plus its line in config/README.md and cotai-proxy.yaml(5).
 */
#include "config_priv.h"

#include <stddef.h>

#include "config_keys.h"

#define TABLE(a)                                                               \
	{                                                                      \
		a, NKEYS(a)                                                    \
	}

/* A route's identity; the global one adds its renewal block. */
#define IDENTITY_KEY(name, type, field)                                        \
	{                                                                      \
		name, type, offsetof(struct config_identity, field), 0, 0, 0,  \
		    NULL, 0                                                    \
	}
#define IDENTITY_KEYS                                                          \
	IDENTITY_KEY("ca", CT_STR, ca), IDENTITY_KEY("cert", CT_STR, cert),    \
	    IDENTITY_KEY("key", CT_STR, key),                                  \
	    IDENTITY_KEY("crl", CT_STR, crl),                                  \
	    IDENTITY_KEY("trust_domain", CT_TD, trust_domain)

static const struct cfg_key identity_keys[] = {IDENTITY_KEYS};
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
    IDENTITY_KEYS,
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
const struct cfg_table cfg_route_table = TABLE(route_keys);
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
const struct cfg_table cfg_top_table = TABLE(top_keys);
