/*
 * reload: see reload.h.
 */
#include "reload.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "audit.h"
#include "log.h"
#include "resolver.h"
#include "sandbox.h"
#include "watch.h"

struct reload {
	struct worker_pool *pool;
	const char *ports;
	struct watch *watch;
	bool stopped;
};

/* What a reload builds before anything is swapped. */
struct reload_set {
	struct route **routes; /* n references */
	size_t n, nw;
	int *fds;           /* n * nw sockets, -1 where none */
	int *keep;          /* per route: old route whose sockets stay, or -1 */
	char **bound;       /* per route */
	SSL_CTX *admin_ctx; /* admin.tls: the new context, owned */
};

static const char *const reload_results[POOL_RELOAD__N] = {
    "ok", "config_error", "tls_error", "bind_error"};

static void
reload_set_clear(struct reload_set *s)
{
	for (size_t j = 0; j < s->n; j++) {
		if (s->routes != NULL)
			route_unref(s->routes[j]);
		if (s->bound != NULL)
			free(s->bound[j]);
		for (size_t k = 0; s->fds != NULL && k < s->nw; k++)
			if (s->fds[j * s->nw + k] >= 0)
				close(s->fds[j * s->nw + k]);
	}
	free(s->routes);
	free(s->fds);
	free(s->keep);
	free(s->bound);
	SSL_CTX_free(s->admin_ctx);
	memset(s, 0, sizeof(*s));
}

/*
 * Does R's own certificate verify against its own CA bundle (revocation
 * aside)? A renewal that left a certificate from another CA, or a broken
 * chain, must not replace a working context. 0 or -1 (logged).
 */
static int
reload_self_check(SSL_CTX *ctx, const struct config_route *rc)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	STACK_OF(X509) *chain = NULL;
	X509_STORE_CTX *xs;
	int ok = 0;

	if (cert == NULL || SSL_CTX_get0_chain_certs(ctx, &chain) != 1 ||
	    (xs = X509_STORE_CTX_new()) == NULL) {
		log_error("route %s: no certificate to check", rc->name);
		return (-1);
	}
	if (X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(ctx), cert, chain) ==
	    1) {
		X509_VERIFY_PARAM_clear_flags(
		    X509_STORE_CTX_get0_param(xs), X509_V_FLAG_CRL_CHECK);
		ok = X509_verify_cert(xs) == 1;
	}
	if (!ok)
		log_error("route %s: certificate %s does not verify against "
			  "%s: %s",
		    rc->name, rc->identity.cert, rc->identity.ca,
		    X509_verify_cert_error_string(
			X509_STORE_CTX_get_error(xs)));
	X509_STORE_CTX_free(xs);
	return (ok ? 0 : -1);
}

/*
 * The old route whose listening sockets NR can keep, or -1: the same
 * listen address as written; for port 0 ("any port") also the same route
 * name, since several routes may ask for port 0.
 */
static int
reload_keep(const struct worker_pool *p, const struct config_route *nr)
{
	bool any = nr->listen.kind == CONFIG_ADDR_INET &&
	    strcmp(nr->listen.port, "0") == 0;

	for (size_t i = 0; i < p->nroutes; i++) {
		const struct config_route *o = p->routes[i]->cfg;

		if (o->listen.kind == nr->listen.kind &&
		    strcmp(o->listen.text, nr->listen.text) == 0 &&
		    (!any || strcmp(o->name, nr->name) == 0))
			return ((int)i);
	}
	return (-1);
}

/* The current route named NAME, whose counters a new one continues. */
static const struct route *
reload_prev(const struct worker_pool *p, const char *name)
{
	for (size_t i = 0; i < p->nroutes; i++)
		if (strcmp(p->routes[i]->cfg->name, name) == 0)
			return (p->routes[i]);
	return (NULL);
}

