/*
 * worker_swap: how a running pool changes (worker.h, "reloads"). reload.c
 * builds a struct pool_swap (routes, sockets, names, admin context) with
 * the pool untouched; worker_pool_swap() then allocates every worker's
 * share first, so that running out of memory changes nothing, and only
 * then posts the shares and replaces the main thread's view.
 */
#include "worker_priv.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "resolver.h"
#include "tls.h"

int
pool_swap_init(struct pool_swap *s, const struct worker_pool *p, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->nw = p->nw;
	s->routes = calloc(n, sizeof(*s->routes));
	s->keep = calloc(n, sizeof(*s->keep));
	s->bound = calloc(n, sizeof(*s->bound));
	s->fds = malloc(n * s->nw * sizeof(*s->fds));
	if ((n > 0 &&
		(s->routes == NULL || s->keep == NULL || s->bound == NULL)) ||
	    (n * s->nw > 0 && s->fds == NULL)) {
		log_errno("calloc");
		return (-1);
	}
	for (size_t k = 0; k < n * s->nw; k++)
		s->fds[k] = -1;
	for (size_t j = 0; j < n; j++)
		s->keep[j] = -1;
	return (0);
}

void
pool_swap_clear(struct pool_swap *s)
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

struct route *
worker_pool_route_new(struct worker_pool *p, struct route_config *rc, size_t i)
{
	return (route_new(rc, i,
	    worker_pool_route_named(p, rc->cfg->routes[i].name), p->resolver));
}

/* One worker's share of S (its sockets still in S); NULL when memory runs
 * out. */
static struct worker_update *
swap_update(const struct pool_swap *s)
{
	struct worker_update *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return (NULL);
	u->nroutes = s->n;
	u->recheck = s->recheck;
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

/* The main thread's view becomes S's; the old routes go. */
static void
swap_view(struct worker_pool *p, struct pool_swap *s)
{
	/* New registrations first: a shared upstream is never dropped. */
	for (size_t j = 0; j < s->n; j++)
		resolver_add(p->resolver, s->routes[j]->up);
	for (size_t i = 0; i < p->nroutes; i++) {
		resolver_remove(p->resolver, p->routes[i]->up);
		/* Old connections may keep the route for days: not its
		 * cache. */
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
	p->rcfg = route_config_ref(s->rc);
	p->cfg = s->rc->cfg;
}

int
worker_pool_swap(struct worker_pool *p, struct pool_swap *s)
{
	struct worker_update *u[CONFIG_MAX_WORKERS] = {NULL};

	if (s->nw != p->nw || s->n == 0 || s->rc == NULL) {
		log_error("reload: a swap that does not fit the pool");
		return (-1);
	}
	for (size_t k = 0; k < p->nw; k++) {
		if ((u[k] = swap_update(s)) == NULL) {
			log_error("reload: out of memory");
			for (size_t i = 0; i < k; i++)
				worker_update_free(u[i]);
			return (-1);
		}
	}
	/* Nothing fails from here on. */
	for (size_t k = 0; k < p->nw; k++) {
		for (size_t j = 0; j < s->n; j++) {
			u[k]->lfd[j] = s->fds[j * s->nw + k];
			s->fds[j * s->nw + k] = -1;
		}
		worker_post(&p->w[k], u[k]);
	}
	swap_view(p, s);
	return (0);
}
