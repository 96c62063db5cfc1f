/*
 * audit_syslog: see audit_syslog.h. Everything but audit_syslog_push()
 * runs on the main thread's event base.
 *
 * Order: records leave in the order they were made. The queues hold, from
 * oldest to newest: inflight (sent, not yet delivered), mem (in memory,
 * not sent), the spool, then records still arriving. A new record goes to
 * mem only while the spool holds nothing undelivered and mem has room;
 * otherwise it is appended to the spool. So mem is always older than the
 * spool and is sent first; a record read from the spool stays there (the
 * head of the file does not move) until it is delivered.
 */
#include "audit_syslog.h"

#include <errno.h>
#include <linux/sockios.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "duration.h"
#include "log.h"
#include "spool.h"

#define SL_TICK_MS 100           /* ack poll and reconnect timer */
#define SL_LINGER_MS 1000        /* acked, still sent again on a break */
#define SL_BACKOFF_MIN_MS 250    /* first reconnect wait, doubled */
#define SL_BACKOFF_MAX_MS 5000   /* ... up to this */
#define SL_OUT_HIGH (256 * 1024) /* stop sending above this in output */
#define SL_IO_TIMEOUT_S 15       /* connect+handshake, or a stuck write */
#define SL_PRI 85                /* facility authpriv (10), notice (5) */

struct sl_rec {
	struct sl_rec *next;
	uint64_t acked_ms;   /* 0 until the collector's TCP has it all */
	uint64_t spool_next; /* from the spool: the offset after it */
	bool from_spool;
	size_t len;
	char msg[];
};

struct sl_list {
	struct sl_rec *head, *tail;
	size_t n;
};

/*
 * Records the workers have handed to the main thread and it has not taken
 * yet (it is busy: a reload, a slow name lookup). Past this they are
 * dropped, counted in dropped and logged at the next wake: memory stays
 * bounded whatever the connection rate.
 */
#define SL_INCOMING_MAX 65536

struct audit_syslog {
	char *target; /* for logs */
	char *host, *port, *expect;
	uint32_t queue_max;
	char *id[3];  /* identity: ca, cert, key (files) */
	SSL_CTX *ctx; /* built at each connection */
	struct spool *spool;
	char *spool_path;
	char hostname[256];
	char *rbuf; /* SPOOL_REC_MAX, for spool reads */

	/* Shared with the threads that push. */
	pthread_mutex_t mu;
	struct sl_list incoming;
	int efd; /* eventfd: incoming became non-empty */

	/* Main thread only. */
	struct event_base *base;
	struct evdns_base *dns; /* the collector's name, never blocking */
	struct event *ev_wake, *ev_tick;
	struct bufferevent *bev;
	bool connected;
	uint32_t backoff_ms;
	uint64_t next_try_ms;
	struct sl_list mem, inflight;
	uint64_t drop_run; /* drops since the last logged summary */

	/* Read by /metrics (another thread). */
	atomic_uint_fast64_t delivered, dropped, n_mem, n_spool;
	atomic_uint_fast64_t dropped_busy; /* at the hand-off, not logged yet */
	atomic_bool up;
};

static SSL_CTX *sl_ctx_new(char *const id[3]);

static void
sl_push_tail(struct sl_list *l, struct sl_rec *r)
{
	r->next = NULL;
	if (l->tail != NULL)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	l->n++;
}

static struct sl_rec *
sl_pop(struct sl_list *l)
{
	struct sl_rec *r = l->head;

	if (r == NULL)
		return (NULL);
	if ((l->head = r->next) == NULL)
		l->tail = NULL;
	l->n--;
	r->next = NULL;
	return (r);
}

/* Put all of FRONT before L's records. */
static void
sl_prepend(struct sl_list *l, struct sl_list *front)
{
	if (front->head == NULL)
		return;
	front->tail->next = l->head;
	if (l->tail == NULL)
		l->tail = front->tail;
	l->head = front->head;
	l->n += front->n;
	memset(front, 0, sizeof(*front));
}

static void
sl_list_free(struct sl_list *l)
{
	struct sl_rec *r;

	while ((r = sl_pop(l)) != NULL)
		free(r);
}

