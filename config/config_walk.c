/*
 * config_walk: cfg_walk() checks a YAML mapping against a key table
 * (config_keys.c): unknown keys (with the closest known one), duplicate and
 * missing required keys, wrong node types; and stores each value into its
 * field with the parser of its type. Nothing here fills defaults: fields
 * the file does not set stay unset (NULL, CFG_UNSET).
 */
#include "config_priv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "config_keys.h"
#include "duration.h"
#include "log.h"

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
		    cfg_walk(c, e, k, &cfg_route_table, r) == -1)
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
	return (cfg_walk(c, root, "", &cfg_top_table, top));
}
