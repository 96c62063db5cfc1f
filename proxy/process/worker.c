/*
 * worker: see worker.h.
 *
 * The main thread talks to a running worker through a pipe: one byte 'd'
 * means "drain", 'u' "apply the updates posted" (a reload: worker_post()
 * queues them under w->mu, the only lock, taken once per reload).
 * Draining frees the worker's listeners, then waits for its connections
 * to finish; at the deadline the rest are closed with reason drain, and
 * the loop exits once no connection is left.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "leg.h"
#include "listener.h"
#include "log.h"
#include "mux.h"
#include "resolver.h"
#include "tls.h"

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
	int fds[64];
	char name[512];

	if (worker_pool_bind_route(
		p, &p->cfg->routes[i], fds, name, sizeof(name)) != 0)
		return (-1);
	for (size_t k = 0; k < p->nw; k++)
		p->w[k].lfd[i] = fds[k];
	return ((p->bound[i] = strdup(name)) == NULL ? -1 : 0);
}

/* Allocate worker W's per-route arrays and its event base. */
static int
worker_init(struct worker_pool *p, struct worker *w, size_t id)
{
	w->id = id;
	w->pool = p;
	w->cfg = p->cfg;
	w->nroutes = p->nroutes;
	TAILQ_INIT(&w->conns);
	TAILQ_INIT(&w->tunnels);
	pthread_mutex_init(&w->mu, NULL);
	w->lfd = malloc(p->nroutes * sizeof(*w->lfd));
	w->lst = calloc(p->nroutes, sizeof(*w->lst));
	w->sessions = calloc(p->nroutes, sizeof(*w->sessions));
	w->routes = calloc(p->nroutes, sizeof(*w->routes));
	if (w->lfd == NULL || w->lst == NULL || w->sessions == NULL ||
	    w->routes == NULL) {
		log_errno("malloc");
		return (-1);
	}
	for (size_t i = 0; i < p->nroutes; i++)
		w->lfd[i] = -1;
	if ((w->base = leg_base_new()) == NULL) {
		log_error("event_base_new failed");
		return (-1);
	}
	if (pipe2(w->cmd, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_errno("pipe");
		return (-1);
	}
	return (0);
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
	if (p->nw > 64)
		p->nw = 64;
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

void
worker_conn_gone(struct worker *w)
{
	if (w->draining && w->nconns == 0)
		event_base_loopexit(w->base, NULL);
}

/* Drain deadline: close whatever is still open. */
static void
worker_drain_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct conn *c;

	if (w->nconns > 0)
		log_info("worker %zu: closing %zu connections at the drain "
			 "deadline",
		    w->id, w->nconns);
	while ((c = TAILQ_FIRST(&w->conns)) != NULL)
		conn_drop(c, REASON_DRAIN);
	mux_drain_all(w, true);
	event_base_loopexit(w->base, NULL);
}

/* Start draining: no more accepts; exit when the last connection ends. */
static void
worker_drain(struct worker *w)
{
	uint32_t ms = w->cfg->drain_timeout_ms;
	struct timeval tv = {
	    (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	if (w->draining)
		return;
	w->draining = true;
	mux_drain_all(w, false);
	for (size_t i = 0; i < w->nroutes; i++) {
		listener_free(w->lst[i]);
		w->lst[i] = NULL;
	}
	if (w->nconns == 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	w->ev_drain = evtimer_new(w->base, worker_drain_deadline_cb, w);
	if (w->ev_drain == NULL || evtimer_add(w->ev_drain, &tv) != 0)
		worker_drain_deadline_cb(-1, 0, w);
}

void
worker_update_free(struct worker_update *u)
{
	if (u == NULL)
		return;
	for (size_t j = 0; j < u->nroutes; j++) {
		if (u->routes != NULL)
			route_unref(u->routes[j]);
		if (u->lfd != NULL && u->lfd[j] >= 0)
			close(u->lfd[j]);
	}
	free(u->routes);
	free(u->lfd);
	free(u->keep);
	free(u);
}

void
worker_post(struct worker *w, struct worker_update *u)
{
	struct worker_update **pp;

	u->next = NULL;
	pthread_mutex_lock(&w->mu);
	for (pp = &w->updates; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = u;
	pthread_mutex_unlock(&w->mu);
	if (write(w->cmd[1], "u", 1) != 1)
		log_errno("worker %zu: cannot signal a reload", w->id);
}

/* Listeners for U's routes: kept from the old ones or new; NULL on ENOMEM. */
static struct listener **
worker_listeners(struct worker *w, struct worker_update *u)
{
	struct listener **lst = calloc(u->nroutes, sizeof(*lst));

	if (lst == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	for (size_t j = 0; j < u->nroutes; j++) {
		int i = u->keep[j];

		if (i >= 0 && (size_t)i < w->nroutes && w->lst[i] != NULL) {
			lst[j] = w->lst[i];
			w->lst[i] = NULL;
			listener_set_route(lst[j], u->routes[j]);
		} else if (u->lfd[j] >= 0 && !w->draining) {
			/* listener_new() consumes the socket. */
			lst[j] = listener_new(w, u->routes[j], u->lfd[j]);
			u->lfd[j] = -1;
		}
	}
	return (lst);
}

/*
 * Apply U: swap listeners and routes, forget client sessions (a new CA or
 * CRL must not be skipped by resuming an old session), then let every
 * live connection check its peer against the new routes.
 */
static void
worker_apply(struct worker *w, struct worker_update *u)
{
	struct tls_cache *ses = calloc(u->nroutes, sizeof(*ses));
	struct listener **lst = NULL;

	if (ses == NULL || (lst = worker_listeners(w, u)) == NULL) {
		log_error(
		    "worker %zu: out of memory, reload not applied", w->id);
		free(ses);
		return;
	}
	conn_reload_all(w, u->routes, u->nroutes, u->recheck);
	mux_reload_all(w, u->routes, u->nroutes, u->recheck);
	for (size_t i = 0; i < w->nroutes; i++) {
		listener_free(w->lst[i]);
		tls_cache_clear(&w->sessions[i]);
		route_unref(w->routes[i]);
	}
	free(w->lst);
	free(w->sessions);
	free(w->routes);
	free(w->lfd);
	w->lst = lst;
	w->sessions = ses;
	w->routes = u->routes;
	w->nroutes = u->nroutes;
	w->cfg = u->routes[0]->owner->cfg;
	w->lfd = u->lfd; /* all -1 by now */
	for (size_t j = 0; j < u->nroutes; j++)
		if (w->lfd[j] >= 0) { /* draining */
			close(w->lfd[j]);
			w->lfd[j] = -1;
		}
	u->routes = NULL;
	u->lfd = NULL;
	u->nroutes = 0;
}

/* Apply every posted update, oldest first. */
static void
worker_apply_updates(struct worker *w)
{
	struct worker_update *u, *next;

	pthread_mutex_lock(&w->mu);
	u = w->updates;
	w->updates = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; u != NULL; u = next) {
		next = u->next;
		worker_apply(w, u);
		worker_update_free(u);
	}
}

static void
worker_cmd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	char buf[16];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == 'u')
				worker_apply_updates(w);
			if (buf[i] == 'd')
				worker_drain(w);
		}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	atomic_store(&w->finished, true);
	return (NULL);
}

static void
worker_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_sweep(arg);
}

static void
worker_more_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_more_run(arg);
}

