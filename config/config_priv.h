/*
 * config_priv: what config.c, config_walk.c, config_files.c and
 * config_print.c share while loading. Not part of the public interface.
 *
 * While a file is loaded, every value the parser stores is recorded with
 * the address of the field it went into, its YAML position and its key path
 * (cfg_where), so that checks made after parsing (duplicate names, files,
 * key/certificate mismatch) can still report "FILE:LINE:COL: KEY".
 */
#ifndef COTAI_CONFIG_PRIV_H
#define COTAI_CONFIG_PRIV_H

#include <yaml.h>

#include "config.h"

/* "Not set by the file" for inherited uint32_t fields and ints. */
#define CFG_UNSET UINT32_MAX
#define CFG_UNSET_INT (-1)

#define CFG_KEYLEN 128

/* Built-in defaults (see README.md). */
#define CFG_DEF_CONNECT_MS 5000
#define CFG_DEF_HANDSHAKE_MS 10000
#define CFG_DEF_IDLE_MS 3600000
#define CFG_DEF_HALFCLOSE_MS 60000
#define CFG_DEF_ROUTE_MAXCONN 1024
#define CFG_DEF_MAXCONN 10000
#define CFG_DEF_BUFFER (256 * 1024)
#define CFG_DEF_DRAIN_MS 30000
#define CFG_MAX_DRAIN_DELAY_MS 600000
#define CFG_DEF_ADMIN "127.0.0.1:9901"
#define CFG_DEF_READY_MS (10 * 60 * 1000)
#define CFG_DEF_DEBOUNCE_MS 500
#define CFG_DEF_MAXHANDSHAKES 1024
#define CFG_DEF_RETRY_ATTEMPTS 3
#define CFG_DEF_RETRY_BACKOFF_MS 250
#define CFG_DEF_RESOLVE_MS 10000
/* resolve_interval: 0, or at least this (a tighter loop only burns CPU) */
#define CFG_MIN_RESOLVE_MS 100
#define CFG_DEF_SESSION_CACHE 1024
#define CFG_DEF_SPOOL_BYTES (64u << 20)
#define CFG_DEF_AUDIT_QUEUE 4096
#define CFG_DEF_MUX_STREAMS 100
#define CFG_DEF_MUX_TUNNELS 2
#define CFG_DEF_MUX_WINDOW (256 * 1024)
#define CFG_DEF_MUX_PING_MS 10000

/* Where a field's value came from. */
struct cfg_where {
	const void *field;
	yaml_mark_t mark;
	char key[CFG_KEYLEN];
};

/* The global "defaults:" section. */
struct cfg_defaults {
	struct config_timeouts timeouts;
	uint32_t max_connections;
	int tls_min_version;
	uint32_t buffer_bytes;
	struct config_retry retry;
	uint32_t resolve_interval_ms;
	enum config_mux mux; /* routes that can mux, without their own */
};

/* Everything the top-level key table writes into. */
struct cfg_top {
	struct cotai_config cfg;
	struct cfg_defaults defs;
};

struct cfg_ctx {
	const char *path;
	const struct config_load_opts *opts; /* NULL: none */
	char note[256];                      /* cfg_file_note()'s answer */
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	struct cfg_where *where;
	size_t nwhere;
	size_t capwhere;
};

