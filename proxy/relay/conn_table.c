/*
 * conn_table: one worker's connections and tunnels (conn_table.h), the
 * way in for a new connection (conn_new, conn_accept) and for every event:
 * the legs' and the timer's libevent callbacks and the worker's (the
 * sweep of relay deadlines, the pumps to resume, a reload, a drain), each
 * handed to conn.c's state machine (conn_dispatch) and nothing more.
 */
#include "conn_priv.h"
#include "mux.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

uint64_t
conn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* The size of one event in evmem, rounded up to keep the next aligned. */
static size_t
conn_event_size(void)
{
	size_t a = alignof(max_align_t);

	return ((event_get_struct_event_size() + a - 1) / a * a);
}

struct event *
conn_event(struct conn *c, int i)
{
	return ((struct event *)(c->evmem + (size_t)i * conn_event_size()));
}

struct conn *
conn_new(struct conn_table *t, struct route *r)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c) + CONN_NEV * conn_event_size())) ==
	    NULL) {
		log_errno("calloc");
		return (NULL);
	}
	c->magic = CONN_MAGIC;
	c->t = t;
	c->r = route_ref(r);
	leg_init(&c->cl);
	leg_init(&c->up);
	tls_peer_init(&c->peer, r->cfg, &t->sessions[r->index].tc);
	c->t_start = c->t_state = c->t_io = conn_now();
	c->state = CONN_S_NEW;
	TAILQ_INSERT_TAIL(&t->conns, c, link);
	t->nconns++;
	atomic_fetch_add_explicit(&r->stats->accepted, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->stats->active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(t->active, 1, memory_order_relaxed);
	return (c);
}

void
conn_accept(struct conn_table *t, struct route *r, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct conn *c;
	int one = 1;

	if ((c = conn_new(t, r)) == NULL) {
		close(fd);
		return;
	}
	conn_format_client(c, sa);
	leg_open(&c->cl, conn_event(c, CONN_EV_CL), t->base, fd, conn_cl_cb, c);
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(
		    fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_start(c, REASON_NONE, CONN_BY_PROXY, NULL);
}

/* An event on leg L of C (EV says which): to the state machine. */
static void
conn_leg_event(struct conn *c, struct leg *l, short what, enum conn_ev ev)
{
	if (c->magic != CONN_MAGIC) {
		log_error("event on a dead connection %p", (void *)c);
		return;
	}
	leg_ready(l, what);
	conn_dispatch(c, ev);
}

void
conn_cl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	conn_leg_event(c, &c->cl, what, CONN_E_CL);
}

void
conn_up_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	conn_leg_event(c, &c->up, what, CONN_E_UP);
}

void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->magic != CONN_MAGIC) {
		log_error("timer on a dead connection %p", (void *)c);
		return;
	}
	conn_dispatch(c, CONN_E_TIMER);
}

/* Every CONN_SWEEP_MS: relay deadlines. */
static void
conn_table_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_table *t = arg;
	struct conn *c, *next;

	/* Each can only close itself, so NEXT stays valid. */
	for (c = TAILQ_FIRST(&t->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CONN_S_RELAY)
			conn_dispatch(c, CONN_E_SWEEP);
	}
}

/* ev_more fired: run the pumps that stopped early for fairness. */
static void
conn_table_more_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_table *t = arg;
	struct conn *c, *list = t->more;

	/* New ones go on a fresh list and fire the event again. */
	t->more = NULL;
	while ((c = list) != NULL) {
		list = c->more_next;
		c->more_next = NULL;
		c->more_due = false;
		conn_dispatch(c, CONN_E_MORE); /* may free C, no other */
	}
}

void
conn_more_unlink(struct conn *c)
{
	struct conn **pp;

	for (pp = &c->t->more; *pp != NULL; pp = &(*pp)->more_next)
		if (*pp == c) {
			*pp = c->more_next;
			break;
		}
	c->more_due = false;
}

struct conn_table *
conn_table_new(const struct conn_table_args *a)
{
	struct timeval tv = {0, CONN_SWEEP_MS * 1000};
	struct conn_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	t->base = a->base;
	t->nworkers = a->nworkers > 0 ? a->nworkers : 1;
	t->active = a->active;
	TAILQ_INIT(&t->conns);
	TAILQ_INIT(&t->tunnels);
	t->routes = a->routes;
	t->nroutes = a->nroutes;
	t->cfg = a->cfg;
	t->sessions =
	    calloc(t->nroutes > 0 ? t->nroutes : 1, sizeof(*t->sessions));
	t->ev_sweep =
	    event_new(t->base, -1, EV_PERSIST, conn_table_sweep_cb, t);
	t->ev_more = event_new(t->base, -1, 0, conn_table_more_cb, t);
	if (t->ev_more != NULL) /* it resumes bulk transfers */
		(void)event_priority_set(t->ev_more, LEG_PRIO_BULK);
	if (t->sessions == NULL || t->ev_sweep == NULL || t->ev_more == NULL ||
	    event_add(t->ev_sweep, &tv) != 0) {
		log_error("conn_table: out of memory");
		conn_table_free(t);
		return (NULL);
	}
	return (t);
}

/* Forget the N client sessions of S and free S. */
static void
conn_table_sessions_free(struct conn_session *s, size_t n)
{
	for (size_t i = 0; s != NULL && i < n; i++)
		tls_cache_clear(&s[i].tc);
	free(s);
}

void
conn_table_free(struct conn_table *t)
{
	if (t == NULL)
		return;
	(void)conn_table_drain(t, true);
	conn_table_sessions_free(t->sessions, t->nroutes);
	free(t->spare);
	if (t->ev_sweep != NULL)
		event_free(t->ev_sweep);
	if (t->ev_more != NULL)
		event_free(t->ev_more);
	free(t);
}

int
conn_table_reserve(struct conn_table *t, size_t n)
{
	free(t->spare);
	if ((t->spare = calloc(n > 0 ? n : 1, sizeof(*t->spare))) == NULL) {
		log_errno("calloc");
		return (-1);
	}
	return (0);
}

void
conn_table_reload(
    struct conn_table *t, struct route *const *routes, size_t n, bool recheck)
{
	struct conn_session *old = t->sessions;
	size_t nold = t->nroutes;
	struct conn *c, *next;

	t->sessions = t->spare;
	t->spare = NULL;
	t->routes = routes;
	t->nroutes = n;
	if (n > 0)
		t->cfg = routes[0]->owner->cfg;
	for (c = TAILQ_FIRST(&t->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		c->peer.cache = NULL; /* the old sessions go away */
		conn_dispatch(c, recheck ? CONN_E_RECHECK : CONN_E_RELOAD);
	}
	mux_reload_all(t, routes, n, recheck);
	conn_table_sessions_free(old, nold);
}

size_t
conn_table_drain(struct conn_table *t, bool close)
{
	struct conn *c;

	if (!close) {
		t->draining = true;
		mux_drain_all(t, false);
		return (t->nconns);
	}
	while ((c = TAILQ_FIRST(&t->conns)) != NULL)
		conn_drop(c, REASON_DRAIN);
	mux_drain_all(t, true);
	return (0);
}