static void
sl_gauges(struct audit_syslog *s)
{
	atomic_store(&s->n_mem, s->mem.n + s->inflight.n);
	atomic_store(&s->n_spool, spool_pending(s->spool));
}

/* Count a record lost; the first of a run is logged at once. */
static void
sl_drop(struct audit_syslog *s, const char *why)
{
	atomic_fetch_add(&s->dropped, 1);
	if (s->drop_run++ == 0)
		log_error("audit: %s: dropping audit records until there is "
			  "room (cotai_audit_records_dropped_total)",
		    why);
}

/* A new record: to mem, or to the spool (see the order above). */
static void
sl_place(struct audit_syslog *s, struct sl_rec *r)
{
	int rc;

	if (spool_pending(s->spool) == 0 &&
	    s->mem.n + s->inflight.n < s->queue_max) {
		sl_push_tail(&s->mem, r);
		return;
	}
	rc = spool_append(s->spool, r->msg, r->len);
	free(r);
	if (rc == 1) {
		sl_drop(s, "the spool is full");
		return;
	}
	if (rc != 0) {
		sl_drop(s, "cannot write the spool");
		return;
	}
	if (s->drop_run > 0) {
		log_warn("audit: the spool takes records again; %llu were "
			 "dropped",
		    (unsigned long long)s->drop_run);
		s->drop_run = 0;
	}
}

/* Send one record, RFC 5425 framed: "LEN SP MSG". */
static int
sl_send(struct audit_syslog *s, struct sl_rec *r)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	if (evbuffer_add_printf(out, "%zu ", r->len) < 0 ||
	    evbuffer_add(out, r->msg, r->len) != 0)
		return (-1);
	sl_push_tail(&s->inflight, r);
	return (0);
}

/* The next spool record as an sl_rec, or NULL (none, or logged error). */
static struct sl_rec *
sl_from_spool(struct audit_syslog *s)
{
	struct sl_rec *r;
	uint64_t next;
	size_t len;

	if (spool_next(s->spool, s->rbuf, &len, &next) != 1)
		return (NULL);
	if ((r = malloc(sizeof(*r) + len)) == NULL) {
		spool_rewind(s->spool);
		return (NULL);
	}
	memset(r, 0, sizeof(*r));
	r->from_spool = true;
	r->spool_next = next;
	r->len = len;
	memcpy(r->msg, s->rbuf, len);
	return (r);
}

/* Send what is waiting, oldest first, while the output has room. */
static void
sl_pump(struct audit_syslog *s)
{
	struct evbuffer *out;
	struct sl_rec *r;

	if (!s->connected)
		return;
	out = bufferevent_get_output(s->bev);
	while (evbuffer_get_length(out) < SL_OUT_HIGH) {
		if ((r = sl_pop(&s->mem)) == NULL &&
		    (r = sl_from_spool(s)) == NULL)
			break;
		if (sl_send(s, r) != 0) {
			free(r);
			break;
		}
	}
	sl_gauges(s);
}

/* The connection is gone: what was not delivered waits to be sent again. */
static void
sl_disconnect(struct audit_syslog *s, const char *why)
{
	struct sl_list back = {NULL, NULL, 0};
	struct sl_rec *r;

	if (s->connected || s->bev != NULL)
		log_warn("audit: collector %s: %s; %zu records to send again",
		    s->target, why, s->inflight.n);
	/* libevent's bufferevent_free() is not NULL-safe. */
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	s->bev = NULL;
	s->connected = false;
	atomic_store(&s->up, false);
	while ((r = sl_pop(&s->inflight)) != NULL) {
		if (r->from_spool)
			free(r);
		else
			sl_push_tail(&back, r);
	}
	sl_prepend(&s->mem, &back);
	spool_rewind(s->spool);
	s->next_try_ms = duration_now_ms() + s->backoff_ms;
	s->backoff_ms = s->backoff_ms * 2 > SL_BACKOFF_MAX_MS
	    ? SL_BACKOFF_MAX_MS
	    : s->backoff_ms * 2;
	sl_gauges(s);
}

