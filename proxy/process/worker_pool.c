/*
 * worker_pool: the workers together, as the main thread sees them
 * (worker.h): built with every route and socket before the threads start,
 * started, drained, joined, freed; read by the main thread through the
 * accessors at the end. Reloads change it in worker_swap.c only.
 */
#include "worker_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "resolver.h"
#include "tls.h"

const char *const pool_reload_names[POOL_RELOAD__N] = {
    "ok", "config_error", "tls_error", "bind_error"};

int
worker_pool_bind_route(const struct worker_pool *p,
    const struct config_route *r, int *fds, char *name, size_t len)
{
	const struct config_addr *a = &r->listen;
	char port[16];
	size_t nw = a->kind == CONFIG_ADDR_UNIX ? 1 : p->nw;

	for (size_t k = 0; k < p->nw; k++)
		fds[k] = -1;
	for (size_t k = 0; k < nw; k++) {
		if ((fds[k] = listener_bind(a, k == 0 ? NULL : port)) < 0)
			goto fail;
		if (k == 0 && a->kind == CONFIG_ADDR_INET &&
		    listener_port(fds[k], port, sizeof(port)) != 0)
			goto fail;
	}
	if (listener_name(fds[0], a, name, len) != 0)
		goto fail;
	return (0);
fail:
	for (size_t k = 0; k < nw; k++) {
		if (fds[k] >= 0)
			close(fds[k]);
		fds[k] = -1;
	}
	return (-1);
}

/* Bind route I's socket for every worker that serves it. */
static int
worker_pool_bind(struct worker_pool *p, size_t i)
{
	int fds[CONFIG_MAX_WORKERS];
	char name[512];

	if (worker_pool_bind_route(
		p, &p->cfg->routes[i], fds, name, sizeof(name)) != 0)
		return (-1);
	for (size_t k = 0; k < p->nw; k++)
		p->w[k].lfd[i] = fds[k];
	return ((p->bound[i] = strdup(name)) == NULL ? -1 : 0);
}

struct worker_pool *
worker_pool_new(struct route_config *rc)
{
	const struct cotai_config *cfg = rc->cfg;
	struct worker_pool *p = NULL, *ret = NULL;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_errno("calloc");
		goto out;
	}
	p->rcfg = route_config_ref(rc);
	p->cfg = cfg;
	p->nroutes = cfg->nroutes;
	p->nw = cfg->workers > 0 ? cfg->workers : 1;
	if (p->nw > CONFIG_MAX_WORKERS)
		p->nw = CONFIG_MAX_WORKERS;
	atomic_init(&p->active, 0);
	p->routes = calloc(p->nroutes, sizeof(*p->routes));
	p->bound = calloc(p->nroutes, sizeof(*p->bound));
	p->w = calloc(p->nw, sizeof(*p->w));
	if (p->routes == NULL || p->bound == NULL || p->w == NULL) {
		log_errno("calloc");
		goto out;
	}
	for (size_t k = 0; k < p->nw; k++)
		p->w[k].cmd[0] = p->w[k].cmd[1] = -1;
	for (size_t k = 0; k < p->nw; k++)
		if (worker_init(p, &p->w[k], k) != 0)
			goto out;
	if ((p->resolver = resolver_new()) == NULL)
		goto out;
	if (cfg->admin_enabled && cfg->admin_tls &&
	    (p->admin_ctx = tls_ctx_new(&cfg->admin_route)) == NULL)
		goto out;
	for (size_t i = 0; i < p->nroutes; i++) {
		if ((p->routes[i] = route_new(rc, i, NULL, p->resolver)) ==
			NULL ||
		    worker_pool_bind(p, i) != 0)
			goto out;
		for (size_t k = 0; k < p->nw; k++)
			p->w[k].routes[i] = route_ref(p->routes[i]);
		resolver_add(p->resolver, p->routes[i]->up);
	}
	ret = p;
	p = NULL;
out:
	worker_pool_free(p);
	return (ret);
}

/*
 * Refuse a ports file PATH that is a symbolic link or not a regular file:
 * the file is written as root at start-up, and a link planted there by
 * whoever can write its directory would redirect that write.
 */
static int
worker_ports_target_ok(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return (0);
		log_errno("cannot stat %s", path);
		return (-1);
	}
	if (S_ISLNK(st.st_mode)) {
		log_error(
		    "refusing to write the ports file %s: it is a symbolic "
		    "link",
		    path);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("refusing to write the ports file %s: not a regular "
			  "file",
		    path);
		return (-1);
	}
	return (0);
}

