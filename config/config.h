/*
 * config: cotai-proxy's YAML configuration, loaded with libyaml into an
 * immutable struct cotai_config. Loading is three steps (as in OpenSSH):
 * every field starts "unset", the document is parsed and checked against a
 * key table (name, type, field, validator), then defaults are filled in and
 * route settings inherit the global ones. Every error names the file, line,
 * column and key: "FILE:LINE:COL: KEY: what is wrong".
 *
 * Once loaded the struct is never modified; a reload loads a new one and
 * swaps. All strings are owned by the struct and freed by config_free().
 * The key reference lives in config/README.md.
 */
#ifndef COTAI_CONFIG_H
#define COTAI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The most worker threads (key `workers`, and what "auto" is capped at). */
#define CONFIG_MAX_WORKERS 64

enum config_mode { CONFIG_MODE_ORIGINATE, CONFIG_MODE_TERMINATE };

/* What the route speaks on its TLS leg (proxy/DESIGN.md, Protocol facts). */
enum config_proto {
	CONFIG_PROTO_TCP,      /* plain mTLS between two cotai sidecars */
	CONFIG_PROTO_POSTGRES, /* PostgreSQL SSLRequest negotiation */
	CONFIG_PROTO_REDIS,    /* TLS from the first byte (native upstream) */
	CONFIG_PROTO_MONGO     /* TLS from the first byte (native upstream) */
};

/* protocol postgres, originate: what the upstream is (key `upstream`). */
enum config_pg_upstream {
	CONFIG_PG_UP_POSTGRES, /* PostgreSQL's own TLS (default) */
	CONFIG_PG_UP_SIDECAR   /* a cotai terminate route: TLS first */
};

/* protocol postgres, upstream postgres: how TLS starts (`sslnegotiation`). */
enum config_pg_sslneg {
	CONFIG_PG_SSLNEG_POSTGRES, /* SSLRequest, one byte 'S', then TLS */
	CONFIG_PG_SSLNEG_DIRECT    /* TLS first with ALPN "postgresql" (17+) */
};

/*
 * protocol postgres: one entry of `roles`, the database users (and
 * optionally databases) that peers matching IDENTITY may log in as.
 */
struct config_pg_role {
	char *identity; /* a pattern, as in allow/expect */
	char **users;   /* "*" = any user */
	size_t nusers;
	char **databases; /* none = any database */
	size_t ndatabases;
};

/*
 * protocol postgres, originate: TLS on the app's (local) leg, key
 * `local_tls`. cert == NULL: none, SSLRequest gets 'N'.
 */
struct config_local_tls {
	char *cert;      /* PEM certificate (and chain) the sidecar presents */
	char *key;       /* its private key (checked like identity.key) */
	int min_version; /* TLS1_3_VERSION (default) or TLS1_2_VERSION */
};

enum config_addr_kind { CONFIG_ADDR_INET, CONFIG_ADDR_UNIX };

/* Key `sandbox`: Landlock after start-up (proxy/process/sandbox.h). */
enum config_sandbox {
	CONFIG_SANDBOX_AUTO,     /* when the kernel has it (default) */
	CONFIG_SANDBOX_LANDLOCK, /* refuse to start without it */
	CONFIG_SANDBOX_OFF
};

/* Key `mux`: HTTP/2 CONNECT tunnels between sidecars (proxy/relay/mux.h). */
enum config_mux {
	CONFIG_MUX_AUTO, /* offer/accept ALPN h2, else one TLS per connection */
	CONFIG_MUX_ON,   /* refuse a peer that does not negotiate h2 */
	CONFIG_MUX_OFF   /* today's one TLS connection per connection */
};

/* A listen or target address: "host:port", "[v6]:port" or "unix:/path". */
struct config_addr {
	enum config_addr_kind kind;
	char *text; /* as written, for logs */
	char *host; /* INET: host name or literal, without brackets */
	char *port; /* INET: port as a decimal string ("0" = any) */
	char *path; /* UNIX: socket path */
};

/* Certificate material (file paths). crl may be NULL. */
/*
 * Key `identity.renew` (global identity only): the sidecar enrolls with and
 * renews from a `cotai-ca serve` (EST) server; proxy/control/renew.h. When set,
 * the global identity's ca, cert, key and crl are the state directory's
 * bundle.pem, cert.pem, key.pem and crl.pem (they may not be set too).
 */