/* Write the one error line; always returns -1. */
int cfg_err(struct cfg_ctx *c, yaml_mark_t mark, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The error line for FIELD at the position and key it was set with; when
 * the file did not set it, at FALLBACK's position with FALLBACK_KEY.
 */
int cfg_err_field(struct cfg_ctx *c, const void *field, const void *fallback,
    const char *fallback_key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Record that FIELD was set at MARK under KEY; 0 or -1 (out of memory). */
int cfg_where_add(
    struct cfg_ctx *c, const void *field, yaml_mark_t mark, const char *key);

/* identity.renew (config_renew.c): check it, derive the global identity's
 * paths from state_dir. 0 or -1 (error written). */
int cfg_renew_defaults(struct cfg_ctx *c, struct cotai_config *cfg);
/* Free R's strings. */
void cfg_renew_clear(struct config_renew *r);
/*
 * R presents the renewed certificate and the state directory is not
 * complete yet: its files are not opened (nor its trust domain derived);
 * the proxy enrolls, then loads the file again (renew.h).
 */
bool
cfg_renew_waiting(const struct cotai_config *cfg, const struct config_route *r);
/* Likewise for audit.syslog's identity (inherited from the renewal). */
bool cfg_renew_audit_waiting(const struct cotai_config *cfg);

/* The record for FIELD, or NULL; valid until the next cfg_where_add(). */
const struct cfg_where *
cfg_where_find(const struct cfg_ctx *c, const void *field);

/* Value parsers (config_values.c); -1 or NULL after writing the error. */
const char *cfg_node_kind(const yaml_node_t *n);
/* The non-empty scalar text of N (no NUL bytes). */
const char *cfg_scalar(struct cfg_ctx *c, yaml_node_t *n, const char *key);
/* Decimal in [min, max]; no error written. */
int cfg_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* Bytes with an optional k/K or m/M (binary) suffix; no error written. */
int cfg_bytes(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* true/yes/on or false/no/off; no error written. */
int cfg_bool(const char *s, bool *out);
/* 1-64 characters of [A-Za-z0-9_.-]. */
bool cfg_name_ok(const char *s);
/* "KEY[I]" into BUF, cut to fit. */
void cfg_key_index(char *buf, size_t len, const char *key, size_t i);
/* A scalar or a non-empty sequence of policy patterns (spiffe.h). */
/*
 * A list value: a scalar or a non-empty sequence, each element parsed by
 * ELEM into a new string; NOT_MAPPING is the error for a mapping.
 */
struct cfg_list_spec {
	int (*elem)(
	    struct cfg_ctx *c, yaml_node_t *n, const char *key, char **slot);
	const char *not_mapping;
};
/* Parse N into a new *LIST of *COUNT strings per SPEC; 0, or -1 (error). */
int cfg_list(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    const struct cfg_list_spec *spec, char ***list, size_t *count);
int cfg_patterns(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    char ***list, size_t *count);
/* The index of N's value in NAMES. */
int cfg_enum(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    const char *const *names, size_t nnames);
/* An address; port 0 only when LISTEN. */
int cfg_addr(struct cfg_ctx *c, yaml_node_t *n, const char *key, bool listen,
    struct config_addr *a);
/* A duration in ms, at most 7 days; 0 only when ZERO. */
int cfg_duration(struct cfg_ctx *c, yaml_node_t *n, const char *key, bool zero,
    uint32_t *out);

/* roles: a mapping of identity pattern -> users or {users, databases}
 * (config_roles.c). */
int cfg_roles(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    struct config_pg_role **roles, size_t *count);
/* Free a roles list (config_roles.c). */
void cfg_roles_free(struct config_pg_role *roles, size_t n);
/* Checks of the postgres keys of route I (config_roles.c). */
int cfg_check_pg(struct cfg_ctx *c, const struct config_route *r, size_t i);

/* Parse the document's root mapping into TOP (config_walk.c). */
int cfg_parse_root(struct cfg_ctx *c, yaml_node_t *root, struct cfg_top *top);

/*
 * " (NOTE)" when opts->file_note has something to say about PATH, which
 * failed to open with ERR, else ""; valid until the next call.
 */
const char *cfg_file_note(struct cfg_ctx *c, const char *path, int err);

/* What a config file may cost (config_limits.c). */
#define CFG_MAX_BYTES (1024 * 1024)
#define CFG_MAX_DEPTH 32
#define CFG_MAX_ALIASES 256 /* and as many anchors */
#define CFG_MAX_ITEMS 1024  /* in one sequence or mapping */

/*
 * Read all of FP into a new *BUF of *LEN bytes (the caller frees it); a
 * file over CFG_MAX_BYTES is refused. 0, or -1 after the error.
 */
int
cfg_read_bounded(struct cfg_ctx *c, FILE *fp, unsigned char **buf, size_t *len);

/*
 * Scan the YAML in BUF[0..LEN) once, in time linear in LEN, and refuse
 * nesting deeper than CFG_MAX_DEPTH, a collection of more than
 * CFG_MAX_ITEMS items (the checks across routes, or across a route's
 * roles, compare each with all before it), or more than CFG_MAX_ALIASES
 * anchors or aliases. Syntax errors are left to the loader. 0, or -1 after the
 * error.
 */
int cfg_check_shape(struct cfg_ctx *c, const unsigned char *buf, size_t len);

/*
 * Route R's CRL file (readable, parsed): every CRL in it must be signed by
 * a CA of the route; one past its nextUpdate is logged as a warning
 * (config_crl.c). 0, or -1 after the error.
 */
int cfg_check_crl(struct cfg_ctx *c, const struct config_route *r);

/*
 * Inherit each global identity file and the trust domain of SRC into DST
 * where DST does not set it; a copy keeps the global's position (file:line
 * errors point at the global key). 0, or -1 (out of memory).
 */
int cfg_inherit_identity(struct cfg_ctx *c, struct config_identity *dst,
    const struct config_identity *src);

/* Would listen addresses A and B compete for the same socket? */
bool cfg_addr_same(const struct config_addr *a, const struct config_addr *b);

/*
 * admin.tls: fill CFG->admin_route (name "admin", terminate, no
 * resumption, TLS 1.3 floor unless set, identity inherited key by key from
 * the global one) (config_admin.c). 0, or -1 (out of memory).
 */
int cfg_admin_defaults(struct cfg_ctx *c, struct cotai_config *cfg);

/*
 * The admin keys taken together (config_admin.c): TLS keys only with
 * admin.tls, admin.allow and a certificate with it, a plaintext listener
 * beyond loopback only with admin.plaintext_bind_any, health_listen on
 * loopback and apart from admin.listen. 0, or -1 after the error.
 */
int cfg_check_admin(struct cfg_ctx *c, const struct cotai_config *cfg);

/* identity.trust_domain: one trust domain (config_scope.c). */
int cfg_trust_domain(
    struct cfg_ctx *c, yaml_node_t *n, const char *key, char **slot);
/* A route's trust_domains: a scalar or sequence of them, or "*" alone. */
int cfg_trust_domains(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    char ***list, size_t *count);
/*
 * After cfg_check_files(): give every route its effective trust_domains
 * (config_scope.c); a route with a bare pattern and no home trust domain
 * is an error.
 */
int cfg_check_scope(struct cfg_ctx *c, struct cotai_config *cfg);
/* Check every certificate, key, CA and CRL file (config_files.c). */
int cfg_check_files(struct cfg_ctx *c, const struct cotai_config *cfg);

/* Free what a config owns, not the struct itself. */
void cfg_clear(struct cotai_config *cfg);

#endif
