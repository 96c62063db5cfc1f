/*
 * admin: see admin.h. Each admin connection is a bufferevent that reads a
 * request head (httpreq_parse), writes one answer and closes once the
 * answer is flushed. Connections are kept on a queue in accept order, so
 * admin_free() can release them all and a full endpoint can evict its
 * oldest unanswered one.
 *
 * Hostile local clients (every container of a pod shares the loopback) must
 * not keep /healthz from answering:
 *  - each connection has a fixed deadline from accept (ADMIN_DEADLINE_S)
 *    to its answer being flushed; bytes trickled in do not extend it;
 *  - at the cap (ADMIN_MAX_CONNS) a new connection evicts the oldest one
 *    whose request head is still incomplete, sparing for a grace period
 *    those that have sent nothing yet (see admin_evict), so a newcomer is
 *    always served;
 *  - what already waits on a new socket is read at accept, so a probe that
 *    sent its request with the connect is answered before anything that
 *    arrives after it can evict it;
 *  - at most ADMIN_ACCEPT_BURST connections are accepted per turn of the
 *    event loop (then the listener pauses until the next turn), so under
 *    a connect flood a new connection's request is read before more than
 *    that many newer ones (fewer than the cap) can push it out.
 *
 * With admin.tls the endpoint speaks mutual TLS (a libevent OpenSSL
 * bufferevent over the pool's admin context, built and reloaded like a
 * terminate route's): the client's chain, CRL and identity are checked in
 * tls_verify_cb() against admin.allow of the config current at accept
 * (the connection holds a reference to it), so a peer that is not allowed
 * gets an alert and nothing else. Each refusal is logged (event
 * admin_refused, with the reason) and counted. The deadline and the
 * eviction above cover the handshake too. A health-only endpoint
 * (admin.health_listen) is plain and answers /healthz and /readyz only.
 */
#include "admin.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <netdb.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "duration.h"
#include "httpreq.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "ready.h"
#include "route.h"
#include "tls.h"
#include "worker.h"

#define ADMIN_MAGIC 0x61646d6e
#define ADMIN_MAX_CONNS 32
#define ADMIN_DEADLINE_S 5
#define ADMIN_EVICT_LOG_S 10
#define ADMIN_ACCEPT_BURST 4
#define ADMIN_GRACE_MS 250

struct admin_conn {
	unsigned magic;
	struct admin *ad;
	struct bufferevent *bev;
	struct event *deadline; /* fixed, from accept */
	uint64_t born_ms;       /* accepted, duration_now_ms() */
	bool answered;
	struct route_config *rc; /* TLS: whose admin.allow applies, a ref */
	struct tls_peer peer;    /* TLS: what the handshake learnt */
	char client[INET6_ADDRSTRLEN + 8]; /* "host:port", for logs */
	TAILQ_ENTRY(admin_conn) entry;     /* accept order, oldest first */
};

struct admin {
	struct worker_pool *pool;
	struct admin_opts opts;
	struct evconnlistener *lev;
	bool draining;
	char bound[128];
	size_t nconns;
	TAILQ_HEAD(admin_conn_list, admin_conn) conns;
	size_t nevicted;      /* since the last log line about it */
	time_t evict_logged;  /* when that line was written */
	unsigned burst;       /* accepts since the listener last paused */
	struct event *resume; /* enables the listener again */
	uint64_t refused[REASON__N]; /* TLS: clients refused, by reason */
};

static void
admin_conn_free(struct admin_conn *c)
{
	TAILQ_REMOVE(&c->ad->conns, c, entry);
	c->ad->nconns--;
	if (c->deadline != NULL)
		event_free(c->deadline);
	bufferevent_free(c->bev);
	if (c->rc != NULL) {
		tls_peer_clear(&c->peer);
		route_config_unref(c->rc);
	}
	c->magic = 0;
	free(c);
}

/*
 * A TLS client was refused (WHY, DETAIL) or failed its handshake: log it
 * with what it showed, count it, and close the connection.
 */
static void
admin_refuse(struct admin_conn *c, enum reason why, const char *detail)
{
	const struct identity *id = tls_peer_identity(&c->peer);
	struct log_rec r;

	if (why <= REASON_NONE || why >= REASON__N)
		why = REASON_TLS_ERROR;
	c->ad->refused[why]++;
	if (log_begin(&r, LOG_L_WARN, "admin_refused")) {
		log_str(&r, "client", c->client);
		log_str(&r, "reason", reason_name(why));
		if (detail != NULL)
			log_str(&r, "detail", detail);
		if (id->spiffe != NULL)
			log_str(&r, "peer", id->spiffe);
		if (id->serial[0] != '\0')
			log_str(&r, "serial", id->serial);
		log_end(&r);
	}
	admin_conn_free(c);
}