/*
 * Wrap W's bound sockets in listeners and its command pipe in an event;
 * start the sweep of relay deadlines and the event for resumed pumps.
 */
static int
worker_arm(struct worker *w)
{
	struct timeval tv = {0, CONN_SWEEP_MS * 1000};

	w->ev_cmd = event_new(
	    w->base, w->cmd[0], EV_READ | EV_PERSIST, worker_cmd_cb, w);
	if (w->ev_cmd == NULL || event_add(w->ev_cmd, NULL) != 0)
		return (-1);
	w->ev_sweep = event_new(w->base, -1, EV_PERSIST, worker_sweep_cb, w);
	w->ev_more = event_new(w->base, -1, 0, worker_more_cb, w);
	if (w->ev_more != NULL) /* it resumes bulk transfers */
		(void)event_priority_set(w->ev_more, LEG_PRIO_BULK);
	if (w->ev_sweep == NULL || w->ev_more == NULL ||
	    event_add(w->ev_sweep, &tv) != 0)
		return (-1);
	for (size_t i = 0; i < w->nroutes; i++) {
		int fd = w->lfd[i];

		if (fd < 0)
			continue;
		w->lfd[i] = -1;
		w->lst[i] = listener_new(w, w->routes[i], fd);
		if (w->lst[i] == NULL)
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
worker_pool_finished(struct worker_pool *p)
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

/* Free what worker W holds (connections, listeners, sessions, base). */
static void
worker_clear(struct worker_pool *p, struct worker *w)
{
	struct worker_update *u;
	struct conn *c;

	while ((c = TAILQ_FIRST(&w->conns)) != NULL)
		conn_drop(c, REASON_DRAIN);
	mux_drain_all(w, true);
	while ((u = w->updates) != NULL) {
		w->updates = u->next;
		worker_update_free(u);
	}
	for (size_t i = 0; i < w->nroutes; i++) {
		if (w->lst != NULL)
			listener_free(w->lst[i]);
		if (w->lfd != NULL && w->lfd[i] >= 0)
			close(w->lfd[i]);
		if (w->sessions != NULL)
			tls_cache_clear(&w->sessions[i]);
		if (w->routes != NULL)
			route_unref(w->routes[i]);
	}
	if (w->pool != NULL)
		pthread_mutex_destroy(&w->mu);
	free(w->routes);
	free(w->lst);
	free(w->lfd);
	free(w->sessions);
	if (w->ev_cmd != NULL)
		event_free(w->ev_cmd);
	if (w->ev_drain != NULL)
		event_free(w->ev_drain);
	if (w->ev_sweep != NULL)
		event_free(w->ev_sweep);
	if (w->ev_more != NULL)
		event_free(w->ev_more);
	if (w->base != NULL)
		event_base_free(w->base);
	for (int i = 0; i < 2; i++)
		if (w->cmd[i] >= 0)
			close(w->cmd[i]);
}

void
worker_pool_free(struct worker_pool *p)
{
	if (p == NULL)
		return;
	for (size_t k = 0; p->w != NULL && k < p->nw; k++)
		worker_clear(p, &p->w[k]);
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
