/*
 * config_renew: the checks and defaults of identity.renew (config.h,
 * struct config_renew). The renewal's files live in the state directory,
 * so the global identity's paths are derived from it and may not be set
 * beside it; every route without its own identity then presents the
 * renewed certificate.
 */
#include "config_priv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RENEW_DEF_AT 0.667
#define RENEW_DEF_CRL_MS 60000

/* "N/D" or a decimal, strictly between 0 and 1, into *OUT. */
static int
renew_parse_at(const char *s, double *out)
{
	char *end;
	double a, b = 1;

	a = strtod(s, &end);
	if (end == s)
		return (-1);
	if (*end == '/') {
		const char *d = end + 1;

		b = strtod(d, &end);
		if (end == d || b <= 0)
			return (-1);
	}
	if (*end != '\0' || !isfinite(a) || !isfinite(b))
		return (-1);
	*out = a / b;
	return (*out > 0 && *out < 1 ? 0 : -1);
}

/* https://HOST[:PORT][/] into R->host and R->port. */
static int
renew_parse_url(struct config_renew *r)
{
	const char *h = r->url, *e, *port = "443";
	size_t hl;

	if (strncmp(h, "https://", 8) != 0)
		return (-1);
	h += 8;
	if (*h == '[') {
		if ((e = strchr(h, ']')) == NULL)
			return (-1);
		h++;
		hl = (size_t)(e - h);
		e++;
	} else {
		e = h + strcspn(h, ":/");
		hl = (size_t)(e - h);
	}
	if (hl == 0)
		return (-1);
	if (*e == ':') {
		port = e + 1;
		e = port + strspn(port, "0123456789");
		if (e == port || e - port > 5 || atoi(port) < 1 ||
		    atoi(port) > 65535)
			return (-1);
	}
	if (!(*e == '\0' || (e[0] == '/' && e[1] == '\0')))
		return (-1);
	if ((r->host = strndup(h, hl)) == NULL ||
	    (r->port = strndup(port, strspn(port, "0123456789"))) == NULL)
		return (-1);
	return (0);
}

/* DIR/NAME into *DST, recorded at the position of state_dir. */
static int
renew_path(
    struct cfg_ctx *c, struct config_renew *r, char **dst, const char *name)
{
	const struct cfg_where *w = cfg_where_find(c, &r->state_dir);
	struct cfg_where copy;
	size_t n = strlen(r->state_dir) + strlen(name) + 2;

	if ((*dst = malloc(n)) == NULL)
		return (-1);
	snprintf(*dst, n, "%s/%s", r->state_dir, name);
	if (w == NULL)
		return (0);
	copy = *w;
	return (cfg_where_add(c, dst, copy.mark, copy.key));
}

int
cfg_renew_defaults(struct cfg_ctx *c, struct cotai_config *cfg)
{
	struct config_identity *id = &cfg->identity;
	struct config_renew *r = &id->renew;
	char *const *set[] = {&id->ca, &id->cert, &id->key, &id->crl};

	if (r->url == NULL)
		return (0);
	for (size_t k = 0; k < 4; k++)
		if (*set[k] != NULL)
			return (cfg_err_field(c, set[k], NULL, NULL,
			    "not with identity.renew (the renewal keeps it "
			    "in state_dir)"));
	if (renew_parse_url(r) == -1)
		return (cfg_err_field(c, &r->url, NULL, NULL,
		    "invalid URL \"%s\" (expected https://HOST[:PORT])",
		    r->url));
	r->at_frac = RENEW_DEF_AT;
	if (r->at != NULL && renew_parse_at(r->at, &r->at_frac) == -1)
		return (cfg_err_field(c, &r->at, NULL, NULL,
		    "invalid value \"%s\" (expected a fraction of the "
		    "lifetime between 0 and 1, such as 2/3 or 0.5)",
		    r->at));
	if (r->crl_interval_ms == 0)
		r->crl_interval_ms = RENEW_DEF_CRL_MS;
	if (r->state_dir[0] != '/')
		return (cfg_err_field(c, &r->state_dir, NULL, NULL,
		    "\"%s\" is not an absolute path", r->state_dir));
	if (renew_path(c, r, &id->ca, "bundle.pem") == -1 ||
	    renew_path(c, r, &id->cert, "cert.pem") == -1 ||
	    renew_path(c, r, &id->key, "key.pem") == -1 ||
	    renew_path(c, r, &id->crl, "crl.pem") == -1)
		return (cfg_err_field(
		    c, &r->state_dir, NULL, NULL, "out of memory"));
	return (0);
}

bool
config_renew_pending(const struct config_renew *r)
{
	char p[4096];
	static const char *const f[] = {
	    "cert.pem", "key.pem", "bundle.pem", "crl.pem"};

	if (r->url == NULL)
		return (false);
	for (size_t k = 0; k < 4; k++) {
		snprintf(p, sizeof(p), "%s/%s", r->state_dir, f[k]);
		if (access(p, R_OK) != 0)
			return (true);
	}
	return (false);
}

bool
cfg_renew_waiting(const struct cotai_config *cfg, const struct config_route *r)
{
	const struct config_renew *rn = &cfg->identity.renew;

	return (rn->url != NULL && r->identity.cert != NULL &&
	    cfg->identity.cert != NULL &&
	    strcmp(r->identity.cert, cfg->identity.cert) == 0 &&
	    config_renew_pending(rn));
}

bool
cfg_renew_audit_waiting(const struct cotai_config *cfg)
{
	const struct config_renew *rn = &cfg->identity.renew;
	const char *cert = cfg->audit.identity.cert;

	return (rn->url != NULL && cert != NULL && cfg->identity.cert != NULL &&
	    strcmp(cert, cfg->identity.cert) == 0 && config_renew_pending(rn));
}

void
cfg_renew_clear(struct config_renew *r)
{
	free(r->url);
	free(r->host);
	free(r->port);
	free(r->ca);
	free(r->state_dir);
	free(r->token_file);
	free(r->at);
}