static void
sl_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct audit_syslog *s = arg;
	char why[512];
	unsigned long e;

	if (what & BEV_EVENT_CONNECTED) {
		s->connected = true;
		s->backoff_ms = SL_BACKOFF_MIN_MS;
		atomic_store(&s->up, true);
		log_info("audit: collector %s connected (%s)", s->target,
		    SSL_get_version(bufferevent_openssl_get_ssl(bev)));
		sl_pump(s);
		return;
	}
	snprintf(why, sizeof(why), "%s",
	    what & BEV_EVENT_EOF           ? "closed by the collector"
		: what & BEV_EVENT_TIMEOUT ? "timed out"
					   : "connection failed");
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		size_t n = strlen(why);
		if (n + 4 < sizeof(why)) {
			snprintf(why + n, sizeof(why) - n, ": ");
			ERR_error_string_n(e, why + n + 2, sizeof(why) - n - 2);
		}
	}
	if ((what & BEV_EVENT_ERROR) && EVUTIL_SOCKET_ERROR() != 0 &&
	    strlen(why) + 40 < sizeof(why))
		snprintf(why + strlen(why), sizeof(why) - strlen(why), " (%s)",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	sl_disconnect(s, why);
}

/* The collector has nothing to say; drop whatever it sends. */
static void
sl_on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
sl_on_write(struct bufferevent *bev, void *arg)
{
	sl_pump(arg);
}

/*
 * The TLS bufferevent for a new connection: SSL with SNI and host name
 * check for EXPECT. On failure everything made here is freed (libevent
 * leaves the SSL to us when its constructor fails). NULL or the bev.
 */
static struct bufferevent *
sl_bev_new(struct audit_syslog *s)
{
	struct bufferevent *bev;
	SSL *ssl;

	/* From the identity files as they are now: a renewed certificate
	 * (identity.renew, replaced files) serves from the next connection
	 * on, and before the first enrollment there are none yet. */
	SSL_CTX_free(s->ctx);
	if ((s->ctx = sl_ctx_new(s->id)) == NULL)
		return (NULL);
	if ((ssl = SSL_new(s->ctx)) == NULL ||
	    SSL_set_tlsext_host_name(ssl, s->expect) != 1 ||
	    SSL_set1_host(ssl, s->expect) != 1) {
		log_ssl("audit: SSL_new");
		SSL_free(ssl);
		return (NULL);
	}
	bev = bufferevent_openssl_socket_new(s->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_error("audit: bufferevent_openssl_socket_new failed");
		SSL_free(ssl);
		return (NULL);
	}
	return (bev);
}

static void
sl_connect(struct audit_syslog *s)
{
	struct timeval tv = {SL_IO_TIMEOUT_S, 0};

	if ((s->bev = sl_bev_new(s)) == NULL) {
		sl_disconnect(s, "cannot set up TLS");
		return;
	}
	bufferevent_setcb(s->bev, sl_on_read, sl_on_write, sl_on_event, s);
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	/* With s->dns the name is looked up by evdns on this loop, so a
	 * collector whose name does not resolve (yet) never stalls the admin
	 * endpoint or the signals this thread serves. */
	if (bufferevent_socket_connect_hostname(
		s->bev, s->dns, AF_UNSPEC, s->host, atoi(s->port)) != 0)
		sl_disconnect(s, "connect failed");
}

/* Records the collector's TCP has acknowledged entirely (SIOCOUTQ). */
static void
sl_check_acks(struct audit_syslog *s, uint64_t now)
{
	int fd, outq = -1;

	if (!s->connected || s->inflight.n == 0 ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) != 0)
		return;
	fd = (int)bufferevent_getfd(s->bev);
	if (fd < 0 || ioctl(fd, SIOCOUTQ, &outq) != 0 || outq != 0)
		return;
	for (struct sl_rec *r = s->inflight.head; r != NULL; r = r->next)
		if (r->acked_ms == 0)
			r->acked_ms = now;
}

/* Free records acknowledged more than SL_LINGER_MS ago. */
static void
sl_retire(struct audit_syslog *s, uint64_t now)
{
	struct sl_rec *r;
	uint64_t off = 0;
	size_t n = 0;

	while ((r = s->inflight.head) != NULL && r->acked_ms != 0 &&
	    now - r->acked_ms >= SL_LINGER_MS) {
		sl_pop(&s->inflight);
		if (r->from_spool) {
			off = r->spool_next;
			n++;
		}
		free(r);
		atomic_fetch_add(&s->delivered, 1);
	}
	if (n > 0)
		(void)spool_ack(s->spool, off, n);
}

