/*
 * config_roles: the PostgreSQL keys of a route. `roles` maps identity
 * patterns (as in allow/expect) to the database users, and optionally the
 * databases, that peers matching the pattern may log in as:
 *
 *	roles:
 *	  backend: [app, app_ro]
 *	  "spiffe://cotai.internal/jobs/nightly":
 *	    { users: batch, databases: [jobs, reports] }
 *
 * A user or database is a name as PostgreSQL reads it from the
 * StartupMessage (1-63 bytes, compared exactly), or "*" for any.
 */
#include "config_priv.h"

#include <stdlib.h>
#include <string.h>

#include "spiffe.h"

/* PostgreSQL's NAMEDATALEN - 1: longer names never reach a role check. */
#define CFG_PGNAME_MAX 63

/* "A.B" into BUF, cut to fit. */
static void
cfg_subkey(char *buf, size_t len, const char *a, const char *b)
{
	if (snprintf(buf, len, "%s.%s", a, b) >= (int)len)
		buf[len - 1] = '\0';
}

/* One user or database name into *SLOT. */
static int
cfg_pgname(struct cfg_ctx *c, yaml_node_t *n, const char *key, char **slot)
{
	const char *s;

	if ((s = cfg_scalar(c, n, key)) == NULL)
		return (-1);
	if (strlen(s) > CFG_PGNAME_MAX)
		return (cfg_err(c, n->start_mark, key,
		    "name longer than %d bytes", CFG_PGNAME_MAX));
	if ((*slot = strdup(s)) == NULL)
		return (cfg_err(c, n->start_mark, key, "out of memory"));
	return (0);
}

/* A scalar or a non-empty sequence of names. */
static int
cfg_pgnames(struct cfg_ctx *c, yaml_node_t *n, const char *key, char ***list,
    size_t *count)
{
	static const struct cfg_list_spec spec = {cfg_pgname,
	    "expected a name or a sequence of names, got a mapping"};

	return (cfg_list(c, n, key, &spec, list, count));
}

/* The value of one roles entry: names, or {users: ..., databases: ...}. */
static int
cfg_role_value(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    struct config_pg_role *r)
{
	yaml_node_pair_t *p;
	char k[CFG_KEYLEN];
	bool users = false, dbs = false;

	if (n->type != YAML_MAPPING_NODE)
		return (cfg_pgnames(c, n, key, &r->users, &r->nusers));
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *name = kn->type == YAML_SCALAR_NODE
		    ? (const char *)kn->data.scalar.value
		    : "";

		cfg_subkey(k, sizeof(k), key, name);
		if (strcmp(name, "users") == 0 && !users) {
			users = true;
			if (cfg_pgnames(c, v, k, &r->users, &r->nusers) == -1)
				return (-1);
		} else if (strcmp(name, "databases") == 0 && !dbs) {
			dbs = true;
			if (cfg_pgnames(
				c, v, k, &r->databases, &r->ndatabases) == -1)
				return (-1);
		} else {
			return (cfg_err(c, kn->start_mark, k,
			    users || dbs ? "unknown or duplicate key "
					   "(expected users, databases)"
					 : "unknown key (expected users, "
					   "databases)"));
		}
	}
	if (!users) {
		cfg_subkey(k, sizeof(k), key, "users");
		return (cfg_err(c, n->start_mark, k, "missing required key"));
	}
	return (0);
}

int
cfg_roles(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    struct config_pg_role **roles, size_t *count)
{
	yaml_node_pair_t *p;
	char k[CFG_KEYLEN];
	const char *why;
	size_t max;

	if (n->type != YAML_MAPPING_NODE)
		return (cfg_err(c, n->start_mark, key,
		    "expected a mapping of identity: users, got %s",
		    cfg_node_kind(n)));
	max = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (max == 0)
		return (cfg_err(c, n->start_mark, key, "empty mapping"));
	if ((*roles = calloc(max, sizeof(**roles))) == NULL)
		return (cfg_err(c, n->start_mark, key, "out of memory"));
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		struct config_pg_role *r = &(*roles)[*count];
		const char *pat;

		if ((pat = cfg_scalar(c, kn, key)) == NULL)
			return (-1);
		cfg_subkey(k, sizeof(k), key, pat);
		if (spiffe_pattern_check(pat, &why) == -1)
			return (cfg_err(c, kn->start_mark, k,
			    "bad pattern \"%s\": %s", pat,
			    why != NULL ? why : "invalid"));
		for (size_t i = 0; i < *count; i++) {
			if (strcmp((*roles)[i].identity, pat) == 0)
				return (cfg_err(
				    c, kn->start_mark, k, "duplicate key"));
		}
		if ((r->identity = strdup(pat)) == NULL)
			return (cfg_err(c, kn->start_mark, k, "out of memory"));
		(*count)++;
		if (cfg_role_value(c, yaml_document_get_node(c->doc, p->value),
			k, r) == -1)
			return (-1);
	}
	return (0);
}

static void
cfg_names_free(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void
cfg_roles_free(struct config_pg_role *roles, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(roles[i].identity);
		cfg_names_free(roles[i].users, roles[i].nusers);
		cfg_names_free(roles[i].databases, roles[i].ndatabases);
	}
	free(roles);
}

/*
 * The error for the mapping KEY of route I, at the position of FIELD (a
 * required key inside it: mappings themselves are not recorded).
 */
static int
cfg_pg_where(struct cfg_ctx *c, const void *field, size_t i, const char *key,
    const char *msg)
{
	const struct cfg_where *w = cfg_where_find(c, field);
	char k[CFG_KEYLEN];

	snprintf(k, sizeof(k), "routes[%zu].%s", i, key);
	return (cfg_err(
	    c, w != NULL ? w->mark : (yaml_mark_t){0, 0, 0}, k, "%s", msg));
}

int
cfg_check_pg(struct cfg_ctx *c, const struct config_route *r, size_t i)
{
	bool pg = r->protocol == CONFIG_PROTO_POSTGRES;
	bool orig = r->mode == CONFIG_MODE_ORIGINATE;
	char key[CFG_KEYLEN];

	snprintf(key, sizeof(key), "routes[%zu].protocol", i);
	if (!pg && cfg_where_find(c, &r->roles) != NULL)
		return (cfg_err_field(c, &r->roles, &r->line, key,
		    "only for protocol: postgres"));
	if ((!pg || !orig) && cfg_where_find(c, &r->pg_upstream) != NULL)
		return (cfg_err_field(c, &r->pg_upstream, &r->line, key,
		    "only on originate routes with protocol: postgres"));
	if ((!pg || !orig) && cfg_where_find(c, &r->pg_sslnegotiation) != NULL)
		return (cfg_err_field(c, &r->pg_sslnegotiation, &r->line, key,
		    "only on originate routes with protocol: postgres"));
	if ((!pg || !orig) && r->pg_local_tls.cert != NULL)
		return (cfg_pg_where(c, &r->pg_local_tls.cert, i, "local_tls",
		    "only on originate routes with protocol: postgres"));
	if ((!pg || orig) && cfg_where_find(c, &r->pg_plaintext_cancel) != NULL)
		return (cfg_err_field(c, &r->pg_plaintext_cancel, &r->line, key,
		    "only on terminate routes with protocol: postgres"));
	if (r->pg_upstream == CONFIG_PG_UP_SIDECAR &&
	    r->pg_sslnegotiation == CONFIG_PG_SSLNEG_DIRECT)
		return (cfg_err_field(c, &r->pg_sslnegotiation, &r->line, key,
		    "direct only with upstream: postgres (a sidecar "
		    "always starts with TLS)"));
	return (0);
}
