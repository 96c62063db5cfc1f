/*
 * config_scope: the trust domains in which a route's bare patterns match.
 *
 * A bare pattern ("backend", "jobs/nightly-*") names a workload path, not a
 * trust domain; matching it in every domain the CA bundle trusts would let a
 * workload called "backend" in a neighbour's domain in. So a bare pattern
 * matches only in the home trust domain: identity.trust_domain when set,
 * else the domain of the SPIFFE ID in the sidecar's own certificate. A
 * route widens that only explicitly, with `trust_domains: [a, b]` (or "*"
 * alone for any domain of the bundle), or with spiffe://TD/... patterns.
 * The effective list is stored in the route, so --check prints it and the
 * proxy never derives it again.
 */
#include "config_priv.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "identity.h"
#include "spiffe.h"

/* One trust domain, or "*" when ANY; 0 or -1 after the error. */
static int
scope_td(
    struct cfg_ctx *c, yaml_node_t *n, const char *key, bool any, char **slot)
{
	const char *s, *why = NULL;

	if ((s = cfg_scalar(c, n, key)) == NULL)
		return (-1);
	if (!(any && strcmp(s, "*") == 0) &&
	    spiffe_td_check(s, strlen(s), &why) == -1)
		return (cfg_err(c, n->start_mark, key,
		    "bad trust domain \"%s\": %s%s", s,
		    why != NULL ? why : "invalid",
		    any ? " (or \"*\" for any)" : ""));
	if ((*slot = strdup(s)) == NULL)
		return (cfg_err(c, n->start_mark, key, "out of memory"));
	return (0);
}

int
cfg_trust_domain(
    struct cfg_ctx *c, yaml_node_t *n, const char *key, char **slot)
{
	return (scope_td(c, n, key, false, slot));
}

static int
scope_td_elem(struct cfg_ctx *c, yaml_node_t *n, const char *key, char **slot)
{
	return (scope_td(c, n, key, true, slot));
}

int
cfg_trust_domains(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    char ***list, size_t *count)
{
	static const struct cfg_list_spec spec = {
	    scope_td_elem, "expected a scalar or a sequence, got a mapping"};

	if (cfg_list(c, n, key, &spec, list, count) == -1)
		return (-1);
	for (size_t i = 0; i < *count; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp((*list)[i], (*list)[j]) == 0)
				return (cfg_err(c, n->start_mark, key,
				    "trust domain \"%s\" listed twice",
				    (*list)[i]));
		}
		if (*count > 1 && strcmp((*list)[i], "*") == 0)
			return (cfg_err(c, n->start_mark, key,
			    "\"*\" (any trust domain) must be the only entry"));
	}
	return (0);
}

/* The first bare pattern of LIST (N), or NULL. */
static const char *
scope_bare(char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strncmp(list[i], SPIFFE_PREFIX, SPIFFE_PREFIX_LEN) != 0)
			return (list[i]);
	}
	return (NULL);
}

/*
 * The trust domain of the SPIFFE ID in the route's certificate into *TD
 * (a new string, or NULL when it has none); 0, or -1 after the error. The
 * file was checked by cfg_check_files() a moment ago.
 */
static int
scope_cert_td(struct cfg_ctx *c, const struct config_route *r, char **td)
{
	struct identity id;
	BIO *b = NULL;
	X509 *x = NULL;
	int rc = -1;

	*td = NULL;
	memset(&id, 0, sizeof(id));
	if ((b = BIO_new_file(r->identity.cert, "r")) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		cfg_err_field(c, &r->identity.cert, &r->line, "identity.cert",
		    "cannot read the certificate in %s again",
		    r->identity.cert);
		goto out;
	}
	if (identity_from_x509(x, &id) != 0) {
		cfg_err_field(c, &r->identity.cert, &r->line, "identity.cert",
		    "the certificate in %s has a malformed identity (a "
		    "SPIFFE ID must be valid and the only URI SAN)",
		    r->identity.cert);
		goto out;
	}
	if (id.trust_domain != NULL &&
	    (*td = strdup(id.trust_domain)) == NULL) {
		cfg_err_field(c, &r->identity.cert, &r->line, "identity.cert",
		    "out of memory");
		goto out;
	}
	rc = 0;
out:
	identity_clear(&id);
	X509_free(x);
	BIO_free(b);
	ERR_clear_error();
	return (rc);
}

/*
 * Route R, reported as KEY when nothing more precise is known: fill its
 * trust_domains; 0 or -1 after the error.
 */
static int
scope_route(struct cfg_ctx *c, struct config_route *r, const char *key)
{
	const char *bare = NULL;
	const void *field = NULL;
	char *home = NULL;

	if ((bare = scope_bare(r->allow, r->nallow)) != NULL)
		field = &r->allow;
	else if ((bare = scope_bare(r->expect, r->nexpect)) != NULL)
		field = &r->expect;
	for (size_t j = 0; bare == NULL && j < r->nroles; j++) {
		if ((bare = scope_bare(&r->roles[j].identity, 1)) != NULL)
			field = &r->roles;
	}
	r->trust_domains_set = r->trust_domains != NULL;
	if (r->trust_domains_set)
		return (0);
	if (r->identity.trust_domain != NULL) {
		if ((home = strdup(r->identity.trust_domain)) == NULL)
			return (cfg_err_field(
			    c, &r->line, &r->line, key, "out of memory"));
	} else if (scope_cert_td(c, r, &home) == -1)
		return (-1);
	if (home != NULL) {
		if ((r->trust_domains = calloc(1, sizeof(char *))) == NULL) {
			free(home);
			return (cfg_err_field(
			    c, &r->line, &r->line, key, "out of memory"));
		}
		r->trust_domains[0] = home;
		r->ntrust_domains = 1;
		return (0);
	}
	if (bare == NULL)
		return (0);
	return (cfg_err_field(c, field, &r->line, key,
	    "bare pattern \"%s\" matches only in the home trust domain, and "
	    "there is none: the certificate in %s has no SPIFFE ID; set "
	    "identity.trust_domain or the route's trust_domains, or write "
	    "spiffe://TRUST-DOMAIN/%s",
	    bare, r->identity.cert, bare));
}

int
cfg_check_scope(struct cfg_ctx *c, struct cotai_config *cfg)
{
	char key[CFG_KEYLEN];

	for (size_t i = 0; i < cfg->nroutes; i++) {
		cfg_key_index(key, sizeof(key), "routes", i);
		if (cfg_renew_waiting(cfg, &cfg->routes[i]))
			continue;
		if (scope_route(c, &cfg->routes[i], key) == -1)
			return (-1);
	}
	/* admin.tls: admin.allow is scoped the same way. */
	if (cfg->admin_tls && cfg->admin_route.name != NULL &&
	    !cfg_renew_waiting(cfg, &cfg->admin_route) &&
	    scope_route(c, &cfg->admin_route, "admin") == -1)
		return (-1);
	return (0);
}