int
worker_pool_write_ports(const struct worker_pool *p, const char *path)
{
	char tmp[4096];
	FILE *fp = NULL;
	int fd, ok;

	if (worker_ports_target_ok(path) != 0)
		return (-1);
	/* A fresh, unpredictable name created with O_EXCL next to PATH: a
	 * link planted at any name is never followed; rename() replaces
	 * PATH itself, never what a link there points to. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		log_error("ports file name too long: %s", path);
		return (-1);
	}
	if ((fd = mkstemp(tmp)) < 0) {
		log_errno("cannot create a temporary file for %s", path);
		return (-1);
	}
	if (fchmod(fd, 0644) != 0 || (fp = fdopen(fd, "w")) == NULL) {
		log_errno("cannot write %s", tmp);
		close(fd);
		(void)unlink(tmp);
		return (-1);
	}
	for (size_t i = 0; i < p->nroutes; i++)
		fprintf(fp, "%s %s\n", p->cfg->routes[i].name, p->bound[i]);
	if (p->admin_bound[0] != '\0')
		fprintf(fp, "admin %s\n", p->admin_bound);
	if (p->health_bound[0] != '\0')
		fprintf(fp, "admin-health %s\n", p->health_bound);
	ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
	if (fclose(fp) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		log_errno("cannot write %s", path);
		(void)unlink(tmp);
		return (-1);
	}
	return (0);
}

int
worker_pool_start(struct worker_pool *p)
{
	sigset_t all, old;
	int err;

	for (size_t k = 0; k < p->nw; k++)
		if (worker_arm(&p->w[k]) != 0)
			return (-1);
	/* Signals are for the main thread only. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (size_t k = 0; k < p->nw; k++) {
		err = pthread_create(
		    &p->w[k].thread, NULL, worker_main, &p->w[k]);
		if (err != 0) {
			errno = err;
			log_errno("pthread_create");
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			worker_pool_drain(p);
			return (-1);
		}
		p->w[k].started = true;
	}
	err = resolver_start(p->resolver);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0)
		worker_pool_drain(p);
	return (err);
}

void
worker_pool_drain(struct worker_pool *p)
{
	for (size_t k = 0; k < p->nw; k++)
		if (p->w[k].started && write(p->w[k].cmd[1], "d", 1) != 1)
			log_errno("worker %zu: cannot signal drain", k);
}

bool
worker_pool_finished(const struct worker_pool *p)
{
	for (size_t k = 0; k < p->nw; k++)
		if (p->w[k].started && !atomic_load(&p->w[k].finished))
			return (false);
	return (true);
}

void
worker_pool_join(struct worker_pool *p)
{
	for (size_t k = 0; k < p->nw; k++) {
		if (p->w[k].started)
			pthread_join(p->w[k].thread, NULL);
		p->w[k].started = false;
	}
	resolver_stop(p->resolver);
}

void
worker_pool_free(struct worker_pool *p)
{
	if (p == NULL)
		return;
	for (size_t k = 0; p->w != NULL && k < p->nw; k++)
		worker_clear(&p->w[k]);
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct config_addr *a = &p->cfg->routes[i].listen;

		if (p->routes != NULL)
			route_unref(p->routes[i]);
		if (p->bound == NULL || p->bound[i] == NULL)
			continue;
		/* Our own socket file; fails harmlessly once unprivileged. */
		if (a->kind == CONFIG_ADDR_UNIX)
			(void)unlink(a->path);
		free(p->bound[i]);
	}
	free(p->routes);
	free(p->bound);
	free(p->w);
	/* Last: upstreams may ask it for lookups until the workers are
	 * gone; it holds references, not the other way round. */
	resolver_free(p->resolver);
	SSL_CTX_free(p->admin_ctx);
	route_config_unref(p->rcfg);
	free(p);
}

const struct cotai_config *
worker_pool_config(const struct worker_pool *p)
{
	return (p->cfg);
}

struct route_config *
worker_pool_route_config(const struct worker_pool *p)
{
	return (p->rcfg);
}

size_t
worker_pool_nworkers(const struct worker_pool *p)
{
	return (p->nw);
}

size_t
worker_pool_nroutes(const struct worker_pool *p)
{
	return (p->nroutes);
}

const struct route *
worker_pool_route(const struct worker_pool *p, size_t i)
{
	return (p->routes[i]);
}

const char *
worker_pool_bound(const struct worker_pool *p, size_t i)
{
	return (p->bound[i]);
}

const struct route *
worker_pool_route_named(const struct worker_pool *p, const char *name)
{
	for (size_t i = 0; i < p->nroutes; i++)
		if (strcmp(p->routes[i]->cfg->name, name) == 0)
			return (p->routes[i]);
	return (NULL);
}

SSL_CTX *
worker_pool_admin_ctx(const struct worker_pool *p)
{
	return (p->admin_ctx);
}

void
worker_pool_snapshot(const struct worker_pool *p, struct pool_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->routes = p->routes;
	s->nroutes = p->nroutes;
	s->admin_ctx = p->admin_ctx;
	s->active = atomic_load_explicit(&p->active, memory_order_relaxed);
	memcpy(s->reloads, p->reloads, sizeof(s->reloads));
}

void
worker_pool_set_admin_bound(
    struct worker_pool *p, const char *admin, const char *health)
{
	snprintf(p->admin_bound, sizeof(p->admin_bound), "%s",
	    admin != NULL ? admin : "");
	snprintf(p->health_bound, sizeof(p->health_bound), "%s",
	    health != NULL ? health : "");
}

bool
worker_pool_has_admin(const struct worker_pool *p)
{
	return (p->admin_bound[0] != '\0');
}

void
worker_pool_count_reload(struct worker_pool *p, enum pool_reload res)
{
	if ((unsigned)res < POOL_RELOAD__N)
		p->reloads[res]++;
}

void
worker_pool_sweep_sessions(struct worker_pool *p)
{
	for (size_t i = 0; i < p->nroutes; i++)
		tls_sessions_flush(p->routes[i]->ssl_ctx, false);
}
