/*
 * pgconn: see pgconn.h. Phases:
 *
 *   PG_P_DETECT    terminate, before TLS: ClientHello, SSLRequest, a
 *                  plaintext CancelRequest (plaintext_cancel) or refuse
 *   PG_P_STARTUP   read startup packets from cl (plain on originate, or
 *                  inside local TLS; inside TLS on terminate) until a
 *                  StartupMessage or cancel
 *   PG_P_LOCALTLS  originate with local_tls: the TLS handshake on cl
 *   PG_P_UPREQ     originate: SSLRequest to up, then its one-byte answer
 *   PG_P_UPCANCEL  terminate: the plaintext cancel to up, then its EOF
 *   PG_P_CLOSING   an ErrorResponse is being written; then close
 *   PG_P_READY     waiting for the connect / handshake / relay
 *
 * Replies to the client ('N', 'S', ErrorResponse) go through out[] and are
 * flushed before anything else is read, so the client never sees them out
 * of order. Before an 'S' (either side) nothing may follow the SSLRequest:
 * bytes already there would be taken as coming over TLS (CVE-2021-23214).
 * The DETECT phase never reads past the packet it judges (8 bytes, or one
 * CancelRequest), so that what follows it stays in the kernel, where it
 * is noticed (and the connection closed).
 *
 * This file has the originating side, the shared steps and the
 * interface; pgconn_term.c the terminating side before TLS (DETECT) and
 * the plaintext cancel (UPCANCEL); pgconn_priv.h what they share.
 */
#include "pgconn.h"
#include "pgconn_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "pgwire.h"
#include "rolemap.h"
#include "tls.h"

struct pgconn *
pgconn_new(const struct config_route *rc, SSL_CTX *ctx, SSL_CTX *local_ctx)
{
	struct pgconn *pg;
	X509 *own;

	if ((pg = calloc(1, sizeof(*pg))) == NULL ||
	    (pg->in = malloc(PGCONN_IN)) == NULL) {
		free(pg);
		return (NULL);
	}
	pg->base.type = &proto_postgres;
	pg->rc = rc;
	pg->local_ctx = rc->mode == CONFIG_MODE_ORIGINATE ? local_ctx : NULL;
	pg->phase =
	    rc->mode == CONFIG_MODE_TERMINATE ? PG_P_DETECT : PG_P_STARTUP;
	if (rc->mode == CONFIG_MODE_ORIGINATE && rc->nroles > 0 &&
	    ctx != NULL && (own = SSL_CTX_get0_certificate(ctx)) != NULL)
		(void)identity_from_x509(own, &pg->self);
	return (pg);
}

void
pgconn_rebind(
    struct pgconn *pg, const struct config_route *rc, SSL_CTX *local_ctx)
{
	if (pg == NULL)
		return;
	pg->rc = rc;
	pg->local_ctx = rc->mode == CONFIG_MODE_ORIGINATE ? local_ctx : NULL;
}

void
pgconn_free(struct pgconn *pg)
{
	if (pg == NULL)
		return;
	identity_clear(&pg->self);
	free(pg->in);
	free(pg);
}

struct proto_conn *
pgconn_proto(struct pgconn *pg)
{
	return (pg != NULL ? &pg->base : NULL);
}

/* Record why the connection ends; returns PGCONN_CLOSE. */
enum pgconn_next
pgconn_fail(
    struct pgconn *pg, enum reason why, bool upstream, const char *detail)
{
	pg->why = why;
	pg->by_upstream = upstream;
	snprintf(pg->detail, sizeof(pg->detail), "%s", detail);
	return (PGCONN_CLOSE);
}

/* A leg error or EOF while negotiating. */
enum pgconn_next
pgconn_leg_fail(
    struct pgconn *pg, const struct leg *l, enum leg_res res, bool up)
{
	char buf[120];

	if (res == LEG_EOF)
		return (pgconn_fail(pg,
		    up ? REASON_UPSTREAM_NO_TLS : REASON_EOF, up,
		    up ? "server closed during negotiation"
		       : "client closed during startup"));
	return (
	    pgconn_fail(pg, l->ssl != NULL ? REASON_TLS_ERROR : REASON_RESET,
		up, leg_detail(l, buf, sizeof(buf))));
}

/* Write out[] to CL: 1 all written, 0 blocked (watched), -1 error. */
int
pgconn_flush(struct pgconn *pg, struct leg *cl)
{
	size_t n;

	while (pg->outoff < pg->outlen) {
		switch (leg_write(
		    cl, pg->out + pg->outoff, pg->outlen - pg->outoff, &n)) {
		case LEG_OK:
			pg->outoff += n;
			break;
		case LEG_AGAIN:
			leg_watch(cl, cl->wr_block);
			return (0);
		default:
			return (-1);
		}
	}
	pg->outoff = pg->outlen = 0;
	return (1);
}

