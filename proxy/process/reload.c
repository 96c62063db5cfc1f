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
#include "sandbox.h"
#include "tls.h"
#include "watch.h"

struct reload {
	struct worker_pool *pool;
	const char *ports;
	struct watch *watch;
	bool stopped;
};

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

	for (size_t i = 0; i < worker_pool_nroutes(p); i++) {
		const struct config_route *o = worker_pool_route(p, i)->cfg;

		if (o->listen.kind == nr->listen.kind &&
		    strcmp(o->listen.text, nr->listen.text) == 0 &&
		    (!any || strcmp(o->name, nr->name) == 0))
			return ((int)i);
	}
	return (-1);
}

/* Steps 2 and 3 of reload.h for RC into S. */
static enum pool_reload
reload_prepare(struct reload *rl, struct route_config *rc, struct pool_swap *s)
{
	struct worker_pool *p = rl->pool;
	char name[512];

	if (pool_swap_init(s, p, rc->cfg->nroutes) != 0)
		return (POOL_RELOAD_CONFIG);
	s->rc = rc;
	s->recheck = rc->cfg->reload_close_revoked;
	for (size_t j = 0; j < s->n; j++)
		if (sandbox_check_target(&rc->cfg->routes[j]) != 0)
			return (POOL_RELOAD_CONFIG);
	for (size_t j = 0; j < s->n; j++)
		if ((s->routes[j] = worker_pool_route_new(p, rc, j)) == NULL ||
		    reload_self_check(
			s->routes[j]->ssl_ctx, s->routes[j]->cfg) != 0)
			return (POOL_RELOAD_TLS);
	if (worker_pool_admin_ctx(p) != NULL &&
	    ((s->admin_ctx = tls_ctx_new(&rc->cfg->admin_route)) == NULL ||
		reload_self_check(s->admin_ctx, &rc->cfg->admin_route) != 0))
		return (POOL_RELOAD_TLS);
	for (size_t j = 0; j < s->n; j++) {
		const struct config_route *nr = &rc->cfg->routes[j];

		if ((s->keep[j] = reload_keep(p, nr)) >= 0) {
			s->bound[j] = strdup(worker_pool_bound(p, s->keep[j]));
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

/* The serial a route presented before a reload and the one it presents
 * after, for its "cert_change" audit record. */
struct reload_serial {
	char was[80], now[80];
};

/*
 * For each route of S: what it presents, next to what the route of its
 * name presents now ("-" for a new route). An array of S->n (free it), or
 * NULL (logged).
 */
static struct reload_serial *
reload_serials(const struct worker_pool *p, const struct pool_swap *s)
{
	struct reload_serial *v = calloc(s->n, sizeof(*v));

	if (v == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	for (size_t j = 0; j < s->n; j++) {
		const struct route *o =
		    worker_pool_route_named(p, s->routes[j]->cfg->name);

		audit_ctx_serial(
		    o != NULL ? o->ssl_ctx : NULL, v[j].was, sizeof(v[j].was));
		audit_ctx_serial(
		    s->routes[j]->ssl_ctx, v[j].now, sizeof(v[j].now));
	}
	return (v);
}

/* A "cert_change" audit record for each route of P (just swapped in)
 * whose certificate is not the one its name presented before (V). */
static void
reload_audit_certs(const struct worker_pool *p, const struct reload_serial *v)
{
	for (size_t j = 0; j < worker_pool_nroutes(p); j++) {
		struct audit_rec a;

		if (strcmp(v[j].was, v[j].now) == 0)
			continue;
		audit_begin(&a, "cert_change");
		audit_str(&a, "route", worker_pool_route(p, j)->cfg->name);
		audit_str(&a, "old_serial", v[j].was);
		audit_str(&a, "new_serial", v[j].now);
		audit_end(&a);
	}
}

/* Steps 4 and 5: swap S in (nothing fails from here on but memory). */
static enum pool_reload
reload_commit(struct reload *rl, struct pool_swap *s)
{
	struct worker_pool *p = rl->pool;
	struct reload_serial *v;

	if ((v = reload_serials(p, s)) == NULL)
		return (POOL_RELOAD_CONFIG);
	if (worker_pool_swap(p, s) != 0) {
		free(v);
		return (POOL_RELOAD_CONFIG);
	}
	reload_audit_certs(p, v);
	free(v);
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
	audit_str(&a, "result", pool_reload_names[res]);
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
	const struct cotai_config *old = worker_pool_config(p);
	struct pool_swap set;
	struct cotai_config *cfg = NULL;
	struct route_config *rc = NULL;
	enum pool_reload res = POOL_RELOAD_CONFIG;
	char err[1024] = "";

	if (rl->stopped)
		return (POOL_RELOAD_OK);
	memset(&set, 0, sizeof(set));
	watch_settle(rl->watch); /* what it saw so far is read now */
	log_info("reload (%s): loading %s", trigger, old->path);
	if (config_load_with(old->path, &opts, &cfg, err, sizeof(err)) != 0) {
		log_error("reload: %s", err);
		goto out;
	}
	reload_warn_fixed(old, cfg);
	/* The running endpoint is plain or TLS: never switch it silently. */
	if ((worker_pool_admin_ctx(p) != NULL) !=
		(cfg->admin_enabled && cfg->admin_tls) &&
	    worker_pool_has_admin(p)) {
		log_error("reload: admin.tls changes only with a restart");
		config_free(cfg);
		goto out;
	}
	if ((rc = route_config_new(cfg)) == NULL)
		goto out;
	if ((res = reload_prepare(rl, rc, &set)) != POOL_RELOAD_OK)
		goto out;
	res = reload_commit(rl, &set);
out:
	worker_pool_count_reload(p, res);
	if (res == POOL_RELOAD_OK) {
		reload_apply_log(worker_pool_config(p));
		if (worker_pool_config(p)->reload_close_revoked)
			audit_recheck();
		log_info("reload done: %zu routes", worker_pool_nroutes(p));
	} else {
		log_error("reload failed (%s): the running configuration "
			  "stays",
		    pool_reload_names[res]);
	}
	reload_audit(trigger, res, worker_pool_nroutes(p), err);
	pool_swap_clear(&set);
	route_config_unref(rc);
	if (rl->watch != NULL)
		(void)watch_set(rl->watch, worker_pool_config(p));
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
	if (!worker_pool_config(pool)->reload_watch)
		return (rl);
	rl->watch = watch_new(base,
	    worker_pool_config(pool)->reload_debounce_ms, reload_on_files, rl);
	if (rl->watch == NULL ||
	    watch_set(rl->watch, worker_pool_config(pool)) != 0) {
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
