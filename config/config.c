/*
 * config: see config.h. Loading is three steps: config_load() starts with
 * every field unset, cfg_parse_root() (config_walk.c, with the key tables
 * of config_keys.c) stores what the file says, cfg_defaults() fills the rest
 * and lets routes inherit the global identity and "defaults:" section; then
 * cfg_check_routes() makes the checks that involve several keys, and
 * cfg_check_files() (config_files.c) opens every certificate and key.
 */
#include "config_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "log.h"

static void
cfg_u32_default(uint32_t *v, uint32_t def)
{
	if (*v == CFG_UNSET)
		*v = def;
}

/* Inherit a global identity file; the copy keeps the global's position. */
static int
cfg_inherit(struct cfg_ctx *c, char **dst, char *const *src)
{
	const struct cfg_where *w;
	struct cfg_where copy;

	if (*dst != NULL || *src == NULL)
		return (0);
	if ((*dst = strdup(*src)) == NULL)
		return (-1);
	if ((w = cfg_where_find(c, src)) == NULL)
		return (0);
	/* A copy: adding may move the array W points into. */
	copy = *w;
	return (cfg_where_add(c, dst, copy.mark, copy.key));
}

int
cfg_inherit_identity(struct cfg_ctx *c, struct config_identity *dst,
    const struct config_identity *src)
{
	if (cfg_inherit(c, &dst->ca, &src->ca) == -1 ||
	    cfg_inherit(c, &dst->cert, &src->cert) == -1 ||
	    cfg_inherit(c, &dst->key, &src->key) == -1 ||
	    cfg_inherit(c, &dst->crl, &src->crl) == -1 ||
	    cfg_inherit(c, &dst->trust_domain, &src->trust_domain) == -1)
		return (-1);
	return (0);
}

/*
 * Can route R be multiplexed (mux.h)? Between two cotai sidecars: protocol
 * tcp, and postgres on a terminate route or an originate route with
 * upstream: sidecar. Not with a server's own TLS (postgres with upstream:
 * postgres, redis, mongo): that speaks its own protocol.
 */
static bool
cfg_may_mux(const struct config_route *r)
{
	if (r->protocol == CONFIG_PROTO_TCP)
		return (true);
	return (r->protocol == CONFIG_PROTO_POSTGRES &&
	    (r->mode == CONFIG_MODE_TERMINATE ||
		r->pg_upstream == CONFIG_PG_UP_SIDECAR));
}

static int
cfg_route_defaults(
    struct cfg_ctx *c, struct cfg_top *top, struct config_route *r)
{
	const struct config_identity *g = &top->cfg.identity;
	const struct cfg_defaults *d = &top->defs;

	if (cfg_inherit_identity(c, &r->identity, g) == -1)
		return (-1);
	cfg_u32_default(&r->timeouts.connect_ms, d->timeouts.connect_ms);
	cfg_u32_default(&r->timeouts.handshake_ms, d->timeouts.handshake_ms);
	cfg_u32_default(&r->timeouts.idle_ms, d->timeouts.idle_ms);
	cfg_u32_default(&r->timeouts.halfclose_ms, d->timeouts.halfclose_ms);
	cfg_u32_default(&r->max_connections, d->max_connections);
	cfg_u32_default(&r->buffer_bytes, d->buffer_bytes);
	cfg_u32_default(&r->tls_session_cache, CFG_DEF_SESSION_CACHE);
	cfg_u32_default(&r->mux_streams, CFG_DEF_MUX_STREAMS);
	cfg_u32_default(&r->mux_tunnels, CFG_DEF_MUX_TUNNELS);
	cfg_u32_default(&r->mux_window, CFG_DEF_MUX_WINDOW);
	cfg_u32_default(&r->mux_ping_ms, CFG_DEF_MUX_PING_MS);
	/* Set on a route that cannot mux, it is refused (cfg_check_mux). */
	if (cfg_where_find(c, &r->mux) == NULL)
		r->mux = cfg_may_mux(r) ? d->mux : CONFIG_MUX_OFF;
	cfg_u32_default(&r->retry.attempts, d->retry.attempts);
	cfg_u32_default(&r->retry.backoff_ms, d->retry.backoff_ms);
	cfg_u32_default(&r->resolve_interval_ms, d->resolve_interval_ms);
	if (r->tls_min_version == CFG_UNSET_INT)
		r->tls_min_version = d->tls_min_version;
	/* The app's leg does not follow the mTLS leg's floor. */
	if (r->pg_local_tls.min_version == CFG_UNSET_INT)
		r->pg_local_tls.min_version = TLS1_3_VERSION;
	return (0);
}