bool
pgconn_flushing(struct pgconn *pg, struct leg *cl, enum pgconn_next *next)
{
	int f = pgconn_flush(pg, cl);

	if (f > 0)
		return (false);
	*next = f == 0 ? PGCONN_WAIT : pgconn_leg_fail(pg, cl, LEG_ERR, false);
	return (true);
}

bool
pgconn_stop(struct pgconn *pg, struct leg *l, enum leg_res res, bool up,
    enum pgconn_next *next)
{
	switch (res) {
	case LEG_OK:
		return (false);
	case LEG_AGAIN:
		leg_watch(l, l->rd_block | l->wr_block);
		*next = PGCONN_WAIT;
		return (true);
	default:
		*next = pgconn_leg_fail(pg, l, res, up);
		return (true);
	}
}

enum pgconn_next
pgconn_ready(struct pgconn *pg, struct leg *l, enum pgconn_next next)
{
	leg_watch(l, 0);
	pg->phase = PG_P_READY;
	return (next);
}

bool
pgconn_more(struct leg *l)
{
	uint8_t b;
	size_t n;

	return (leg_peek(l, &b, 1, &n) == LEG_OK);
}

/* Queue the one-byte answer C. */
void
pgconn_answer(struct pgconn *pg, char c)
{
	if (pg->outlen < sizeof(pg->out))
		pg->out[pg->outlen++] = (uint8_t)c;
}

enum pgconn_next
pgconn_answer_s(struct pgconn *pg, struct leg *cl)
{
	if (pg->inlen > 0 || pgconn_more(cl))
		return (pgconn_fail(pg, REASON_PROTOCOL, false,
		    "bytes after SSLRequest before TLS (CVE-2021-23214)"));
	pgconn_answer(pg, 'S');
	return (PGCONN_WAIT);
}

/* Send the remaining reply, finish sending and close. */
static enum pgconn_next
pg_closing(struct pgconn *pg, struct leg *cl)
{
	int r = pgconn_flush(pg, cl);

	if (r == 0)
		return (PGCONN_WAIT);
	if (r == 1)
		(void)leg_shutdown(cl);
	return (PGCONN_CLOSE);
}

/* Refuse with an ErrorResponse (SQLSTATE), then close for WHY. */
enum pgconn_next
pgconn_refuse(struct pgconn *pg, struct leg *cl, const char *sqlstate,
    enum reason why, const char *detail)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "cotai: %s", detail);
	pg->outlen += pgwire_error_response(
	    pg->out + pg->outlen, sizeof(pg->out) - pg->outlen, sqlstate, msg);
	pg->phase = PG_P_CLOSING;
	(void)pgconn_fail(pg, why, false, detail);
	return (pg_closing(pg, cl));
}

/* A complete StartupMessage: check the role, then connect. */
static enum pgconn_next
pg_startup_done(struct pgconn *pg, struct leg *cl,
    const struct pgwire_startup *st, const struct identity *peer)
{
	const struct identity *who =
	    pg->rc->mode == CONFIG_MODE_TERMINATE ? peer : &pg->self;
	char msg[200];

	memcpy(pg->user, st->user, st->user_len + 1);
	memcpy(pg->database, st->database, st->database_len);
	pg->database[st->database_len] = '\0';
	if (!rolemap_allows(pg->rc, who, pg->user, pg->database)) {
		snprintf(msg, sizeof(msg),
		    "identity %s may not log in as role \"%s\" to "
		    "database \"%s\"",
		    who != NULL && who->name != NULL ? who->name : "(none)",
		    pg->user, pg->database);
		return (pgconn_refuse(
		    pg, cl, "28000", REASON_ROLE_NOT_ALLOWED, msg));
	}
	return (pgconn_ready(pg, cl, PGCONN_CONNECT));
}

static enum pgconn_next
pg_startup(struct pgconn *pg, struct leg *cl, const struct identity *peer);

/*
 * Originate with local_tls: one step of the TLS handshake on the app's
 * leg; when it is done the startup packet comes over it. A direct start
 * must have selected ALPN "postgresql", as PostgreSQL 17 requires.
 */
static enum pgconn_next
pg_local_handshake(
    struct pgconn *pg, struct leg *cl, const struct identity *peer)
{
	char detail[sizeof(pg->detail) - 16], msg[sizeof(pg->detail)];
	enum reason why;