struct config_renew {
	char *url;        /* https://HOST[:PORT]; NULL = no renewal */
	char *host;       /* from url */
	char *port;       /* from url, default "443" */
	char *ca;         /* trust anchor(s) for the CA server's certificate */
	char *state_dir;  /* cert.pem, key.pem, bundle.pem, crl.pem */
	char *token_file; /* bootstrap token; NULL = none */
	char *at;         /* as written; at_frac parsed from it */
	double at_frac;   /* fraction of the lifetime, default 0.667 */
	uint32_t crl_interval_ms; /* default 60000 */
};

struct config_identity {
	char *ca;
	char *cert;
	char *key;
	char *crl;
	/* the home trust domain (key `trust_domain`); NULL: the one of the
	 * SPIFFE ID in cert */
	char *trust_domain;
	struct config_renew renew; /* global identity only */
};

/* Timeouts in milliseconds; 0 means "no timeout" only for idle. */
struct config_timeouts {
	uint32_t connect_ms;   /* default 5000 */
	uint32_t handshake_ms; /* default 10000 */
	uint32_t idle_ms;      /* default 3600000 (1 h); 0 = none */
	uint32_t halfclose_ms; /* default 60000 */
};

/* Upstream connect retry (key connect_retry): attempts after the first. */
struct config_retry {
	uint32_t attempts;   /* default 3; 0 = no retry */
	uint32_t backoff_ms; /* first wait, doubled each time; default 250 */
};

/*
 * Key `audit`: where the audit records go (proxy/audit/audit.h). Any number of
 * sinks at once; with no `audit` key, stderr only.
 */
struct config_audit {
	bool to_stderr; /* default true */
	char *file;     /* append JSON lines here; NULL = no file sink */
	/* syslog over mutual TLS (RFC 5424/5425); target.text NULL = none */
	struct config_addr target;
	char *expect; /* DNS name the collector's certificate must carry */
	struct config_identity identity; /* ca, cert, key (global defaults) */
	char *spool;          /* overflow file; required with a target */
	uint32_t spool_bytes; /* its bound, default 64 MiB */
	uint32_t queue;       /* records held in memory, default 4096 */
};

struct config_route {
	char *name; /* unique, [A-Za-z0-9_.-]+ */
	enum config_mode mode;
	enum config_proto protocol; /* default CONFIG_PROTO_TCP */
	struct config_addr listen;
	struct config_addr target;
	/* originate: server identities accepted (names, SPIFFE IDs, globs). */
	char **expect;
	size_t nexpect;
	/* terminate: client identities allowed (names, SPIFFE IDs, globs). */
	char **allow;
	size_t nallow;
	/*
	 * The trust domains in which bare patterns (allow, expect, roles)
	 * match: the route's `trust_domains` key, else the home trust domain
	 * alone (identity.trust_domain, else the one of the SPIFFE ID in
	 * identity.cert); "*" alone: any domain of the bundle. Empty only
	 * when the route has no bare pattern. spiffe:// patterns name their
	 * trust domain themselves.
	 */
	char **trust_domains;
	size_t ntrust_domains;
	bool trust_domains_set; /* from the route's own key */
	/* Effective identity: the route's own keys over the global ones. */
	struct config_identity identity;
	struct config_timeouts timeouts;
	uint32_t max_connections; /* default 1024 */
	/* TLS1_3_VERSION (default) or TLS1_2_VERSION */
	int tls_min_version;
	/* per-direction high watermark, default 256 KiB */
	uint32_t buffer_bytes;
	/* where the route starts in the file */
	int line;
	/* originate: allow a plaintext listener beyond loopback/unix: */
	bool plaintext_bind_any; /* default false */
	/* TLS session resumption on this route's mTLS leg (default true) */
	bool tls_resumption;
	/* terminate: sessions the resumption cache holds (default 1024) */
	uint32_t tls_session_cache;
	/* protocol postgres (see config/README.md, PostgreSQL) */
	enum config_pg_upstream pg_upstream;
	enum config_pg_sslneg pg_sslnegotiation;
	struct config_pg_role *roles; /* NULL: no role check */
	size_t nroles;
	struct config_local_tls pg_local_tls; /* originate */
	bool pg_plaintext_cancel; /* terminate: relay plaintext cancels */
	/* upstream connect retry (originate and terminate alike) */
	struct config_retry retry;
	/* look a target host name up again this often (default 10000); 0 =
	 * only after every address failed */
	uint32_t resolve_interval_ms;
	/* protocol tcp: streams over HTTP/2 tunnels (default auto; other
	 * protocols: off) */
	enum config_mux mux;
	uint32_t mux_streams; /* concurrent streams per tunnel, default 100 */
	uint32_t mux_tunnels; /* originate: idle tunnels kept per worker, 2 */
	uint32_t mux_window;  /* per-stream window, default 256 KiB */
	uint32_t mux_ping_ms; /* tunnel keepalive PING interval, 10 s */
};

