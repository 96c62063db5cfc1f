/*
 * config_admin: the admin endpoint's keys (config.h, admin_*): its mTLS
 * settings become a terminate route named "admin" that the route TLS code
 * builds and checks; a plaintext endpoint beyond loopback needs an
 * explicit opt-in; the health listener stays on loopback.
 */
#include "config_priv.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

/*
 * admin.tls: make admin_route the terminate route the TLS code expects
 * (see config.h), its identity inherited key by key from the global one.
 */
int
cfg_admin_defaults(struct cfg_ctx *c, struct cotai_config *cfg)
{
	struct config_route *r = &cfg->admin_route;
	const struct config_identity *g = &cfg->identity;
	const struct cfg_where *w = cfg_where_find(c, &cfg->admin_tls);
	struct cfg_where at;

	if ((r->name = strdup("admin")) == NULL)
		return (-1);
	r->mode = CONFIG_MODE_TERMINATE;
	r->protocol = CONFIG_PROTO_TCP;
	r->tls_resumption = false; /* one request per connection */
	r->mux = CONFIG_MUX_OFF;   /* HTTP/1.0: no ALPN h2 (mux.h) */
	if (r->tls_min_version == 0)
		r->tls_min_version = TLS1_3_VERSION;
	if (w != NULL) {
		at = *w; /* a copy: adding may move the array */
		r->line = (int)at.mark.line + 1;
		if (cfg_where_add(c, &r->line, at.mark, at.key) == -1)
			return (-1);
	}
	return (cfg_inherit_identity(c, &r->identity, g));
}

/* The identity key of the admin endpoint that is set, or NULL. */
static char *const *
cfg_admin_identity_set(const struct config_identity *id)
{
	char *const *f[] = {&id->ca, &id->cert, &id->key, &id->crl};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (*f[i] != NULL)
			return (f[i]);
	return (NULL);
}

/* admin without tls: no TLS keys, and loopback unless opted out. */
static int
cfg_check_admin_plain(struct cfg_ctx *c, const struct cotai_config *cfg)
{
	const struct config_route *r = &cfg->admin_route;
	char *const *f = cfg_admin_identity_set(&r->identity);

	if (r->nallow > 0)
		return (cfg_err_field(c, &r->allow, &cfg->admin_listen,
		    "admin.allow", "only with admin.tls: true"));
	if (f != NULL)
		return (cfg_err_field(c, f, &cfg->admin_listen,
		    "admin.identity", "only with admin.tls: true"));
	if (r->tls_min_version != 0)
		return (
		    cfg_err_field(c, &r->tls_min_version, &cfg->admin_listen,
			"admin.tls_min_version", "only with admin.tls: true"));
	if (!cfg->admin_plaintext_bind_any &&
	    !config_addr_is_local(&cfg->admin_listen))
		return (cfg_err_field(c, &cfg->admin_listen, &cfg->admin_listen,
		    "admin.listen",
		    "a plaintext admin endpoint must be loopback or unix: "
		    "(set admin.tls: true with admin.allow to serve it over "
		    "mTLS, or admin.plaintext_bind_any: true to expose "
		    "/metrics unauthenticated)"));
	return (0);
}

int
cfg_check_admin(struct cfg_ctx *c, const struct cotai_config *cfg)
{
	const struct config_route *r = &cfg->admin_route;
	const struct config_addr *h = &cfg->admin_health_listen;

	if (!cfg->admin_enabled)
		return (0);
	if (!cfg->admin_tls && cfg_check_admin_plain(c, cfg) == -1)
		return (-1);
	if (cfg->admin_tls && cfg->admin_plaintext_bind_any)
		return (cfg_err_field(c, &cfg->admin_plaintext_bind_any,
		    &cfg->admin_tls, "admin.plaintext_bind_any",
		    "only without admin.tls (the mTLS endpoint may listen "
		    "anywhere)"));
	if (cfg->admin_tls && r->nallow == 0)
		return (
		    cfg_err_field(c, &r->allow, &cfg->admin_tls, "admin.allow",
			"required with admin.tls: true (who may read /metrics, "
			"e.g. [prometheus])"));
	if (cfg->admin_tls &&
	    (r->identity.ca == NULL || r->identity.cert == NULL ||
		r->identity.key == NULL))
		return (cfg_err_field(c, &cfg->admin_tls, &cfg->admin_tls,
		    "admin.tls",
		    "needs identity.%s (in admin.identity or the global "
		    "identity)",
		    r->identity.ca == NULL         ? "ca"
			: r->identity.cert == NULL ? "cert"
						   : "key"));
	if (h->text == NULL)
		return (0);
	if (!config_addr_is_local(h))
		return (cfg_err_field(c, h, h, "admin.health_listen",
		    "must be loopback or unix: (it answers without "
		    "authentication)"));
	if (cfg_addr_same(h, &cfg->admin_listen))
		return (cfg_err_field(c, h, h, "admin.health_listen",
		    "same address as admin.listen"));
	return (0);
}