/* The deadline from accept passed before the answer was flushed. */
static void
admin_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn *c = arg;

	if (c->magic != ADMIN_MAGIC)
		abort();
	log_debug("admin: connection closed at its %ds deadline (%s)",
	    ADMIN_DEADLINE_S, c->answered ? "answer unread" : "no request");
	admin_conn_free(c);
}

/*
 * The oldest unanswered connection that is STALE (past the grace period)
 * when asked, and PARTIAL (some bytes of a head in, not all) when asked;
 * NULL when there is none.
 */
static struct admin_conn *
admin_find(struct admin *ad, bool stale, bool partial, uint64_t now_ms)
{
	struct admin_conn *c = TAILQ_FIRST(&ad->conns);

	while (c != NULL &&
	    (c->answered || (stale && now_ms - c->born_ms < ADMIN_GRACE_MS) ||
		(partial &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)))
		c = TAILQ_NEXT(c, entry);
	return (c);
}

/*
 * The endpoint is full: close, oldest first, a connection past its grace
 * period (ADMIN_GRACE_MS) that holds part of a head (a real client sends
 * its request whole: this is a trickler), else an unanswered connection
 * past its grace period (a real client has sent its request by then,
 * unless the machine is so loaded that it has not run yet: such a probe
 * goes only after every trickler), else one holding part of a head (a
 * fresh probe that has sent nothing yet is spared), else the oldest of
 * all. Logged at most every ADMIN_EVICT_LOG_S seconds, so that a flood
 * does not flood the log.
 */
static void
admin_evict(struct admin *ad)
{
	struct admin_conn *victim;
	uint64_t now_ms = duration_now_ms();
	time_t now = time(NULL);

	if ((victim = admin_find(ad, true, true, now_ms)) == NULL &&
	    (victim = admin_find(ad, true, false, now_ms)) == NULL &&
	    (victim = admin_find(ad, false, true, now_ms)) == NULL &&
	    (victim = TAILQ_FIRST(&ad->conns)) == NULL)
		return;
	admin_conn_free(victim);
	ad->nevicted++;
	if (now - ad->evict_logged >= ADMIN_EVICT_LOG_S) {
		log_warn("admin: %d connections open, evicted %zu oldest "
			 "incomplete request(s) for newer ones",
		    ADMIN_MAX_CONNS, ad->nevicted);
		ad->nevicted = 0;
		ad->evict_logged = now;
	}
}

/* Write the status line, headers and BODY (unless HEAD). */
static void
admin_answer(struct admin_conn *c, int code, const char *ctype,
    struct evbuffer *body, bool head)
{
	static const struct {
		int code;
		const char *text;
	} texts[] = {{200, "OK"}, {400, "Bad Request"}, {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {431, "Request Header Fields Too Large"},
	    {503, "Service Unavailable"}};
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const char *text = "Error";

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].code == code)
			text = texts[i].text;
	evbuffer_add_printf(out,
	    "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\nCache-Control: no-store\r\n\r\n",
	    code, text, ctype, evbuffer_get_length(body));
	if (!head)
		evbuffer_add_buffer(out, body);
	c->answered = true;
	bufferevent_disable(c->bev, EV_READ);
}

/* /metrics: the pool as it is now, this endpoint's refusals. */
static void
admin_metrics(const struct admin *ad, struct evbuffer *body)
{
	struct metrics_src src;

	memset(&src, 0, sizeof(src));
	worker_pool_snapshot(ad->pool, &src.pool);
	src.admin_refused = ad->refused;
	src.renew = ad->opts.renew;
	metrics_render(&src, body);
}

/* Route a parsed request to its answer. */
static void
admin_serve(struct admin_conn *c, const struct httpreq *req)
{
	struct admin *ad = c->ad;
	struct evbuffer *body = evbuffer_new();
	const char *why;
	char buf[256];
	int code = 200;

	if (body == NULL) {
		log_error("out of memory");
		admin_conn_free(c);
		return;
	}
	if (strcmp(req->path, "/healthz") == 0) {
		code = ad->draining ? 503 : 200;
		evbuffer_add_printf(
		    body, "%s\n", ad->draining ? "draining" : "ok");
	} else if (strcmp(req->path, "/readyz") == 0) {
		why = ad->draining ? "draining"
				   : ready_why_not(ad->pool, buf, sizeof(buf));
		code = why != NULL ? 503 : 200;
		evbuffer_add_printf(body, "%s\n", why != NULL ? why : "ready");
	} else if (strcmp(req->path, "/metrics") == 0 &&
	    !ad->opts.health_only) {
		admin_metrics(ad, body);
		admin_answer(
		    c, 200, "text/plain; version=0.0.4", body, req->head);
		evbuffer_free(body);
		return;
	} else {
		code = 404;
		evbuffer_add_printf(body, "not found\n");
	}
	admin_answer(c, code, "text/plain", body, req->head);
	evbuffer_free(body);
}