static int
cfg_defaults(struct cfg_ctx *c, struct cfg_top *top)
{
	struct cotai_config *cfg = &top->cfg;
	struct cfg_defaults *d = &top->defs;
	long n;

	if (cfg_renew_defaults(c, cfg) == -1)
		return (-1);
	cfg_u32_default(&d->timeouts.connect_ms, CFG_DEF_CONNECT_MS);
	cfg_u32_default(&d->timeouts.handshake_ms, CFG_DEF_HANDSHAKE_MS);
	cfg_u32_default(&d->timeouts.idle_ms, CFG_DEF_IDLE_MS);
	cfg_u32_default(&d->timeouts.halfclose_ms, CFG_DEF_HALFCLOSE_MS);
	cfg_u32_default(&d->max_connections, CFG_DEF_ROUTE_MAXCONN);
	cfg_u32_default(&d->buffer_bytes, CFG_DEF_BUFFER);
	cfg_u32_default(&d->retry.attempts, CFG_DEF_RETRY_ATTEMPTS);
	cfg_u32_default(&d->retry.backoff_ms, CFG_DEF_RETRY_BACKOFF_MS);
	cfg_u32_default(&d->resolve_interval_ms, CFG_DEF_RESOLVE_MS);
	if (d->tls_min_version == CFG_UNSET_INT)
		d->tls_min_version = TLS1_3_VERSION;
	if (cfg->log_level == CFG_UNSET_INT)
		cfg->log_level = LOG_L_INFO;
	if (cfg->log_format == CFG_UNSET_INT)
		cfg->log_format = LOG_F_TEXT;
	cfg_u32_default(&cfg->drain_timeout_ms, CFG_DEF_DRAIN_MS);
	cfg_u32_default(&cfg->drain_delay_ms, 0);
	cfg_u32_default(&cfg->max_connections, CFG_DEF_MAXCONN);
	cfg_u32_default(&cfg->ready_min_validity_ms, CFG_DEF_READY_MS);
	cfg_u32_default(&cfg->reload_debounce_ms, CFG_DEF_DEBOUNCE_MS);
	cfg_u32_default(&cfg->max_handshakes, CFG_DEF_MAXHANDSHAKES);
	if (cfg->workers == CFG_UNSET || cfg->workers == 0) {
		cfg->workers_auto = true;
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n < 1)
			n = 1;
		if (n > CONFIG_MAX_WORKERS)
			n = CONFIG_MAX_WORKERS;
		cfg->workers = (uint32_t)n;
	}
	if (cfg->admin_listen.text == NULL &&
	    config_addr_parse(CFG_DEF_ADMIN, &cfg->admin_listen) == -1)
		return (-1);
	cfg_u32_default(&cfg->audit.spool_bytes, CFG_DEF_SPOOL_BYTES);
	cfg_u32_default(&cfg->audit.queue, CFG_DEF_AUDIT_QUEUE);
	if (cfg->audit.target.text != NULL &&
	    (cfg_inherit(c, &cfg->audit.identity.ca, &cfg->identity.ca) == -1 ||
		cfg_inherit(
		    c, &cfg->audit.identity.cert, &cfg->identity.cert) == -1 ||
		cfg_inherit(c, &cfg->audit.identity.key, &cfg->identity.key) ==
		    -1 ||
		cfg_inherit(c, &cfg->audit.identity.crl, &cfg->identity.crl) ==
		    -1))
		return (-1);
	if (cfg->admin_tls && cfg_admin_defaults(c, cfg) == -1)
		return (-1);
	for (size_t i = 0; i < cfg->nroutes; i++) {
		if (cfg_route_defaults(c, top, &cfg->routes[i]) == -1)
			return (-1);
	}
	return (0);
}

static bool
cfg_host_any(const char *h)
{
	return (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0);
}

/*
 * Would A and B compete for the same socket? Same path, or the same
 * (non-zero) port on the same host or with either on the wildcard address.
 */
bool
cfg_addr_same(const struct config_addr *a, const struct config_addr *b)
{
	if (a->kind != b->kind)
		return (false);
	if (a->kind == CONFIG_ADDR_UNIX)
		return (strcmp(a->path, b->path) == 0);
	if (strcmp(a->port, "0") == 0 || strcmp(a->port, b->port) != 0)
		return (false);
	return (strcasecmp(a->host, b->host) == 0 || cfg_host_any(a->host) ||
	    cfg_host_any(b->host));
}