struct cotai_config {
	/* the file it was loaded from */
	char *path;
	/* global defaults for the routes; fields may be NULL */
	struct config_identity identity;
	/* admin endpoint: default enabled, 127.0.0.1:9901 */
	bool admin_enabled;
	struct config_addr admin_listen;
	/*
	 * admin.tls: serve the endpoint over mutual TLS (default false).
	 * Its settings are kept as a terminate route named "admin" that no
	 * worker serves (listen = admin.listen; identity = admin.identity
	 * over the global identity; allow = admin.allow; tls_min_version;
	 * no resumption), so the route TLS code builds and checks its
	 * context. Only set up (name != NULL) when admin_tls.
	 */
	bool admin_tls;
	struct config_route admin_route;
	/* admin.plaintext_bind_any: a plain endpoint beyond loopback/unix: */
	bool admin_plaintext_bind_any;
	/* admin.health_listen: a plain loopback/unix: listener serving only
	 * /healthz and /readyz (for `cotai-proxy health`); text NULL = none */
	struct config_addr admin_health_listen;
	/* /readyz fails when a certificate expires sooner; default 10 min */
	uint32_t ready_min_validity_ms;
	/* reload: watch the files (default true), wait for DEBOUNCE ms of
	 * quiet (default 500), then close live connections whose peer is no
	 * longer valid (default true) */
	bool reload_watch;
	uint32_t reload_debounce_ms;
	bool reload_close_revoked;
	/* TLS handshakes in progress at once, process-wide; default 1024 */
	uint32_t max_handshakes;
	/* enum log_level (default info) and enum log_format (default text) */
	int log_level;
	int log_format;
	/* event-loop threads, 1..CONFIG_MAX_WORKERS; "auto" = number of CPUs
	 * (at most CONFIG_MAX_WORKERS) */
	uint32_t workers;
	/* switch to this user after binding; NULL */
	char *user;
	/* Landlock once started (default auto) */
	enum config_sandbox sandbox;
	/* SIGTERM drain deadline, default 30000 */
	uint32_t drain_timeout_ms;
	/* after SIGTERM, accept this long before draining, default 0 */
	uint32_t drain_delay_ms;
	/* process-wide, default 10000 */
	uint32_t max_connections;
	struct config_route *routes;
	size_t nroutes;
	/* workers came from "auto" (or was not set) */
	bool workers_auto;
	/* the audit stream's sinks */
	struct config_audit audit;
};

/*
 * Load and validate PATH. On success stores a new config in *out (the caller
 * frees it with config_free) and returns 0. On failure returns -1, leaves *out
 * NULL and writes one "FILE:LINE:COL: KEY: what is wrong" line to err
 * (always NUL-terminated). Checks include that every certificate, key, CA
 * and CRL file is readable and parses, and that each key matches its
 * certificate.
 */
int config_load(
    const char *path, struct cotai_config **out, char *err, size_t errlen);

/*
 * What config_load_with() may add to config_load(). FILE_NOTE, when set,
 * is asked about a file the config names that cannot be opened (ERR is
 * the errno); a non-NULL answer (static text) is appended to the error
 * line in parentheses. The proxy uses it to say that a reload's file lies
 * outside the sandbox set at start.
 */
struct config_load_opts {
	const char *(*file_note)(const char *path, int err);
};

/* config_load() with OPTS (borrowed; NULL = none). */
int config_load_with(const char *path, const struct config_load_opts *opts,
    struct cotai_config **out, char *err, size_t errlen);

/*
 * identity.renew is set and its state directory lacks a certificate, key,
 * bundle or CRL: the first enrollment has not happened (or the state was
 * lost). config_load() then does not open the global identity's files.
 */
bool config_renew_pending(const struct config_renew *r);

/* Free a config; NULL is a no-op. */
void config_free(struct cotai_config *cfg);

/*
 * Print the effective policy (every route, its addresses, timeouts, identity
 * files and who may use it) for `cotai-proxy --check`.
 */
void config_print(const struct cotai_config *cfg, FILE *fp);

/* Parse "host:port", "[v6]:port" or "unix:/path" into *out; 0 or -1. */
int config_addr_parse(const char *s, struct config_addr *out);
void config_addr_clear(struct config_addr *a);

/* True for unix: addresses and loopback hosts (localhost, 127/8, ::1). */
bool config_addr_is_local(const struct config_addr *a);

const char *config_mode_name(enum config_mode m);
const char *config_sandbox_name(enum config_sandbox s);
const char *config_proto_name(enum config_proto p);

#endif