/* Steps 2 and 3 of reload.h for RC into S. */
static enum pool_reload
reload_prepare(struct reload *rl, struct route_config *rc, struct reload_set *s)
{
	struct worker_pool *p = rl->pool;
	char name[512];

	s->n = rc->cfg->nroutes;
	s->nw = p->nw;
	s->routes = calloc(s->n, sizeof(*s->routes));
	s->keep = calloc(s->n, sizeof(*s->keep));
	s->bound = calloc(s->n, sizeof(*s->bound));
	s->fds = malloc(s->n * s->nw * sizeof(*s->fds));
	if (s->routes == NULL || s->keep == NULL || s->bound == NULL ||
	    s->fds == NULL) {
		log_errno("calloc");
		return (POOL_RELOAD_CONFIG);
	}
	for (size_t k = 0; k < s->n * s->nw; k++)
		s->fds[k] = -1;
	for (size_t j = 0; j < s->n; j++)
		if (sandbox_check_target(&rc->cfg->routes[j]) != 0)
			return (POOL_RELOAD_CONFIG);
	for (size_t j = 0; j < s->n; j++)
		if ((s->routes[j] = route_new(rc, j,
			 reload_prev(p, rc->cfg->routes[j].name),
			 p->resolver)) == NULL ||
		    reload_self_check(
			s->routes[j]->ssl_ctx, s->routes[j]->cfg) != 0)
			return (POOL_RELOAD_TLS);
	if (p->admin_ctx != NULL &&
	    ((s->admin_ctx = tls_ctx_new(&rc->cfg->admin_route)) == NULL ||
		reload_self_check(s->admin_ctx, &rc->cfg->admin_route) != 0))
		return (POOL_RELOAD_TLS);
	for (size_t j = 0; j < s->n; j++) {
		const struct config_route *nr = &rc->cfg->routes[j];

		if ((s->keep[j] = reload_keep(p, nr)) >= 0) {
			s->bound[j] = strdup(p->bound[s->keep[j]]);
		} else {
			if (sandbox_check_listen(nr) != 0 ||
			    worker_pool_bind_route(p, nr, &s->fds[j * s->nw],
				name, sizeof(name)) != 0)
				return (POOL_RELOAD_BIND);
			s->bound[j] = strdup(name);
		}
		if (s->bound[j] == NULL)
			return (POOL_RELOAD_CONFIG);
	}
	return (POOL_RELOAD_OK);
}

/* Worker K's share of S; NULL when memory runs out. */
static struct worker_update *
reload_update(struct reload_set *s, size_t k, bool recheck)
{
	struct worker_update *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return (NULL);
	u->nroutes = s->n;
	u->recheck = recheck;
	u->routes = calloc(s->n, sizeof(*u->routes));
	u->lfd = malloc(s->n * sizeof(*u->lfd));
	u->keep = malloc(s->n * sizeof(*u->keep));
	if (u->routes == NULL || u->lfd == NULL || u->keep == NULL) {
		u->nroutes = 0;
		worker_update_free(u);
		return (NULL);
	}
	for (size_t j = 0; j < s->n; j++) {
		u->routes[j] = route_ref(s->routes[j]);
		u->lfd[j] = -1;
		u->keep[j] = s->keep[j];
	}
	return (u);
}

/*
 * A "cert_change" audit record for each route of S whose certificate
 * differs from the one the route of that name presents now (a new route
 * has old_serial "-").
 */
static void
reload_audit_certs(const struct worker_pool *p, const struct reload_set *s)
{
	char was[80], now[80];

	for (size_t j = 0; j < s->n; j++) {
		const struct route *o = reload_prev(p, s->routes[j]->cfg->name);
		struct audit_rec a;

		audit_ctx_serial(
		    o != NULL ? o->ssl_ctx : NULL, was, sizeof(was));
		audit_ctx_serial(s->routes[j]->ssl_ctx, now, sizeof(now));
		if (strcmp(was, now) == 0)
			continue;
		audit_begin(&a, "cert_change");
		audit_str(&a, "route", s->routes[j]->cfg->name);
		audit_str(&a, "old_serial", was);
		audit_str(&a, "new_serial", now);
		audit_end(&a);
	}
}