/*
 * mux and its bounds: only on routes that can be multiplexed (cfg_may_mux);
 * elsewhere an unset mux means off (cfg_route_defaults), and so may an
 * explicit `mux: off` on a postgres route with upstream: postgres (its
 * server's own TLS). mux_tunnels only on originate routes.
 */
static int
cfg_check_mux(struct cfg_ctx *c, const struct config_route *r, size_t i)
{
	const void *const keys[] = {&r->mux, &r->mux_streams, &r->mux_tunnels,
	    &r->mux_window, &r->mux_ping_ms};
	bool pg = r->protocol == CONFIG_PROTO_POSTGRES;
	char key[CFG_KEYLEN];

	snprintf(key, sizeof(key), "routes[%zu].mux", i);
	if (r->mode == CONFIG_MODE_TERMINATE &&
	    cfg_where_find(c, &r->mux_tunnels) != NULL)
		return (cfg_err_field(c, &r->mux_tunnels, &r->line, key,
		    "only on an originate route"));
	if (cfg_may_mux(r))
		return (0);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (cfg_where_find(c, keys[k]) == NULL ||
		    (pg && k == 0 && r->mux == CONFIG_MUX_OFF))
			continue;
		if (pg)
			return (cfg_err_field(c, keys[k], &r->line, key,
			    "only with upstream: sidecar (PostgreSQL's own "
			    "TLS is not multiplexed)"));
		return (cfg_err_field(c, keys[k], &r->line, key,
		    "only for protocol: tcp or postgres (between two cotai "
		    "sidecars)"));
	}
	return (0);
}

/* Checks on one route that involve several keys. */
static int
cfg_check_route(struct cfg_ctx *c, const struct cotai_config *cfg, size_t i)
{
	const struct config_route *r = &cfg->routes[i];
	const struct cfg_where *w = cfg_where_find(c, &r->line);
	char key[CFG_KEYLEN];
	yaml_mark_t m = w != NULL ? w->mark : (yaml_mark_t){0, 0, 0};
	bool orig = r->mode == CONFIG_MODE_ORIGINATE;

	snprintf(
	    key, sizeof(key), "routes[%zu].%s", i, orig ? "expect" : "allow");
	if (orig && cfg_where_find(c, &r->tls_session_cache) != NULL)
		return (cfg_err_field(c, &r->tls_session_cache, &r->line, key,
		    "only on a terminate route (an originate route keeps "
		    "one session per worker)"));
	if (cfg_check_mux(c, r, i) == -1)
		return (-1);
	if (orig && r->nallow > 0)
		return (cfg_err_field(c, &r->allow, &r->line, key,
		    "not allowed on an originate route (use expect)"));
	if (!orig && r->nexpect > 0)
		return (cfg_err_field(c, &r->expect, &r->line, key,
		    "not allowed on a terminate route (use allow)"));
	if ((orig ? r->nexpect : r->nallow) == 0)
		return (cfg_err(c, m, key, "required for a%s route",
		    orig ? "n originate" : " terminate"));
	if (!orig &&
	    (r->protocol == CONFIG_PROTO_REDIS ||
		r->protocol == CONFIG_PROTO_MONGO))
		return (cfg_err_field(c, &r->protocol, &r->line, key,
		    "redis and mongo are only supported on originate "
		    "routes"));
	if (cfg_check_pg(c, r, i) == -1)
		return (-1);
	if (orig && !r->plaintext_bind_any && !config_addr_is_local(&r->listen))
		return (cfg_err_field(c, &r->listen, &r->line, key,
		    "plaintext listener must be loopback or unix: "
		    "(set plaintext_bind_any: true to allow it)"));
	snprintf(key, sizeof(key), "routes[%zu].identity.", i);
	if (r->identity.ca == NULL || r->identity.cert == NULL ||
	    r->identity.key == NULL) {
		strncat(key,
		    r->identity.ca == NULL         ? "ca"
			: r->identity.cert == NULL ? "cert"
						   : "key",
		    sizeof(key) - strlen(key) - 1);
		return (cfg_err(c, m, key,
		    "missing (set it on the route or in the global identity)"));
	}
	return (0);
}