	switch (leg_handshake(cl)) {
	case LEG_AGAIN:
		leg_watch(cl, cl->rd_block);
		return (PGCONN_WAIT);
	case LEG_OK:
		break;
	default:
		why = tls_take_error(detail, sizeof(detail));
		snprintf(msg, sizeof(msg), "local TLS: %s", detail);
		return (pgconn_fail(pg, why, false, msg));
	}
	ERR_clear_error();
	if (pg->direct && !tls_alpn_is(cl->ssl, "postgresql"))
		return (pgconn_fail(pg, REASON_PROTOCOL, false,
		    "local TLS: direct without ALPN postgresql"));
	pg->local_version = SSL_get_version(cl->ssl);
	pg->phase = PG_P_STARTUP;
	return (pg_startup(pg, cl, peer));
}

/* Originate: start TLS on the app's leg, after 'S' or a ClientHello. */
static enum pgconn_next
pg_local_start(struct pgconn *pg, struct leg *cl, const struct identity *peer)
{
	pg->go_local = false;
	/* The leg frees it. */
	if ((cl->ssl = tls_server_ssl_new(pg->local_ctx, cl->fd)) == NULL)
		return (pgconn_fail(pg, REASON_INTERNAL, false, "SSL_new"));
	pg->phase = PG_P_LOCALTLS;
	return (pg_local_handshake(pg, cl, peer));
}

/*
 * Originate with local_tls, before the first byte is read: a TLS record
 * starts TLS at once (libpq 17's sslnegotiation=direct). True when that
 * or a wait or an error decided *NEXT; false to read a plaintext packet.
 */
static bool
pg_local_direct(struct pgconn *pg, struct leg *cl, const struct identity *peer,
    enum pgconn_next *next)
{
	uint8_t b;
	size_t n;

	if (pg->local_ctx == NULL || cl->ssl != NULL || cl->bytes_in != 0 ||
	    pg->ssl_seen || pg->gss_seen)
		return (false);
	if (pgconn_stop(pg, cl, leg_peek(cl, &b, 1, &n), false, next))
		return (true);
	if (b != PG_TLS_RECORD)
		return (false);
	pg->direct = pg->ssl_seen = true; /* an SSLRequest inside: repeated */
	*next = pg_local_start(pg, cl, peer);
	return (true);
}

/*
 * Originate: the SSLRequest or GSSENCRequest of USED bytes at the start of
 * pg->in gets 'N', or with local_tls (the first SSLRequest, in plaintext)
 * 'S', which it only may when nothing follows it (CVE-2021-23214).
 * PGCONN_WAIT with the phase unchanged: go on reading.
 */
static enum pgconn_next
pg_startup_request(
    struct pgconn *pg, struct leg *cl, enum pgwire_kind kind, size_t used)
{
	bool ssl = kind == PGWIRE_SSL_REQUEST;

	if (ssl ? pg->ssl_seen : pg->gss_seen)
		return (pgconn_refuse(pg, cl, "08P01", REASON_PROTOCOL,
		    "repeated encryption request"));
	*(ssl ? &pg->ssl_seen : &pg->gss_seen) = true;
	memmove(pg->in, pg->in + used, pg->inlen - used);
	pg->inlen -= used;
	if (!ssl || pg->local_ctx == NULL || cl->ssl != NULL) {
		pgconn_answer(pg, 'N');
		return (PGCONN_WAIT);
	}
	if (pgconn_answer_s(pg, cl) != PGCONN_WAIT)
		return (PGCONN_CLOSE);
	pg->go_local = true;
	return (PGCONN_WAIT);
}

/* Read startup packets from CL until a StartupMessage or cancel. */
static enum pgconn_next
pg_startup(struct pgconn *pg, struct leg *cl, const struct identity *peer)
{
	struct pgwire_startup st;
	enum pgconn_next next;
	enum pgwire_kind kind;
	enum leg_res res;
	const char *why = NULL;
	size_t used = 0, n;

	for (;;) {
		if (pgconn_flushing(pg, cl, &next))
			return (next);
		if (pg->go_local)
			return (pg_local_start(pg, cl, peer));
		kind = pgwire_parse(pg->in, pg->inlen, &used, &st, &why);
		switch (kind) {
		case PGWIRE_ERROR:
			return (pgconn_refuse(
			    pg, cl, "08P01", REASON_PROTOCOL, why));
		case PGWIRE_SSL_REQUEST:
		case PGWIRE_GSSENC_REQUEST:
			next = pg_startup_request(pg, cl, kind, used);
			if (next != PGCONN_WAIT || pg->phase != PG_P_STARTUP)
				return (next);
			continue;
		case PGWIRE_CANCEL:
			pg->cancel = true;
			return (pgconn_ready(pg, cl, PGCONN_CONNECT));
		case PGWIRE_STARTUP:
			return (pg_startup_done(pg, cl, &st, peer));
		default:
			break;
		}
		if (pg->inlen == 0 && pg_local_direct(pg, cl, peer, &next))
			return (next);
		res =
		    leg_read(cl, pg->in + pg->inlen, PGCONN_IN - pg->inlen, &n);
		if (pgconn_stop(pg, cl, res, false, &next))
			return (next);
		pg->inlen += n;
	}
}