static void
admin_on_read(struct bufferevent *bev, void *arg)
{
	struct admin_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	struct httpreq req;
	struct evbuffer *empty;
	static const int codes[] = {[HTTPREQ_BAD] = 400,
	    [HTTPREQ_METHOD] = 405,
	    [HTTPREQ_TOO_LARGE] = 431};
	enum httpreq_result rc;

	if (c->magic != ADMIN_MAGIC)
		abort();
	if (len > HTTPREQ_MAX)
		len = HTTPREQ_MAX;
	rc = httpreq_parse(
	    (const char *)evbuffer_pullup(in, (ssize_t)len), len, &req);
	if (rc == HTTPREQ_NEED_MORE)
		return;
	if (rc == HTTPREQ_OK) {
		admin_serve(c, &req);
		return;
	}
	if ((empty = evbuffer_new()) == NULL) {
		admin_conn_free(c);
		return;
	}
	admin_answer(c, codes[rc], "text/plain", empty, false);
	evbuffer_free(empty);
}

/* Once the answer is flushed the connection is done. */
static void
admin_on_write(struct bufferevent *bev, void *arg)
{
	struct admin_conn *c = arg;

	if (c->magic != ADMIN_MAGIC)
		abort();
	if (!c->answered ||
	    evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	/*
	 * Over TLS, end with close_notify (libevent frees the SSL without
	 * one): a client, or a cotai sidecar relaying the scrape, would take
	 * the bare FIN for a truncation. One try; the socket has just taken
	 * the answer, so the alert fits, and nothing waits for the client's.
	 */
	if (c->rc != NULL) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		if (SSL_shutdown(ssl) < 0)
			ERR_clear_error();
	}
	admin_conn_free(c);
}

/*
 * TLS: the first unsigned long of BEV's OpenSSL errors (libevent takes
 * them off the queue), as a reason with its text in BUF.
 */
static enum reason
admin_tls_error(struct bufferevent *bev, char *buf, size_t len)
{
	unsigned long e, first = 0;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0)
			first = e;
	ERR_clear_error();
	return (tls_error_reason(first, buf, len));
}

/* The TLS handshake finished: is the peer still the one allowed? */
static void
admin_on_handshake(struct admin_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	if (tls_after_handshake(ssl, &c->peer) != 0) {
		admin_refuse(c, c->peer.reason, c->peer.detail);
		return;
	}
	log_debug("admin: %s allowed as %s", c->client,
	    tls_peer_identity(&c->peer)->spiffe);
}

/* Handshake done, EOF, error: go on, refuse or drop the connection. */
static void
admin_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct admin_conn *c = arg;
	char buf[160];
	enum reason why;

	if (c->magic != ADMIN_MAGIC)
		abort();
	if (what & BEV_EVENT_CONNECTED) {
		admin_on_handshake(c);
		return;
	}
	/* A TLS connection that failed before its handshake finished. */
	if (c->rc != NULL &&
	    !SSL_is_init_finished(bufferevent_openssl_get_ssl(c->bev))) {
		why = admin_tls_error(bev, buf, sizeof(buf));
		if (c->peer.reason != REASON_NONE)
			why = c->peer.reason; /* found by the verify callback */
		admin_refuse(
		    c, why, c->peer.detail != NULL ? c->peer.detail : buf);
		return;
	}
	admin_conn_free(c);
}

/* "host:port" of SA into BUF. */
static void
admin_client_name(const struct sockaddr *sa, int salen, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (sa->sa_family == AF_UNIX ||
	    getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port,
		sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "local");
		return;
	}
	snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
	    host, port);
}

/*
 * The bufferevent of a TLS admin connection C on FD: an SSL of the pool's
 * admin context in accept state, its peer checked against admin.allow of
 * the current config (C takes a reference). NULL after logging; FD is
 * still the caller's to close then (libevent 2.1 frees the SSL itself
 * when its constructor fails with BEV_OPT_CLOSE_ON_FREE, never the fd).
 */