/* audit.syslog needs a CA, a certificate and a key, its own or global. */
static int
cfg_check_audit(struct cfg_ctx *c, const struct cotai_config *cfg)
{
	const struct config_audit *a = &cfg->audit;
	const char *what;

	if (a->target.text == NULL)
		return (0);
	what = a->identity.ca == NULL  ? "ca"
	    : a->identity.cert == NULL ? "cert"
	    : a->identity.key == NULL  ? "key"
				       : NULL;
	if (what == NULL)
		return (0);
	return (
	    cfg_err_field(c, &a->identity, &a->target, "audit.syslog.identity",
		"%s missing (set it here or in the global "
		"identity)",
		what));
}

/* Per-route checks, unique names and listen addresses. */
static int
cfg_check_routes(struct cfg_ctx *c, const struct cotai_config *cfg)
{
	if (cfg_check_audit(c, cfg) == -1)
		return (-1);
	if (cfg_check_admin(c, cfg) == -1)
		return (-1);
	for (size_t i = 0; i < cfg->nroutes; i++) {
		const struct config_route *r = &cfg->routes[i];

		if (cfg_check_route(c, cfg, i) == -1)
			return (-1);
		if (cfg->admin_enabled &&
		    cfg_addr_same(&r->listen, &cfg->admin_listen))
			return (cfg_err_field(c, &r->listen, &r->line, "listen",
			    "same address as admin.listen"));
		if (cfg->admin_enabled &&
		    cfg->admin_health_listen.text != NULL &&
		    cfg_addr_same(&r->listen, &cfg->admin_health_listen))
			return (cfg_err_field(c, &r->listen, &r->line, "listen",
			    "same address as admin.health_listen"));
		for (size_t j = 0; j < i; j++) {
			const struct config_route *o = &cfg->routes[j];

			if (strcmp(o->name, r->name) == 0)
				return (
				    cfg_err_field(c, &r->name, &r->line, "name",
					"duplicate route name \"%s\" (first at "
					"line %d)",
					r->name, o->line));
			if (cfg_addr_same(&o->listen, &r->listen))
				return (cfg_err_field(c, &r->listen, &r->line,
				    "listen",
				    "address %s already used by route \"%s\"",
				    r->listen.text, o->name));
		}
	}
	return (0);
}

/* Parse PATH into a libyaml document; 0 or -1 after an error. */
static int
cfg_read_yaml(struct cfg_ctx *c, yaml_document_t *doc, bool *loaded)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	yaml_mark_t m0 = {0, 0, 0};
	FILE *fp = NULL;
	unsigned char *buf = NULL;
	size_t len;
	int rc = -1;

	if ((fp = fopen(c->path, "rb")) == NULL) {
		int e = errno;

		return (cfg_err(c, m0, "(file)", "%s%s", strerror(e),
		    cfg_file_note(c, c->path, e)));
	}
	rc = cfg_read_bounded(c, fp, &buf, &len);
	fclose(fp);
	if (rc == -1 || cfg_check_shape(c, buf, len) == -1) {
		free(buf);
		return (-1);
	}
	rc = -1;
	if (!yaml_parser_initialize(&parser)) {
		free(buf);
		return (cfg_err(c, m0, "(file)", "out of memory"));
	}
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yaml_parser_load(&parser, doc))
		goto syntax;
	*loaded = true;
	if (yaml_document_get_root_node(doc) == NULL) {
		cfg_err(c, m0, "(root)", "empty configuration");
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra))
		goto syntax;
	if (yaml_document_get_root_node(&extra) != NULL) {
		cfg_err(c, yaml_document_get_root_node(&extra)->start_mark,
		    "(root)", "more than one YAML document");
		yaml_document_delete(&extra);
		goto out;
	}
	yaml_document_delete(&extra);
	rc = 0;
	goto out;
syntax:
	if (parser.context != NULL)
		cfg_err(c, parser.problem_mark, "yaml",
		    "%s (while %s at line %zu)",
		    parser.problem != NULL ? parser.problem : "syntax error",
		    parser.context +
			(strncmp(parser.context, "while ", 6) ? 0 : 6),
		    parser.context_mark.line + 1);
	else
		cfg_err(c, parser.problem_mark, "yaml", "%s",
		    parser.problem != NULL ? parser.problem : "syntax error");
out:
	yaml_parser_delete(&parser);
	free(buf);
	return (rc);
}