static void
sl_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct audit_syslog *s = arg;
	uint64_t now = duration_now_ms();

	sl_check_acks(s, now);
	sl_retire(s, now);
	if (s->bev == NULL && now >= s->next_try_ms)
		sl_connect(s);
	sl_pump(s);
	sl_gauges(s);
}

/* Take what other threads pushed. */
static void
sl_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct audit_syslog *s = arg;
	struct sl_list got;
	struct sl_rec *r;
	uint64_t v;

	if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_errno("audit: eventfd");
	pthread_mutex_lock(&s->mu);
	got = s->incoming;
	memset(&s->incoming, 0, sizeof(s->incoming));
	pthread_mutex_unlock(&s->mu);
	if ((v = atomic_exchange(&s->dropped_busy, 0)) > 0)
		log_error(
		    "audit: %llu records dropped at the hand-off: the main "
		    "thread was busy with %u records already waiting",
		    (unsigned long long)v, SL_INCOMING_MAX);
	while ((r = sl_pop(&got)) != NULL)
		sl_place(s, r);
	sl_pump(s);
}

/* The client context: TLS 1.3, our certificate, verify the collector. */
static SSL_CTX *
sl_ctx_new(char *const id[3])
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, id[0], NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, id[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, id[2], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl("audit.syslog: TLS context (%s, %s, %s)", id[0], id[1],
		    id[2]);
		SSL_CTX_free(ctx);
		return (NULL);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return (ctx);
}

struct audit_syslog *
audit_syslog_new(const struct config_audit *a)
{
	struct audit_syslog *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	s->efd = -1;
	pthread_mutex_init(&s->mu, NULL);
	s->queue_max = a->queue;
	s->backoff_ms = SL_BACKOFF_MIN_MS;
	if ((s->target = strdup(a->target.text)) == NULL ||
	    (s->host = strdup(a->target.host)) == NULL ||
	    (s->port = strdup(a->target.port)) == NULL ||
	    (s->expect = strdup(a->expect)) == NULL ||
	    (s->id[0] = strdup(a->identity.ca)) == NULL ||
	    (s->id[1] = strdup(a->identity.cert)) == NULL ||
	    (s->id[2] = strdup(a->identity.key)) == NULL ||
	    (s->rbuf = malloc(SPOOL_REC_MAX)) == NULL) {
		log_errno("audit: out of memory");
		goto fail;
	}
	if (gethostname(s->hostname, sizeof(s->hostname) - 1) != 0 ||
	    s->hostname[0] == '\0')
		snprintf(s->hostname, sizeof(s->hostname), "-");
	if ((s->spool = spool_open(a->spool, a->spool_bytes)) == NULL)
		goto fail;
	if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		log_errno("audit: eventfd");
		goto fail;
	}
	sl_gauges(s);
	return (s);
fail:
	audit_syslog_free(s);
	return (NULL);
}