static struct bufferevent *
admin_tls_bev(struct admin_conn *c, struct event_base *base, int fd)
{
	struct worker_pool *p = c->ad->pool;
	struct bufferevent *bev;
	SSL *ssl;

	c->rc = route_config_ref(worker_pool_route_config(p));
	tls_peer_init(&c->peer, &c->rc->cfg->admin_route, NULL);
	if ((ssl = tls_ssl_new(worker_pool_admin_ctx(p), fd, &c->peer, NULL)) ==
	    NULL)
		return (NULL);
	/*
	 * No read-ahead (the routes' contexts have it): the request often
	 * comes in the same segment as the client's Finished, and bytes
	 * OpenSSL has read ahead are in no socket event libevent waits for,
	 * so the answer would wait for the deadline (seen in 67: curl got
	 * nothing, one run in three).
	 */
	SSL_set_read_ahead(ssl, 0);
	bev = bufferevent_openssl_socket_new(
	    base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_error("admin: out of memory");
		return (NULL);
	}
	/* A client may go without close_notify once it has its answer. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return (bev);
}

static void
admin_on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct admin *ad = arg;
	struct event_base *base = evconnlistener_get_base(lev);
	struct admin_conn *c = NULL;
	struct timeval tv = {ADMIN_DEADLINE_S, 0};

	/* Let the connections accepted so far be read before any more. */
	if (++ad->burst >= ADMIN_ACCEPT_BURST) {
		evconnlistener_disable(lev);
		event_active(ad->resume, EV_TIMEOUT, 0);
	}
	while (ad->nconns >= ADMIN_MAX_CONNS)
		admin_evict(ad);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_error("admin: out of memory");
		evutil_closesocket(fd);
		return;
	}
	c->ad = ad;
	admin_client_name(sa, salen, c->client, sizeof(c->client));
	c->bev = ad->opts.tls
	    ? admin_tls_bev(c, base, fd)
	    : bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_error("admin: out of memory");
		evutil_closesocket(fd);
		if (c->rc != NULL) {
			tls_peer_clear(&c->peer);
			route_config_unref(c->rc);
		}
		free(c);
		return;
	}
	c->magic = ADMIN_MAGIC;
	c->born_ms = duration_now_ms();
	TAILQ_INSERT_TAIL(&ad->conns, c, entry);
	ad->nconns++;
	if ((c->deadline = evtimer_new(base, admin_on_deadline, c)) == NULL ||
	    evtimer_add(c->deadline, &tv) != 0) {
		log_error("admin: out of memory");
		admin_conn_free(c);
		return;
	}
	bufferevent_setcb(
	    c->bev, admin_on_read, admin_on_write, admin_on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	/* A request sent with the connect is served now (may free c); over
	 * TLS the handshake comes first. */
	if (!ad->opts.tls &&
	    evbuffer_read(bufferevent_get_input(c->bev), fd, HTTPREQ_MAX) > 0)
		admin_on_read(c->bev, c);
}

/* The next turn of the loop: accept again. */
static void
admin_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct admin *ad = arg;

	ad->burst = 0;
	evconnlistener_enable(ad->lev);
}

struct admin *
admin_new(struct event_base *base, const struct config_addr *a,
    struct worker_pool *pool, const struct admin_opts *opts)
{
	struct admin *ad = NULL;
	int fd = -1;

	if ((ad = calloc(1, sizeof(*ad))) == NULL) {
		log_error("out of memory");
		return (NULL);
	}
	ad->pool = pool;
	ad->opts = *opts;
	if (ad->opts.tls && worker_pool_admin_ctx(pool) == NULL) {
		log_error("admin: no TLS context");
		free(ad);
		return (NULL);
	}
	TAILQ_INIT(&ad->conns);
	if ((fd = listener_bind(a, NULL)) < 0)
		goto fail;
	if (listener_name(fd, a, ad->bound, sizeof(ad->bound)) != 0)
		snprintf(ad->bound, sizeof(ad->bound), "%s", a->text);
	if ((ad->resume = evtimer_new(base, admin_on_resume, ad)) == NULL) {
		log_error("out of memory");
		evutil_closesocket(fd);
		goto fail;
	}
	ad->lev = evconnlistener_new(
	    base, admin_on_accept, ad, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (ad->lev == NULL) {
		log_error("admin: cannot listen on %s", a->text);
		evutil_closesocket(fd);
		goto fail;
	}
	return (ad);
fail:
	if (ad->resume != NULL)
		event_free(ad->resume);
	free(ad);
	return (NULL);
}

const char *
admin_bound(const struct admin *ad)
{
	return (ad->bound);
}

void
admin_set_draining(struct admin *ad)
{
	if (ad != NULL)
		ad->draining = true;
}

void
admin_free(struct admin *ad)
{
	struct admin_conn *c;

	if (ad == NULL)
		return;
	while ((c = TAILQ_FIRST(&ad->conns)) != NULL)
		admin_conn_free(c);
	if (ad->lev != NULL)
		evconnlistener_free(ad->lev);
	if (ad->resume != NULL)
		event_free(ad->resume);
	free(ad);
}
