/*
 * config_keys: what the key tables (config_keys.c) and the walker that
 * applies them (config_walk.c) share. A table lists, for one mapping, every
 * key with its type, the offset of its field in the object being filled and
 * its limits.
 */
#ifndef COTAI_CONFIG_KEYS_H
#define COTAI_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

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
	CT_WORKERS,  /* "auto" or 1..CONFIG_MAX_WORKERS */
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

/* The tables cfg_walk() starts from (config_keys.c). */
extern const struct cfg_table cfg_top_table;
extern const struct cfg_table cfg_route_table;

#endif