int
audit_syslog_start(struct audit_syslog *s, struct event_base *base)
{
	struct timeval tick = {0, SL_TICK_MS * 1000};

	s->base = base;
	/* resolv.conf and hosts are read here, before the sandbox. */
	if ((s->dns = evdns_base_new(base,
		 EVDNS_BASE_INITIALIZE_NAMESERVERS |
		     EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL)
		log_warn("audit: no asynchronous resolver (resolv.conf?): the "
			 "collector's name is looked up with getaddrinfo");
	s->ev_wake =
	    event_new(base, s->efd, EV_READ | EV_PERSIST, sl_on_wake, s);
	s->ev_tick = event_new(base, -1, EV_PERSIST, sl_on_tick, s);
	if (s->ev_wake == NULL || s->ev_tick == NULL ||
	    event_add(s->ev_wake, NULL) != 0 ||
	    event_add(s->ev_tick, &tick) != 0) {
		log_error("audit: cannot start the collector sink");
		return (-1);
	}
	log_info("audit: collector %s (expecting %s), spool %zu records",
	    s->target, s->expect, spool_pending(s->spool));
	sl_connect(s);
	return (0);
}

void
audit_syslog_push(
    struct audit_syslog *s, const char *event, const char *rec, size_t len)
{
	struct timespec ts;
	struct sl_rec *r;
	struct tm tm;
	char hdr[512];
	bool wake;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG */
	n = snprintf(hdr, sizeof(hdr),
	    "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%03dZ %.255s cotai-proxy %ld "
	    "%.32s - ",
	    SL_PRI, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000), s->hostname,
	    (long)getpid(), event != NULL && event[0] != '\0' ? event : "-");
	if (n < 0 || (size_t)n >= sizeof(hdr) ||
	    (size_t)n + len > SPOOL_REC_MAX ||
	    (r = malloc(sizeof(*r) + (size_t)n + len)) == NULL) {
		atomic_fetch_add(&s->dropped, 1);
		return;
	}
	memset(r, 0, sizeof(*r));
	r->len = (size_t)n + len;
	memcpy(r->msg, hdr, (size_t)n);
	memcpy(r->msg + n, rec, len);
	pthread_mutex_lock(&s->mu);
	if (s->incoming.n >= SL_INCOMING_MAX) {
		pthread_mutex_unlock(&s->mu);
		free(r);
		atomic_fetch_add(&s->dropped, 1);
		atomic_fetch_add(&s->dropped_busy, 1);
		return;
	}
	wake = s->incoming.n == 0;
	sl_push_tail(&s->incoming, r);
	pthread_mutex_unlock(&s->mu);
	if (wake) {
		uint64_t one = 1;
		ssize_t w = write(s->efd, &one, sizeof(one));
		(void)w; /* EAGAIN: the counter is already non-zero */
	}
}

void
audit_syslog_stats(struct audit_syslog *s, struct audit_syslog_stats *o)
{
	o->delivered = atomic_load(&s->delivered);
	o->dropped = atomic_load(&s->dropped);
	o->memory = atomic_load(&s->n_mem);
	o->spool = atomic_load(&s->n_spool);
	o->up = atomic_load(&s->up);
}

/*
 * At exit: records not known delivered go to the spool, the next start
 * sends them (oldest first when the spool was empty, after it otherwise).
 */
static void
sl_save(struct audit_syslog *s)
{
	struct sl_list keep = {NULL, NULL, 0};
	struct sl_rec *r;
	size_t saved = 0, lost = 0;

	while ((r = sl_pop(&s->inflight)) != NULL) {
		if (r->from_spool || r->acked_ms != 0) {
			if (r->acked_ms != 0)
				atomic_fetch_add(&s->delivered, 1);
			free(r);
		} else {
			sl_push_tail(&keep, r);
		}
	}
	sl_prepend(&s->mem, &keep);
	pthread_mutex_lock(&s->mu);
	while ((r = sl_pop(&s->incoming)) != NULL)
		sl_push_tail(&s->mem, r);
	pthread_mutex_unlock(&s->mu);
	while ((r = sl_pop(&s->mem)) != NULL) {
		if (spool_append(s->spool, r->msg, r->len) == 0)
			saved++;
		else
			lost++;
		free(r);
	}
	if (saved > 0)
		log_warn("audit: %zu records saved to the spool for the next "
			 "start",
		    saved);
	if (lost > 0)
		log_error("audit: %zu records lost at exit (spool full)", lost);
}

void
audit_syslog_free(struct audit_syslog *s)
{
	if (s == NULL)
		return;
	if (s->spool != NULL)
		sl_save(s);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->dns != NULL)
		evdns_base_free(s->dns, 0);
	if (s->ev_wake != NULL)
		event_free(s->ev_wake);
	if (s->ev_tick != NULL)
		event_free(s->ev_tick);
	sl_list_free(&s->inflight);
	sl_list_free(&s->mem);
	sl_list_free(&s->incoming);
	spool_free(s->spool);
	SSL_CTX_free(s->ctx);
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->mu);
	free(s->rbuf);
	free(s->target);
	free(s->host);
	free(s->port);
	free(s->expect);
	for (int i = 0; i < 3; i++)
		free(s->id[i]);
	free(s->spool_path);
	free(s);
}
