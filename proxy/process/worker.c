/*
 * worker: one event-loop thread (worker.h; the pool is worker_pool.c).
 *
 * The main thread talks to a running worker through a pipe: one byte 'd'
 * means "drain", 'u' "apply the updates posted" (a reload:
 * worker_pool_swap() queues them with worker_post() under w->mu, the only
 * lock, taken once per reload). Draining frees the worker's listeners,
 * then waits for its connections to finish; at the deadline the rest are
 * closed with reason drain, and the loop exits once no connection is
 * left.
 */
#include "worker_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "conn_table.h"
#include "leg.h"
#include "listener.h"
#include "log.h"
#include "tls.h"

/* Worker ID of P: P's routes, per-route arrays, event base, command
 * pipe. The caller fills in w->routes. */
int
worker_init(struct worker_pool *p, struct worker *w, size_t id)
{
	w->id = id;
	w->pool = p;
	w->cfg = p->cfg;
	w->nroutes = p->nroutes;
	pthread_mutex_init(&w->mu, NULL);
	w->lfd = malloc(p->nroutes * sizeof(*w->lfd));
	w->lst = calloc(p->nroutes, sizeof(*w->lst));
	w->routes = calloc(p->nroutes, sizeof(*w->routes));
	if (w->lfd == NULL || w->lst == NULL || w->routes == NULL) {
		log_errno("malloc");
		return (-1);
	}
	for (size_t i = 0; i < p->nroutes; i++)
		w->lfd[i] = -1;
	if ((w->base = leg_base_new()) == NULL) {
		log_error("event_base_new failed");
		return (-1);
	}
	w->ct = conn_table_new(&(struct conn_table_args){.base = w->base,
	    .routes = w->routes,
	    .nroutes = p->nroutes,
	    .cfg = p->cfg,
	    .nworkers = p->nw,
	    .active = &p->active});
	if (w->ct == NULL)
		return (-1);
	if (pipe2(w->cmd, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_errno("pipe");
		return (-1);
	}
	return (0);
}

/* Drain deadline: close whatever is still open. */
static void
worker_drain_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	size_t n = w->ct->nconns;

	if (n > 0)
		log_info("worker %zu: closing %zu connections at the drain "
			 "deadline",
		    w->id, n);
	(void)conn_table_drain(w->ct, true);
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
	for (size_t i = 0; i < w->nroutes; i++) {
		listener_free(w->lst[i]);
		w->lst[i] = NULL;
	}
	if (conn_table_drain(w->ct, false) == 0) {
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
			lst[j] = listener_new(w->ct, u->routes[j], u->lfd[j]);
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
	struct listener **lst = NULL;

	if (conn_table_reserve(w->ct, u->nroutes) != 0 ||
	    (lst = worker_listeners(w, u)) == NULL) {
		log_error(
		    "worker %zu: out of memory, reload not applied", w->id);
		return;
	}
	conn_table_reload(w->ct, u->routes, u->nroutes, u->recheck);
	for (size_t i = 0; i < w->nroutes; i++) {
		listener_free(w->lst[i]);
		route_unref(w->routes[i]);
	}
	free(w->lst);
	free(w->routes);
	free(w->lfd);
	w->lst = lst;
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

void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	atomic_store(&w->finished, true);
	return (NULL);
}

/* Wrap W's bound sockets in listeners and its command pipe in an event. */
int
worker_arm(struct worker *w)
{
	w->ev_cmd = event_new(
	    w->base, w->cmd[0], EV_READ | EV_PERSIST, worker_cmd_cb, w);
	if (w->ev_cmd == NULL || event_add(w->ev_cmd, NULL) != 0)
		return (-1);
	for (size_t i = 0; i < w->nroutes; i++) {
		int fd = w->lfd[i];

		if (fd < 0)
			continue;
		w->lfd[i] = -1;
		w->lst[i] = listener_new(w->ct, w->routes[i], fd);
		if (w->lst[i] == NULL)
			return (-1);
	}
	return (0);
}

/* Free what worker W holds (connections, listeners, sessions, base). */
void
worker_clear(struct worker *w)
{
	struct worker_update *u;

	conn_table_free(w->ct); /* its connections and sessions */
	while ((u = w->updates) != NULL) {
		w->updates = u->next;
		worker_update_free(u);
	}
	for (size_t i = 0; i < w->nroutes; i++) {
		if (w->lst != NULL)
			listener_free(w->lst[i]);
		if (w->lfd != NULL && w->lfd[i] >= 0)
			close(w->lfd[i]);
		if (w->routes != NULL)
			route_unref(w->routes[i]);
	}
	if (w->pool != NULL)
		pthread_mutex_destroy(&w->mu);
	free(w->routes);
	free(w->lst);
	free(w->lfd);
	if (w->ev_cmd != NULL)
		event_free(w->ev_cmd);
	if (w->ev_drain != NULL)
		event_free(w->ev_drain);
	if (w->base != NULL)
		event_base_free(w->base);
	for (int i = 0; i < 2; i++)
		if (w->cmd[i] >= 0)
			close(w->cmd[i]);
}