/* Step 4 and 5: nothing fails from here on but memory. */
static enum pool_reload
reload_commit(struct reload *rl, struct route_config *rc, struct reload_set *s)
{
	struct worker_pool *p = rl->pool;
	struct worker_update *u[64] = {NULL};

	for (size_t k = 0; k < p->nw; k++) {
		if ((u[k] = reload_update(
			 s, k, rc->cfg->reload_close_revoked)) == NULL) {
			log_error("reload: out of memory");
			for (size_t i = 0; i < k; i++)
				worker_update_free(u[i]);
			return (POOL_RELOAD_CONFIG);
		}
	}
	reload_audit_certs(p, s);
	for (size_t k = 0; k < p->nw; k++) {
		for (size_t j = 0; j < s->n; j++) {
			u[k]->lfd[j] = s->fds[j * s->nw + k];
			s->fds[j * s->nw + k] = -1;
		}
		worker_post(&p->w[k], u[k]);
	}
	/* New registrations first: a shared upstream is never dropped. */
	for (size_t j = 0; j < s->n; j++)
		resolver_add(p->resolver, s->routes[j]->up);
	for (size_t i = 0; i < p->nroutes; i++) {
		resolver_remove(p->resolver, p->routes[i]->up);
		/* Old connections may keep the route for days: not its cache.
		 */
		tls_sessions_flush(p->routes[i]->ssl_ctx, true);
		route_unref(p->routes[i]);
		free(p->bound[i]);
	}
	free(p->routes);
	free(p->bound);
	p->routes = s->routes;
	p->bound = s->bound;
	p->nroutes = s->n;
	s->routes = NULL;
	s->bound = NULL;
	s->n = 0;
	/* Admin connections in progress keep the old one (SSL_new's
	 * reference) with the old config's admin.allow (theirs). */
	if (s->admin_ctx != NULL) {
		SSL_CTX_free(p->admin_ctx);
		p->admin_ctx = s->admin_ctx;
		s->admin_ctx = NULL;
	}
	route_config_unref(p->rcfg);
	p->rcfg = route_config_ref(rc);
	p->cfg = rc->cfg;
	if (rl->ports != NULL && worker_pool_write_ports(p, rl->ports) != 0)
		log_warn("reload: the ports file %s is stale", rl->ports);
	return (POOL_RELOAD_OK);
}

static bool
reload_same_str(const char *a, const char *b)
{
	return (a == b || (a != NULL && b != NULL && strcmp(a, b) == 0));
}

/* The audit sinks are opened once, at start: the same ones? */
static bool
reload_same_audit(const struct config_audit *a, const struct config_audit *b)
{
	return (a->to_stderr == b->to_stderr &&
	    reload_same_str(a->file, b->file) &&
	    reload_same_str(a->target.text, b->target.text) &&
	    reload_same_str(a->expect, b->expect) &&
	    reload_same_str(a->spool, b->spool) &&
	    a->spool_bytes == b->spool_bytes && a->queue == b->queue);
}

/* A new log level and format apply at once (workers read them atomically). */
static void
reload_apply_log(const struct cotai_config *cfg)
{
	enum log_level level = (enum log_level)cfg->log_level;
	enum log_format fmt = (enum log_format)cfg->log_format;

	if (level == log_level_get() && fmt == log_format_get())
		return;
	/* Said before the change, so that a higher level does not hide it. */
	log_info("reload: log level now %s, format %s", log_level_name(level),
	    fmt == LOG_F_JSON ? "json" : "text");
	log_set(level, fmt);
}

/* Settings a reload cannot change; warn when the file changes them. */
static void
reload_warn_fixed(
    const struct cotai_config *old, const struct cotai_config *cfg)
{
	if (old->workers != cfg->workers)
		log_warn("reload: workers changes only with a restart");
	if (old->admin_enabled != cfg->admin_enabled ||
	    strcmp(old->admin_listen.text, cfg->admin_listen.text) != 0 ||
	    (old->admin_health_listen.text == NULL) !=
		(cfg->admin_health_listen.text == NULL) ||
	    (old->admin_health_listen.text != NULL &&
		strcmp(old->admin_health_listen.text,
		    cfg->admin_health_listen.text) != 0))
		log_warn("reload: admin listen addresses and enabled change "
			 "only with a restart");
	if ((old->user == NULL) != (cfg->user == NULL) ||
	    (old->user != NULL && strcmp(old->user, cfg->user) != 0))
		log_warn("reload: user changes only with a restart");
	if (old->sandbox != cfg->sandbox)
		log_warn("reload: sandbox changes only with a restart");
	if (!reload_same_audit(&old->audit, &cfg->audit))
		log_warn("reload: audit changes only with a restart");
	if (!reload_same_str(
		old->identity.renew.url, cfg->identity.renew.url) ||
	    !reload_same_str(
		old->identity.renew.state_dir, cfg->identity.renew.state_dir))
		log_warn("reload: identity.renew changes only with a restart");
}