static void
cfg_top_init(struct cfg_top *top)
{
	struct cfg_defaults *d = &top->defs;

	memset(top, 0, sizeof(*top));
	d->timeouts.connect_ms = d->timeouts.handshake_ms = CFG_UNSET;
	d->timeouts.idle_ms = d->timeouts.halfclose_ms = CFG_UNSET;
	d->max_connections = d->buffer_bytes = CFG_UNSET;
	d->retry.attempts = d->retry.backoff_ms = CFG_UNSET;
	d->resolve_interval_ms = CFG_UNSET;
	d->tls_min_version = CFG_UNSET_INT;
	top->cfg.admin_enabled = true;
	top->cfg.reload_watch = top->cfg.reload_close_revoked = true;
	top->cfg.ready_min_validity_ms = top->cfg.reload_debounce_ms =
	    CFG_UNSET;
	top->cfg.max_handshakes = CFG_UNSET;
	top->cfg.log_level = top->cfg.log_format = CFG_UNSET_INT;
	top->cfg.workers = top->cfg.drain_timeout_ms = CFG_UNSET;
	top->cfg.drain_delay_ms = CFG_UNSET;
	top->cfg.max_connections = CFG_UNSET;
	top->cfg.audit.to_stderr = true;
	top->cfg.audit.spool_bytes = top->cfg.audit.queue = CFG_UNSET;
}

int
config_load(
    const char *path, struct cotai_config **out, char *err, size_t errlen)
{
	return (config_load_with(path, NULL, out, err, errlen));
}

int
config_load_with(const char *path, const struct config_load_opts *opts,
    struct cotai_config **out, char *err, size_t errlen)
{
	struct cfg_ctx c = {
	    .path = path, .opts = opts, .err = err, .errlen = errlen};
	struct cfg_top top;
	yaml_document_t doc;
	bool loaded = false;
	int rc = -1;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	cfg_top_init(&top);
	c.doc = &doc;
	if (cfg_read_yaml(&c, &doc, &loaded) == -1)
		goto out;
	if (cfg_parse_root(&c, yaml_document_get_root_node(&doc), &top) == -1)
		goto out;
	if (cfg_defaults(&c, &top) == -1) {
		if (err != NULL && errlen > 0 && err[0] != '\0')
			goto out;
		cfg_err(&c, yaml_document_get_root_node(&doc)->start_mark,
		    "(root)", "out of memory");
		goto out;
	}
	if (cfg_check_routes(&c, &top.cfg) == -1 ||
	    cfg_check_files(&c, &top.cfg) == -1 ||
	    cfg_check_scope(&c, &top.cfg) == -1)
		goto out;
	if ((top.cfg.path = strdup(path)) == NULL ||
	    (*out = malloc(sizeof(**out))) == NULL) {
		cfg_err(&c, yaml_document_get_root_node(&doc)->start_mark,
		    "(root)", "out of memory");
		goto out;
	}
	**out = top.cfg;
	rc = 0;
out:
	if (rc == -1)
		cfg_clear(&top.cfg);
	if (loaded)
		yaml_document_delete(&doc);
	free(c.where);
	return (rc);
}

static void
cfg_identity_clear(struct config_identity *id)
{
	free(id->ca);
	free(id->cert);
	free(id->key);
	free(id->crl);
	free(id->trust_domain);
	cfg_renew_clear(&id->renew);
}

static void
cfg_list_free(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static void
cfg_route_clear(struct config_route *r)
{
	free(r->name);
	config_addr_clear(&r->listen);
	config_addr_clear(&r->target);
	/* Entries [0, n) are set, also after a failed parse. */
	cfg_list_free(r->expect, r->nexpect);
	cfg_list_free(r->allow, r->nallow);
	cfg_list_free(r->trust_domains, r->ntrust_domains);
	cfg_identity_clear(&r->identity);
	cfg_roles_free(r->roles, r->nroles);
	free(r->pg_local_tls.cert);
	free(r->pg_local_tls.key);
}

void
cfg_clear(struct cotai_config *cfg)
{
	for (size_t i = 0; i < cfg->nroutes; i++)
		cfg_route_clear(&cfg->routes[i]);
	free(cfg->routes);
	cfg_route_clear(&cfg->admin_route);
	config_addr_clear(&cfg->admin_health_listen);
	cfg_identity_clear(&cfg->identity);
	config_addr_clear(&cfg->admin_listen);
	free(cfg->audit.file);
	config_addr_clear(&cfg->audit.target);
	free(cfg->audit.expect);
	cfg_identity_clear(&cfg->audit.identity);
	free(cfg->audit.spool);
	free(cfg->user);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

void
config_free(struct cotai_config *cfg)
{
	if (cfg == NULL)
		return;
	cfg_clear(cfg);
	free(cfg);
}
