/*
 * audit_syslog: see audit_syslog.h. The queues, the hand-off from other
 * threads, start and exit; the connection to the collector is in
 * audit_syslog_conn.c. Everything but audit_syslog_push() runs on the main
 * thread's event base.
 *
 * Order: records leave in the order they were made. The queues hold, from
 * oldest to newest: inflight (sent, not yet delivered), mem (in memory,
 * not sent), the spool, then records still arriving. A new record goes to
 * mem only while the spool holds nothing undelivered and mem has room;
 * otherwise it is appended to the spool. So mem is always older than the
 * spool and is sent first; a record read from the spool stays there (the
 * head of the file does not move) until it is delivered.
 */
#include "audit_syslog_priv.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "duration.h"
#include "log.h"
#include "spool.h"

void
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

struct sl_rec *
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
void
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

void
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
	    (a->identity.crl != NULL &&
		(s->id[3] = strdup(a->identity.crl)) == NULL) ||
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
	for (int i = 0; i < 4; i++)
		free(s->id[i]);
	free(s->spool_path);
	free(s);
}