/* The "reload" audit record: what asked, what came of it. */
static void
reload_audit(
    const char *trigger, enum pool_reload res, size_t nroutes, const char *err)
{
	struct audit_rec a;

	audit_begin(&a, "reload");
	audit_str(&a, "trigger", trigger);
	audit_str(&a, "result", reload_results[res]);
	audit_u64(&a, "routes", nroutes);
	if (res != POOL_RELOAD_OK && err[0] != '\0')
		audit_str(&a, "detail", err);
	audit_end(&a);
}

enum pool_reload
reload_run(struct reload *rl, const char *trigger)
{
	static const struct config_load_opts opts = {sandbox_file_note};
	struct worker_pool *p = rl->pool;
	struct reload_set set;
	struct cotai_config *cfg = NULL;
	struct route_config *rc = NULL;
	enum pool_reload res = POOL_RELOAD_CONFIG;
	char err[1024] = "";

	if (rl->stopped)
		return (POOL_RELOAD_OK);
	memset(&set, 0, sizeof(set));
	log_info("reload (%s): loading %s", trigger, p->cfg->path);
	if (config_load_with(p->cfg->path, &opts, &cfg, err, sizeof(err)) !=
	    0) {
		log_error("reload: %s", err);
		goto out;
	}
	reload_warn_fixed(p->cfg, cfg);
	/* The running endpoint is plain or TLS: never switch it silently. */
	if ((p->admin_ctx != NULL) != (cfg->admin_enabled && cfg->admin_tls) &&
	    p->admin_bound[0] != '\0') {
		log_error("reload: admin.tls changes only with a restart");
		config_free(cfg);
		goto out;
	}
	if ((rc = route_config_new(cfg)) == NULL)
		goto out;
	if ((res = reload_prepare(rl, rc, &set)) != POOL_RELOAD_OK)
		goto out;
	res = reload_commit(rl, rc, &set);
out:
	p->reloads[res]++;
	if (res == POOL_RELOAD_OK) {
		reload_apply_log(p->cfg);
		log_info("reload done: %zu routes", p->nroutes);
	} else {
		log_error("reload failed (%s): the running configuration "
			  "stays",
		    reload_results[res]);
	}
	reload_audit(trigger, res, p->nroutes, err);
	reload_set_clear(&set);
	route_config_unref(rc);
	if (rl->watch != NULL)
		(void)watch_set(rl->watch, p->cfg);
	return (res);
}

static void
reload_on_files(struct reload *rl)
{
	(void)reload_run(rl, "files changed");
}

struct reload *
reload_new(struct event_base *base, struct worker_pool *pool, const char *ports)
{
	struct reload *rl;

	if ((rl = calloc(1, sizeof(*rl))) == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	rl->pool = pool;
	rl->ports = ports;
	if (!pool->cfg->reload_watch)
		return (rl);
	rl->watch =
	    watch_new(base, pool->cfg->reload_debounce_ms, reload_on_files, rl);
	if (rl->watch == NULL || watch_set(rl->watch, pool->cfg) != 0) {
		log_error("cannot watch the configuration's files");
		reload_free(rl);
		return (NULL);
	}
	return (rl);
}

void
reload_stop(struct reload *rl)
{
	if (rl == NULL)
		return;
	rl->stopped = true;
	watch_free(rl->watch);
	rl->watch = NULL;
}

void
reload_free(struct reload *rl)
{
	if (rl == NULL)
		return;
	watch_free(rl->watch);
	free(rl);
}
