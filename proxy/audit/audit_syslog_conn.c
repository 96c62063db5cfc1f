/*
 * audit_syslog_conn: the collector sink's TLS connection (see
 * audit_syslog.h): the TLS context built from the identity files at each
 * connection (a renewed certificate serves from the next one), the name
 * looked up without blocking (evdns), connect and handshake with the
 * collector's name checked, records sent oldest first in RFC 5425
 * framing, delivery counted from the socket's acknowledged bytes
 * (SIOCOUTQ), and on a break every record not yet known delivered queued
 * again in front, with a doubling reconnect wait.
 */
#include "audit_syslog_priv.h"

#include <linux/sockios.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "crl.h"
#include "duration.h"
#include "log.h"
#include "spool.h"

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
void
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
 * The client context: TLS 1.3, our certificate, verify the collector, and
 * with a CRL (id[3]) refuse a revoked collector certificate: a CRL that
 * does not load fails the context, and so the connection (records wait).
 */
static SSL_CTX *
sl_ctx_new(char *const id[4])
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
	if (id[3] != NULL &&
	    crl_load(SSL_CTX_get_cert_store(ctx), id[3]) != 0) {
		log_error("audit.syslog: the CRL %s did not load: not "
			  "connecting to the collector",
		    id[3]);
		SSL_CTX_free(ctx);
		return (NULL);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return (ctx);
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

void
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
void
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
void
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

void
audit_syslog_recheck(struct audit_syslog *s)
{
	SSL_CTX *ctx;
	X509_STORE_CTX *xs = NULL;
	SSL *ssl;
	X509 *leaf;
	int err = X509_V_OK;

	if (!s->connected || s->bev == NULL ||
	    (ssl = bufferevent_openssl_get_ssl(s->bev)) == NULL ||
	    (leaf = SSL_get0_peer_certificate(ssl)) == NULL)
		return;
	/* The files as they are now: the same checks as a new handshake. */
	if ((ctx = sl_ctx_new(s->id)) == NULL) {
		sl_disconnect(s, "the identity files do not load now");
		return;
	}
	if ((xs = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(ctx), leaf,
		SSL_get_peer_cert_chain(ssl)) != 1 ||
	    X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_SERVER) != 1 ||
	    X509_VERIFY_PARAM_set1_host(
		X509_STORE_CTX_get0_param(xs), s->expect, 0) != 1) {
		log_ssl(
		    "audit: collector %s: cannot check it again", s->target);
	} else if (X509_verify_cert(xs) != 1) {
		err = X509_STORE_CTX_get_error(xs);
	}
	X509_STORE_CTX_free(xs);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	if (err != X509_V_OK) {
		char why[256];

		snprintf(why, sizeof(why),
		    "its certificate fails after the reload: %s",
		    X509_verify_cert_error_string(err));
		sl_disconnect(s, why);
	}
}