/* Originate: SSLRequest to the server, then exactly one byte back. */
static enum pgconn_next
pg_upreq(struct pgconn *pg, struct leg *up)
{
	uint8_t req[PGWIRE_SSL_REQUEST_LEN], b[2];
	enum pgconn_next next;
	enum leg_res res;
	const char *why = NULL;
	size_t n, len = 1;

	(void)pgwire_ssl_request(req, sizeof(req));
	while (pg->upoff < sizeof(req)) {
		res =
		    leg_write(up, req + pg->upoff, sizeof(req) - pg->upoff, &n);
		if (pgconn_stop(pg, up, res, true, &next))
			return (next);
		pg->upoff += n;
	}
	/* Exactly one byte: what follows an 'S' belongs to TLS. */
	if (pgconn_stop(pg, up, leg_read(up, b, 1, &n), true, &next))
		return (next);
	if (leg_peek(up, b + 1, 1, &n) == LEG_OK)
		len = 2;
	if (pgwire_ssl_reply(b, len, &why) != PGWIRE_SSL_ACCEPT)
		return (pgconn_fail(pg, REASON_UPSTREAM_NO_TLS, true, why));
	return (pgconn_ready(pg, up, PGCONN_TLS));
}

enum pgconn_next
pgconn_io(struct pgconn *pg, struct leg *cl, struct leg *up,
    const struct identity *peer)
{
	switch (pg->phase) {
	case PG_P_DETECT:
		return (pgconn_detect(pg, cl));
	case PG_P_STARTUP:
		return (pg_startup(pg, cl, peer));
	case PG_P_LOCALTLS:
		return (pg_local_handshake(pg, cl, peer));
	case PG_P_UPREQ:
		return (pg_upreq(pg, up));
	case PG_P_UPCANCEL:
		return (pgconn_upcancel(pg, up));
	case PG_P_CLOSING:
		return (pg_closing(pg, cl));
	default:
		return (PGCONN_WAIT);
	}
}

bool
pgconn_upstream_begin(struct pgconn *pg)
{
	if (pg->plain_cancel && !pg->refused) {
		pg->phase = PG_P_UPCANCEL;
		return (true);
	}
	if (pg->rc->mode != CONFIG_MODE_ORIGINATE ||
	    pg->rc->pg_upstream != CONFIG_PG_UP_POSTGRES ||
	    pg->rc->pg_sslnegotiation != CONFIG_PG_SSLNEG_POSTGRES)
		return (false);
	pg->phase = PG_P_UPREQ;
	return (true);
}

void
pgconn_tls_done(struct pgconn *pg)
{
	pg->phase = PG_P_STARTUP;
}

size_t
pgconn_pending(const struct pgconn *pg)
{
	return (pg != NULL ? pg->inlen : 0);
}

void
pgconn_prefill(struct pgconn *pg, struct pump *p)
{
	if (pg == NULL || pg->in == NULL)
		return;
	memcpy(p->buf, pg->in, pg->inlen);
	p->off = 0;
	p->len = pg->inlen;
	pg->inlen = 0;
	free(pg->in);
	pg->in = NULL;
}

enum reason
pgconn_result(const struct pgconn *pg, const char **detail, bool *upstream)
{
	*detail = pg->detail;
	*upstream = pg->by_upstream;
	return (pg->why != REASON_NONE ? pg->why : REASON_INTERNAL);
}

void
pgconn_audit(const struct pgconn *pg, struct audit_rec *rec)
{
	if (pg == NULL)
		return;
	if (pg->local_version != NULL) {
		audit_str(rec, "local_tls", pg->local_version);
		audit_str(rec, "local_tls_start",
		    pg->direct ? "direct" : "sslrequest");
	}
	if (pg->cancel)
		audit_str(rec, "pg_request", "cancel");
	if (pg->user[0] != '\0') {
		audit_str(rec, "pg_user", pg->user);
		audit_str(rec, "pg_database", pg->database);
	}
}

bool
pgconn_cancel_info(const struct pgconn *pg, bool *client_tls, bool *refused)
{
	if (pg == NULL || !pg->cancel)
		return (false);
	*client_tls = pg->rc->mode == CONFIG_MODE_TERMINATE
	    ? !pg->plain_cancel
	    : pg->local_version != NULL;
	*refused = pg->refused;
	return (true);
}
