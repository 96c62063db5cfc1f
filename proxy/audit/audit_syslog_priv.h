/*
 * audit_syslog_priv: what the two halves of the collector sink share:
 * audit_syslog.c (the queues, the hand-off from other threads, start and
 * exit) and audit_syslog_conn.c (the TLS connection to the collector:
 * connect, send, acknowledgements, reconnect). Main thread only, unless a
 * field says otherwise. Not part of the interface (audit_syslog.h).
 */
#ifndef COTAI_AUDIT_SYSLOG_PRIV_H
#define COTAI_AUDIT_SYSLOG_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "audit_syslog.h"

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
	char *id[4]; /* identity: ca, cert, key, crl (files; crl may be NULL) */
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

/* The queues (audit_syslog.c). */
void sl_push_tail(struct sl_list *l, struct sl_rec *r);
struct sl_rec *sl_pop(struct sl_list *l);
/* Put all of FRONT before L's records. */
void sl_prepend(struct sl_list *l, struct sl_list *front);
/* Refresh the gauges /metrics reads. */
void sl_gauges(struct audit_syslog *s);

/* The connection (audit_syslog_conn.c). */
/* Send what is waiting, oldest first, while the output has room. */
void sl_pump(struct audit_syslog *s);
/* Look the collector up and connect (TLS); failures retry with backoff. */
void sl_connect(struct audit_syslog *s);
/* Records the collector's TCP has acknowledged entirely (SIOCOUTQ). */
void sl_check_acks(struct audit_syslog *s, uint64_t now);
/* Free records acknowledged more than SL_LINGER_MS ago. */
void sl_retire(struct audit_syslog *s, uint64_t now);

#endif
